"""The review queue's side of the store: flags, decisions, purges, control values, audit."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, case, func, select, update

from flagbot.store.base import StoreBase
from flagbot.store.rows import Decided, Flag
from flagbot.store.schema import (
    SECOND_REVIEW,
    TEXT_COLUMNS,
    audit,
    control,
    decisions,
    flags,
    report_additions,
    reports,
)


class ReviewStore(StoreBase):
    """Flags as reviewers see them, their decisions and the audit log."""

    def unpurged_flags(self) -> list[tuple[str, int]]:
        """(wiki, rev_id) of every flag that still holds text (for the purge check)."""
        with self.engine.connect() as conn:
            return [
                (wiki, rev_id)
                for wiki, rev_id in conn.execute(
                    select(flags.c.wiki, flags.c.rev_id).where(
                        flags.c.added_text.is_not(None), flags.c.purged_at.is_(None)
                    )
                )
            ]

    def purge_text(self, wiki: str, rev_id: int, actor: str, reason: str) -> bool:
        """Forget the stored text of a revision the wiki has hidden or deleted."""
        with self.engine.begin() as conn:
            flag_id = conn.execute(
                select(flags.c.id).where(flags.c.wiki == wiki, flags.c.rev_id == rev_id)
            ).scalar()
            if flag_id is None:
                return False
            conn.execute(
                update(flags)
                .where(flags.c.id == flag_id)
                .values(added_text=None, summary=None, purged_at=time.time())
            )
            self.write_audit(conn, actor, "purge_text", flag_id, reason)
            return True

    def purge_older_than(self, cutoff: float, actor: str = "flagbot") -> int:
        """Forget the text of flags and reports made before `cutoff` (retention); decisions,
        categories and counts stay. Returns how many."""
        with self.engine.begin() as conn:
            ids = [
                flag_id
                for (flag_id,) in conn.execute(
                    select(flags.c.id).where(
                        flags.c.created < cutoff,
                        flags.c.purged_at.is_(None),
                        flags.c.added_text.is_not(None) | flags.c.summary.is_not(None),
                    )
                )
            ]
            if ids:
                conn.execute(
                    update(flags)
                    .where(flags.c.id.in_(ids))
                    .values(added_text=None, summary=None, purged_at=time.time())
                )
                self.write_audit(conn, actor, "retention_purge", None, f"{len(ids)} flag(s)")
            # what reporters added later is as private as their descriptions
            conn.execute(
                update(report_additions)
                .where(report_additions.c.added < cutoff, report_additions.c.note.is_not(None))
                .values(note=None)
            )
            return len(ids)

    def get_control(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.execute(
                select(control.c.value).where(control.c.key == key)
            ).scalar()
            return value

    def set_control(self, key: str, value: str | None) -> None:
        """Set (or with None, clear) one piece of operator state."""
        with self.engine.begin() as conn:
            conn.execute(control.delete().where(control.c.key == key))
            if value is not None:
                conn.execute(control.insert().values(key=key, value=value, updated=time.time()))

    def write_audit(
        self, conn: Connection, actor: str, action: str, flag_id: int | None, detail: str = ""
    ) -> None:
        conn.execute(
            audit.insert().values(
                at=time.time(), actor=actor, action=action, flag_id=flag_id, detail=detail
            )
        )

    def record_decision(
        self, flag_id: int, reviewer: str, decision: str, note: str = "", second: bool = False
    ) -> str:
        """A reviewer's decision; returns the flag's status after it.

        The two-person rule: a decision marked `second` leaves the flag in SECOND_REVIEW until
        another reviewer makes the same decision. A different decision, or the same reviewer
        again, replaces the proposal and still waits.
        """
        with self.engine.begin() as conn:
            # decisions on one flag one at a time: a write first takes the row's lock
            # (PostgreSQL) or the database's write lock (SQLite) before the proposal is read;
            # read first, a second reviewer's agreement was matched against a proposal the
            # first reviewer had just replaced
            conn.execute(update(flags).where(flags.c.id == flag_id).values(status=flags.c.status))
            status = conn.execute(select(flags.c.status).where(flags.c.id == flag_id)).scalar()
            proposal = conn.execute(
                select(decisions.c.reviewer, decisions.c.decision)
                .where(decisions.c.flag_id == flag_id)
                .order_by(decisions.c.id.desc())
                .limit(1)
            ).first()
            agreed = (
                status == SECOND_REVIEW
                and proposal is not None
                and proposal.reviewer != reviewer
                and proposal.decision == decision
            )
            waits = not agreed and (second or status == SECOND_REVIEW)
            new_status = SECOND_REVIEW if waits else decision
            conn.execute(
                decisions.insert().values(
                    flag_id=flag_id,
                    reviewer=reviewer,
                    decision=decision,
                    note=note,
                    decided_at=time.time(),
                )
            )
            conn.execute(update(flags).where(flags.c.id == flag_id).values(status=new_status))
            action = f"decide:{decision}" + (":awaiting-second" if waits else "")
            self.write_audit(conn, reviewer, action, flag_id, note)
            return new_status

    # --- the review queue -------------------------------------------------------------------
    def flag(self, flag_id: int) -> Flag | None:
        if not 0 < flag_id < 2**63:  # a huge id from a URL: no such flag, not a database error
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(flags).where(flags.c.id == flag_id)).first()
            return Flag.from_row(row) if row else None

    def find_flags(
        self,
        wiki: str = "",
        status: str = "",
        min_score: float = 0.0,
        max_score: float = 1.0,
        since: float = 0.0,
        order: str = "newest",
        kind: str = "",
    ) -> list[Flag]:
        """Flags by the queue's filters, without their text; category and access filtering
        happen in the caller, which knows who is asking."""
        columns = [c for c in flags.c if c.name not in TEXT_COLUMNS]
        query = select(*columns).where(
            flags.c.score >= min_score, flags.c.score <= max_score, flags.c.created >= since
        )
        if wiki:
            query = query.where(flags.c.wiki == wiki)
        if status:
            query = query.where(flags.c.status == status)
        if kind:
            query = query.where(flags.c.kind == kind)
        if order == "due":  # reports: the open ones whose answer date comes first, first
            waiting = reports.c.status.in_(("received", "delayed"))
            query = query.outerjoin(reports, reports.c.flag_id == flags.c.id).order_by(
                case((waiting, 0), else_=1), reports.c.due, flags.c.created.desc(), flags.c.id
            )
        else:
            ordering = flags.c.score.desc() if order == "score" else flags.c.created.desc()
            query = query.order_by(ordering, flags.c.id)
        with self.engine.connect() as conn:
            return [Flag.from_row(r) for r in conn.execute(query)]

    def decisions_for(self, flag_id: int) -> list[dict[str, Any]]:
        """Decisions and notes without a decision, oldest first, as {reviewer, decision, note}."""
        with self.engine.connect() as conn:
            decided = [
                {"at": r.decided_at, "reviewer": r.reviewer, "decision": r.decision, "note": r.note}
                for r in conn.execute(select(decisions).where(decisions.c.flag_id == flag_id))
            ]
            notes = [
                {"at": r.at, "reviewer": r.actor, "decision": "note", "note": r.detail}
                for r in conn.execute(
                    select(audit).where(audit.c.flag_id == flag_id, audit.c.action == "note")
                )
            ]
        return sorted(decided + notes, key=lambda d: d["at"])

    def audit_entries(
        self, wikis: Collection[str] | None = None, actor: str = "", limit: int = 200
    ) -> list[dict[str, Any]]:
        """The latest audit entries; with `wikis`, only those about flags of these wikis and
        the `actor`'s own entries about no flag (a queue view, a case search): an oversighter of
        one wiki read who filed another wiki's reports and its reviewers' notes."""
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        if wikis is not None:
            query = query.outerjoin(flags, flags.c.id == audit.c.flag_id).where(
                flags.c.wiki.in_(list(wikis))
                | (audit.c.flag_id.is_(None) & (audit.c.actor == actor))
            )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def audit(self, actor: str, action: str, flag_id: int | None, detail: str = "") -> None:
        with self.engine.begin() as conn:
            self.write_audit(conn, actor, action, flag_id, detail)

    def iter_decisions(self) -> list[Decided]:
        """Latest decision per flag, with the flag and its stored text (for label export)."""
        with self.engine.connect() as conn:
            latest = (
                select(decisions.c.flag_id, func.max(decisions.c.id).label("id"))
                .group_by(decisions.c.flag_id)
                .subquery()
            )
            query = (
                select(decisions.c.decision, decisions.c.reviewer, flags)
                .join(latest, latest.c.id == decisions.c.id)
                .join(flags, flags.c.id == decisions.c.flag_id)
                .where(flags.c.status != SECOND_REVIEW)  # a proposal is not a label yet
                .order_by(decisions.c.id)
            )
            return [Decided(r.decision, r.reviewer, Flag.from_row(r)) for r in conn.execute(query)]
