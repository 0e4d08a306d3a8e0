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
    with pytest.raises(ValidationError, match="kafka:// or kafka\\+ssl:// \\(TLS\\) URL"):
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
    # Settings that only make sense with others: those are given as variables, to both.
    context = {
        "ssl_cafile": {"ORBITLINK_BROKER": "kafka+ssl://h:1"},
        "ssl_certfile": {"ORBITLINK_BROKER": "kafka+ssl://h:1"},
        "ssl_keyfile": {"ORBITLINK_BROKER": "kafka+ssl://h:1", "ORBITLINK_SSL_CERTFILE": "c"},
        "sasl_mechanism": {"ORBITLINK_SASL_USERNAME": "u", "ORBITLINK_SASL_PASSWORD": "p"},
        "sasl_username": {"ORBITLINK_SASL_MECHANISM": "PLAIN", "ORBITLINK_SASL_PASSWORD": "p"},
    }
    for action in flags:
        flag = action.option_strings[0]
        switch = action.nargs == 0
        value = "true" if switch else action.choices[0] if action.choices else "7"
        given = [flag] if switch else [flag, value]
        args = parser.parse_args([command, *positional.get(command, []), *given])
        variable = ENV_PREFIX + flag.removeprefix("--").replace("-", "_").upper()
        environ = context.get(action.dest, {})
        flags_only = {k: v for k, v in vars(args).items() if k in fields}
        from_flag = getattr(StreamSettings.from_env(environ, **flags_only), action.dest)
        from_variable = StreamSettings.from_env({**environ, variable: value})
        assert from_flag == getattr(from_variable, action.dest), flag
        assert from_flag != fields[action.dest].get_default(call_default_factory=True), flag


def test_tls_and_sasl_settings_reach_the_clients() -> None:
    """What aiokafka and Faust are given (the live TLS test, test_tls_live.py, checks that
    they work)."""
    import faust

    plain = StreamSettings()
    assert plain.security_protocol == "PLAINTEXT" and plain.client_security() == {}
    assert plain.faust_credentials() is None
    tls = StreamSettings(broker="kafka+ssl://127.0.0.1:9093")
    assert tls.bootstrap == "127.0.0.1:9093" and tls.faust_broker == "kafka://127.0.0.1:9093"
    options = tls.client_security()
    assert options["security_protocol"] == "SSL" and options["ssl_context"].check_hostname
    assert isinstance(tls.faust_credentials(), faust.SSLCredentials)
    scram = tls.replace(sasl_mechanism="SCRAM-SHA-256", sasl_username="u", sasl_password="p")
    options = scram.client_security()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-256", "u")
    credentials = scram.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-256" and credentials.ssl_context is not None
    plain_sasl = StreamSettings(sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")
    assert plain_sasl.client_security()["security_protocol"] == "SASL_PLAINTEXT"
    with pytest.raises(ValidationError, match="needs sasl_username"):
        StreamSettings(sasl_mechanism="PLAIN")
    with pytest.raises(ValidationError, match="need a kafka\\+ssl:// broker"):
        StreamSettings(ssl_cafile="ca.pem")
