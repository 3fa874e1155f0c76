"""Sources of recent changes (eventstreams, recentchanges, replay; `pipeline.source_of` picks
the configured one).

A source is a function `(settings, saved_position, stop, client: WikiClient) -> iterator of
(item, position)`:
`item` is a RecentChange, a BadEvent (counted, skipped) or None (dropped: a canary, or a first
start's checkpoint), and
`position` is the opaque string to save once the item is fully processed (None: nothing to save).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from flagbot.config import Settings
from flagbot.errors import BadEvent
from flagbot.events import RecentChange

SourceItem = tuple[RecentChange | BadEvent | None, str | None]
Source = Callable[..., Iterator[SourceItem]]  # (settings, position, stop, client)


def source_key(settings: Settings) -> str:
    """The store key under which a source saves its position."""
    where = settings.source.path if settings.source.type == "replay" else settings.source.url
    if settings.source.type == "recentchanges":
        where = ",".join(w.id for w in settings.wikis)
    return f"{settings.source.type}:{where}"


def position_time(position: str | None) -> float | None:
    """The time a saved position stands at (for `flagbot status`'s lag): the stream's last
    event time, or the oldest of the polled wikis' timestamps; None when it has none."""
    from datetime import UTC, datetime

    try:
        saved = json.loads(position) if position else None
    except ValueError:
        return None
    if not isinstance(saved, dict):
        return None
    if isinstance(saved.get("ts"), int | float):
        return float(saved["ts"])
    times = []
    for state in saved.values():  # recentchanges: {wiki: {"ts": "2026-…Z", "rcid": n}}
        try:
            when = datetime.strptime(state["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except (TypeError, KeyError, ValueError):
            continue
        times.append(when.timestamp())
    return min(times, default=None)
