"""Row checks that are easy to get subtly wrong: the email fast path and the duplicate store."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from batch._users import SeenUsers, _plain_valid_email

_LOCAL = st.text(
    alphabet=st.sampled_from("abcXYZ09.!#$%&'*+/=?^_`{|}~-\"@ é"), min_size=0, max_size=70
)
_DOMAIN = st.sampled_from(
    [
        "example.com",
        "EXAMPLE.com",
        "exämple.com",
        "localhost",
        "x.invalid",
        "a..b.com",
        "-bad.com",
        "x.test",
        "sub.example.co.uk",
        "",
        "example",
        "123.45.67.89",
        "[1.2.3.4]",
    ]
)


@settings(max_examples=400, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN)
def test_the_fast_path_never_accepts_what_email_validator_refuses(local: str, domain: str) -> None:
    """_plain_valid_email relies on email-validator's internals: it must stay a strict subset."""
    user = f"{local}@{domain}"
    if _plain_valid_email(user):
        validate_email(user, check_deliverability=False)  # raises if the fast path was wrong


@pytest.mark.parametrize("user", ["ada@example.com", "a.b-c+d@sub.example.co.uk"])
def test_the_fast_path_takes_ordinary_addresses(user: str) -> None:
    assert _plain_valid_email(user)


@pytest.mark.parametrize("user", ["a..b@example.com", "a@localhost", '"q"@example.com'])
def test_the_fast_path_defers_the_rest(user: str) -> None:
    assert not _plain_valid_email(user)
    with pytest.raises(EmailNotValidError):
        validate_email(user, check_deliverability=False)


def test_seen_users_names_the_first_row() -> None:
    seen = SeenUsers()
    assert seen.first_row("ada@example.com", 1) is None
    assert seen.first_row("bob@example.com", 2) is None
    assert seen.first_row("ada@example.com", 5) == 1
    assert seen.first_row("ada@example.com", 9) == 1
    seen.close()
