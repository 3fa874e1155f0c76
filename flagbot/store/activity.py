"""Pattern activity: borderline edits per target, every edit's activity, follows, and the
pattern flags they raise — the SQL the detectors (flagbot.patterns) run inside a batch's
transaction (`PatternTx`), and what the review pages read back. No policy: what counts as a
follow or as repeated targeting is decided in flagbot.patterns."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, distinct, func, literal, or_, select, tuple_, update

from flagbot.events import RecentChange
from flagbot.scoring import Verdict
from flagbot.store.base import StoreBase
from flagbot.store.rows import Flag, Outcome, flag_row
from flagbot.store.schema import (
    HOUNDING_PATTERN,
    PATTERN_KEY_BASE,
    PATTERN_KIND,
    TEXT_COLUMNS,
    activity,
    control,
    flags,
    follows,
    pattern_edits,
    patterns,
    reports,
)

OnFlag = Callable[[Connection, int, Outcome], None]
# (wiki, page) → its edits as (time, rev_id, user, the users that edit addressed, ";"-joined)
PageHistory = dict[tuple[str, str], list[tuple[int, int, str, str]]]
CHUNK = 400  # names or pages per IN (...) list: under SQLite's variable limit
PAIRS = CHUNK // 2  # (wiki, page) pairs per IN (...) list: two variables each
MENTION_KEY = "hounding-mention-key"


@dataclass(frozen=True)
class Batch:
    """What a batch hands the pattern detectors: its outcomes stored just now (`fresh`: not
    the overlap after a restart), all its outcomes, and every edit that counts as activity."""

    fresh: list[Outcome]
    outcomes: Sequence[Outcome]
    edits: Sequence[RecentChange]


class PatternTx:
    """The detectors' reads and writes inside one batch transaction; a new flag goes through
    `on_flag` (the alerts outbox) in the same transaction."""

    def __init__(self, store: StoreBase, conn: Connection, on_flag: OnFlag | None, now: float):
        self.store, self.conn, self.on_flag, self.now = store, conn, on_flag, now

    # --- repeated targeting -------------------------------------------------------------
    def keep_aimed(self, aimed: Sequence[Outcome]) -> None:
        """Keep borderline edits per (author, target); one already kept is left alone."""
        self.conn.execute(
            self.store._insert(pattern_edits).on_conflict_do_nothing(),
            [
                {
                    "wiki": item.change.wiki,
                    "author": item.change.user,
                    "target": target,
                    "rev_id": item.change.key,
                    "score": item.verdict.score if item.verdict else 0.0,
                    "time": item.change.timestamp,
                }
                for item in aimed
                for target in item.targets
            ],
        )

    def aimed_within(
        self, change: RecentChange, target: str, span: float
    ) -> list[tuple[int, float]]:
        """(rev_id, score) of the author's kept edits aimed at `target` in the `span` seconds
        up to this edit, oldest first."""
        rows = self.conn.execute(
            select(pattern_edits.c.rev_id, pattern_edits.c.score)
            .where(
                pattern_edits.c.wiki == change.wiki,
                pattern_edits.c.author == change.user,
                pattern_edits.c.target == target,
                pattern_edits.c.time >= change.timestamp - span,
                pattern_edits.c.time <= change.timestamp,
            )
            .order_by(pattern_edits.c.time, pattern_edits.c.rev_id)
        )
        return [(int(r), float(s)) for r, s in rows]

    # --- hounding -----------------------------------------------------------------------
    def mention_key(self) -> bytes:
        """This database's secret for hashing what headings name (made once, kept in
        `control`): the activity table holds no words, and a hash cannot be looked up without
        it. Kept in memory once read back from a committed row: asked every batch before."""
        if self.store._mention_key is not None:
            return self.store._mention_key
        found = self.conn.execute(
            select(control.c.value).where(control.c.key == MENTION_KEY)
        ).scalar()
        if found is not None:  # committed: a batch that made it and rolled back kept nothing
            self.store._mention_key = bytes.fromhex(str(found))
            return self.store._mention_key
        self.conn.execute(
            self.store._insert(control)
            .values(key=MENTION_KEY, value=secrets.token_hex(16), updated=self.now)
            .on_conflict_do_nothing()
        )
        made = self.conn.execute(select(control.c.value).where(control.c.key == MENTION_KEY))
        return bytes.fromhex(str(made.scalar()))

    def keep_activity(
        self, edits: Sequence[RecentChange], invited: dict[tuple[str, int], tuple[str, ...]]
    ) -> list[RecentChange]:
        """Keep the edits as activity (with whom each addressed, `invited`); returns those not
        kept before, oldest first."""
        rows = [
            {
                "wiki": c.wiki,
                "user": c.user,
                "page": c.title,
                "rev_id": c.key,
                "time": c.timestamp,
                "invited": ";".join(invited.get((c.wiki, c.key), ())) or None,
            }
            for c in edits
        ]
        # one cached statement, many parameter sets (a VALUES list is compiled anew each time)
        added = set(
            self.conn.execute(
                self.store._insert(activity)
                .on_conflict_do_nothing()
                .returning(activity.c.wiki, activity.c.rev_id),
                rows,
            )
        )
        return sorted((c for c in edits if (c.wiki, c.key) in added), key=lambda c: c.timestamp)

    def page_history(
        self, new: list[RecentChange], hours: float, window: float, days: float, max_leaders: int
    ) -> PageHistory:
        """The history of the batch's quiet pages: every edit from `window` seconds before the
        batch to its end (who came before), and the batch's own users' earliest edits on them
        within `days` seconds (who was there first). A busy page — more than `max_leaders`
        others in the `hours` before every edit of the batch on it — is left out: one grouped
        count finds it, and its edits are not read (on a popular page, thousands a day)."""
        conn = self.conn
        history: dict[tuple[str, str], set[tuple[int, int, str, str]]] = {}
        # one set of queries for every wiki of the batch, by (wiki, page) and (wiki, user)
        # pairs: with `wikis: all` a batch spans hundreds of wikis, and queries per wiki
        # cost more than scoring
        pages = sorted({(c.wiki, c.title) for c in new})
        users = sorted({(c.wiki, c.user) for c in new})
        since, first, last = (
            new[0].timestamp - days,
            new[0].timestamp - max(window, hours),
            new[-1].timestamp,
        )
        page_key, user_key = (
            tuple_(activity.c.wiki, activity.c.page),
            tuple_(activity.c.wiki, activity.c.user),
        )
        busy: set[tuple[str, str]] = set()
        for start in range(0, len(pages), PAIRS):
            # users in [last - hours, first] are in every batch edit's hours before: with
            # max_leaders + 2 of them, even the editor aside, each edit has too many leaders
            found = conn.execute(
                select(activity.c.wiki, activity.c.page)
                .where(
                    page_key.in_(pages[start : start + PAIRS]),
                    activity.c.time >= last - hours,
                    activity.c.time <= new[0].timestamp,
                )
                .group_by(activity.c.wiki, activity.c.page)
                .having(func.count(distinct(activity.c.user)) >= max_leaders + 2)
            )
            busy.update((wiki, page) for wiki, page in found)
        quiet = [p for p in pages if p not in busy]
        addressed = func.coalesce(activity.c.invited, "")
        columns = (
            activity.c.wiki, activity.c.page, activity.c.time, activity.c.rev_id, activity.c.user,
            addressed,
        )  # fmt: skip
        for start in range(0, len(quiet), PAIRS):
            chunk = quiet[start : start + PAIRS]
            recent = select(*columns).where(
                page_key.in_(chunk), activity.c.time >= first, activity.c.time <= last
            )
            own = [  # only whether they were there first: each one's earliest edit
                select(
                    activity.c.wiki,
                    activity.c.page,
                    func.min(activity.c.time),
                    func.min(activity.c.rev_id),
                    activity.c.user,
                    literal(""),
                )
                .where(
                    user_key.in_(users[at : at + PAIRS]),
                    page_key.in_(chunk),
                    activity.c.time >= since,
                    activity.c.time <= last,
                )
                .group_by(activity.c.wiki, activity.c.page, activity.c.user)
                for at in range(0, len(users), PAIRS)
            ]
            for query in (recent, *own):
                for wiki, page, when, rev_id, user, invitees in conn.execute(query):
                    history.setdefault((wiki, page), set()).add(
                        (when, rev_id, user, invitees or "")
                    )
        return {key: sorted(rows) for key, rows in history.items()}

    def keep_follows(self, found: list[dict[str, Any]]) -> None:
        if found:
            self.conn.execute(self.store._insert(follows).on_conflict_do_nothing(), found)

    def pairs_over(
        self,
        latest: dict[tuple[str, str, str], dict[str, Any]],
        pages: int,
        days: float,
        near: float,
    ) -> list[tuple[dict[str, Any], int, int]]:
        """The latest follow of each pair of the batch that has `pages` follows or more within
        `days` seconds, with that count and the count of those within `near` seconds of the
        followed edit: one grouped query per wiki and follower set."""
        if not latest:
            return []
        over = []
        gap = follows.c.time - follows.c.followed_time
        within = func.sum(case((gap <= near, 1), else_=0))
        by_wiki: dict[str, set[str]] = {}
        for wiki, follower, _followed in latest:
            by_wiki.setdefault(wiki, set()).add(follower)
        since = min(f["time"] for f in latest.values()) - days
        for wiki, followers in by_wiki.items():
            names = sorted(followers)
            for start in range(0, len(names), CHUNK):
                for follower, followed, count, close in self.conn.execute(
                    select(follows.c.follower, follows.c.followed, func.count(), within)
                    .where(
                        follows.c.wiki == wiki, follows.c.follower.in_(names[start : start + CHUNK])
                    )
                    .where(follows.c.time >= since)
                    .group_by(follows.c.follower, follows.c.followed)
                    .having(func.count() >= pages)
                ):
                    if (wiki, follower, followed) in latest:
                        over.append((latest[(wiki, follower, followed)], int(count), int(close)))
        return over

    def follow_rev_ids(
        self, wiki: str, follower: str, followed: str, since: float, max_gap: float | None = None
    ) -> list[int]:
        """The pair's follows since a time (those within `max_gap` seconds of the followed
        edit), oldest first."""
        query = (
            select(follows.c.rev_id)
            .where(follows.c.wiki == wiki, follows.c.follower == follower)
            .where(follows.c.followed == followed, follows.c.time >= since)
            .order_by(follows.c.time)
        )
        if max_gap is not None:
            query = query.where(follows.c.time - follows.c.followed_time <= max_gap)
        return list(self.conn.execute(query).scalars())

    def follow_counts(
        self,
        wiki: str,
        follower: str,
        followed: str,
        since: float,
        span: float,
        max_gap: float | None = None,
    ) -> dict[str, int]:
        """What chance is estimated from (flagbot.patterns.hounding.expected_follows), the
        follows counted only within `max_gap` seconds of the followed edit when given."""

        def count(query: Any) -> int:
            return int(self.conn.execute(query).scalar() or 0)

        in_window: tuple[Any, ...] = (follows.c.wiki == wiki, follows.c.time >= since)
        if max_gap is not None:
            in_window += (follows.c.time - follows.c.followed_time <= max_gap,)
        return {
            "followed_pages": count(
                select(func.count(distinct(activity.c.page))).where(
                    activity.c.wiki == wiki, activity.c.user == followed, activity.c.time >= since
                )
            ),
            "follower_pages": count(
                select(func.count(distinct(activity.c.page))).where(
                    activity.c.wiki == wiki, activity.c.user == follower, activity.c.time >= since
                )
            ),
            "follower_follows": count(
                select(func.count(distinct(follows.c.page))).where(
                    *in_window, follows.c.follower == follower
                )
            ),
            "followed_followed": count(
                select(func.count()).where(*in_window, follows.c.followed == followed)
            ),
            "wiki_pages": self._window_count(wiki, since, span, pages=True),
            "wiki_edits": self._window_count(wiki, since, span, pages=False),
        }

    def _window_count(self, wiki: str, since: float, span: float, pages: bool) -> int:
        """Distinct pages (or edits) kept on a wiki since a time; counted again once the window
        has moved an hour or 1 % of its length, whichever is more (at Wikimedia's rate the table
        holds tens of millions of rows, and two weeks' totals hardly move in hours)."""
        cache = self.store._window_counts
        cached = cache.get((wiki, pages))
        if cached is not None and abs(since - cached[0]) < max(3600.0, span / 100):
            return cached[1]
        counted = func.count(distinct(activity.c.page)) if pages else func.count()
        count = self.conn.execute(
            select(counted).where(activity.c.wiki == wiki, activity.c.time >= since)
        ).scalar()
        cache[(wiki, pages)] = (since, int(count or 0))
        return int(count or 0)

    # --- pattern flags ------------------------------------------------------------------
    def pattern_id(self, pattern: str, wiki: str, user: str, target: str) -> int:
        found = self.conn.execute(
            select(patterns.c.id).where(
                patterns.c.wiki == wiki,
                patterns.c.pattern == pattern,
                patterns.c.user == user,
                patterns.c.target == target,
            )
        ).scalar()
        return int(found or 0)

    def pattern_flag(
        self,
        pattern: str,
        change: RecentChange,
        target: str,
        rev_ids: list[int],
        score: float,
        verdict: Verdict,
        create: bool = True,
    ) -> int:
        """Extend the pattern flag of (the change's user, target), or raise it (unless not
        `create`) categorised and routed as `verdict`; returns 1 if new."""
        conn = self.conn
        found = conn.execute(
            select(patterns.c.id, patterns.c.flag_id, patterns.c.rev_ids, flags.c.score)
            .join(flags, flags.c.id == patterns.c.flag_id)
            .where(
                patterns.c.wiki == change.wiki,
                patterns.c.pattern == pattern,
                patterns.c.user == change.user,
                patterns.c.target == target,
            )
        ).first()
        if found is not None:
            known = [int(r) for r in found.rev_ids.split(";") if r]
            merged = known + [r for r in rev_ids if r not in set(known)]
            conn.execute(
                update(patterns)
                .where(patterns.c.id == found.id)
                .values(rev_ids=";".join(map(str, merged)), updated=self.now)
            )
            conn.execute(
                update(flags)
                .where(flags.c.id == found.flag_id)
                .values(
                    edit_time=change.timestamp,
                    diff_url=change.diff_url,
                    score=max(score, found.score),
                )
            )
            return 0
        if not create:
            return 0
        flag_id, _owner = self.store._flag_with_owner(
            conn,
            flag_row(
                verdict,
                wiki=change.wiki,
                kind=PATTERN_KIND,
                old_rev_id=None,
                title=f"User talk:{target}",
                namespace=3,
                user=change.user,
                edit_time=change.timestamp,
                diff_url=change.diff_url,
                score=score,
                added_text=None,
                summary=None,
                created=self.now,
            ),
            PATTERN_KEY_BASE,
            patterns,
            {
                "wiki": change.wiki,
                "pattern": pattern,
                "user": change.user,
                "target": target,
                "rev_ids": ";".join(map(str, rev_ids)),
                "updated": self.now,
            },
        )
        if self.on_flag is not None:
            self.on_flag(conn, flag_id, Outcome(change, "flagged", verdict))
        return 1


class ActivityStore(StoreBase):
    """What the review pages read back about patterns, and how long activity is kept."""

    def prune_activity(self, before: float, aimed_before: float | None = None) -> int:
        """Forget activity and follows older than `before` (the hounding window), and the
        borderline edits aimed at targets older than `aimed_before`: all stay bounded."""
        with self.engine.begin() as conn:
            conn.execute(follows.delete().where(follows.c.time < before))
            if aimed_before is not None:
                conn.execute(pattern_edits.delete().where(pattern_edits.c.time < aimed_before))
            return conn.execute(activity.delete().where(activity.c.time < before)).rowcount

    def pattern_details(self, flag_id: int | None = None) -> dict[int, dict[str, Any]]:
        """For pattern flags (all, or one): pattern, user, target and the diffs involved, each
        with its score and time where the detector recorded them."""
        query = select(patterns)
        if flag_id is not None:
            query = query.where(patterns.c.flag_id == flag_id)
        details: dict[int, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                rev_ids = [int(r) for r in row.rev_ids.split(";") if r]
                details[row.flag_id] = {
                    "pattern": row.pattern,
                    "user": row.user,
                    "target": row.target,
                    "rev_ids": rev_ids,
                    "edits": (
                        self._follow_timeline(conn, row.wiki, row.target, rev_ids)
                        if row.pattern == HOUNDING_PATTERN
                        else self._aimed_edits(conn, row, rev_ids)
                    ),
                }
        return details

    @staticmethod
    def _aimed_edits(conn: Connection, row: Any, rev_ids: list[int]) -> list[dict[str, Any]]:
        """A repeated-targeting flag's diffs with their scores and times."""
        edits = {
            r.rev_id: {"rev_id": r.rev_id, "score": r.score, "time": r.time}
            for r in conn.execute(
                select(pattern_edits).where(
                    pattern_edits.c.wiki == row.wiki,
                    pattern_edits.c.author == row.user,
                    pattern_edits.c.target == row.target,
                )
            )
        }
        return [edits.get(r, {"rev_id": r}) for r in rev_ids]

    @staticmethod
    def _follow_timeline(
        conn: Connection, wiki: str, followed: str, rev_ids: list[int]
    ) -> list[dict[str, Any]]:
        """A hounding flag's interaction timeline: each page, when the followed user edited it,
        when the follower did, and the gap (while the follows are kept)."""
        rows = conn.execute(
            select(follows)
            .where(
                follows.c.wiki == wiki,
                follows.c.followed == followed,
                follows.c.rev_id.in_(rev_ids),
            )
            .order_by(follows.c.time)
        )
        return [
            {
                "rev_id": r.rev_id,
                "page": r.page,
                "time": r.time,
                "followed_time": r.followed_time,
                "gap_hours": round((r.time - r.followed_time) / 3600, 1),
            }
            for r in rows
        ]

    def case_flags(self, wiki: str, names: Sequence[str]) -> list[tuple[Flag, str]]:
        """Flags on `wiki` that may concern any of `names` (by them, on a page whose title holds
        the name, or reports whose targets do), each with its report's targets ("" for other
        flags), oldest first, without text; the caller decides exactly who is concerned."""
        columns = [c for c in flags.c if c.name not in TEXT_COLUMNS]
        mentioned: list[Any] = [flags.c.user.in_(list(names))]
        for name in names:
            # any case and either spelling: "User_talk:stalker" in a report names "Stalker"
            for spelling in {name.lower(), name.lower().replace(" ", "_")}:
                mentioned.append(func.lower(flags.c.title).contains(spelling, autoescape=True))
                mentioned.append(func.lower(reports.c.targets).contains(spelling, autoescape=True))
        query = (
            select(*columns, reports.c.targets)
            .outerjoin(reports, reports.c.flag_id == flags.c.id)
            .where(flags.c.wiki == wiki, or_(*mentioned))
            .order_by(flags.c.edit_time, flags.c.id)
        )
        with self.engine.connect() as conn:
            return [(Flag.from_row(r), r.targets or "") for r in conn.execute(query)]
