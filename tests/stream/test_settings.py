"""StreamSettings from defaults, ORBITLINK_* variables and CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from orbitlink.stream.cli import build_parser, settings_from_args
from orbitlink.stream.settings import ENV_PREFIX, StreamSettings


def test_environment_values_are_converted_and_catalogue_keeps_its_variable() -> None:
    settings = StreamSettings.from_env(
        {
            "ORBITLINK_BROKER": "10.0.0.5:9092",
            "ORBITLINK_FRAMES_PARTITIONS": "12",
            "ORBITLINK_SESSION_TIMEOUT_S": "6.5",
            "ORBITLINK_CATALOG": "/data/catalog",
            "ORBITLINK_WEB_PORT": "",  # empty means unset
        }
    )
    assert settings.broker == "kafka://10.0.0.5:9092"
    assert settings.frames_partitions == 12
    assert settings.session_timeout_s == 6.5
    assert settings.catalogue == Path("/data/catalog")
    assert settings.web_port is None
    env = settings.to_env()
    assert env["ORBITLINK_CATALOG"] == "/data/catalog" and "ORBITLINK_CATALOGUE" not in env
    assert StreamSettings.from_env(env) == settings


def test_settings_are_frozen_and_checked() -> None:
    settings = StreamSettings()
    with pytest.raises(ValidationError):
        settings.frames_partitions = 2  # type: ignore[misc]
    assert settings.replace(frames_partitions=2).frames_partitions == 2
    with pytest.raises(ValidationError, match="frames_partitions"):
        StreamSettings(frames_partitions=0)
    with pytest.raises(ValidationError, match="catalog"):
        StreamSettings(catalog="x")  # the field is spelled catalogue
    with pytest.raises(ValidationError, match="kafka:// URL"):
        StreamSettings(broker="http://127.0.0.1:9092")


def test_a_flag_wins_over_a_variable_which_wins_over_the_default(monkeypatch) -> None:
    monkeypatch.setenv("ORBITLINK_TOPIC_PREFIX", "env.")
    monkeypatch.setenv("ORBITLINK_APP_ID", "from-env")
    monkeypatch.setenv("ORBITLINK_CATALOG", "/env/catalog")
    args = build_parser().parse_args(
        ["worker", "--app-id", "from-flag", "--session-timeout-s", "8", "--log-level", "debug"]
    )
    settings = settings_from_args(args)
    assert settings.app_id == "from-flag"
    assert settings.topic_prefix == "env."
    assert settings.catalogue == Path("/env/catalog")
    assert settings.session_timeout_s == 8.0
    assert settings.log_level == "debug"
    assert settings.commit_interval_s == StreamSettings.model_fields["commit_interval_s"].default

    args = build_parser().parse_args(["worker", "--catalog", "/flag/catalog"])
    assert settings_from_args(args).catalogue == Path("/flag/catalog")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--log-level", "loud"])


@pytest.mark.parametrize("command", ["topics", "worker", "replay", "publish-catalog", "consume"])
def test_every_settings_flag_sets_what_its_variable_sets(command: str) -> None:
    """``--some-flag V`` and ``ORBITLINK_SOME_FLAG=V`` give the same settings."""
    parser = build_parser()
    fields = StreamSettings.model_fields
    positional = {"replay": ["frames.jsonl"], "publish-catalog": ["tle"], "consume": ["tracks"]}
    subparser = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    flags = [a for a in subparser._actions if a.dest in fields and a.option_strings]
    assert "--broker" in {a.option_strings[0] for a in flags}
    for action in flags:
        flag = action.option_strings[0]
        value = action.choices[0] if action.choices else "7"
        args = parser.parse_args([command, *positional.get(command, []), flag, value])
        variable = ENV_PREFIX + flag.removeprefix("--").replace("-", "_").upper()
        from_flag = getattr(settings_from_args(args), action.dest)
        assert from_flag == getattr(StreamSettings.from_env({variable: value}), action.dest)
        assert from_flag != fields[action.dest].get_default(call_default_factory=True), flag
