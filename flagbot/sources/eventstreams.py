"""EventStreams source: Wikimedia's `recentchange` server-sent events through requests-sse.

One connection per process. The server closes every connection after ~15 minutes: reconnect
silently with Last-Event-ID. A silent connection ends by read timeout (the watchdog) and
reconnects; refusals (429, 5xx) and network errors back off exponentially up to max_backoff.
On start, a saved position resumes with `since=` (minus an overlap) and Last-Event-ID; a gap
older than the stream's retention is first caught up through the API polling source.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import requests
from requests_sse import EventSource, InvalidContentTypeError, InvalidStatusCodeError

from flagbot.config import Settings
from flagbot.errors import BadEvent, ConfigError
from flagbot.events import parse_event
from flagbot.sources import SourceItem, recentchanges
from flagbot.wiki import user_agent

log = logging.getLogger(__name__)
CONNECT_TIMEOUT = 10.0
RETRY_STATUSES = {429, 500, 502, 503, 504}


class _Stopped(Exception):
    """Raised from requests-sse's error callback to leave its reconnect loop on stop."""


def _since_url(base: str, since: float | None) -> str:
    if since is None:
        return base
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'since': recentchanges.iso(since)})}"


def _catch_up(settings: Settings, since: float, stop: threading.Event) -> Iterator[SourceItem]:
    """Read a gap older than the stream's retention through the API, up to about now."""
    until = time.time()
    log.warning(
        "the saved position is %.1f days old, beyond the stream's retention; "
        "catching up through the API first",
        (until - since) / 86400,
    )
    start = {w.id: {"ts": recentchanges.iso(since)} for w in settings.wikis}
    for item, _ in recentchanges.poll(settings, json.dumps(start), stop, until=until):
        yield item, None
    yield None, json.dumps({"id": None, "ts": until})


def stream(settings: Settings, position: str | None, stop: threading.Event) -> Iterator[SourceItem]:
    source = settings.source
    saved = json.loads(position) if position else {}
    last_id: str | None = saved.get("id")
    since: float | None = saved.get("ts")
    if since is not None and time.time() - since > source.retention_days * 86400:
        yield from _catch_up(settings, since, stop)
        last_id, since = None, time.time() - source.overlap_seconds
    elif since is not None:
        since -= source.overlap_seconds
    session = requests.Session()
    session.headers["User-Agent"] = user_agent(settings.user_agent_contact)

    def on_error() -> None:
        # requests-sse reconnects by itself after a dropped or silent connection; a stop
        # requested meanwhile must end the stream instead of another reconnect
        if stop.is_set():
            raise _Stopped

    delay = 1.0
    while not stop.is_set():
        url = _since_url(source.url, since if not last_id else None)
        try:
            with EventSource(
                url,
                session=session,
                timeout=(CONNECT_TIMEOUT, source.read_timeout),  # type: ignore[arg-type]
                max_connect_retry=0,
                latest_event_id=last_id,
                reconnection_time=timedelta(seconds=0.5),
                on_error=on_error,
            ) as events:
                log.info("connected to %s", source.url)
                delay = 1.0
                for message in events:
                    if message.type != "message" or not message.data:
                        continue
                    last_id = message.last_event_id or last_id
                    try:
                        change = parse_event(message.data)
                    except BadEvent as bad:
                        yield bad, None
                        continue
                    ts = change.timestamp if change else time.time()
                    yield change, json.dumps({"id": last_id, "ts": ts})
                    if stop.is_set():
                        return
        except _Stopped:
            return
        except InvalidStatusCodeError as exc:
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
        stop.wait(delay)
        delay = min(delay * 2, source.max_backoff)
