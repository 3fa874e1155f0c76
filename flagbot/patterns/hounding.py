"""Hounding: one user following another from page to page.

Every edit on the watched wikis, in any namespace (bots and exempt users aside), is kept as
(wiki, user, page, revision, time) for `days` — no text. A user's first edit on a page within
`hours` after another user edited it is a *follow*, unless more than MAX_LEADERS users edited
the page in those hours (a busy page, where all overlap), or anyone there invited F. A
follower F is flagged for a followed user L when F followed L on at least `pages` pages within
`days`, and that is unlikely by chance. Chance is estimated both ways (`expected_follows`):
following people at the rate F follows anyone, F would follow about pages(L) × (share of the
wiki's pages on which F followed someone); and were L as often "just before" F as L is before
everyone, about pages(F) × (share of the wiki's edits that followed L). λ is the larger, and
P(Poisson(λ) ≥ follows) must be at most `max_chance`. Patrollers, reverting admins and
WikiProject regulars follow on a large share of pages, and are followed by everyone, so λ is
large for them and far more follows are needed; a follower who follows almost nobody but L has
a tiny λ. A follower in one of the wiki's `exempt_groups` is never flagged.

Waiting is no escape: a first edit up to `long_hours` (a week) after L's is a follow too, on a
page where at most MAX_LEADERS others edited in that week, and the pair is tested a second time
on those follows alone, at LONG_FACTOR × `pages` of them (both tests' odds multiplied by two).
An answer to an invitation follows nobody: a ping, a reply, a post on F's talk page, or a
heading that names F ("== Vic_99's edits =="; its word runs are kept only as hashes keyed by a
secret of this database, `PatternTx.mention_key`). What the detector cannot see: several
accounts of one person (two socks editing just before the hounder make a page look busy;
alternating accounts split the follows), and an invitation that names F only further down.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flagbot.config import Settings, WikiSettings
from flagbot.events import RecentChange
from flagbot.patterns.base import verdicts_of
from flagbot.patterns.targets import mention_key, page_owner
from flagbot.scoring import Verdict
from flagbot.store.activity import Batch, PageHistory, PatternTx
from flagbot.store.schema import HOUNDING_PATTERN

# A first edit follows the users who edited the page in the hours before only when they were at
# most this many: on a busy page everyone "follows" everyone, and that says nothing.
MAX_LEADERS = 2

LONG_FACTOR = 2  # the long window's follows needed, in multiples of `pages`
# (wiki id, user) → whether the user is in one of the wiki's `exempt_groups`
ExemptLookup = Callable[[str, str], bool]


@dataclass(frozen=True)
class HoundingRule:
    """Hounding's settings (see the module docstring). `exempt` is asked only about a follower
    about to be flagged: a group lookup for every editor of a wiki would be a request per edit."""

    pages: int
    hours: float
    days: float
    max_chance: float
    verdict: Callable[[str], Verdict | None]  # on a wiki (None: harassment off there)
    exempt: ExemptLookup | None = None
    long_hours: float = 0.0  # the second window (0: none)
    wiki: Callable[[str], WikiSettings | None] = lambda _: None  # its community settings

    @classmethod
    def build(cls, settings: Settings, exempt: ExemptLookup | None = None) -> HoundingRule:
        h = settings.hounding
        verdict = verdicts_of(HOUNDING_PATTERN, settings)
        return cls(
            h.pages, h.hours, h.days, h.max_chance, verdict, exempt, h.long_hours, settings.wiki
        )

    def max_chance_on(self, wiki_id: str) -> float:
        """`max_chance` on a wiki: its community settings page's, else this."""
        wiki = self.wiki(wiki_id)
        return (
            self.max_chance
            if wiki is None
            else wiki.pattern_setting("hounding", "max_chance", self.max_chance)
        )

    @property
    def window(self) -> float:
        """The longest gap (seconds) after which a first edit is still a follow."""
        return max(self.hours, self.long_hours) * 3600


@dataclass(frozen=True)
class Hounding:
    rule: HoundingRule

    def __call__(self, tx: PatternTx, batch: Batch) -> int:
        """Keep the batch's activity; each new edit that is its user's first on a page within
        `hours` after others edited it is a follow of each of them; a pair with `pages` follows
        within `days` is tested against chance and flagged, or its flag extended. A handful of
        queries per batch, not per edit (Wikimedia's full rate is ~90 edits/s at peak).

        Invitations are no following: an edit on one's own user pages, or on a page where
        anyone's edit in those hours addressed one (a ping, a reply, a post on one's talk page)
        — the leader's own, or a third user's that the leader replied to. Without this, an
        attacker who pinged a victim on five quiet pages got the victim, answering politely on
        each, flagged as hounding the attacker."""
        if not batch.edits:
            return 0
        rule = self.rule
        key = tx.mention_key()
        invited = {  # whom each edit addressed, and (hashed) whom its headings named
            (o.change.wiki, o.change.key): (*o.targets, *(mention_hash(key, m) for m in o.mentions))
            for o in batch.outcomes
        }
        new = tx.keep_activity(batch.edits, invited)
        if not new:
            return 0
        hours = rule.hours * 3600
        history = tx.page_history(new, hours, rule.window, rule.days * 86400, MAX_LEADERS)
        found = follows(new, history, hours, rule.window, key)
        tx.keep_follows(found)
        latest = {(f["wiki"], f["follower"], f["followed"]): f for f in found}
        by_key = {(c.wiki, c.key): c for c in new}  # a flag links the follower's latest edit
        return sum(
            self._test_pair(tx, follow, by_key[(follow["wiki"], follow["rev_id"])], count, near)
            for follow, count, near in tx.pairs_over(latest, rule.pages, rule.days * 86400, hours)
        )

    def _test_pair(
        self, tx: PatternTx, follow: dict[str, Any], change: RecentChange, count: int, near: int
    ) -> int:
        """Extend the pair's hounding flag, or flag it if its follows are unlikely by chance.
        Each window is tested on its own follows against its own chance (`hours`; and
        `long_hours` at LONG_FACTOR × `pages` follows, so that waiting a day and an hour is no
        escape), the odds multiplied by the number of tests. A pair explained by chance is
        tested again at `pages` more follows, not at each one (patrollers follow hundreds)."""
        rule = self.rule
        wiki, follower, followed = follow["wiki"], follow["follower"], follow["followed"]
        flagged = tx.pattern_id(HOUNDING_PATTERN, wiki, follower, followed)
        if not flagged and count >= 2 * rule.pages and count % rule.pages:
            return 0
        since = follow["time"] - rule.days * 86400
        rev_ids = tx.follow_rev_ids(wiki, follower, followed, since)
        odds = 0.0
        if not flagged:
            gaps = [rule.hours * 3600] if near >= rule.pages else []
            # the long window needs twice the follows: over a week, people who work on the same
            # topic (a WikiProject) come to the same pages too, and chance cannot tell them apart
            if rule.window > rule.hours * 3600 and count >= LONG_FACTOR * rule.pages:
                gaps.append(rule.window)
            span = rule.days * 86400
            tests = [
                chance(
                    len(tx.follow_rev_ids(wiki, follower, followed, since, gap)),
                    expected_follows(
                        **tx.follow_counts(wiki, follower, followed, since, span, gap)
                    ),
                )
                for gap in gaps
            ]
            odds = min(1.0, min(tests) * len(tests)) if tests else 1.0
            if odds > rule.max_chance_on(wiki) or (rule.exempt and rule.exempt(wiki, follower)):
                return 0  # chance explains it, or following is their job (exempt groups)
        verdict = rule.verdict(wiki)
        if verdict is None:
            return 0  # the wiki's community turned harassment off
        return tx.pattern_flag(HOUNDING_PATTERN, change, followed, rev_ids, 1.0 - odds, verdict)


def mention_hash(key: bytes, words: str) -> str:
    """A heading's run of words as kept: keyed, short, marked apart from user names."""
    return "#" + hashlib.blake2b(words.encode(), key=key, digest_size=8).hexdigest()


def follows(
    new: list[RecentChange],
    history: PageHistory,
    hours: float,
    window: float | None = None,
    key: bytes = b"",
) -> list[dict[str, Any]]:
    """The follows among the batch's new edits (in time order), given each page's history: of
    the users who edited the page in the `window` seconds before, or — when more than
    MAX_LEADERS did — of those in the `hours` before. A page with more than MAX_LEADERS others in
    the `hours` before is busy: no follows there."""
    window = max(window or hours, hours)
    found: list[dict[str, Any]] = []
    for change in new:
        if page_owner(change.namespace, change.title) == change.user:
            continue  # one's own user pages: never following anyone there
        seen = history.get((change.wiki, change.title), [])
        if any(u == change.user and (t, r) < (change.timestamp, change.key) for t, r, u, _ in seen):
            continue  # not the user's first edit on the page: re-edits are no following
        leaders: dict[str, int] = {}
        near: set[str] = set()
        inviters: set[str] = set()
        addressee = {change.user, mention_hash(key, mention_key(change.user))}
        for when, rev_id, user, addressed in seen:
            recent = change.timestamp - window <= when <= change.timestamp
            if recent and user != change.user and rev_id != change.key:
                leaders[user] = max(leaders.get(user, when), when)
                if when >= change.timestamp - hours:
                    near.add(user)
                if not addressee.isdisjoint(addressed.split(";")):
                    inviters.add(user)  # pinged, replied to, or named in a heading
        if len(near) > MAX_LEADERS:
            continue  # a busy page: everyone there overlaps, nobody is followed
        if len(leaders) > MAX_LEADERS:  # lively over the longer window: only the near ones
            leaders = {user: led for user, led in leaders.items() if user in near}
        if inviters:  # someone there asked this user to come: an answer, following nobody
            continue
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
    return found


def expected_follows(
    followed_pages: int,
    follower_pages: int,
    follower_follows: int,
    followed_followed: int,
    wiki_pages: int,
    wiki_edits: int,
) -> float:
    """How many follows of the followed user by the follower chance explains, the larger of:
    - the followed user's pages × the share of the wiki's pages on which the follower followed
      anyone (a patroller follows on a large share of pages);
    - the follower's pages × the share of the wiki's edits that followed the followed user (a
      patroller is followed by everyone: they were there just before).
    """
    by_follower = followed_pages * min(follower_follows / max(wiki_pages, 1), 1.0)
    by_followed = follower_pages * min(followed_followed / max(wiki_edits, 1), 1.0)
    return max(by_follower, by_followed)


def chance(shared: int, expected: float) -> float:
    """P(Poisson(expected) ≥ shared): how likely this many follows are by chance."""
    if shared <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    if shared <= expected:  # at or below the mean: 1 - the lower tail, no rounding to fear
        term, below = math.exp(-expected), 0.0
        for i in range(shared):
            below += term
            term *= expected / (i + 1)
        return max(0.0, 1.0 - below)
    log_term = -expected + shared * math.log(expected) - math.lgamma(shared + 1)
    total, i = 0.0, shared
    while True:  # the tail summed term by term: 1 - CDF loses everything to rounding
        term = math.exp(log_term)
        total += term
        i += 1
        if term <= total * 1e-12 or i > shared + 100_000:
            return min(total, 1.0)
        log_term += math.log(expected) - math.log(i)
