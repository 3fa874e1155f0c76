"""Pattern activity: borderline edits per target, every edit's activity, follows, and the
pattern flags they raise (SQL and the detectors' queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, distinct, func, literal, or_, select, update

from flagbot.events import RecentChange
from flagbot.patterns import (
    HOUNDING_PATTERN,
    MAX_LEADERS,
    REPEAT_PATTERN,
    HoundingRule,
    PatternRules,
    RepeatRule,
    chance,
    expected_follows,
    page_owner,
)
from flagbot.store.base import StoreBase
from flagbot.store.rows import Flag, Outcome
from flagbot.store.schema import (
    PATTERN_KEY_BASE,
    PATTERN_KIND,
    TEXT_COLUMNS,
    activity,
    flags,
    follows,
    pattern_edits,
    patterns,
    reports,
)


class ActivityStore(StoreBase):
    """Repeated targeting and hounding: what they read and write."""

    def _repeated_targeting(
        self,
        conn: Connection,
        aimed: list[Outcome],
        repeat: RepeatRule,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
    ) -> int:
        """Record borderline edits per (author, target); a pair with `repeat.count` of them
        within `repeat.days` gets one pattern flag, which later edits extend. Returns new flags."""
        conn.execute(
            self._insert(pattern_edits).on_conflict_do_nothing(),
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
        new_flags = 0
        # each edit in time order, with the window that ends at it: a batch may span weeks
        for item in sorted(aimed, key=lambda o: o.change.timestamp):
            change = item.change
            for target in item.targets:
                edits = conn.execute(
                    select(pattern_edits.c.rev_id, pattern_edits.c.score)
                    .where(
                        pattern_edits.c.wiki == change.wiki,
                        pattern_edits.c.author == change.user,
                        pattern_edits.c.target == target,
                        pattern_edits.c.time >= change.timestamp - repeat.days * 86400,
                        pattern_edits.c.time <= change.timestamp,
                    )
                    .order_by(pattern_edits.c.time, pattern_edits.c.rev_id)
                ).all()
                # under the count, an edit only extends a pair's flag that already exists
                new_flags += self._pattern_flag(
                    conn,
                    REPEAT_PATTERN,
                    change,
                    target,
                    [r for r, _ in edits],
                    max(s for _, s in edits),
                    repeat,
                    on_flag,
                    now,
                    create=len(edits) >= repeat.count,
                )
        return new_flags

    def _hounding(
        self,
        conn: Connection,
        edits: Sequence[RecentChange],
        rules: PatternRules,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
        invited: dict[tuple[str, int], tuple[str, ...]] | None = None,
    ) -> int:
        """Record the batch's activity; each new edit that is its user's first on a page within
        `hours` after others edited it is a follow of each of them; a pair with `pages` follows
        within `days` is tested against chance and flagged, or its flag extended. A handful of
        queries per batch, not per edit (Wikimedia's full rate is ~90 edits/s at peak).

        Invitations are no following: an edit on one's own user pages, or on a page where the
        other user's edit in those hours addressed one (`invited`: a ping, a reply, a post on
        one's talk page). Without this, an attacker who pinged a victim on five quiet pages got
        the victim, answering politely on each, flagged as hounding the attacker."""
        rule = rules.hounding
        invited = invited or {}
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
            conn.execute(
                self._insert(activity)
                .on_conflict_do_nothing()
                .returning(activity.c.wiki, activity.c.rev_id),
                rows,
            )
        )
        new = sorted((c for c in edits if (c.wiki, c.key) in added), key=lambda c: c.timestamp)
        if not new:
            return 0
        history = self._page_history(conn, new, rule)
        found: list[dict[str, Any]] = []
        for change in new:
            if page_owner(change.namespace, change.title) == change.user:
                continue  # one's own user pages: never following anyone there
            seen = history.get((change.wiki, change.title), [])
            if any(
                u == change.user and (t, r) < (change.timestamp, change.key) for t, r, u, _ in seen
            ):
                continue  # not the user's first edit on the page: re-edits are no following
            leaders: dict[str, int] = {}
            inviters: set[str] = set()
            for when, rev_id, user, addressed in seen:
                recent = change.timestamp - rule.hours * 3600 <= when <= change.timestamp
                if recent and user != change.user and rev_id != change.key:
                    leaders[user] = max(leaders.get(user, when), when)
                    if change.user in addressed.split(";"):
                        inviters.add(user)
            if len(leaders) > MAX_LEADERS:
                continue  # a busy page: everyone there overlaps, nobody is followed
            for inviter in inviters:  # they asked this user to come: an answer, not a follow
                del leaders[inviter]
            found += [
                {
                    "wiki": change.wiki,
                    "follower": change.user,
                    "followed": leader,
                    "page": change.title,
                    "rev_id": change.key,
                    "time": change.timestamp,
                    "followed_time": led,
                }
                for leader, led in leaders.items()
            ]
        if found:
            conn.execute(self._insert(follows).on_conflict_do_nothing(), found)
        latest = {(f["wiki"], f["follower"], f["followed"]): f for f in found}
        by_key = {(c.wiki, c.key): c for c in new}  # a flag links the follower's latest edit
        return sum(
            self._test_pair(
                conn, follow, by_key[(follow["wiki"], follow["rev_id"])], count, rules, on_flag, now
            )
            for follow, count in self._pairs_over(conn, latest, rule)
        )

    @staticmethod
    def _page_history(
        conn: Connection, new: list[RecentChange], rule: HoundingRule
    ) -> dict[tuple[str, str], list[tuple[int, int, str, str]]]:
        """(time, rev_id, user) on the batch's quiet pages: every edit from `rule.hours` before
        the batch to its end (who came just before), and the batch's own users' edits on them
        over the whole window (who was there first). A busy page — more than MAX_LEADERS others
        in the hours before every edit of the batch on it — yields no follows: one grouped count
        finds it, and its edits are not read (on a popular page, thousands a day)."""
        history: dict[tuple[str, str], set[tuple[int, int, str, str]]] = {}
        by_wiki: dict[str, tuple[set[str], set[str]]] = {}
        for change in new:
            pages, users = by_wiki.setdefault(change.wiki, (set(), set()))
            pages.add(change.title)
            users.add(change.user)
        since, first, last = (
            new[0].timestamp - rule.days * 86400,
            new[0].timestamp - rule.hours * 3600,
            new[-1].timestamp,
        )
        addressed = func.coalesce(activity.c.invited, "")
        columns = (activity.c.page, activity.c.time, activity.c.rev_id, activity.c.user, addressed)
        for wiki, (pages, users) in by_wiki.items():
            # users in [last - hours, first] are in every batch edit's hours before: with
            # MAX_LEADERS + 2 of them, even the editor aside, each edit has too many leaders
            candidates = sorted(pages)
            for start in range(0, len(candidates), 400):
                pages -= set(
                    conn.execute(
                        select(activity.c.page)
                        .where(
                            activity.c.wiki == wiki,
                            activity.c.page.in_(candidates[start : start + 400]),
                            activity.c.time >= last - rule.hours * 3600,
                            activity.c.time <= new[0].timestamp,
                        )
                        .group_by(activity.c.page)
                        .having(func.count(distinct(activity.c.user)) >= MAX_LEADERS + 2)
                    ).scalars()
                )
            titles, names = sorted(pages), sorted(users)
            for start in range(0, len(titles), 400):
                chunk = titles[start : start + 400]
                recent = select(*columns).where(
                    activity.c.wiki == wiki,
                    activity.c.page.in_(chunk),
                    activity.c.time >= first,
                    activity.c.time <= last,
                )
                own = [  # only whether they were there first: each one's earliest edit
                    select(
                        activity.c.page,
                        func.min(activity.c.time),
                        func.min(activity.c.rev_id),
                        activity.c.user,
                        literal(""),
                    )
                    .where(
                        activity.c.wiki == wiki,
                        activity.c.user.in_(names[at : at + 400]),
                        activity.c.page.in_(chunk),
                        activity.c.time >= since,
                        activity.c.time <= last,
                    )
                    .group_by(activity.c.page, activity.c.user)
                    for at in range(0, len(names), 400)
                ]
                for query in (recent, *own):
                    for page, when, rev_id, user, invitees in conn.execute(query):
                        history.setdefault((wiki, page), set()).add(
                            (when, rev_id, user, invitees or "")
                        )
        return {key: sorted(rows) for key, rows in history.items()}

    @staticmethod
    def _pairs_over(
        conn: Connection, latest: dict[tuple[str, str, str], dict[str, Any]], rule: HoundingRule
    ) -> list[tuple[dict[str, Any], int]]:
        """The latest follow of each pair of the batch that has `rule.pages` follows or more
        within `rule.days`, with that count: one grouped query per wiki and follower set."""
        if not latest:
            return []
        over = []
        by_wiki: dict[str, set[str]] = {}
        for wiki, follower, _followed in latest:
            by_wiki.setdefault(wiki, set()).add(follower)
        since = min(f["time"] for f in latest.values()) - rule.days * 86400
        for wiki, followers in by_wiki.items():
            names = sorted(followers)
            for start in range(0, len(names), 500):
                for follower, followed, count in conn.execute(
                    select(follows.c.follower, follows.c.followed, func.count())
                    .where(
                        follows.c.wiki == wiki, follows.c.follower.in_(names[start : start + 500])
                    )
                    .where(follows.c.time >= since)
                    .group_by(follows.c.follower, follows.c.followed)
                    .having(func.count() >= rule.pages)
                ):
                    if (wiki, follower, followed) in latest:
                        over.append((latest[(wiki, follower, followed)], int(count)))
        return over

    def _test_pair(
        self,
        conn: Connection,
        follow: dict[str, Any],
        change: RecentChange,
        count: int,
        rules: PatternRules,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
    ) -> int:
        """Extend the pair's hounding flag, or flag it if its follows are unlikely by chance.
        A pair explained by chance is tested again at `pages` more follows, not at each one
        (patrollers follow hundreds of people)."""
        rule = rules.hounding
        wiki, follower, followed = follow["wiki"], follow["follower"], follow["followed"]
        flagged = self._pattern_id(conn, HOUNDING_PATTERN, wiki, follower, followed)
        if not flagged and count >= 2 * rule.pages and count % rule.pages:
            return 0
        since = follow["time"] - rule.days * 86400
        rev_ids = list(
            conn.execute(
                select(follows.c.rev_id)
                .where(follows.c.wiki == wiki, follows.c.follower == follower)
                .where(follows.c.followed == followed, follows.c.time >= since)
                .order_by(follows.c.time)
            ).scalars()
        )
        odds = 0.0
        if not flagged:
            odds = chance(
                len(rev_ids),
                self._expected_follows(conn, wiki, follower, followed, since, rule.days * 86400),
            )
            if odds > rule.max_chance or (rule.exempt and rule.exempt(wiki, follower)):
                return 0  # chance explains it, or following is their job (exempt groups)
        return self._pattern_flag(
            conn,
            HOUNDING_PATTERN,
            change,
            followed,
            rev_ids,
            1.0 - odds,
            rule,
            on_flag,
            now,
        )

    def _expected_follows(
        self, conn: Connection, wiki: str, follower: str, followed: str, since: float, span: float
    ) -> float:
        """The follows of this pair that chance explains (flagbot.patterns.expected_follows)."""

        def count(query: Any) -> int:
            return int(conn.execute(query).scalar() or 0)

        in_window = (follows.c.wiki == wiki, follows.c.time >= since)
        return expected_follows(
            followed_pages=count(
                select(func.count(distinct(activity.c.page))).where(
                    activity.c.wiki == wiki, activity.c.user == followed, activity.c.time >= since
                )
            ),
            follower_pages=count(
                select(func.count(distinct(activity.c.page))).where(
                    activity.c.wiki == wiki, activity.c.user == follower, activity.c.time >= since
                )
            ),
            follower_follows=count(
                select(func.count(distinct(follows.c.page))).where(
                    *in_window, follows.c.follower == follower
                )
            ),
            followed_followed=count(
                select(func.count()).where(*in_window, follows.c.followed == followed)
            ),
            wiki_pages=self._window_count(conn, wiki, since, span, pages=True),
            wiki_edits=self._window_count(conn, wiki, since, span, pages=False),
        )

    def _window_count(
        self, conn: Connection, wiki: str, since: float, span: float, pages: bool
    ) -> int:
        """Distinct pages (or edits) kept on a wiki since a time; counted again once the window
        has moved an hour or 1 % of its length, whichever is more (at Wikimedia's rate the table
        holds tens of millions of rows, and two weeks' totals hardly move in hours)."""
        cached = self._window_counts.get((wiki, pages))
        if cached is not None and abs(since - cached[0]) < max(3600.0, span / 100):
            return cached[1]
        counted = func.count(distinct(activity.c.page)) if pages else func.count()
        count = conn.execute(
            select(counted).where(activity.c.wiki == wiki, activity.c.time >= since)
        ).scalar()
        self._window_counts[(wiki, pages)] = (since, int(count or 0))
        return int(count or 0)

    def prune_activity(self, before: float, aimed_before: float | None = None) -> int:
        """Forget activity and follows older than `before` (the hounding window), and the
        borderline edits aimed at targets older than `aimed_before`: all stay bounded."""
        with self.engine.begin() as conn:
            conn.execute(follows.delete().where(follows.c.time < before))
            if aimed_before is not None:
                conn.execute(pattern_edits.delete().where(pattern_edits.c.time < aimed_before))
            return conn.execute(activity.delete().where(activity.c.time < before)).rowcount

    @staticmethod
    def _pattern_id(conn: Connection, pattern: str, wiki: str, user: str, target: str) -> int:
        found = conn.execute(
            select(patterns.c.id).where(
                patterns.c.wiki == wiki,
                patterns.c.pattern == pattern,
                patterns.c.user == user,
                patterns.c.target == target,
            )
        ).scalar()
        return int(found or 0)

    def _pattern_flag(
        self,
        conn: Connection,
        pattern: str,
        change: RecentChange,
        target: str,
        rev_ids: list[int],
        score: float,
        rule: RepeatRule | HoundingRule,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
        create: bool = True,
    ) -> int:
        """Extend the pattern flag of (the change's user, target), or raise it (unless not
        `create`); returns 1 if new. `rule` says how it is categorised and routed."""
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
                .values(rev_ids=";".join(map(str, merged)), updated=now)
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
        verdict = rule.verdict
        flag_id, _owner = self._flag_with_owner(
            conn,
            {
                "wiki": change.wiki,
                "kind": PATTERN_KIND,
                "old_rev_id": None,
                "title": f"User talk:{target}",
                "namespace": 3,
                "user": change.user,
                "edit_time": change.timestamp,
                "diff_url": change.diff_url,
                "categories": ";".join(verdict.categories),
                "score": score,
                "rules": ";".join(verdict.rule_ids),
                "severity": verdict.severity,
                "route": ";".join(verdict.routes),
                "status": "new",
                "added_text": None,
                "summary": None,
                "created": now,
            },
            PATTERN_KEY_BASE,
            patterns,
            {
                "wiki": change.wiki,
                "pattern": pattern,
                "user": change.user,
                "target": target,
                "rev_ids": ";".join(map(str, rev_ids)),
                "updated": now,
            },
        )
        if on_flag is not None:
            on_flag(conn, flag_id, Outcome(change, "flagged", verdict))
        return 1

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
