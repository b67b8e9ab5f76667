"""Configuration: precedence, ${ENV} substitution, and messages that name the bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batch._config import Config, build_config
from batch._config_file import read_config_file
from batch._exceptions import ConfigError

from .conftest import sim_args, sim_env


def test_defaults() -> None:
    config = build_config({}, environ={})
    assert config.api_url == "https://api.zoom.us/v2" and not config.api_url_explicit
    assert config.oauth_url == "https://zoom.us/oauth/token"
    # workers is the cap of rows in progress: room for 6 s answers at the full pace (the window
    # follows the answer times below it, issue 12); it was a fixed 0.8 x the rate.
    assert (config.plan, config.ceiling, config.workers) == ("pro", 20.0, 120)
    assert build_config({"plan": "business"}, environ={}).workers == 360
    assert build_config({"plan": "free"}, environ={}).workers == 16
    assert config.memory_budget == 256_000_000
    assert build_config({"memory_budget_mb": 64}, environ={}).memory_budget == 64_000_000


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


# --- a Config built from Python is checked when built ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"plan": "nonsense"}, "plan: expected one of free, pro, business; got 'nonsense'"),
        ({"concurrency": -3}, "concurrency: must be at least 1, got -3"),
        ({"concurrency": 1001}, "concurrency: must be at most 1,000, got 1001"),
        ({"concurrency": 2.5}, "concurrency: expected a whole number, got 2.5"),
        ({"rate": 0}, "rate: must be a positive number, got 0"),
        ({"rate": float("inf")}, "rate: must be a positive number, got inf"),
        ({"request_timeout": -1}, "request_timeout: must be a positive number, got -1"),
        ({"fit_max_edge": 8}, "fit_max_edge: must be at least 16 pixels, got 8"),
        ({"api_url": "api.zoom.us"}, "api_url: expected an http(s) URL, got 'api.zoom.us'"),
    ],
)
def test_a_bad_config_fails_when_built(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config(**fields)  # type: ignore[arg-type]
    assert str(caught.value) == message


@pytest.mark.parametrize("plan", ["enterprise", "Education", "partner", "business+", "BUSINESS"])
def test_zoom_plan_names_mean_business(plan: str) -> None:
    config = Config(plan=plan)
    assert (config.plan, config.ceiling) == ("business", 60.0)
    assert build_config({"plan": plan}, environ={}).plan == "business"


def test_a_flag_out_of_range_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--concurrency: must be at most 1,000, got 5000$"):
        build_config({"concurrency": 5000}, environ={})
    with pytest.raises(ConfigError, match=r"^ZOOM_PLAN: expected one of free, pro, business"):
        build_config({}, environ={"ZOOM_PLAN": "gold"})


def test_policies_are_parts_of_the_config() -> None:
    from batch import PacingPolicy, RetryPolicy

    config = build_config({"max_attempts": 3, "max_retry_time": 20}, environ={})
    assert config.retry == RetryPolicy(max_attempts=3, max_retry_time=20.0)
    assert Config().pacing == PacingPolicy()
    with pytest.raises(ConfigError, match=r"^--max-attempts: must be at least 1, got 0$"):
        build_config({"max_attempts": 0}, environ={})


async def test_the_pacing_policy_reaches_the_pacer(tmp_path: Path) -> None:
    """A dry run's forecast pace is the ceiling times the policy's headroom."""
    from batch import PacingPolicy, run_manifest

    (tmp_path / "m.csv").write_text("email,file\na@example.com,a.jpg\n")
    config = Config(
        plan="business", dry_run=True, report=tmp_path / "r.csv", pacing=PacingPolicy(headroom=0.5)
    )
    summary = await run_manifest(config, tmp_path / "m.csv")
    assert summary.rate == 30.0


# --- credentials travel in HTTP headers: what a header cannot carry is refused, named ---------

#: How every such message ends: never with the value itself.
ONE_WORD = " — Zoom credentials are one word of letters, digits and punctuation; copy it again"


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "ZOOM_ACCESS_TOKEN",
            "eyJhbGc.part1\r\nX-Injected: 1",
            "holds a line break at character 14",
        ),
        ("ZOOM_ACCESS_TOKEN", "tok en-hunter2", "holds a space at character 4"),
        ("ZOOM_CLIENT_SECRET", "hunter2\x00", "holds the control character U+0000 at character 8"),
        (
            "ZOOM_CLIENT_SECRET",
            "hunter2\u00a0x",
            "holds the non-ASCII character U+00A0 at character 8",
        ),
        ("ZOOM_ACCOUNT_ID", "acct\tid", "holds a tab at character 5"),
        (
            "ZOOM_CLIENT_ID",
            "id\u2028hunter2",
            "holds the non-ASCII character U+2028 at character 3",
        ),
    ],
)
def test_a_credential_with_a_character_http_cannot_carry_names_its_variable(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({}, environ={variable: value})
    message = str(caught.value)
    assert message == f"{variable}: {problem}{ONE_WORD}"
    assert "hunter2" not in message and "part1" not in message and "\n" not in message


def test_a_client_id_with_a_colon_names_its_variable() -> None:
    expected = (
        "ZOOM_CLIENT_ID: cannot hold ':' (HTTP Basic authentication, which Zoom's OAuth server"
        " takes the client ID in, ends it at the first ':') — copy the Client ID again"
        " from the app's page"
    )
    with pytest.raises(ConfigError) as caught:
        build_config({}, environ={"ZOOM_CLIENT_ID": "abc:hunter2"})
    assert str(caught.value) == expected
    with pytest.raises(ConfigError, match=r"^client_id: cannot hold ':'"):
        Config(client_id="abc:def")


def test_a_credential_from_a_file_or_from_python_names_its_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('access_token: "tok\\nen"\n')
    with pytest.raises(
        ConfigError, match=r"^c\.yaml: access_token: holds a line break at character 4 — "
    ):
        build_config({}, environ={}, file_settings=read_config_file(path, {}), file_name="c.yaml")
    with pytest.raises(ConfigError, match=r"^access_token: holds a line break at character 4 — "):
        Config(access_token="tok\nen")
    with pytest.raises(ConfigError, match=r"^client_secret: expected text, got int$"):
        Config(client_secret=1234)  # type: ignore[arg-type]


def test_whitespace_around_a_credential_is_dropped_silently() -> None:
    """``ZOOM_ACCESS_TOKEN=$(cat token.txt)`` keeps the file's last line break, for one."""
    config = build_config({}, environ={"ZOOM_ACCESS_TOKEN": "tok-1.2\n", "ZOOM_CLIENT_ID": " id "})
    assert (config.access_token, config.client_id) == ("tok-1.2", "id")
    config = Config(access_token="\ttok\r\n", client_secret="  ", account_id="acct\n")
    assert (config.access_token, config.client_secret, config.account_id) == ("tok", None, "acct")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "ZOOM_CLIENT_ID",
            "sim:client",
            "ZOOM_CLIENT_ID: cannot hold ':' (HTTP Basic authentication",
        ),
        ("ZOOM_CLIENT_SECRET", "sim-client-secret\nX: y", "ZOOM_CLIENT_SECRET: holds a line break"),
        ("ZOOM_ACCESS_TOKEN", "hunter2\r\nX-Injected: 1", "ZOOM_ACCESS_TOKEN: holds a line break"),
    ],
)
async def test_a_credential_that_breaks_at_send_time_stops_the_run_before_it_starts(
    cli: Any, simulator: Any, photos: Any, variable: str, value: str, message: str
) -> None:
    batch = photos(2)
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim)], sim_env(sim, **{variable: value})
    )
    lines = outcome.err.splitlines()
    assert (outcome.code, len(lines)) == (2, 1), outcome.err
    assert lines[0].startswith(f"zoom-batch: {message}")
    assert value.splitlines()[0] not in outcome.err
    assert (sim.stats.token_requests, sim.stats.picture_requests) == (0, 0)
