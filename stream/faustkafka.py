"""Faust's aiokafka transport with the one consumer setting Faust does not expose, and its table
manager without the second it waits at every start.

Faust (faust-streaming 0.15) creates the worker's aiokafka consumer with ``fetch_max_wait_ms``
fixed at 1,500 ms. Apache Kafka answers a waiting fetch as soon as a record arrives, so there
the wait costs nothing; the embedded Tansu broker does not (it holds the fetch for up to the
whole wait, measured in docs/deployment.md), so a frame waited ~0.3-0.7 s before the worker
saw it. :class:`FaustApp` is a :class:`faust.App` whose consumer uses
``fetch_max_wait_ms`` as given (``StreamSettings.fetch_max_wait_ms``); everything else is
Faust's own transport.

Faust's table manager sleeps one second when it starts, so that tables defined after the app
has started are still registered; a worker's output waited for it at every cold start and
after every restart. orbitlink defines its tables with the app (``stream/app.py``), before it
starts, so :class:`FaustApp` uses a manager that goes on at once (a table added later would
fail loudly: Faust refuses it once the tables are registered).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.tables import TableManager
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["FaustApp"]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when the consumer starts (it builds its fetcher then), which is
        # after this method returns: the documented setting, passed late.
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class _TableManager(TableManager):
    async def on_start(self) -> None:
        # Faust's own, without its first ``await self.sleep(1.0)``: no table comes late here.
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


class FaustApp(faust.App):
    """A :class:`faust.App` whose worker consumer waits at most ``fetch_max_wait_ms`` for a
    fetch to fill, and whose tables start without a wait (Faust's other settings as keyword
    arguments)."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int = 1500, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, TableManager=_TableManager, **kwargs)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
