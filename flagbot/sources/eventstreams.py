"""EventStreams source: Wikimedia's `recentchange` server-sent events through requests-sse.

Real EventStreams ids are JSON arrays of Kafka assignments, `{"topic", "partition",
"timestamp"}` (the message's Kafka time + 1 ms, resumed as "the earliest offset whose time is
>= this") and `{"offset": -1}` ("latest") for the idle datacenter's topic. Kafka times are not
monotonic, so the id of the last message is not a safe place to resume: a neighbour that was
stamped a few ms earlier would be skipped. Every (re)connection therefore sends the id with each
timestamp rewound by `overlap_seconds`, and "latest" entries replaced by such a timestamp (after
a datacenter switchover the idle topic is the one that carries the news). The store's unique
(wiki, rev_id) absorbs the repeats.

A reconnect never rewinds a partition past what the previous connection already delivered (the
newest message time it showed) nor past where that connection started: resuming at a time the
consumer has already read past is safe (Kafka serves every later offset), and without this floor
a server that closes each connection before it gets past the overlap (a slow consumer, a loaded
machine) would repeat the same overlap forever, and the idle topic's entry would drift back by
the overlap on every reconnect. Each connection then gets past all but its last message time: only
a server that closes after every single message could still hold the bot in place.

The loop is flagbot's, not requests-sse's: the server closes every connection after ~15
minutes, a silent connection ends by read timeout, and both reconnect here with the rewound
id. Refusals (429, 5xx) and network errors back off exponentially up to max_backoff. An id the
server rejects (400, 404: e.g. a renamed stream) is dropped with a warning and the stream
resumes by `since=` the last event's time minus the overlap. A saved position older than the
stream's retention is first caught up through the API polling source. A first start saves its
own time at once, so a crash before the first batch resumes from there, not from "now".
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from requests_sse import EventSource, InvalidContentTypeError, InvalidStatusCodeError, ReadyState

from flagbot.config import Settings
from flagbot.errors import BadEvent, ConfigError
from flagbot.events import parse_event
from flagbot.sources import SourceItem, recentchanges
from flagbot.wiki import WikiClient, user_agent

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 10.0
RETRY_STATUSES = {429, 500, 502, 503, 504}
REJECTED_ID_STATUSES = {400, 404}


class _Stopped(Exception):
    """Raised from requests-sse's error callback to leave its loop on stop."""


class _Ended(Exception):
    """Raised from requests-sse's error callback when a stream ends: flagbot reconnects."""


def _assignments(event_id: str | None) -> list[dict[str, Any]] | None:
    """The Kafka assignments an EventStreams id holds; None for another server's id."""
    try:
        entries = json.loads(event_id or "")
    except ValueError:
        return None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return entries


def newest_time(event_id: str | None) -> int:
    """The latest Kafka timestamp (ms) an id carries; 0 for none or another server's id."""
    stamps = [e["timestamp"] for e in _assignments(event_id) or () if _stamped(e)]
    return max(stamps, default=0)


def _stamped(entry: dict[str, Any]) -> bool:
    return isinstance(entry.get("timestamp"), int)


def _partition(entry: dict[str, Any]) -> tuple[Any, Any]:
    return entry.get("topic"), entry.get("partition")


def resume_id(
    last_id: str,
    event_time: float | None,
    overlap_seconds: float,
    floors: dict[tuple[Any, Any], int] | None = None,
) -> str:
    """The Last-Event-ID to send for a saved id: timestamps rewound, "latest" entries replaced,
    neither below its partition's floor (what this process has already read past).

    An id that is not a list of Kafka assignments (another server's) is sent as it is.
    """
    floors = floors or {}
    entries = _assignments(last_id)
    if entries is None:
        return last_id
    reference = newest_time(last_id) or (int(event_time * 1000) if event_time is not None else 0)
    if not reference:
        return last_id  # offsets only: exact positions, nothing to rewind
    overlap_ms = int(overlap_seconds * 1000)
    rewound: list[dict[str, Any]] = []
    for entry in entries:
        kept = {k: v for k, v in entry.items() if k not in ("timestamp", "offset")}
        floor = floors.get(_partition(entry), 0)
        if _stamped(entry):
            rewound.append({**kept, "timestamp": max(entry["timestamp"] - overlap_ms, floor, 0)})
        elif isinstance(entry.get("offset"), int) and entry["offset"] >= 0:
            rewound.append(entry)  # an exact offset: resumes exactly
        else:  # "latest" (or anything unreadable): from a little before the other topics
            rewound.append({**kept, "timestamp": max(reference - overlap_ms, floor, 0)})
    return json.dumps(rewound, separators=(",", ":"))


def _stamps(event_id: str | None) -> dict[tuple[Any, Any], int]:
    """Each stamped partition's timestamp in an id."""
    return {_partition(e): e["timestamp"] for e in _assignments(event_id) or () if _stamped(e)}


def _raise_floors(floors: dict[tuple[Any, Any], int], shown: dict[tuple[Any, Any], int]) -> None:
    """After a connection: each partition's floor rises to the newest message time it showed.
    An id shows time + 1 ms; resuming at the time itself keeps a same-time neighbour, and a
    message stamped earlier that arrives later (Kafka times are not monotonic) is at a later
    offset than the one resumed from, so it is read. Never past it: going 1 ms further to force
    progress skipped such late arrivals (a loaded relay delivers them seconds late)."""
    for key, stamp in shown.items():
        floors[key] = max(floors.get(key, 0), stamp - 1)


def _since_url(base: str, since: float) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'since': recentchanges.iso(since)})}"


def _position(last_id: str | None, event_time: float | None) -> str:
    return json.dumps({"id": last_id, "ts": event_time})


def _catch_up(
    settings: Settings, since: float, stop: threading.Event, client: WikiClient
) -> Iterator[SourceItem]:
    """Read a gap older than the stream's retention through the API, up to about now."""
    until = time.time()
    log.warning(
        "the saved position is %.1f days old, beyond the stream's retention; "
        "catching up through the API first",
        (until - since) / 86400,
    )
    start = {w.id: {"ts": recentchanges.iso(since)} for w in settings.wikis}
    for item, _ in recentchanges.poll(settings, json.dumps(start), stop, client, until=until):
        yield item, None
    yield None, json.dumps({"id": None, "ts": until})


def stream(
    settings: Settings,
    position: str | None,
    stop: threading.Event,
    client: WikiClient,
) -> Iterator[SourceItem]:
    source = settings.source
    saved = json.loads(position) if position else {}
    last_id: str | None = saved.get("id")
    event_time: float | None = saved.get("ts")  # the last real event's time, never a canary's
    if event_time is not None and time.time() - event_time > source.retention_days * 86400:
        yield from _catch_up(settings, event_time, stop, client)
        last_id, event_time = None, time.time()
    if not saved:  # a first start: remember it, so a crash before the first batch loses nothing
        event_time = time.time()
        yield None, _position(None, event_time)
    session = requests.Session()
    session.headers["User-Agent"] = user_agent(settings.user_agent_contact)
    holder: list[EventSource] = []

    def on_error() -> None:
        # requests-sse calls this before its own reconnect (which would resend the last id
        # verbatim) and when a connection fails; flagbot takes over the former
        if stop.is_set():
            raise _Stopped
        if holder and holder[0].ready_state == ReadyState.CONNECTING:
            raise _Ended

    newest = newest_time(last_id)  # the stream's high-water mark: the saved id never goes back
    floors: dict[tuple[Any, Any], int] = {}  # per partition: read past this time (ms) already
    delay = 1.0
    while not stop.is_set():
        if last_id:
            url = source.url
            sent_id = resume_id(last_id, event_time, source.overlap_seconds, floors)
            floors.update(_stamps(sent_id))  # never below where this connection starts
        else:
            since = event_time if event_time is not None else time.time()
            url, sent_id = _since_url(source.url, since - source.overlap_seconds), None
        received, newest_before = 0, newest
        shown: dict[tuple[Any, Any], int] = {}  # per partition: the newest id stamp shown
        holder.clear()
        try:
            events = EventSource(
                url,
                session=session,
                timeout=(CONNECT_TIMEOUT, source.read_timeout),  # type: ignore[arg-type]
                max_connect_retry=0,
                latest_event_id=sent_id,
                reconnection_time=timedelta(seconds=0),
                on_error=on_error,
            )
            holder.append(events)
            with events:
                log.info("connected to %s", source.url)
                for message in events:
                    if message.type != "message" or not message.data:
                        continue
                    received += 1
                    message_id = message.last_event_id or last_id
                    for key, stamp in _stamps(message_id).items():
                        shown[key] = max(shown.get(key, 0), stamp)
                    # a repeat from the overlap must not move the saved position back
                    stamp = newest_time(message_id)
                    fresh = stamp >= newest or not stamp
                    if fresh:
                        newest, last_id = stamp, message_id
                    try:
                        change = parse_event(message.data)
                    except BadEvent as bad:
                        yield bad, _position(last_id, event_time)
                        continue
                    if change is not None and fresh:
                        event_time = change.timestamp
                    yield change, _position(last_id, event_time)
                    if stop.is_set():
                        return
        except _Stopped:
            return
        except _Ended:
            if newest > newest_before or (received and not newest):  # it moved on
                log.debug("the stream ended after %d messages; reconnecting", received)
                delay = 1.0
                continue
            if received:  # one repeat is the message it resumed at: only more is worth saying
                (log.warning if received > 1 else log.debug)(
                    "the stream closed after %d messages, all within the overlap; "
                    "source.overlap_seconds may be too long for this server; the next "
                    "connection starts after what this one delivered",
                    received,
                )
                delay = 1.0
                continue  # the server is answering: no backoff
        except InvalidStatusCodeError as exc:
            if sent_id is not None and exc.status_code in REJECTED_ID_STATUSES:
                log.warning(
                    "the stream rejected the saved position (HTTP %s); resuming by time, "
                    "%d s before the last event",
                    exc.status_code,
                    source.overlap_seconds,
                )
                last_id = None
                continue
            if exc.status_code not in RETRY_STATUSES:
                raise ConfigError(
                    f"{source.url}: the stream answered HTTP {exc.status_code}; check source.url"
                ) from None
            log.warning("stream answered HTTP %s; reconnecting in %.0f s", exc.status_code, delay)
        except InvalidContentTypeError:
            raise ConfigError(
                f"{source.url}: not an event stream (wrong Content-Type); check source.url"
            ) from None
        except requests.RequestException as exc:
            log.warning(
                "stream connection failed (%s); reconnecting in %.0f s", type(exc).__name__, delay
            )
        finally:
            _raise_floors(floors, shown)
        if stop.wait(delay):
            return
        delay = min(delay * 2, source.max_backoff)
