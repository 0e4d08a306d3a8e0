"""``orbitlink dashboard``: a downstream consumer of the output topics serving a live page.

:class:`Dashboard` runs three things in one event loop:

* a **reader**: one aiokafka consumer without a group (it commits nothing and joins no group)
  assigned every partition of the frames, tracks, associations, dead-letter and alerts topics.
  It starts at the end ("now") or ``since_minutes`` back (the offsets for that time), except
  the alerts, read from the beginning so that alerts still firing are shown. Records are folded
  into a :class:`~orbitlink.stream.dashboard.state.DashboardState`;
* a **publisher**: at most ``update_hz`` times a second, when something changed, the state's
  view is serialised once and handed to every connected page (server-sent events). Each page
  holds only the newest message: a page that reads slowly skips the messages it missed, and
  one that stops reading for ``client_timeout_s`` is dropped, so no browser ever slows the
  reader or makes it buffer;
* a **web server** (aiohttp) on ``host:port``, 127.0.0.1 unless told otherwise, answering GET
  only: ``/`` the page, ``/static/...`` its script, style and vendored uPlot (nothing from a
  CDN), ``/events`` the event stream, ``/api/state`` the current view as JSON. Nothing a
  browser sends reaches the broker.

The worker group's consumer lag (frames topic end offsets minus the group's committed
offsets) is polled every ``lag_interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from ..settings import StreamSettings
from .state import DashboardState

__all__ = ["Dashboard"]

log = logging.getLogger(__name__)

#: The topics read, by role, and the state method each record goes to.
ROLES = {
    "frames": "on_frame",
    "tracks": "on_track",
    "associations": "on_association",
    "deadletter": "on_dead_letter",
    "alerts": "on_alert",
}

#: The page may load nothing but what this server serves.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


@dataclass(eq=False)  # pages are told apart by identity
class _Page:
    """One connected page: the newest message for it, and a flag that one is waiting."""

    wake: asyncio.Event = field(default_factory=asyncio.Event)
    message: bytes = b""


class Dashboard:
    """The dashboard of one deployment (``settings``: broker, topic prefix, app id)."""

    def __init__(
        self,
        settings: StreamSettings,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        since_minutes: float = 0.0,
        update_hz: float = 4.0,
        lag_interval_s: float = 2.0,
        client_timeout_s: float = 10.0,
        state: DashboardState | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.since_minutes = since_minutes
        self.update_interval_s = 1.0 / update_hz
        self.lag_interval_s = lag_interval_s
        self.client_timeout_s = client_timeout_s
        self.state = state or DashboardState()
        self.pages: set[_Page] = set()
        self.records_read = 0
        self.messages_built = 0
        self._changed = True
        self._handlers = {settings.topic(role): method for role, method in ROLES.items()}
        self._static = resources.files("orbitlink.stream.dashboard") / "static"
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    # -- web --------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[_security_headers])
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{path:.+}", self._static_file)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/state", self._api_state)
        return app

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _static_file(self, request: web.Request) -> web.Response:
        return self._file(request.match_info["path"])

    def _file(self, path: str) -> web.Response:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts) or len(parts) > 2:
            raise web.HTTPNotFound()
        target = self._static.joinpath(*parts)
        suffix = "." + parts[-1].rpartition(".")[2]
        if suffix not in STATIC_TYPES or not target.is_file():
            raise web.HTTPNotFound()
        return web.Response(
            body=target.read_bytes(), content_type=STATIC_TYPES[suffix], charset="utf-8"
        )

    async def _api_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.view())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                **SECURITY_HEADERS,
                "Content-Type": "text/event-stream",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        page = _Page(message=self._message())
        page.wake.set()
        self.pages.add(page)
        try:
            while True:
                try:
                    await asyncio.wait_for(page.wake.wait(), 15.0)
                except TimeoutError:
                    page.message = b": keep-alive\n\n"
                page.wake.clear()
                message, page.message = page.message, b""
                if message:
                    await asyncio.wait_for(response.write(message), self.client_timeout_s)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self.pages.discard(page)
        return response

    def _message(self) -> bytes:
        self.messages_built += 1
        body = json.dumps(self.state.view(), separators=(",", ":"), allow_nan=False)
        return b"data: " + body.encode() + b"\n\n"

    async def _publish(self) -> None:
        while True:
            await asyncio.sleep(self.update_interval_s)
            if not (self._changed and self.pages):
                continue
            self._changed = False
            message = self._message()
            for page in self.pages:
                page.message = message  # replaces one the page has not taken yet
                page.wake.set()

    # -- Kafka ------------------------------------------------------------------------------

    async def _read(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self.settings.faust_app_id}-dashboard",
            fetch_max_wait_ms=200,
        )
        await consumer.start()
        try:
            assigned: set[TopicPartition] = set()
            next_check = 0.0
            while True:
                if time.monotonic() >= next_check:
                    assigned |= await self._assign_new(consumer, assigned)
                    next_check = time.monotonic() + 5.0
                if not assigned:
                    await asyncio.sleep(0.5)
                    continue
                try:
                    batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                except KafkaError as error:
                    log.warning("dashboard: fetch failed (%s); retrying", error)
                    await asyncio.sleep(1.0)
                    continue
                for tp, messages in batches.items():
                    handler = getattr(self.state, self._handlers[tp.topic])
                    for message in messages:
                        try:
                            record = json.loads(message.value) if message.value else None
                        except (ValueError, UnicodeDecodeError):
                            record = None
                        handler(record, message.timestamp)
                        self.records_read += 1
                    self._changed = True
                await asyncio.sleep(0)  # let the web server answer between batches
        finally:
            await consumer.stop()

    async def _assign_new(
        self, consumer: AIOKafkaConsumer, assigned: set[TopicPartition]
    ) -> set[TopicPartition]:
        """Partitions of the topics that exist now and were not assigned yet, positioned."""
        await consumer._client.force_metadata_update()
        new = {
            TopicPartition(topic, p)
            for topic in self._handlers
            for p in consumer.partitions_for_topic(topic) or ()
        } - assigned
        if not new:
            return set()
        consumer.assign(sorted(assigned | new))
        alerts = self.settings.topic("alerts")
        from_start = [tp for tp in new if tp.topic == alerts]
        rest = [tp for tp in new if tp.topic != alerts]
        if from_start:
            await consumer.seek_to_beginning(*from_start)
        if rest and self.since_minutes > 0 and not assigned:
            since_ms = int((time.time() - 60.0 * self.since_minutes) * 1000)
            found = await consumer.offsets_for_times(dict.fromkeys(rest, since_ms))
            ends = await consumer.end_offsets(rest)
            for tp in rest:
                hit = found.get(tp)
                consumer.seek(tp, hit.offset if hit is not None else ends[tp])
        elif rest:
            # Topics that appear later are read from their start: all of it is new.
            await (consumer.seek_to_end if not assigned else consumer.seek_to_beginning)(*rest)
        log.info("dashboard: reading %d partitions", len(assigned | new))
        return new

    async def _poll_lag(self) -> None:
        # A consumer in the worker group that never subscribes: it only reads the group's
        # committed offsets (it joins nothing and commits nothing).
        frames = self.settings.topic("frames")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=self.settings.faust_app_id,
            enable_auto_commit=False,
            client_id=f"{self.settings.faust_app_id}-dashboard-lag",
        )
        await consumer.start()
        try:
            while True:
                try:
                    parts = [
                        TopicPartition(frames, p)
                        for p in sorted(consumer.partitions_for_topic(frames) or ())
                    ]
                    if not parts:
                        await consumer._client.force_metadata_update()
                    ends = await asyncio.wait_for(consumer.end_offsets(parts), 10.0)
                    lag = {}
                    for tp in parts:
                        committed = await asyncio.wait_for(consumer.committed(tp), 10.0)
                        if committed is not None:
                            lag[tp.partition] = max(ends[tp] - committed, 0)
                    self.state.set_lag(lag or None)
                except Exception as error:  # a viewer: the lag is then unknown, never fatal
                    log.debug("dashboard: lag unknown (%r)", error)
                    self.state.set_lag(None)
                self._changed = True
                await asyncio.sleep(self.lag_interval_s)
        finally:
            await consumer.stop()

    # -- running ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the web server (the port is bound when this returns) and the tasks."""
        self._runner = web.AppRunner(self.web_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks = [
            asyncio.create_task(self._read(), name="dashboard-read"),
            asyncio.create_task(self._publish(), name="dashboard-publish"),
            asyncio.create_task(self._poll_lag(), name="dashboard-lag"),
        ]

    async def stop(self) -> None:
        for task in getattr(self, "_tasks", []):
            task.cancel()
        for task in getattr(self, "_tasks", []):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait(self) -> None:
        """Wait (after :meth:`start`) until a task fails, raising its error."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()

    async def run(self) -> None:
        """Serve until cancelled or a task fails."""
        await self.start()
        try:
            await self.wait()
        finally:
            await self.stop()


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    response = await handler(request)
    if not response.prepared:  # the event stream sent its headers already
        response.headers.update(
            {k: v for k, v in SECURITY_HEADERS.items() if k not in response.headers}
        )
    return response
