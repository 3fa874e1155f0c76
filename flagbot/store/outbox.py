"""The alerts outbox: every query on it is here; the sender decides, this stores."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, distinct, func, select, update

from flagbot.store.base import StoreBase
from flagbot.store.rows import Due, Flag
from flagbot.store.schema import TEXT_COLUMNS, flags, outbox


class OutboxStore(StoreBase):
    """Pending, claimed and sent alert rows."""

    @staticmethod
    def queue_alerts(conn: Connection, flag_id: int, deliveries: Iterable[tuple[str, str]]) -> None:
        """One pending outbox row per (route, recipient) of a flag, in the caller's
        transaction (the pipeline's: a flag and its alerts are stored together)."""
        now = time.time()
        for route, recipient in deliveries:
            conn.execute(
                outbox.insert().values(
                    flag_id=flag_id,
                    route=route,
                    recipient=recipient,
                    channel=recipient.partition(":")[0],
                    status="pending",
                    attempts=0,
                    next_attempt=0,
                    created=now,
                )
            )

    def queue_route_once(self, flag_id: int, route: str, recipients: Iterable[str]) -> bool:
        """Queue `route` for a flag unless it already was; returns whether it was queued now."""
        with self.engine.begin() as conn:
            already = conn.execute(
                select(outbox.c.id).where(outbox.c.flag_id == flag_id, outbox.c.route == route)
            ).first()
            if already is not None:
                return False
            self.queue_alerts(conn, flag_id, [(route, r) for r in recipients])
            return True

    def due_alerts(self, now: float) -> list[Due]:
        """Pending rows whose time has come, oldest first, with their flags (without text)."""
        columns = [c for c in flags.c if c.name not in TEXT_COLUMNS]
        query = (
            select(
                outbox.c.id.label("outbox_id"),
                outbox.c.route.label("outbox_route"),
                outbox.c.recipient,
                outbox.c.channel,
                outbox.c.attempts,
                *columns,
            )
            .join(flags, flags.c.id == outbox.c.flag_id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt <= now)
            .order_by(outbox.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Due(
                    id=r.outbox_id,
                    route=r.outbox_route,
                    recipient=r.recipient,
                    channel=r.channel,
                    attempts=r.attempts,
                    flag=Flag.from_row(r),
                )
                for r in conn.execute(query)
            ]

    def claims(self) -> list[tuple[int, str | None, float | None]]:
        """(outbox id, claimed_by, claimed_at) of every row a sender has taken."""
        with self.engine.connect() as conn:
            return [
                (row_id, owner, at)
                for row_id, owner, at in conn.execute(
                    select(outbox.c.id, outbox.c.claimed_by, outbox.c.claimed_at).where(
                        outbox.c.status == "sending"
                    )
                )
            ]

    def claim_alerts(self, ids: Iterable[int], now: float, owner: str) -> set[int]:
        """Take pending rows for `owner`; a sender sharing the store gets none of them."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.status == "pending")
                .values(status="sending", claimed_at=now, claimed_by=owner)
                .returning(outbox.c.id)
            )
            return {row_id for (row_id,) in taken}

    def unclaim_alerts(self, ids: Iterable[int]) -> None:
        """Rows a dead sender had taken go back to pending."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.status == "sending")
                .values(status="pending", claimed_at=None, claimed_by=None)
            )

    def defer_alerts(self, until: dict[int, float]) -> None:
        """Pending rows that wait (a burst window) until the given times."""
        with self.engine.begin() as conn:
            for row_id, when in until.items():
                conn.execute(update(outbox).where(outbox.c.id == row_id).values(next_attempt=when))

    def mark_alerts(self, ids: Iterable[int], status: str, **values: Any) -> None:
        """Record what became of rows: sent (with message, sent_at), pending a retry (with
        error, attempts, next_attempt), failed, or handled_before_alert."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(status=status, claimed_by=None, **values)
            )

    def flags_alerted(self, since: float, until: float | None = None) -> tuple[int, float | None]:
        """How many flags were queued for alerts in [since, until), and the first one's time."""
        query = select(func.count(distinct(outbox.c.flag_id)), func.min(outbox.c.created)).where(
            outbox.c.created >= since
        )
        if until is not None:
            query = query.where(outbox.c.created < until)
        with self.engine.connect() as conn:
            count, first = conn.execute(query).one()
            return int(count or 0), first

    def sent_about(self, recipient: str, since: float) -> list[tuple[str, str, str, float]]:
        """(wiki, user, title, sent_at) of what a recipient was sent since a time."""
        with self.engine.connect() as conn:
            return [
                (wiki, user, title, sent_at)
                for wiki, user, title, sent_at in conn.execute(
                    select(flags.c.wiki, flags.c.user, flags.c.title, outbox.c.sent_at)
                    .join(flags, flags.c.id == outbox.c.flag_id)
                    .where(outbox.c.recipient == recipient, outbox.c.sent_at >= since)
                )
            ]

    def messages_sent(self, recipient: str, since: float) -> int:
        """Messages (not rows: a digest is one) a recipient was sent since a time."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count(distinct(outbox.c.message))).where(
                    outbox.c.recipient == recipient, outbox.c.sent_at >= since
                )
            ).scalar()
            return int(count or 0)
