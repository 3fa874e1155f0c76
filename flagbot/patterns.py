"""Patterns, not just comments: one author aiming borderline edits at one target, again and
again (repeated targeting), and one user following another from page to page (hounding).

One borderline remark is rarely actionable; several from the same person to the same target in a
week is harassment, which is "characteristically repetitive". For each scored talk-page edit the
pipeline finds its targets (`targets`): the owner of the user talk page it was posted on and the
users it addresses. The store keeps the edits whose score reaches the borderline threshold per
(author, target) and raises one pattern flag for the pair when `count` of them fall within
`days` (`Store._repeated_targeting`); later edits of the pair extend that flag.

Hounding: every edit on the watched wikis, in any namespace (bots and exempt users aside), is
kept as (wiki, user, page, revision, time) for `days` — no text. A user's first edit on a page
within `hours` after another user edited it is a *follow* (`Store._hounding`), unless more
than MAX_LEADERS users edited the page in those hours (a busy page, where all overlap). A
follower F is flagged for a followed user L when F followed L on at least `pages` pages within
`days`, and that is unlikely by chance. Chance is estimated both ways (`expected_follows`):
following people at the rate F follows anyone, F would follow about pages(L) × (share of the
wiki's pages on which F followed someone); and were L as often "just before" F as L is before
everyone, about pages(F) × (share of the wiki's edits that followed L). λ is the larger, and
P(Poisson(λ) ≥ follows) must be at most `max_chance`. Patrollers, reverting admins and
WikiProject regulars follow on a large share of pages, and are followed by everyone, so λ is
large for them and far more follows are needed; a follower who follows almost nobody but L has
a tiny λ. A follower in one of the wiki's `exempt_groups` is never flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mwparserfromhell

from flagbot.config import Settings
from flagbot.events import RecentChange
from flagbot.rules import RuleHit
from flagbot.scoring import Verdict, decide

USER_PAGE_NAMESPACES = (2, 3)  # User, User talk
# templates that notify a user ({{ping|A|B}}, {{reply to|A}}): their unnamed parameters are users
PING_TEMPLATES = frozenset(
    {"ping", "pinging", "reply to", "replyto", "reply", "re", "yo", "mention", "u", "rto"}
)
USER_PREFIXES = ("user", "user talk")
MAX_TARGETS = 10  # a mass ping is an announcement, not a target list
REPEAT_PATTERN, HOUNDING_PATTERN = "repeat", "hounding"
# A first edit follows the users who edited the page in the hours before only when they were at
# most this many: on a busy page everyone "follows" everyone, and that says nothing.
MAX_LEADERS = 2


def user_name(raw: str) -> str:
    """A user name as MediaWiki writes it: spaces, first letter capital, no "User:" prefix."""
    name = " ".join(raw.replace("_", " ").split())
    if name.lower().startswith("user:"):
        name = name[5:].strip()
    return name[:1].upper() + name[1:255]


def page_owner(namespace: int, title: str) -> str:
    """Whose user page or user talk page (or subpage) this is; "" for any other page."""
    if namespace not in USER_PAGE_NAMESPACES or ":" not in title:
        return ""
    return user_name(title.split(":", 1)[1].split("/", 1)[0])


def targets(change: RecentChange, added_wikitext: str, replied_to: str = "") -> tuple[str, ...]:
    """Whom an edit is aimed at: the owner of the user talk page it was posted on, the user
    whose comment it replies to (`flagbot.diffs.replied_to`), and the users it pings or links;
    never its author (a signature links the author's own page)."""
    found = [page_owner(change.namespace, change.title), replied_to]
    if "{{" not in added_wikitext and "[[" not in added_wikitext:
        added_wikitext = ""  # no ping, no link: the text was parsed once already, spare it
    try:
        code = mwparserfromhell.parse(added_wikitext)
        for template in code.filter_templates(recursive=True):
            if str(template.name).strip().lower().replace("_", " ") in PING_TEMPLATES:
                found += [str(p.value) for p in template.params if not p.showkey]
        for link in code.filter_wikilinks(recursive=True):
            prefix, _, rest = str(link.title).partition(":")
            if prefix.strip().lower().replace("_", " ") in USER_PREFIXES:
                found.append(rest.split("/", 1)[0])
    except Exception:  # noqa: BLE001 - odd wikitext: the page owner is still a target
        pass
    author = user_name(change.user)
    names = dict.fromkeys(n for n in map(user_name, found) if n and n != author and "{" not in n)
    return tuple(names)[:MAX_TARGETS]


def pattern_verdict(pattern: str, settings: Settings) -> Verdict:
    """A pattern flag is categorised and routed as harassment (the admins' queue)."""
    hit = RuleHit(f"pattern:{pattern}", "harassment", "medium")
    return decide(1.0, [hit], {}, settings.alerts.routes)


@dataclass(frozen=True)
class RepeatRule:
    """Repeated targeting as the store applies it: `count` edits scoring at least
    `borderline` within `days`; the pattern flag is categorised and routed as `verdict`."""

    count: int
    days: float
    borderline: float
    verdict: Verdict

    @classmethod
    def build(cls, settings: Settings, card: dict[str, Any]) -> RepeatRule:
        repeat = settings.repeat
        return cls(
            count=repeat.count,
            days=repeat.days,
            borderline=repeat.borderline or borderline_threshold(card),
            verdict=pattern_verdict(REPEAT_PATTERN, settings),
        )


# (wiki id, user) → whether the user is in one of the wiki's `exempt_groups`
ExemptLookup = Callable[[str, str], bool]


@dataclass(frozen=True)
class HoundingRule:
    """Hounding as the store applies it (see the module docstring). `exempt` is asked only
    about a follower about to be flagged: a group lookup for every editor of a wiki would be a
    request per edit."""

    pages: int
    hours: float
    days: float
    max_chance: float
    verdict: Verdict
    exempt: ExemptLookup | None = None

    @classmethod
    def build(cls, settings: Settings, exempt: ExemptLookup | None = None) -> HoundingRule:
        h = settings.hounding
        verdict = pattern_verdict(HOUNDING_PATTERN, settings)
        return cls(h.pages, h.hours, h.days, h.max_chance, verdict, exempt)


@dataclass(frozen=True)
class PatternRules:
    """Both detectors, as the pipeline hands them to the store."""

    repeat: RepeatRule
    hounding: HoundingRule

    @classmethod
    def build(
        cls, settings: Settings, card: dict[str, Any], exempt: ExemptLookup | None = None
    ) -> PatternRules:
        return cls(RepeatRule.build(settings, card), HoundingRule.build(settings, exempt))


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


def borderline_threshold(card: dict[str, Any], precision: float = 0.6) -> float:
    """The lowest threshold in the model card's table with at least `precision` on dev: an
    edit this likely to be abusive counts towards a pattern, not towards an alert."""
    table = card.get("metrics", {}).get("dev", {}).get("threshold_table", [])
    good = [row["threshold"] for row in table if row.get("precision", 0) >= precision]
    return float(min(good)) if good else float(card.get("threshold", 0.5))
