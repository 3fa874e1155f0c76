"""Polling source: `list=recentchanges` of any MediaWiki through pywikibot, oldest first.

For wikis without EventStreams, and for catching up a gap older than the stream's retention.
The position per wiki is the timestamp and rcid of the last row; a restart asks again from that
timestamp (rows at the same second are the overlap, made harmless by de-duplication).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flagbot.config import Settings, WikiSettings
from flagbot.errors import BadEvent, FetchError
from flagbot.events import parse_api_row
from flagbot.sources import SourceItem
from flagbot.wiki import WikiClient

log = logging.getLogger(__name__)
RCPROP = "user|comment|timestamp|title|ids|flags|loginfo"


def iso(ts: int | float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows_since(site: Any, wiki: WikiSettings, start: str | None) -> Iterator[dict[str, Any]]:
    """Every recentchanges row from `start` (inclusive) to now, oldest first, every namespace:
    the hounding detector keeps edits in articles too (the pipeline filters what it scores)."""
    from pywikibot.data.api import ListGenerator

    # formatversion 2: in version 1 a bot edit carries "bot": "", which reads as false
    params: dict[str, Any] = {
        "rcdir": "newer",
        "rcprop": RCPROP,
        "rctype": "edit|new|log",  # log: moves and new accounts make names public
        "formatversion": 2,
    }
    if start:
        params["rcstart"] = start
    generator = ListGenerator("recentchanges", site=site, **params)
    generator.set_maximum_items(-1)
    yield from generator


def poll_wiki(
    client: WikiClient, wiki: WikiSettings, state: dict[str, Any], until: float | None = None
) -> Iterator[SourceItem]:
    """One pass over a wiki's new rows; `state` (ts, rcid) is advanced as rows are handed out."""
    site = client.site(wiki)
    script_path = wiki.script_path
    for row in rows_since(site, wiki, state.get("ts")):
        rcid = row.get("rcid", 0)
        if row.get("timestamp") == state.get("ts") and rcid <= state.get("rcid", 0):
            continue  # already handed out before
        try:
            change = parse_api_row(row, wiki.id, wiki.url, script_path)
        except BadEvent as bad:
            yield bad, None
            continue
        if until is not None and change.timestamp > until:
            return
        state.update(ts=row["timestamp"], rcid=rcid)
        yield change, None


def poll(
    settings: Settings,
    position: str | None,
    stop: threading.Event,
    client: WikiClient,
    until: float | None = None,
) -> Iterator[SourceItem]:
    """Poll every configured wiki in turn; with `until` (a unix time) stop once past it."""
    states: dict[str, dict[str, Any]] = json.loads(position) if position else {}
    for wiki in settings.wikis:
        states.setdefault(wiki.id, {"ts": iso(time.time() - settings.source.overlap_seconds)})
    if position is None and until is None:  # a first start: saved at once (see eventstreams)
        yield None, json.dumps(states, sort_keys=True)
    delay = settings.source.poll_interval
    while not stop.is_set():
        try:
            for wiki in settings.wikis:
                for item, _ in poll_wiki(client, wiki, states[wiki.id], until):
                    yield item, json.dumps(states, sort_keys=True)
                    if stop.is_set():
                        return
            if until is not None:
                return  # caught up
            delay = settings.source.poll_interval
        except FetchError as exc:  # keep the position; nothing is skipped, try again later
            log.warning("polling failed: %s; retrying in %.0f s", exc, delay)
            delay = min(delay * 2, settings.source.max_backoff)
        stop.wait(delay)
