"""A test double of Wikimedia's EventStreams (a real HTTP server on loopback).

It follows the real service (wikimedia/mediawiki-services-eventstreams on wikimedia/KafkaSSE),
warts included, as recorded in tests/data/real-events/sse-captures:
- Events live in Kafka topics, one per datacenter (`eqiad.…`, `codfw.…`, partition 0); only the
  `active` one receives new events. Each message has a Kafka timestamp in milliseconds, which
  need not rise: real producers are not monotonic, and old captures have second resolution.
- Each message's `id:` is a JSON array with one entry per assigned topic: the topic of the
  message as `{"topic", "partition", "timestamp": kafka timestamp + 1}`, a topic not seen on this
  connection as the client asked for it, or `{"offset": -1}` ("latest").
- Last-Event-ID is such an array; a `timestamp` resumes at the earliest offset whose timestamp is
  >= it, an `offset` at that offset (-1: the end of the log). An unparseable or invalid id is
  400, an unknown topic 404. `since` (ISO 8601 or milliseconds) applies only without an id.
- The server closes every connection after `close_after_seconds` (the real one after ~15
  minutes) or, for tests that need the close at a known place, after `close_after` messages;
  it sends no keep-alive comments, can answer 503 `fail_first` times and go silent once
(before the `silent_after`-th message of the log, for `silent_seconds`).
`live=True` keeps a connection open for events `publish`ed later; otherwise it ends at the end of
the log.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

TOPICS = ("eqiad.mediawiki.recentchange", "codfw.mediawiki.recentchange")


class BadRequest(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


class StreamServer:
    def __init__(
        self,
        events: list[dict] | None = None,
        close_after: int = 0,
        close_after_seconds: float = 0.0,
        fail_first: int = 0,
        silent_after: int = 0,
        silent_seconds: float = 0.0,
        live: bool = False,
        retention_seconds: float = 0.0,
        active: str = TOPICS[0],
    ):
        self.log: dict[str, list[tuple[int, dict | str]]] = {t: [] for t in TOPICS}  # (ms, event)
        self.order: list[tuple[str, int]] = []  # (topic, offset) in the order they arrived
        self.active = active
        self.live = live
        self.retention_seconds = retention_seconds  # 0: keep everything
        self.changed = threading.Condition()
        self.closing = False
        self.close_after = close_after
        self.close_after_seconds = close_after_seconds
        self.fail_first = fail_first
        self.silent_after = silent_after
        self.silent_seconds = silent_seconds
        self.connections: list[dict] = []  # what each request asked for
        self.sent: list[dict] = []  # every message sent: topic, offset, id
        for event in events or []:
            self.publish(event)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                query = parse_qs(urlparse(self.path).query)
                last = self.headers.get("Last-Event-ID")
                server.connections.append(
                    {
                        "last_event_id": last,
                        "since": query.get("since"),
                        "user_agent": self.headers.get("User-Agent"),
                    }
                )
                if server.fail_first > 0:
                    server.fail_first -= 1
                    return self._error(503, "service unavailable")
                try:
                    with server.changed:
                        starts, shown = server.assign(last, query.get("since", [None])[0])
                except BadRequest as bad:
                    return self._error(bad.status, bad.detail)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    self._chunk(b":ok\n\n")
                    self._serve(starts, shown)
                except OSError:
                    return  # the client went away
                finally:
                    self.close_connection = True

            def _serve(self, starts: dict[str, int], shown: dict[str, dict]) -> None:
                position = 0  # index into server.order
                sent = 0
                opened = time.monotonic()

                def expired() -> bool:
                    lifetime = server.close_after_seconds
                    return bool(lifetime) and time.monotonic() - opened >= lifetime

                while True:
                    with server.changed:
                        while position >= len(server.order):
                            if not server.live or server.closing or expired():
                                return
                            server.changed.wait(timeout=0.1)  # real EventStreams: no keep-alive
                        if expired():
                            return  # the real server ends every connection after ~15 minutes
                        topic, offset = server.order[position]
                        position += 1
                        if offset < starts[topic]:
                            continue
                        stamp, event = server.log[topic][offset]
                    if server.silent_after and position - 1 == server.silent_after:
                        silence, server.silent_seconds = server.silent_seconds, 0.0
                        if silence:  # once, before the message at that place in the log
                            time.sleep(silence)
                            return
                    shown[topic] = {"topic": topic, "partition": 0, "timestamp": stamp + 1}
                    message_id = json.dumps(list(shown.values()), separators=(",", ":"))
                    payload = event if isinstance(event, str) else json.dumps(event)
                    self._chunk(f"event: message\nid: {message_id}\ndata: {payload}\n\n".encode())
                    server.sent.append({"topic": topic, "offset": offset, "id": message_id})
                    sent += 1
                    if server.close_after and sent >= server.close_after:
                        return  # the server ends the connection, as EventStreams does

            def _error(self, status: int, detail: str) -> None:
                body = json.dumps({"status": status, "detail": detail}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v2/stream/recentchange"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # --- the Kafka side ---------------------------------------------------------------------
    def publish(
        self, event: dict | str, kafka_ms: int | None = None, topic: str | None = None
    ) -> None:
        """Append an event (or a raw `data:` string) to the active datacenter's topic (or
        `topic`) at `kafka_ms`."""
        topic = topic or self.active
        if kafka_ms is None:
            stamp = event.get("timestamp") if isinstance(event, dict) else None
            kafka_ms = int((stamp if isinstance(stamp, int) else time.time()) * 1000)
        with self.changed:
            self.log[topic].append((kafka_ms, event))
            self.order.append((topic, len(self.log[topic]) - 1))
            self.changed.notify_all()

    @property
    def events(self) -> list[dict | str]:
        return [self.log[t][o][1] for t, o in self.order]

    def _first_kept(self, topic: str) -> int:
        if not self.retention_seconds:
            return 0
        horizon = (time.time() - self.retention_seconds) * 1000
        log = self.log[topic]
        return next((i for i, (ms, _) in enumerate(log) if ms >= horizon), len(log))

    def _at_timestamp(self, topic: str, ms: int) -> int:
        """Kafka's offsetsForTimes: the earliest offset whose timestamp is >= ms."""
        log = self.log[topic]
        return next((i for i, (stamp, _) in enumerate(log) if stamp >= ms), len(log))

    def assign(self, last_event_id: str | None, since: str | None) -> tuple[dict, dict]:
        """Start offsets per topic, and the id entries shown for topics not yet seen."""
        starts = {t: len(self.log[t]) for t in TOPICS}  # latest
        shown = {t: {"topic": t, "partition": 0, "offset": -1} for t in TOPICS}
        if last_event_id:
            try:
                assignments = json.loads(last_event_id)
                if not isinstance(assignments, list) or not assignments:
                    raise ValueError
            except ValueError:
                raise BadRequest(400, "InvalidAssignmentError: Last-Event-ID") from None
            for entry in assignments:
                if not isinstance(entry, dict) or not isinstance(entry.get("topic"), str):
                    raise BadRequest(400, "InvalidAssignmentError: each needs a topic")
                topic = entry["topic"]
                if topic not in self.log or entry.get("partition") != 0:
                    raise BadRequest(404, f"TopicNotAvailableError: {topic}")
                if isinstance(entry.get("timestamp"), int):
                    starts[topic] = self._at_timestamp(topic, entry["timestamp"])
                elif isinstance(entry.get("offset"), int):
                    offset = entry["offset"]
                    starts[topic] = len(self.log[topic]) if offset < 0 else offset
                else:
                    raise BadRequest(400, "InvalidAssignmentError: offset or timestamp")
                shown[topic] = entry
        elif since:
            try:
                ms = int(since) if since.isdigit() else _iso_ms(since)
            except ValueError:
                raise BadRequest(400, "invalid_timestamp") from None
            starts = {t: self._at_timestamp(t, ms) for t in TOPICS}
        for topic in TOPICS:  # older messages are gone, as on the real service
            starts[topic] = max(starts[topic], self._first_kept(topic))
        return starts, shown

    def __enter__(self) -> StreamServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self.changed:
            self.closing = True
            self.changed.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


def _iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
