"""Patterns, not just comments: one author aiming borderline edits at one target, again and
again (repeated targeting).

One borderline remark is rarely actionable; several from the same person to the same target in a
week is harassment, which is "characteristically repetitive". For each scored talk-page edit the
pipeline finds its targets (`targets`): the owner of the user talk page it was posted on and the
users it addresses. The store keeps the edits whose score reaches the borderline threshold per
(author, target) and raises one pattern flag for the pair when `count` of them fall within
`days` (`Store.record_patterns`); later edits of the pair extend that flag.
"""

from __future__ import annotations

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
REPEAT_PATTERN = "repeat"


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


def targets(change: RecentChange, added_wikitext: str) -> tuple[str, ...]:
    """Whom an edit is aimed at: the owner of the user talk page it was posted on, and the
    users it pings or links; never its author (a signature links the author's own page)."""
    found = [page_owner(change.namespace, change.title)]
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
        hit = RuleHit(f"pattern:{REPEAT_PATTERN}", "harassment", "medium")
        return cls(
            count=repeat.count,
            days=repeat.days,
            borderline=repeat.borderline or borderline_threshold(card),
            verdict=decide(1.0, [hit], {}, settings.alerts.routes),
        )


def borderline_threshold(card: dict[str, Any], precision: float = 0.6) -> float:
    """The lowest threshold in the model card's table with at least `precision` on dev: an
    edit this likely to be abusive counts towards a pattern, not towards an alert."""
    table = card.get("metrics", {}).get("dev", {}).get("threshold_table", [])
    good = [row["threshold"] for row in table if row.get("precision", 0) >= precision]
    return float(min(good)) if good else float(card.get("threshold", 0.5))
