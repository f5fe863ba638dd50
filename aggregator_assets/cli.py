"""`aggregator-assets`: run the local broker, fill it with demo traffic, check a config.

aggregator-assets broker [--port 9092] [--log FILE]
aggregator-assets demo [--bootstrap HOST:PORT] [--hours 6] [--end ISO] [--rate 50] [--follow]
                       [--topics NAME ...] [--malformed 0.01] [--late 0.02] [--seed N]
                       [--format json|avro] [--schema-registry URL]
aggregator-assets registry [--port 8081]                  # a local stand-in Schema Registry
aggregator-assets config-check [PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aggregator_assets.config import ConfigError, asset_name, load_pipeline_config
from aggregator_assets.config.patterns import TopicListingError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_REGISTRY = "http://127.0.0.1:8081"


def _interrupt_on_sigterm() -> None:
    """Let SIGTERM stop a foreground command the way Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run_broker(args: argparse.Namespace) -> int:
    from aggregator_assets.demo.broker import LocalBroker

    broker = LocalBroker(args.port, args.log).start()
    print(f"broker listening on {broker.bootstrap} (Ctrl-C to stop)", flush=True)
    _interrupt_on_sigterm()
    try:
        code = broker.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        broker.stop()
    return code


def run_demo(args: argparse.Namespace) -> int:
    from aggregator_assets.demo.producer import produce_demo
    from aggregator_assets.resources.kafka import KafkaResource

    config = load_pipeline_config(args.config)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    end = args.end or datetime.now(timezone.utc)
    start = end - timedelta(hours=args.hours)
    print(
        f"producing {args.hours:g}h of demo traffic ({start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC)"
        f" at {args.rate:g} events/s to {args.bootstrap}, seed {seed}"
        + (", then live until Ctrl-C" if args.follow else ""),
        file=sys.stderr,
    )
    _interrupt_on_sigterm()
    stats = produce_demo(
        KafkaResource(bootstrap_servers=args.bootstrap),
        config,
        topics=args.topics,
        start=start,
        end=end,
        rate=args.rate,
        malformed=args.malformed,
        late=args.late,
        seed=seed,
        follow=args.follow,
        partitions=args.partitions,
        progress=not args.quiet,
        value_format=args.format,
        schema_registry_url=args.schema_registry,
    )
    for name, s in stats.items():
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(s.malformed.items())) or "none"
        print(f"{name}: {s.total} records ({s.valid} valid, {s.late} late, malformed: {kinds})")
    return 0


def run_registry(args: argparse.Namespace) -> int:
    import time

    from aggregator_assets.demo.registry import LocalSchemaRegistry

    registry = LocalSchemaRegistry(args.port).start()
    print(f"schema registry (in-memory stand-in) on {registry.url} (Ctrl-C to stop)", flush=True)
    _interrupt_on_sigterm()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        registry.stop()


def run_config_check(args: argparse.Namespace) -> int:
    try:
        config = load_pipeline_config(args.path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"partitions start {config.partitions_start:%Y-%m-%d %H:%M} UTC")
    for topic in config.topics:
        name = topic.asset_name
        windows = [f"windows_{name}_{w.name}" for w in topic.windows]
        print(f"{topic.name} (key {topic.key_field}, event time {topic.event_time.field})")
        print(f"  assets: {', '.join([f'kafka_{name}', f'raw_{name}', *windows])}")
        renamed = [f"{c} -> {w}" for c, w in topic.pipeline_columns.items() if c != w]
        if renamed:
            print(
                f"  pipeline columns renamed (a payload field has the name): {', '.join(renamed)}"
            )
        if topic.windows:
            print(f"  window naming: {topic.window_naming} ({len(topic.window_columns)} columns)")
    if config.trips:
        source = asset_name(config.trips.source_topic)
        print(f"trips (from raw_{source}): trip_summaries, vehicle_data_lake")
    return 0


def run_topics_refresh(args: argparse.Namespace) -> int:
    from aggregator_assets.config.patterns import refresh_cache

    path, topics = refresh_cache(args.cache)
    print(f"{len(topics)} topics listed from the broker into {path}")
    print("reload the code location (UI: Deployment > Reload) to add topics a pattern matches")
    return 0


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _utc_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text} has no zone (add Z or +00:00)")
    return value.astimezone(timezone.utc)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aggregator-assets", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    broker = commands.add_parser("broker", help="run the bundled local Kafka broker")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument("--log", type=Path, help="append the broker's output to this file")
    broker.set_defaults(run=run_broker)

    demo = commands.add_parser("demo", help="produce realistic demo traffic to the topics")
    demo.add_argument(
        "--bootstrap",
        default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or %(default)s)",
    )
    demo.add_argument("--hours", type=_positive, default=6.0, help="backdated hours before --end")
    demo.add_argument(
        "--end", type=_utc_time, help="ISO time the backdated span ends (default: now)"
    )
    demo.add_argument(
        "--rate", type=_positive, default=50.0, help="events per second of event time, all topics"
    )
    demo.add_argument("--follow", action="store_true", help="then keep producing live")
    demo.add_argument("--topics", nargs="+", metavar="NAME", help="default: every topic")
    demo.add_argument("--malformed", type=_share, default=0.01, help="share of broken records")
    demo.add_argument("--late", type=_share, default=0.02, help="share of late records")
    demo.add_argument("--seed", type=int, help="default: random (printed)")
    demo.add_argument("--partitions", type=int, default=3, help="for topics it creates")
    demo.add_argument("--config", type=Path, help="pipeline config (default: $AGGREGATOR_CONFIG)")
    demo.add_argument("--quiet", action="store_true", help="no progress line")
    demo.add_argument(
        "--format",
        choices=["json", "avro"],
        help="value format of every chosen topic (default: each topic's value_format)",
    )
    demo.add_argument(
        "--schema-registry",
        default=os.environ.get("SCHEMA_REGISTRY_URL", DEFAULT_REGISTRY),
        help="Schema Registry for Avro topics (default: $SCHEMA_REGISTRY_URL or %(default)s)",
    )
    demo.set_defaults(run=run_demo)

    registry = commands.add_parser("registry", help="run a local in-memory Schema Registry")
    registry.add_argument("--port", type=int, default=8081)
    registry.set_defaults(run=run_registry)

    check = commands.add_parser("config-check", help="validate a pipeline config")
    check.add_argument("path", nargs="?", type=Path, help="default: $AGGREGATOR_CONFIG or packaged")
    check.set_defaults(run=run_config_check)

    refresh = commands.add_parser(
        "topics-refresh", help="list the broker's topics into the cache that patterns match"
    )
    refresh.add_argument(
        "--cache", type=Path, help="default: $AGGREGATOR_TOPICS_CACHE or $DAGSTER_HOME/..."
    )
    refresh.set_defaults(run=run_topics_refresh)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, TopicListingError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
