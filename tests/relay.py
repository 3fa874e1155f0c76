"""An EventStreams-compatible relay for a real MediaWiki's UDP recent-changes feed (test helper).

MediaWiki pushes each recent change as JSON over UDP (`$wgRCFeeds`, JSONRCFeedFormatter). The
relay adds what EventStreams adds (`$schema`, `meta` with id, dt, domain, stream, offset…) and
serves the result as `text/event-stream` at /v2/stream/recentchange through the live
StreamServer, which resumes by Kafka-style timestamp ids and `since`, keeps only
`retention_seconds` of history, and can be told to close connections or go silent — so
flagbot's real `eventstreams` source is exercised end to end.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.sse_server import StreamServer


class RCFeedRelay:
    def __init__(self, **stream_options: Any):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.5)
        self.udp_port = int(self.socket.getsockname()[1])
        self.stream = StreamServer([], live=True, **stream_options)
        self.url = self.stream.url
        self.received: list[tuple[float, dict[str, Any]]] = []  # (arrival time, event)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="relay", daemon=True)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                datagram, _ = self.socket.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            event = json.loads(datagram)
            offset = len(self.stream.order)
            event["$schema"] = "/mediawiki/recentchange/1.0.0"
            event["meta"] = {
                "uri": f"{event.get('server_url', '')}/index.php?title={event.get('title', '')}",
                "request_id": str(uuid.uuid4()),
                "id": str(uuid.uuid4()),
                "dt": datetime.fromtimestamp(event.get("timestamp", time.time()), UTC).isoformat(),
                "domain": "127.0.0.1",
                "stream": "mediawiki.recentchange",
                "topic": "local.mediawiki.recentchange",
                "partition": 0,
                "offset": offset,
            }
            self.received.append((time.time(), event))
            self.stream.publish(event, kafka_ms=int(time.time() * 1000))  # producer time, as Kafka

    def __enter__(self) -> RCFeedRelay:
        self.stream.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(2)
        self.socket.close()
        self.stream.__exit__(*exc)
