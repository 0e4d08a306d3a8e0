"""Creating the service's topics up front, with their partition counts.

A topic auto-created by a producer or a metadata request gets the broker's default partition
count, and Faust refuses to start a table whose changelog has a partition count other than its
source topic's. So every command that writes or reads (worker, replay, consume, demo) first
creates all topics of :meth:`StreamSettings.topic_specs`; creation is idempotent, and a topic
that exists with a different partition count is an error naming it.
"""

from __future__ import annotations

from .broker import create_topics, create_topics_async
from .settings import StreamSettings

__all__ = ["ensure_topics", "ensure_topics_async"]


def ensure_topics(settings: StreamSettings, *, timeout_s: float = 30.0) -> dict[str, bool]:
    """Create every topic of ``settings`` that does not exist; ``{name: created_now}``."""
    return create_topics(settings.bootstrap, settings.topic_specs(), timeout_s=timeout_s)


async def ensure_topics_async(
    settings: StreamSettings, *, timeout_s: float = 30.0
) -> dict[str, bool]:
    """:func:`ensure_topics` from inside an event loop."""
    return await create_topics_async(
        settings.bootstrap, settings.topic_specs(), timeout_s=timeout_s
    )
