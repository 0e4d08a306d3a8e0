"""What the Tansu end-offset workaround costs: produce rate with one record per batch vs batching.

``python -m bench.broker`` starts an embedded Tansu; ``--broker kafka://host:port`` measures an
existing broker (Apache Kafka, say). For 1, 4 and 16 partitions it sends the same records twice,
once with :data:`orbitlink.stream.tansu.TANSU_SAFE_PRODUCER_CONFIG` (one record per batch, what
every orbitlink producer whose topic is read "up to the end" uses on Tansu) and once with
aiokafka's default batching (linger 2 ms), and prints records/s. With one record per batch aiokafka
keeps one request in flight per partition, so the rate is about ``partitions / round trip``.
Measures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaProducer

from orbitlink.stream.admin import create_topics, describe_broker
from orbitlink.stream.probe import bootstrap_from_url
from orbitlink.stream.tansu import TANSU_SAFE_PRODUCER_CONFIG, EmbeddedBroker

RECORD_BYTES = 1000  # about one frame of ~10 detections as JSON
PARTITION_COUNTS = (1, 4, 16)


async def _produce_rate(
    bootstrap: str, topic: str, partitions: int, n_records: int, producer_config: dict
) -> float:
    """Records/s to send ``n_records`` round-robin over ``partitions`` and have them acked."""
    value = b"x" * RECORD_BYTES
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_config)
    await producer.start()
    try:
        # One warm-up record per partition: connection set-up and metadata are not measured.
        await asyncio.gather(
            *[await producer.send(topic, value=value, partition=p) for p in range(partitions)]
        )
        started = time.perf_counter()
        futures = [
            await producer.send(topic, value=value, partition=i % partitions)
            for i in range(n_records)
        ]
        await asyncio.gather(*futures)
        return n_records / (time.perf_counter() - started)
    finally:
        await producer.stop()


def run(bootstrap: str, n_records: int) -> None:
    kind = describe_broker(bootstrap)["kind"]
    print(f"broker {bootstrap} ({kind}); {n_records} records of {RECORD_BYTES} B per run")
    print(f"{'partitions':>10} {'1 record/batch':>16} {'batched':>12}   records/s")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    for partitions in PARTITION_COUNTS:
        single, batched = f"{prefix}-single-{partitions}", f"{prefix}-batched-{partitions}"
        create_topics(bootstrap, {single: (partitions, False), batched: (partitions, False)})
        rate_single = asyncio.run(
            _produce_rate(bootstrap, single, partitions, n_records, TANSU_SAFE_PRODUCER_CONFIG)
        )
        rate_batched = asyncio.run(
            _produce_rate(bootstrap, batched, partitions, n_records, {"linger_ms": 2})
        )
        print(f"{partitions:>10} {rate_single:>16,.0f} {rate_batched:>12,.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.broker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--broker", help="measure this broker instead of an embedded Tansu")
    parser.add_argument("--records", type=int, default=3000, help="records per run (3000)")
    parser.add_argument("--quick", action="store_true", help="300 records per run")
    args = parser.parse_args(argv if argv is not None else [])
    if args.quick:
        args.records = 300
    if args.broker:
        run(bootstrap_from_url(args.broker), args.records)
        return
    with EmbeddedBroker() as broker:
        run(broker.bootstrap, args.records)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
