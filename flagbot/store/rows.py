"""What the store hands out and takes in: typed rows (Flag, Due, Decided, Outcome) and the error
for a row the database refuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagbot.errors import StoreError
from flagbot.events import RecentChange
from flagbot.scoring import Verdict
from flagbot.store.schema import NAME_KIND


class RowRejected(StoreError):
    """The database refused a row for its content (not for a lost connection)."""

    def __init__(self, error: BaseException):
        self.error = error
        super().__init__(f"the store refused a row: {type(error).__name__}")


def _split(joined: str | None) -> tuple[str, ...]:
    return tuple(filter(None, (joined or "").split(";")))


@dataclass(frozen=True, slots=True)
class Flag:
    """A flag as the store keeps it: what was flagged, why, and where it stands. Only the store
    makes them; `text` and `summary` are loaded only when asked for (review page, labels)."""

    id: int
    kind: str  # EDIT_KIND: the edit's text is flagged; NAME_KIND: its title or user name is
    wiki: str
    rev_id: int  # a log entry (a move, a new account): -log_id
    old_rev_id: int | None
    title: str
    namespace: int
    user: str
    edit_time: int
    diff_url: str
    categories: tuple[str, ...]
    score: float
    rule_ids: tuple[str, ...]
    severity: str | None
    routes: tuple[str, ...]
    status: str
    created: float
    purged_at: float | None = None
    text: str | None = None
    summary: str | None = None
    settings_rev: int | None = None  # the wiki's community settings revision in force

    @property
    def names_flagged(self) -> bool:
        return self.kind == NAME_KIND

    @classmethod
    def from_row(cls, row: Any) -> Flag:
        row = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=row["id"],
            kind=row["kind"],
            wiki=row["wiki"],
            rev_id=row["rev_id"],
            old_rev_id=row["old_rev_id"],
            title=row["title"],
            namespace=row["namespace"],
            user=row["user"],
            edit_time=row["edit_time"],
            diff_url=row["diff_url"],
            categories=_split(row["categories"]),
            score=row["score"],
            rule_ids=_split(row["rules"]),
            severity=row["severity"],
            routes=_split(row["route"]),
            status=row["status"],
            created=row["created"],
            purged_at=row["purged_at"],
            text=row.get("added_text"),
            summary=row.get("summary"),
            settings_rev=row.get("settings_rev"),
        )


@dataclass(frozen=True, slots=True)
class Due:
    """An outbox row that is due: one delivery of one flag on one route to one recipient."""

    id: int
    route: str
    recipient: str  # channel:address
    channel: str
    attempts: int
    flag: Flag  # without its text: an alert never carries it


@dataclass(frozen=True, slots=True)
class Decided:
    """A flag with its latest review decision (for the labels export)."""

    decision: str
    reviewer: str
    flag: Flag


@dataclass(frozen=True)
class Outcome:
    """What became of one event: a skip reason, or a verdict with the text that earned it."""

    change: RecentChange
    outcome: str
    verdict: Verdict | None = None
    added_text: str | None = None
    targets: tuple[str, ...] = ()  # whom the edit is aimed at (flagbot.patterns.targets)
    # the runs of words at the start of the added text (flagbot.patterns.mentions): held in
    # memory only; hounding keeps them as keyed hashes, never as text
    mentions: tuple[str, ...] = ()


def flag_row(verdict: Verdict, **columns: Any) -> dict[str, Any]:
    """A flag row as every kind of flag is written (edit, name, pattern, report): the verdict's
    categories, rules and routes joined with ";" as `Flag.from_row` splits them, status new."""
    return {
        "categories": ";".join(verdict.categories),
        "rules": ";".join(verdict.rule_ids),
        "severity": verdict.severity,
        "route": ";".join(verdict.routes),
        "score": verdict.score,
        "status": "new",
        "settings_rev": verdict.settings_rev or None,
        **columns,
    }
