"""SQLAlchemy Core store: source positions, processed revisions, flags, outbox, reports, pattern
activity, audit log — SQL only, split by what it stores (schema, rows, base, activity, review,
outbox, reports); `Store` is the one class over them.

SQLite by default, PostgreSQL by URL. `record_batch` writes a batch of outcomes and the source
position in one transaction, so the saved position never passes an event that is not stored,
and the unique (wiki, rev_id) key makes a replayed overlap harmless. Schema changes are numbered
migrations applied in order inside a transaction; a database newer than the code is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from sqlalchemy import Connection, func, select, tuple_
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from flagbot.events import RecentChange
from flagbot.store.activity import ActivityStore, Batch, OnFlag, PatternTx
from flagbot.store.reports import ReportStore
from flagbot.store.review import ReviewStore
from flagbot.store.rows import Decided, Due, Flag, Outcome, RowRejected, _split, flag_row
from flagbot.store.schema import (
    EDIT_KIND,
    NAME_KIND,
    PATTERN_KIND,
    REPORT_KEY_BASE,
    REPORT_KIND,
    SCHEMA_VERSION,
    SECOND_REVIEW,
    STATUS_ROUTE,
    TEXT_COLUMNS,
    flags,
    outbox,
    positions,
    processed,
    schema_version,
)

# a pattern detector (flagbot.patterns): run inside the batch's transaction, returns new flags
Detector = Callable[[PatternTx, Batch], int]

__all__ = [  # what the rest of flagbot imports from here
    "Store",
    "Batch",
    "Detector",
    "PatternTx",
    "Due",
    "Flag",
    "Outcome",
    "Decided",
    "PATTERN_KIND",
    "REPORT_KEY_BASE",
    "REPORT_KIND",
    "RowRejected",
    "SCHEMA_VERSION",
    "SECOND_REVIEW",
    "STATUS_ROUTE",
    "flag_row",
    "flags",
    "outbox",
    "processed",
    "schema_version",
]


class Store(ActivityStore, ReviewStore, ReportStore):
    """The database: one class over the parts split by what they store (activity, review,
    reports, outbox); this part holds source positions and the batch transaction. Nothing
    connects until `open()`."""

    # --- source positions ---------------------------------------------------------------
    def load_position(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(positions.c.position).where(positions.c.source == source)
            ).scalar()

    def position_updated(self, source: str) -> float | None:
        """When the source's position was last saved (for health checks)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(positions.c.updated).where(positions.c.source == source)
            ).scalar()
            return float(value) if value is not None else None

    def failing_alerts(self, attempts: int) -> int:
        """Alert rows that failed for good, or are pending after `attempts` failed tries."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(
                    (outbox.c.status == "failed")
                    | ((outbox.c.status == "pending") & (outbox.c.attempts >= attempts))
                )
            ).scalar()
            return int(count or 0)

    def save_position(self, source: str, position: str, conn: Connection | None = None) -> None:
        if conn is None:
            with self.engine.begin() as own:
                self.save_position(source, position, own)
            return
        values = {"source": source, "position": position, "updated": time.time()}
        insert = self._insert(positions).values(**values)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["source"], set_={"position": position, "updated": values["updated"]}
            )
        )

    # --- outcomes -------------------------------------------------------------------------
    def record_batch(
        self,
        source: str,
        outcomes: Sequence[Outcome],
        position: str | None,
        on_flag: OnFlag | None = None,
        detectors: Sequence[Detector] = (),
        edits: Sequence[RecentChange] = (),
    ) -> int:
        """Store a batch and the position after it in one transaction; returns new flags.

        A revision already processed (the overlap after a restart) is skipped silently.
        `on_flag` runs inside the same transaction for each new flag (the alerts outbox), and
        so do the pattern `detectors` (`edits`: every edit of the batch that counts as
        activity, any namespace): a restart neither loses nor repeats what an edit adds.
        """
        try:
            return self._record_batch(source, outcomes, position, on_flag, detectors, edits)
        except (DataError, IntegrityError, StatementError) as exc:
            raise RowRejected(exc) from exc

    def _record_batch(
        self,
        source: str,
        outcomes: Sequence[Outcome],
        position: str | None,
        on_flag: OnFlag | None,
        detectors: Sequence[Detector],
        edits: Sequence[RecentChange],
    ) -> int:
        new_flags = 0
        now = time.time()
        fresh: list[Outcome] = []
        with self.engine.begin() as conn:
            inserted: set[tuple[str, int]] = set()
            rows = [
                {
                    "wiki": o.change.wiki,
                    "rev_id": o.change.key,
                    "outcome": o.outcome,
                    "score": o.verdict.score if o.verdict else None,
                    "rule_categories": ";".join(h.category for h in o.verdict.rule_hits)
                    if o.verdict
                    else None,
                }
                for o in outcomes
                if o.change.key
            ]
            for start in range(0, len(rows), 500):  # one statement per 500 rows
                returned = conn.execute(
                    self._insert(processed)
                    .values([{**row, "processed_at": now} for row in rows[start : start + 500]])
                    .on_conflict_do_nothing()
                    .returning(processed.c.wiki, processed.c.rev_id)  # rowcount lies on psycopg
                )
                inserted.update((wiki, rev_id) for wiki, rev_id in returned)
            for item in outcomes:
                change = item.change
                if (change.wiki, change.key) not in inserted:
                    continue  # processed before: the overlap after a restart
                inserted.discard((change.wiki, change.key))  # once, even if listed twice
                fresh.append(item)
                if item.verdict is None or not item.verdict.flagged:
                    continue
                verdict = item.verdict
                result = conn.execute(
                    flags.insert().values(
                        **flag_row(
                            verdict,
                            wiki=change.wiki,
                            rev_id=change.key,
                            kind=NAME_KIND if verdict.on_names else EDIT_KIND,
                            old_rev_id=change.old_rev,
                            title=change.title,
                            namespace=change.namespace,
                            user=change.user,
                            edit_time=change.timestamp,
                            diff_url=change.diff_url,
                            added_text=item.added_text,
                            summary=change.comment,
                            created=now,
                        )
                    )
                )
                flag_id = result.inserted_primary_key[0]  # type: ignore[index]
                new_flags += 1
                if on_flag is not None:
                    on_flag(conn, flag_id, item)
            if detectors:
                tx, batch = PatternTx(self, conn, on_flag, now), Batch(fresh, outcomes, edits)
                new_flags += sum(detect(tx, batch) for detect in detectors)
            if position is not None:
                self.save_position(source, position, conn)
        return new_flags

    def is_processed(self, wiki: str, rev_id: int) -> bool:
        return (wiki, rev_id) in self.processed_among([(wiki, rev_id)])

    def processed_among(self, keys: list[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which (wiki, rev_id) pairs are already processed: one query per 250 pairs, whatever
        the wikis (a batch of `wikis: all` spans hundreds; a query per wiki cost more than
        scoring)."""
        found: set[tuple[str, int]] = set()
        key = tuple_(processed.c.wiki, processed.c.rev_id)
        pairs = sorted(set(keys))
        with self.engine.connect() as conn:
            for start in range(0, len(pairs), 250):  # stay under SQLite's variable limit
                rows = conn.execute(
                    select(processed.c.wiki, processed.c.rev_id).where(
                        key.in_(pairs[start : start + 250])
                    )
                )
                found.update((wiki, rev_id) for wiki, rev_id in rows)
        return found

    def scored_since(self, wiki: str, since: float) -> list[tuple[float, tuple[str, ...]]]:
        """(score, rule categories) of the wiki's edits scored since `since` (no text)."""
        query = select(processed.c.score, processed.c.rule_categories).where(
            processed.c.wiki == wiki,
            processed.c.processed_at >= since,
            processed.c.score.is_not(None),
        )
        with self.engine.connect() as conn:
            return [(s, tuple(filter(None, (r or "").split(";")))) for s, r in conn.execute(query)]

    def outcome_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(processed.c.outcome, func.count()).group_by(processed.c.outcome)
            )
            return {outcome: count for outcome, count in rows}

    def outbox_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
            return {status: count for status, count in rows}

    def pending_alerts(self, routes: Iterable[str]) -> int:
        """Alerts on these routes not sent yet (pending or being sent)."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(
                    outbox.c.route.in_(list(routes)), outbox.c.status.in_(("pending", "sending"))
                )
            ).scalar()
            return int(count or 0)

    def outbox_errors(self, limit: int = 10) -> list[str]:
        """The latest delivery errors of alerts not yet sent: failed, or pending a retry."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    outbox.c.route,
                    outbox.c.recipient,
                    outbox.c.status,
                    outbox.c.attempts,
                    outbox.c.error,
                )
                .where(outbox.c.error.is_not(None), outbox.c.status.in_(("pending", "failed")))
                .order_by(outbox.c.id.desc())
                .limit(limit)
            )
            return [
                # a reporter's status notice: who reported, and the outcome, stay private
                f"a reporter's status notice ({s}, {a} attempts)"
                if route.startswith(STATUS_ROUTE)
                else f"{r} ({s}, {a} attempts): {e}"
                for route, r, s, a, e in rows
            ]

    def category_counts(self, reports: bool = True) -> dict[str, int]:
        """Flags per category; without `reports`, confidential reports are not counted."""
        counts: dict[str, int] = {}
        query = select(flags.c.categories)
        if not reports:
            query = query.where(flags.c.kind != REPORT_KIND)
        with self.engine.connect() as conn:
            for (cats,) in conn.execute(query):
                for category in _split(cats):
                    counts[category] = counts.get(category, 0) + 1
        return counts

    def iter_flags(self, with_text: bool = False) -> Iterator[Flag]:
        columns = [c for c in flags.c if with_text or c.name not in TEXT_COLUMNS]
        with self.engine.connect() as conn:
            for row in conn.execute(select(*columns).order_by(flags.c.id)):
                yield Flag.from_row(row)
