"""Replay source: JSON-lines files of EventStreams recentchange events (`added_text` optional).

The position is the number of the last line handed out, so a restarted replay goes on where it
stopped. A bad line is reported as a BadEvent and the replay goes on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from flagbot.config import Settings
from flagbot.errors import BadEvent, ConfigError
from flagbot.events import parse_event
from flagbot.sources import SourceItem


def read_lines(path: str, start_after: int = 0) -> Iterator[SourceItem]:
    try:
        handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the replay file: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if number <= start_after:
                continue
            position = json.dumps({"line": number})
            if not line.strip():
                yield None, position
                continue
            try:
                yield parse_event(line, position), position
            except BadEvent as bad:
                yield bad, position


def read(
    settings: Settings, position: str | None, stop: threading.Event, client: Any
) -> Iterator[SourceItem]:
    start_after = json.loads(position)["line"] if position else 0
    for item in read_lines(settings.source.path, start_after):
        if stop.is_set():
            return
        yield item
