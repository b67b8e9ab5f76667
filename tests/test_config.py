"""Configuration: precedence, ${ENV} substitution, and messages that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch._config import Config, build_config, read_config_file
from batch._exceptions import ConfigError


def test_defaults() -> None:
    config = build_config({}, environ={})
    assert config.api_url == "https://api.zoom.us/v2" and not config.api_url_explicit
    assert config.oauth_url == "https://zoom.us/oauth/token"
    assert (config.plan, config.ceiling, config.workers) == ("pro", 20.0, 16)
    assert build_config({"plan": "business"}, environ={}).workers == 48
    assert build_config({"plan": "free"}, environ={}).workers == 8


def test_precedence_flag_over_environment_over_file_over_default(tmp_path: Path) -> None:
    file = {"plan": "free", "rate": 3, "concurrency": 4, "client_id": "from-file"}
    environ = {"ZOOM_PLAN": "business", "ZOOM_CLIENT_ID": "from-env"}
    config = build_config({"rate": 7.5}, environ=environ, file_settings=file)
    assert config.rate == 7.5  # flag
    assert config.plan == "business"  # environment beats the file
    assert config.client_id == "from-env"
    assert config.concurrency == 4  # file beats the default
    assert config.max_attempts == 5  # default


def test_env_substitution_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "client_secret: ${SECRET}\naccount_id: ${MISSING}\n"
        "report: ${OUT:-reports/x.csv}\nclient_id: id-${SUFFIX}\n"
    )
    settings = read_config_file(path, {"SECRET": "s3", "SUFFIX": "9"})
    assert settings == {
        "client_secret": "s3",
        "account_id": None,  # only an unset reference: "not set here"
        "report": "reports/x.csv",
        "client_id": "id-9",
    }


def test_secrets_are_not_in_the_repr() -> None:
    config = Config(client_secret="hunter2", access_token="tok")
    assert "hunter2" not in repr(config) and "tok'" not in repr(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plan: gold\n", "c.yaml: plan: expected one of free, pro, business; got 'gold'"),
        ("rate: -1\n", "c.yaml: rate: must be a positive number, got -1"),
        ("rate: fast\n", "c.yaml: rate: expected a number, got 'fast'"),
        ("concurrency: 2.5\n", "c.yaml: concurrency: expected a whole number, got 2.5"),
        ("force: maybe\n", "c.yaml: force: expected true or false, got 'maybe'"),
        ("api_url: ftp://x\n", "c.yaml: api_url: expected an http(s) URL, got 'ftp://x'"),
        ("fit_max_edge: 8\n", "c.yaml: fit_max_edge: must be at least 16 pixels, got 8"),
        ("client_id: [a, b]\n", "c.yaml: client_id: expected text, got list"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        build_config({}, environ={}, file_settings=read_config_file(path, {}), file_name="c.yaml")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: blue\n", "unknown setting 'colour'"),
        ("- a\n- b\n", "expected a mapping of settings, got list"),
        ("plan: [\n", "line 2: "),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        read_config_file(path, {})
