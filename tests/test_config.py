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
