"""``orbitlink``: the command line of the streaming service.

Commands (``orbitlink COMMAND --help`` for options)::

    orbitlink broker [--port N]                       embedded Tansu broker in the foreground
    orbitlink topics [--broker URL]                   create every topic (idempotent)
    orbitlink worker [--broker URL] [--catalog PATH] [--sensors FILE] ...
    orbitlink replay FILE --broker URL [--sensors FILE] [--speed X] [--format F] [--sites FILE]
    orbitlink replay FILE --offline --sensors FILE [--catalog PATH] --out DIR
    orbitlink publish-catalog PATH [--broker URL]     element sets to the catalogue topic
    orbitlink consume TOPIC [--broker URL] [--out FILE] [--until-idle S] [--meta]
    orbitlink simulate --catalog PATH --out DIR [--seed N] [--preset hard] [--truth-catalog PATH]
    orbitlink evaluate --truth FILE --results DIR [--plot PNG]
    orbitlink demo [--catalog PATH] [--dashboard-port N] [--keep-running]
    orbitlink dashboard [--broker URL] [--port N] [--host ADDR] [--since-minutes M]

Settings shared by the broker-facing commands can also come from ``ORBITLINK_*`` environment
variables (see :mod:`orbitlink.stream.settings` and docs/topics.md); a flag wins over a variable.
Those flags are made from the :class:`StreamSettings` fields by :func:`add_settings_flags`, so
their names, types and help are the settings' own. A topic argument of ``consume`` may be a role
(``tracks``, ``associations``, ``deadletter``, ``frames``, ``sensors``, ``catalogue``) or a full
topic name.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orbitlink.tracking.formats.observations import FORMATS

from .settings import StreamSettings, outside_name

__all__ = ["add_settings_flags", "build_parser", "main", "settings_from_args"]

ROLES = (
    "frames",
    "sensors",
    "catalogue",
    "tracks",
    "associations",
    "deadletter",
    "tracklets",
    "uct_objects",
)

#: The settings every command that talks to the broker takes as flags.
BROKER_SETTINGS = ("broker", "topic_prefix", "app_id", "frames_partitions", "output_partitions")

#: TLS and SASL: every command that talks to the broker takes them (the password only from
#: ORBITLINK_SASL_PASSWORD, which a process listing does not show).
SECURITY_SETTINGS = (
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "sasl_mechanism",
    "sasl_username",
)

BROKER_GROUP = "broker and topics (also ORBITLINK_* variables)"

#: The worker's own settings flags.
WORKER_SETTINGS = (
    "catalogue",
    "sensors",
    "pipeline_settings",
    "store",
    "data_dir",
    "session_timeout_s",
    "commit_interval_s",
    "web_port",
    "web_host",
    "monitor_settings",
    "web_tables",
    "log_level",
)


def _value_type(annotation: Any) -> tuple[Any, tuple[str, ...] | None]:
    """``(type, None)`` or ``(None, choices)`` of a field annotation: ``int``, ``Path | None``
    (a flag cannot say None: it is left out), ``Literal["debug", "info"]``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return None, tuple(str(a) for a in typing.get_args(annotation))
    return annotation, None


def add_settings_flags(
    parser: argparse.ArgumentParser, names: Iterable[str], *, title: str | None = None
) -> None:
    """Add a ``--kebab-case`` flag for each named :class:`StreamSettings` field, to a group
    ``title`` when given. Type, choices and help come from the field; the flag's default is
    ``None``, so an unset flag leaves the value to the ``ORBITLINK_*`` variable and the
    field's default (:func:`settings_from_args`)."""
    target = parser.add_argument_group(title) if title else parser
    for name in names:
        info = StreamSettings.model_fields[name]
        outside = outside_name(name)
        value_type, choices = _value_type(info.annotation)
        help_text = (info.description or "").rstrip(".")
        if info.default_factory is None and info.default not in (None, ""):
            help_text += f" (default {info.default})"
        options: dict[str, Any] = {"dest": name, "help": help_text.replace("%", "%%")}
        if choices is not None:
            options["choices"] = choices
        elif value_type is bool:  # a switch: present = true, absent = the variable's say
            options.update(action="store_const", const=True)
        else:
            options["type"] = value_type
            options["metavar"] = outside.upper()
        target.add_argument("--" + outside.replace("_", "-"), **options)


def settings_from_args(args: argparse.Namespace) -> StreamSettings:
    """The settings of a command: its settings flags over the environment over the defaults."""
    flags = {name: getattr(args, name, None) for name in StreamSettings.model_fields}
    return StreamSettings.from_env(**flags)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orbitlink", description="Streaming tracking engine for space domain awareness."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("broker", help="run a local broker in the foreground")
    p.add_argument(
        "--engine",
        choices=("tansu", "kafka"),
        default="tansu",
        help="tansu: the embedded broker, in memory (a restart loses everything); kafka: "
        "Apache Kafka keeping its data in --data-dir (jars from `make kafka`)",
    )
    p.add_argument("--port", type=int, default=9092, help="TCP port on 127.0.0.1 (9092)")
    p.add_argument("--log", type=Path, help="write the embedded broker's log here")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".orbitlink-kafka"),
        help="--engine kafka: where its data lives (.orbitlink-kafka)",
    )

    p = commands.add_parser("topics", help="create every topic with its partition count")
    add_settings_flags(p, BROKER_SETTINGS + SECURITY_SETTINGS, title=BROKER_GROUP)

    p = commands.add_parser("worker", help="run a stream worker (Faust) in the foreground")
    add_settings_flags(p, BROKER_SETTINGS + SECURITY_SETTINGS, title=BROKER_GROUP)
    add_settings_flags(p, WORKER_SETTINGS)

    p = commands.add_parser("replay", help="publish a recorded file, or run it offline")
    p.add_argument("file", type=Path, help="frames JSONL, or observations (--format)")
    add_settings_flags(p, BROKER_SETTINGS + SECURITY_SETTINGS, title=BROKER_GROUP)
    # The worker's input files: replay publishes the sensors, --offline uses all three.
    add_settings_flags(p, ("sensors",))
    p.add_argument(
        "--speed",
        type=float,
        help="event-time speed-up (1 = real time); default: as fast as possible",
    )
    p.add_argument("--format", default="frames", choices=FORMATS)
    p.add_argument("--sites", type=Path, help="COSPAR sites file (IOD)")
    p.add_argument(
        "--offline",
        action="store_true",
        help="run the pipeline in this process instead of publishing",
    )
    add_settings_flags(p, ("catalogue",))
    p.add_argument("--out", type=Path, help="output folder for --offline")
    add_settings_flags(p, ("pipeline_settings",))
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = commands.add_parser(
        "publish-catalog", help="publish element sets to the catalogue topic (live update)"
    )
    p.add_argument("path", type=Path, help="TLE/OMM file or folder")
    add_settings_flags(p, BROKER_SETTINGS + SECURITY_SETTINGS, title=BROKER_GROUP)

    p = commands.add_parser("consume", help="read a topic from the beginning to JSON Lines")
    p.add_argument("topic", help=f"a role ({', '.join(ROLES)}) or a topic name")
    add_settings_flags(p, BROKER_SETTINGS + SECURITY_SETTINGS, title=BROKER_GROUP)
    p.add_argument("--out", default="-", help="output file, '-' = stdout (default)")
    p.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds without a message",
    )
    p.add_argument(
        "--meta",
        action="store_true",
        help="wrap each value with topic, partition, offset, key, timestamp",
    )

    p = commands.add_parser("simulate", help="simulate a scenario from a TLE catalogue")
    p.add_argument("--catalog", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="default", choices=("default", "hard", "hard-week"))
    p.add_argument("--truth-catalog", type=Path, help="newer snapshot: real staleness")

    p = commands.add_parser("evaluate", help="score results against a scenario's truth")
    p.add_argument("--truth", type=Path, required=True, help="the scenario's truth.json")
    p.add_argument(
        "--results",
        type=Path,
        required=True,
        help="folder with tracks.jsonl and associations.jsonl",
    )
    p.add_argument("--plot", type=Path, help="PNG to write (default results/evaluation.png)")

    p = commands.add_parser(
        "dashboard", help="serve a live page of the output topics (read-only consumer)"
    )
    add_settings_flags(p, BROKER_SETTINGS, title=BROKER_GROUP)
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1, this machine only)",
    )
    p.add_argument(
        "--since-minutes",
        type=float,
        default=0.0,
        metavar="M",
        help="replay the last M minutes of the topics first (default 0: start from now)",
    )
    p.add_argument(
        "--update-hz", type=float, default=4.0, help="page updates per second at most (4)"
    )

    p = commands.add_parser("demo", help="broker + worker + simulated scenario, end to end")
    p.add_argument("--catalog", type=Path, help="TLE catalogue (default: the shipped snapshot)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--port", type=int, help="broker port (default: a free one)")
    p.add_argument(
        "--out",
        type=Path,
        help="folder for the scenario, results, plot and logs (default runs/demo-<UTC time>)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=10.0,
        help="replay speed-up over real time (default 10; 0 = as fast as possible)",
    )
    p.add_argument(
        "--dashboard-port", type=int, default=8080, help="port of the dashboard (default 8080)"
    )
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the broker, worker and dashboard running after the summary (Ctrl-C stops)",
    )
    return parser


# -- commands ---------------------------------------------------------------------------------


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cmd_broker(args: argparse.Namespace) -> int:
    import signal

    from .tansu import EmbeddedBroker

    if args.engine == "kafka":
        return _run_local_kafka(args)

    broker = EmbeddedBroker(port=args.port, log_path=args.log)
    broker.start()
    print(
        f"orbitlink: Tansu broker on {broker.url} (log {broker.log_path}); Ctrl-C stops", flush=True
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = broker.wait()
        print(f"orbitlink: broker exited with {code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        broker.stop()
        return 0


def _run_local_kafka(args: argparse.Namespace) -> int:
    import signal
    import time

    from .localkafka import KAFKA_VERSION, LocalKafka
    from .probe import BrokerError

    kafka = LocalKafka(args.data_dir, port=args.port)
    print(f"orbitlink: starting Apache Kafka {KAFKA_VERSION} (10-40 s) ...", flush=True)
    try:
        kafka.start()
    except BrokerError as error:
        print(f"orbitlink broker: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kafka.stop()
        raise
    print(
        f"orbitlink: Apache Kafka {KAFKA_VERSION} on {kafka.url}, data in {kafka.data_dir} "
        f"(kept across restarts; log {kafka.log_path()}); Ctrl-C stops it",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while kafka.running():
            time.sleep(2.0)
        print(f"orbitlink: Apache Kafka exited; see {kafka.log_path()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        kafka.stop()
        print("orbitlink: Apache Kafka stopped; its data stays", flush=True)
        return 0


def _cmd_topics(args: argparse.Namespace) -> int:
    from .admin import ensure_topics

    settings = settings_from_args(args)
    for name, created in ensure_topics(settings).items():
        spec = settings.topic_specs()[name]
        print(
            f"{name}: {'created' if created else 'exists'} "
            f"({spec.partitions} partitions{', compacted' if spec.compacted else ''})"
        )
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from .worker import run_worker

    run_worker(settings_from_args(args))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from orbitlink.tracking.formats import read_sensors

    from .replay import load_frames

    sensors = read_sensors(args.sensors) if args.sensors else {}
    rejects: list = []
    frames, sensors = load_frames(
        args.file, args.format, sites=args.sites, sensors=sensors, rejects=rejects
    )
    if rejects:
        print(f"skipped {len(rejects)} bad record(s) of {args.file}:", file=sys.stderr)
        for reject in rejects[:20]:
            print(f"  {reject.error}", file=sys.stderr)
        if len(rejects) > 20:
            print(f"  ... and {len(rejects) - 20} more", file=sys.stderr)
    progress = not args.no_progress
    if args.offline:
        if args.out is None:
            raise SystemExit("orbitlink replay --offline needs --out DIR")
        from orbitlink.tracking.catalogue import Catalogue
        from orbitlink.tracking.offline import run_offline
        from orbitlink.tracking.pipeline import load_pipeline_settings

        from .heap import freeze_long_lived

        catalogue = Catalogue.from_path(args.catalogue) if args.catalogue else None
        settings = (
            load_pipeline_settings(args.pipeline_settings) if args.pipeline_settings else None
        )
        freeze_long_lived()  # the frames and the catalogue stay to the end
        summary = run_offline(
            frames,
            sensors,
            catalogue,
            args.out,
            settings=settings,
            progress=progress,
            total=len(frames),
        )
        print(json.dumps(summary.to_dict(), indent=2))
        return 0
    from .replay import publish_frames

    settings = settings_from_args(args)
    summary = asyncio.run(
        publish_frames(
            settings, frames, sensors, speed=args.speed, progress=progress, total=len(frames)
        )
    )
    print(
        f"published {summary.sensors} sensors, {summary.frames} frames "
        f"({summary.detections} detections) to {settings.topic('frames')} in "
        f"{summary.elapsed_s:.2f} s ({summary.detections_per_s:,.0f} detections/s)"
    )
    return 0


def _cmd_publish_catalog(args: argparse.Namespace) -> int:
    from orbitlink.tracking.catalogue import Catalogue

    from .admin import ensure_topics
    from .replay import publish_catalogue

    settings = settings_from_args(args)
    ensure_topics(settings)
    count = asyncio.run(publish_catalogue(settings, Catalogue.from_path(args.path)))
    print(f"published {count} element sets to {settings.topic('catalogue')}")
    return 0


def _cmd_consume(args: argparse.Namespace) -> int:
    from .consume import consume_to_file

    settings = settings_from_args(args)
    topic = settings.topic(args.topic) if args.topic in ROLES else args.topic
    if args.out == "-":
        count = asyncio.run(
            consume_to_file(
                settings.bootstrap,
                topic,
                sys.stdout,
                until_idle_s=args.until_idle,
                with_meta=args.meta,
                security=settings.client_security(),
            )
        )
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as out:
            count = asyncio.run(
                consume_to_file(
                    settings.bootstrap,
                    topic,
                    out,
                    until_idle_s=args.until_idle,
                    with_meta=args.meta,
                    security=settings.client_security(),
                )
            )
    print(f"consumed {count} messages from {topic}", file=sys.stderr)
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from orbitlink.tracking.simulate import PRESETS, simulate_scenario

    settings = PRESETS[args.preset]
    if args.truth_catalog is not None:
        settings = settings.replace(staleness="snapshots")
    result = simulate_scenario(
        args.catalog,
        args.out,
        seed=args.seed,
        settings=settings,
        truth_catalog_path=args.truth_catalog,
    )
    print(result if result is not None else f"scenario written to {args.out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from orbitlink.tracking.evaluate import evaluate

    plot = args.plot if args.plot is not None else args.results / "evaluation.png"
    report = evaluate(args.truth, args.results, plot_path=plot)
    print(report.to_table())
    print(f"\nplot: {plot}")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    import logging

    from .dashboard.server import Dashboard

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.update_hz > 0:
        raise ValueError("--update-hz must be positive")
    dashboard = Dashboard(
        settings_from_args(args),
        host=args.host,
        port=args.port,
        since_minutes=args.since_minutes,
        update_hz=args.update_hz,
    )

    async def serve() -> None:
        await dashboard.start()
        print(f"orbitlink: dashboard at {dashboard.url} (Ctrl-C stops)", flush=True)
        try:
            await dashboard.wait()
        finally:
            await dashboard.stop()

    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    asyncio.run(serve())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(
        catalog=args.catalog,
        seed=args.seed,
        port=args.port,
        out=args.out,
        speed=args.speed or None,
        dashboard_port=args.dashboard_port,
        keep_running=args.keep_running,
    )


COMMANDS = {
    "broker": _cmd_broker,
    "topics": _cmd_topics,
    "worker": _cmd_worker,
    "replay": _cmd_replay,
    "publish-catalog": _cmd_publish_catalog,
    "consume": _cmd_consume,
    "simulate": _cmd_simulate,
    "evaluate": _cmd_evaluate,
    "demo": _cmd_demo,
    "dashboard": _cmd_dashboard,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FileNotFoundError) as error:
        # Bad input (a file, a flag, a record) is reported, not dumped as a traceback.
        print(f"orbitlink {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
