"""Sources of recent changes, in a registry keyed by the config name.

A source is a function `(settings, saved_position, stop) -> iterator of (item, position)`:
`item` is a RecentChange, a BadEvent (counted, skipped) or None (dropped: a canary, or a first
start's checkpoint), and
`position` is the opaque string to save once the item is fully processed (None: nothing to save).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from flagbot.config import Settings
from flagbot.errors import BadEvent
from flagbot.events import RecentChange

SourceItem = tuple[RecentChange | BadEvent | None, str | None]
Source = Callable[[Settings, str | None, threading.Event], Iterator[SourceItem]]


def registry() -> dict[str, Source]:
    from flagbot.sources import eventstreams, recentchanges, replay

    return {
        "eventstreams": eventstreams.stream,
        "recentchanges": recentchanges.poll,
        "replay": replay.read,
    }


def source_key(settings: Settings) -> str:
    """The store key under which a source saves its position."""
    where = settings.source.path if settings.source.type == "replay" else settings.source.url
    if settings.source.type == "recentchanges":
        where = ",".join(w.id for w in settings.wikis)
    return f"{settings.source.type}:{where}"
