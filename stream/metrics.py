"""Prometheus metrics of the worker, served at ``/metrics`` on its web port.

:class:`WorkerMetrics` owns a private :class:`prometheus_client.CollectorRegistry` (several
workers may live in one process in tests) with the counters and histograms the frames
processor updates as it goes, and a collector that reads, at each scrape, what is cheaper to
look up than to track: catalogue size and element-set ages, consumer lag per partition, the
state table's size. ``/metrics`` is a page of the worker's Faust web server
(:func:`add_metrics_page`), on 127.0.0.1 at ``--web-port``.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` histograms, base units);
``sensor_id`` labels are bounded: past :data:`MAX_SENSOR_LABELS` distinct sensors the rest
share ``sensor_id="other"``, so a producer inventing sensor ids cannot blow up the series.
The metric names are listed in docs/monitoring.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sized

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from orbitlink.tracking.catalogue import Catalogue
from orbitlink.tracking.constants import SECONDS_PER_DAY
from orbitlink.tracking.models import Alert, Association

__all__ = ["MAX_SENSOR_LABELS", "WorkerMetrics", "add_metrics_page", "reason_class"]

#: Distinct ``sensor_id`` label values before the rest are counted as ``other``.
MAX_SENSOR_LABELS = 64

#: Dead-letter reasons by their leading words (docs/topics.md), the ``reason`` label.
_REASONS = (
    ("empty message", "empty_message"),
    ("not JSON", "not_json"),
    ("schema violation", "schema_violation"),
    ("impossible value", "impossible_value"),
    ("message key", "wrong_key"),
    ("sensor_id: unknown sensor", "unknown_sensor"),
    ("processing error", "processing_error"),
)

#: Histogram buckets of the per-frame processing time, seconds.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Buckets of the element-set age distribution, days.
AGE_BUCKETS_DAYS = (0.5, 1.0, 2.0, 3.0, 7.0, 14.0, 30.0)


def reason_class(reason: str) -> str:
    """The ``reason`` label of a dead-letter reason: its class, or ``other``."""
    for prefix, label in _REASONS:
        if reason.startswith(prefix):
            return label
    return "other"


class WorkerMetrics:
    """The worker's Prometheus metrics (see the module docstring).

    ``catalogue``, ``table`` and ``lag`` are read at scrape time: the pipeline's catalogue (a
    callable, it is replaced when the first element sets arrive), the state table, and a
    callable returning ``{(topic, partition): lag}`` for the partitions this worker holds.
    """

    def __init__(
        self,
        *,
        catalogue: Callable[[], Catalogue | None] = lambda: None,
        table: Sized | None = None,
        lag: Callable[[], dict[tuple[str, int], int]] = dict,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.frames = Counter(
            "orbitlink_frames",
            "Frames read from the frames topic, by sensor and disposition "
            "(processed, duplicate, out_of_order, dead_letter).",
            ["sensor_id", "disposition"],
            registry=r,
        )
        self.detections = Counter(
            "orbitlink_detections",
            "Detections in processed frames.",
            ["sensor_id"],
            registry=r,
        )
        self.track_updates = Counter(
            "orbitlink_track_updates",
            "Track updates published, by status.",
            ["sensor_id", "status"],
            registry=r,
        )
        self.tracks = Gauge(
            "orbitlink_tracks",
            "Published tracks of each sensor at its last frame, by status.",
            ["sensor_id", "status"],
            registry=r,
        )
        self.associations = Counter(
            "orbitlink_associations",
            "Associations published, by outcome (named, uct, ambiguous).",
            ["sensor_id", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "orbitlink_dead_letters",
            "Messages dead-lettered, by source topic and reason class.",
            ["topic", "reason"],
            registry=r,
        )
        self.frame_latency = Histogram(
            "orbitlink_frame_latency_seconds",
            "Time from taking a frame to its records acknowledged and its state saved.",
            ["sensor_id"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.frame_age = Histogram(
            "orbitlink_frame_age_seconds",
            "Time from a frame's publication (its Kafka timestamp) to its records' "
            "acknowledgement.",
            ["sensor_id"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.state_bytes = Gauge(
            "orbitlink_state_bytes",
            "Size of each sensor's tracker state in the state table.",
            ["sensor_id"],
            registry=r,
        )
        self.alerts = Counter(
            "orbitlink_alerts",
            "Alert records published, by kind and state (firing, resolved).",
            ["kind", "state"],
            registry=r,
        )
        self.alerts_firing = Gauge(
            "orbitlink_alerts_firing",
            "Alerts firing now, by kind and sensor.",
            ["kind", "sensor_id"],
            registry=r,
        )
        self._sensors: set[str] = set()
        self._catalogue = catalogue
        self._table = table
        self._lag = lag
        r.register(_ScrapeTimeCollector(self))

    def sensor_label(self, sensor_id: str | None) -> str:
        """``sensor_id`` as a label value, bounded (see :data:`MAX_SENSOR_LABELS`)."""
        if not sensor_id:
            return "unknown"
        if sensor_id in self._sensors:
            return sensor_id
        if len(self._sensors) < MAX_SENSOR_LABELS:
            self._sensors.add(sensor_id)
            return sensor_id
        return "other"

    # -- what the processor reports ---------------------------------------------------------

    def frame_done(self, sensor_id: str | None, disposition: str) -> None:
        self.frames.labels(self.sensor_label(sensor_id), disposition).inc()

    def processed(
        self,
        sensor_id: str,
        detections: int,
        statuses: Iterable[str],
        associations: Iterable[Association],
        state_bytes: int,
    ) -> None:
        """A processed frame: its detections, its track updates' statuses
        (:attr:`~orbitlink.tracking.batches.TrackBatch.statuses`), its associations and its
        state size (the timings are the processor's: ``frame_latency``, ``frame_age``)."""
        sensor = self.sensor_label(sensor_id)
        self.detections.labels(sensor).inc(detections)
        status_counts = dict.fromkeys(("confirmed", "coasting", "tentative", "deleted"), 0)
        for status in statuses:
            status_counts[status] += 1
        for status, count in status_counts.items():
            self.track_updates.labels(sensor, status).inc(count)
            if status != "deleted":
                self.tracks.labels(sensor, status).set(count)
        outcomes = dict.fromkeys(("named", "uct", "ambiguous"), 0)
        for association in associations:
            outcome = (
                "uct" if association.uct else "ambiguous" if association.ambiguous else "named"
            )
            outcomes[outcome] += 1
        for outcome, count in outcomes.items():
            self.associations.labels(sensor, outcome).inc(count)
        self.state_bytes.labels(sensor).set(state_bytes)

    def dead_letter(self, topic: str, reason: str) -> None:
        self.dead_letters.labels(topic, reason_class(reason)).inc()

    def alert(self, alert: Alert) -> None:
        self.alerts.labels(alert.kind, alert.state).inc()
        firing = self.alerts_firing.labels(alert.kind, self.sensor_label(alert.sensor_id or "*"))
        firing.set(1 if alert.state == "firing" else 0)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class _ScrapeTimeCollector:
    """Catalogue, lag and table figures, computed when scraped."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        catalogue = m._catalogue()
        size = GaugeMetricFamily(
            "orbitlink_catalogue_objects", "Element sets in the worker's catalogue."
        )
        size.add_metric([], 0 if catalogue is None else len(catalogue))
        yield size
        ages = GaugeHistogramMetricFamily(
            "orbitlink_catalogue_element_age_days",
            "Ages of the catalogue's element sets (now minus epoch), days.",
        )
        epochs = np.empty(0) if catalogue is None else catalogue.epoch_unix_s
        age_days = (time.time() - epochs) / SECONDS_PER_DAY
        counts = [int(np.count_nonzero(age_days <= edge)) for edge in AGE_BUCKETS_DAYS]
        buckets = [(f"{edge:g}", float(c)) for edge, c in zip(AGE_BUCKETS_DAYS, counts)]
        ages.add_metric([], [*buckets, ("+Inf", float(len(age_days)))], float(age_days.sum()))
        yield ages
        lag = GaugeMetricFamily(
            "orbitlink_consumer_lag",
            "Frames waiting in each frames partition this worker holds (high watermark "
            "minus the next offset to process).",
            labels=["topic", "partition"],
        )
        for (topic, partition), value in sorted(m._lag().items()):
            lag.add_metric([topic, str(partition)], value)
        yield lag
        if m._table is not None:
            entries = GaugeMetricFamily(
                "orbitlink_state_table_entries",
                "Entries of the state table held by this worker (sensors and offsets).",
            )
            entries.add_metric([], len(m._table))
            yield entries


def add_metrics_page(app, metrics: WorkerMetrics) -> None:
    """Serve ``metrics`` at ``/metrics`` on the Faust app's web server."""

    @app.page("/metrics", name="orbitlink_metrics")
    async def prometheus_metrics(view, request):
        # aiohttp takes no charset in content_type, so the full type goes in as a header.
        return view.bytes(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
