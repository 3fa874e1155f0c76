"""Routing of flags to private alerts, and the notifier registry keyed by config name.

This is the seam the pipeline uses: `enqueue` writes outbox rows in the same transaction as the
flag, `deliver` drains the outbox through the configured notifier and marks each delivery. An
Alert carries the diff link and metadata of a flag, never its text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from flagbot.config import Settings
from flagbot.store import Outcome, Store, flags, outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    channel: str
    recipient: str
    route: str
    wiki: str
    diff_url: str
    title: str
    user: str
    edit_time: int
    categories: tuple[str, ...]
    score: float
    rule_ids: tuple[str, ...]
    review_url: str


Notifier = Callable[[Alert, Mapping[str, Any]], None]


def notifiers() -> dict[str, Notifier]:
    from flagbot.alerts import dryrun

    return {"dryrun": dryrun.send}


def recipients(alerts_config: Mapping[str, Any], route: str) -> list[str]:
    """Who hears about a route; without configured recipients, the route name itself."""
    configured = alerts_config.get("routes", {}).get(route)
    return list(configured) if configured else [route]


def make_enqueue(settings: Settings) -> Callable[[Connection, int, Outcome], None]:
    channel = settings.alerts.get("channel", "dryrun")

    def enqueue(conn: Connection, flag_id: int, item: Outcome) -> None:
        route = item.verdict.route if item.verdict else None
        if not route:
            return
        for recipient in recipients(settings.alerts, route):
            conn.execute(
                outbox.insert().values(
                    flag_id=flag_id,
                    route=route,
                    recipient=recipient,
                    channel=channel,
                    status="pending",
                    attempts=0,
                    next_attempt=0,
                    created=time.time(),
                )
            )

    return enqueue


def deliver(store: Store, settings: Settings) -> int:
    """Send every pending outbox row that is due; returns how many were sent."""
    registry = notifiers()
    sent = 0
    review = settings.alerts.get("review_url", "")
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                outbox,
                flags.c.wiki,
                flags.c.diff_url,
                flags.c.title,
                flags.c.user,
                flags.c.edit_time,
                flags.c.categories,
                flags.c.score,
                flags.c.rules,
            )
            .join(flags, flags.c.id == outbox.c.flag_id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt <= time.time())
            .order_by(outbox.c.id)
        ).all()
    for row in rows:
        alert = Alert(
            channel=row.channel,
            recipient=row.recipient,
            route=row.route,
            wiki=row.wiki,
            diff_url=row.diff_url,
            title=row.title,
            user=row.user,
            edit_time=row.edit_time,
            categories=tuple(filter(None, row.categories.split(";"))),
            score=row.score,
            rule_ids=tuple(filter(None, row.rules.split(";"))),
            review_url=f"{review.rstrip('/')}/flag/{row.flag_id}" if review else "",
        )
        try:
            registry[row.channel](alert, settings.alerts)
        except Exception as exc:  # any notifier failure: keep the alert, retry later
            log.warning("alert %s via %s failed: %s", row.id, row.channel, type(exc).__name__)
            with store.engine.begin() as conn:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(
                        attempts=row.attempts + 1,
                        error=str(exc)[:500],
                        next_attempt=time.time() + min(60 * 2**row.attempts, 3600),
                    )
                )
            continue
        with store.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id)
                .values(status="sent", sent_at=time.time(), attempts=row.attempts + 1)
            )
        sent += 1
    return sent
