"""A small EventStreams-compatible server for tests (a real HTTP server on loopback).

It serves `text/event-stream` with chunked encoding, honours Last-Event-ID and `since`, and can
be told to drop every connection after N events, to go silent, or to answer 503 a few times.
`live=True` keeps each connection open and sends events as they are `publish`ed, like the real
EventStreams; otherwise a connection ends after the events it has.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class StreamServer:
    def __init__(
        self,
        events: list[dict],
        drop_after: int = 0,
        fail_first: int = 0,
        silent_after: int = 0,
        silent_seconds: float = 0.0,
        live: bool = False,
        retention_seconds: float = 0.0,
    ):
        self.events = events  # each gets id = its index
        self.live = live
        self.retention_seconds = retention_seconds  # 0: keep everything
        self.changed = threading.Condition()
        self.closing = False
        self.drop_after = drop_after
        self.fail_first = fail_first
        self.silent_after = silent_after
        self.silent_seconds = silent_seconds
        self.connections: list[dict] = []  # what each request asked for
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
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(last) + 1 if last else (len(server.events) if server.live else 0)
                if server.retention_seconds:  # older events are gone, as on the real service
                    horizon = time.time() - server.retention_seconds
                    first_kept = next(
                        (i for i, e in enumerate(server.events) if e["timestamp"] >= horizon),
                        len(server.events),
                    )
                    start = max(start, first_kept)
                if not last and query.get("since"):
                    since = query["since"][0]
                    start = next(
                        (
                            i
                            for i, e in enumerate(server.events)
                            if time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["timestamp"]))
                            >= since
                        ),
                        len(server.events),
                    )
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent = 0
                try:
                    self._chunk(b":ok\n\n")
                    i = start
                    while True:
                        if i >= len(server.events):
                            if not server.live:
                                break
                            with server.changed:
                                if i >= len(server.events) and not server.closing:
                                    server.changed.wait(timeout=1.0)
                            if server.closing:
                                return
                            if i >= len(server.events):
                                self._chunk(b":\n\n")  # keep-alive, as EventStreams does
                                continue
                        if (
                            server.silent_after
                            and i == server.silent_after
                            and server.silent_seconds
                        ):
                            silence, server.silent_seconds = server.silent_seconds, 0.0
                            time.sleep(silence)
                            return
                        payload = json.dumps(server.events[i])
                        self._chunk(f"event: message\nid: {i}\ndata: {payload}\n\n".encode())
                        sent += 1
                        i += 1
                        if server.drop_after and sent >= server.drop_after:
                            return  # drop the connection mid-stream
                    time.sleep(0.3)
                except OSError:
                    return  # the client went away
                finally:
                    self.close_connection = True

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v2/stream/recentchange"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def publish(self, event: dict) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def __enter__(self) -> StreamServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with self.changed:
            self.closing = True
            self.changed.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()
