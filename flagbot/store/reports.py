"""Confidential reports: a report and its flag, the reporter's view, status notices."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, func, select, update

from flagbot.store.outbox import OutboxStore
from flagbot.store.schema import (
    REPORT_KEY_BASE,
    REPORT_KIND,
    STATUS_ROUTE,
    outbox,
    report_additions,
    reports,
)

DAY = 86400.0
OPEN_STATUSES = ("received", "delayed", "in review")  # a reporter may still add to these
DELAYED = "delayed"  # past its answer date with nobody having looked


class _OverLimit(Exception):
    """A reporter's daily limit was reached inside the insert's transaction."""


class ReportStore(OutboxStore):
    """Reports and what their reporters are told."""

    def record_report(
        self,
        report: dict[str, Any],
        flag: dict[str, Any],
        on_flag: Callable[[Connection, int], None] | None = None,
        per_day: int | None = None,
    ) -> tuple[int, int] | None:
        """A report and its flag (kind "report", the description as its text) and, through
        `on_flag`, its alerts, in one transaction; returns (report id, flag id), or None when
        the reporter already filed `per_day` reports in the last day.

        The limit is checked inside the insert's transaction: checked before it, 12 submits at
        once were all accepted (limit 3) and could page the emergency contact at will.
        PostgreSQL serialises one reporter's submits with a transaction-scoped advisory lock;
        SQLite has one writer at a time, and the count follows the insert, seeing every report
        committed before it."""
        now = time.time()
        try:
            return self._record_report(report, flag, on_flag, per_day, now)
        except _OverLimit:  # raised inside the transaction: it rolled back
            return None

    def _record_report(
        self,
        report: dict[str, Any],
        flag: dict[str, Any],
        on_flag: Callable[[Connection, int], None] | None,
        per_day: int | None,
        now: float,
    ) -> tuple[int, int]:
        with self.engine.begin() as conn:
            reporter = str(report["reporter"])
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(726176, hashtext(%s))", (reporter,)
                )
            flag_id, report_id = self._flag_with_owner(
                conn,
                {**flag, "kind": REPORT_KIND, "status": "new", "created": now},
                REPORT_KEY_BASE,
                reports,
                {**report, "status": "received", "created": now, "updated": now},
            )
            if per_day is not None:
                filed = conn.execute(
                    select(func.count()).where(
                        reports.c.reporter == reporter, reports.c.created >= now - DAY
                    )
                ).scalar()
                if int(filed or 0) > per_day:  # this one included
                    raise _OverLimit
            if on_flag is not None:
                on_flag(conn, flag_id)
            return int(report_id), int(flag_id)

    def reports_today(self, reporter: str, since: float) -> int:
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(
                    reports.c.reporter == reporter, reports.c.created >= since
                )
            ).scalar()
            return int(count or 0)

    def reports_by(self, reporter: str) -> list[dict[str, Any]]:
        """A reporter's own reports: reference, wiki, category, status, dates (and the answer
        date they were promised); nothing else."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    reports.c.id,
                    reports.c.wiki,
                    reports.c.category,
                    reports.c.status,
                    reports.c.created,
                    reports.c.updated,
                    reports.c.due,
                )
                .where(reports.c.reporter == reporter)
                .order_by(reports.c.id.desc())
            )
            return [dict(r._mapping) for r in rows]

    def report_counts(self, before: float, besides: str = "") -> dict[tuple[str, str], int]:
        """Reports per (month "YYYY-MM", category) filed before `before`, not counting those
        of `besides` (the viewer): counts only."""
        counts: dict[tuple[str, str], int] = {}
        query = select(reports.c.created, reports.c.category).where(
            reports.c.created < before, reports.c.reporter != besides
        )
        with self.engine.connect() as conn:
            for created, category in conn.execute(query):
                key = (time.strftime("%Y-%m", time.gmtime(created)), category)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def report_for_flag(self, flag_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reports).where(reports.c.flag_id == flag_id)).first()
            return dict(row._mapping) if row else None

    def set_report_assessment(self, flag_id: int, assessment: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(reports).where(reports.c.flag_id == flag_id).values(assessment=assessment)
            )

    def set_report_status(self, flag_id: int, status: str) -> None:
        """The status the reporter sees; a reporter who asked is sent a wiki email the first
        time the report reaches each status (an outbox row on the route "status:<status>"),
        queued in the same transaction."""
        with self.engine.begin() as conn:
            row = conn.execute(select(reports).where(reports.c.flag_id == flag_id)).first()
            if row is None or row.status == status:
                return
            conn.execute(
                update(reports)
                .where(reports.c.flag_id == flag_id)
                .values(status=status, updated=time.time())
            )
            route = f"{STATUS_ROUTE}{status}"
            if row.notify and not self.route_queued(conn, flag_id, route):
                self.queue_alerts(conn, flag_id, [(route, f"wikimail:{row.reporter}")])

    def delay_overdue(self, now: float) -> int:
        """Reports nobody has looked at by their answer date become "delayed" (their
        reporters, if they asked, are told); returns how many."""
        with self.engine.connect() as conn:
            late = (
                conn.execute(
                    select(reports.c.flag_id).where(
                        reports.c.status == "received", reports.c.due < now
                    )
                )
                .scalars()
                .all()
            )
        for flag_id in late:
            self.set_report_status(flag_id, DELAYED)
        return len(late)

    def add_to_report(
        self, report_id: int, reporter: str, targets: str, note: str, per_day: int
    ) -> bool:
        """More diffs and a note, added by the report's own reporter while it is open, at most
        `per_day` additions a day; False when refused (not theirs, closed, over the limit)."""
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(select(reports).where(reports.c.id == report_id)).first()
            if row is None or row.reporter != reporter or row.status not in OPEN_STATUSES:
                return False
            added = conn.execute(
                select(func.count()).where(
                    report_additions.c.report_id == report_id,
                    report_additions.c.added >= now - DAY,
                )
            ).scalar()
            if int(added or 0) >= per_day:
                return False
            conn.execute(
                report_additions.insert().values(
                    report_id=report_id, added=now, targets=targets, note=note or None
                )
            )
            conn.execute(update(reports).where(reports.c.id == report_id).values(updated=now))
            return True

    def additions_to(self, report_id: int) -> list[dict[str, Any]]:
        """What the reporter added later, oldest first (the reviewers' timeline)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(report_additions)
                .where(report_additions.c.report_id == report_id)
                .order_by(report_additions.c.added, report_additions.c.id)
            )
            return [dict(r._mapping) for r in rows]

    @staticmethod
    def route_queued(conn: Connection, flag_id: int, route: str) -> bool:
        """Whether the flag already has an outbox row on `route`."""
        found = conn.execute(
            select(outbox.c.id).where(outbox.c.flag_id == flag_id, outbox.c.route == route)
        ).first()
        return found is not None
