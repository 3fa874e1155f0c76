"""Prometheus metrics: stages count, nothing reads them back (the standard client library).

One `Metrics` per process, in its own registry (tests make their own). `flagbot run` serves
them on `metrics_port` (loopback, off by default); `flagbot web` on `/metrics` when
`web.metrics` is on. Counts and times only: never a title, a user name or any text.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client import start_http_server as _start_http_server

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.read = Counter("flagbot_events_read", "Events read from the source", registry=r)
        self.bad = Counter("flagbot_events_bad", "Malformed events", ["reason"], registry=r)
        self.filtered = Counter(
            "flagbot_events_filtered", "Events filtered out", ["reason"], registry=r
        )
        self.skipped = Counter("flagbot_edits_skipped", "Edits not scored", ["reason"], registry=r)
        self.scored = Counter("flagbot_edits_scored", "Edits scored", registry=r)
        self.community_rev = Gauge(
            "flagbot_community_settings_revision",
            "The community settings page revision in force (0: the operator's file alone)",
            ["wiki"],
            registry=r,
        )
        self.community_problem = Gauge(
            "flagbot_community_settings_problem",
            "1 when the newest community settings revision is not in force (see flagbot status)",
            ["wiki"],
            registry=r,
        )
        self.flagged = Counter("flagbot_flags", "Flags raised", ["category"], registry=r)
        self.lag = Gauge(
            "flagbot_lag_seconds", "Now minus the newest processed event's time", registry=r
        )
        self.position_saved = Gauge(
            "flagbot_position_saved_timestamp_seconds",
            "When the source position was last saved",
            registry=r,
        )
        self.outbox = Gauge("flagbot_outbox_rows", "Alert outbox by status", ["status"], registry=r)
        self.delivery_failures = Counter(
            "flagbot_delivery_failures", "Alert rows a channel failed to deliver", registry=r
        )
        self.sender_passes = Counter("flagbot_sender_passes", "Delivery passes", registry=r)
        self.store_down = Gauge(
            "flagbot_store_unavailable", "1 while the database cannot be reached", registry=r
        )
        self._seen: dict[str, Any] = {}

    def count_run(self, summary: dict[str, Any]) -> None:
        """Bring the counters up to a run's cumulative summary (`pipeline.Summary.as_dict`)."""
        self._add(self.read, "read", summary["read"])
        self._add(self.scored, "scored", summary["scored"])
        for counter, key in (
            (self.bad, "bad_reasons"),
            (self.filtered, "filter_reasons"),
            (self.skipped, "skipped"),
            (self.flagged, "flagged"),
        ):
            for label, value in summary[key].items():
                self._add(counter.labels(label), f"{key}:{label}", value)

    def batch_saved(self, newest_event_time: int | None) -> None:
        now = time.time()
        self.position_saved.set(now)
        if newest_event_time:
            self.lag.set(max(0.0, now - newest_event_time))

    def delivery_pass(self, failed_rows: int, outbox: dict[str, int]) -> None:
        self.sender_passes.inc()
        if failed_rows:
            self.delivery_failures.inc(failed_rows)
        for status, count in outbox.items():
            self.outbox.labels(status).set(count)

    def store_unavailable(self, down: bool) -> None:
        self.store_down.set(1 if down else 0)

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        _start_http_server(port, addr=host, registry=self.registry)

    def _add(self, counter: Any, key: str, total: int) -> None:
        if total > self._seen.get(key, 0):
            counter.inc(total - self._seen.get(key, 0))
            self._seen[key] = total


def store_metrics(store: Any, position_key: str) -> bytes:
    """What the store shows, for `flagbot web`'s /metrics (the web process runs no pipeline)."""
    registry = CollectorRegistry()
    outbox = Gauge("flagbot_outbox_rows", "Alert outbox by status", ["status"], registry=registry)
    for status, count in store.outbox_counts().items():
        outbox.labels(status).set(count)
    flags = Gauge(
        "flagbot_flags_stored",
        "Flags by category (reports not counted)",
        ["category"],
        registry=registry,
    )
    # no reports: /metrics needs no login, and exact report counts per category let anyone
    # recover a small count by filing reports of their own and subtracting them
    for category, count in store.category_counts(reports=False).items():
        flags.labels(category).set(count)
    edits = Gauge(
        "flagbot_edits_by_outcome",
        "Processed edits by outcome (scored, flagged, unsupported_language:<code>, …)",
        ["outcome"],
        registry=registry,
    )
    for outcome, count in store.outcome_counts().items():
        edits.labels(outcome).set(count)
    updated = store.position_updated(position_key)
    if updated is not None:
        Gauge(
            "flagbot_position_saved_timestamp_seconds",
            "When the source position was last saved",
            registry=registry,
        ).set(updated)
    return generate_latest(registry)
