"""Repeated targeting: one author aiming borderline edits at one target, again and again.

One borderline remark is rarely actionable; several from the same person to the same target in
a week is harassment, which is "characteristically repetitive". The edits whose score reaches
the borderline threshold are kept per (author, target); a pair with `count` of them within
`days` gets one pattern flag, which later edits of the pair extend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flagbot.config import Settings, WikiSettings
from flagbot.patterns.base import verdicts_of
from flagbot.scoring import Verdict
from flagbot.store.activity import Batch, PatternTx
from flagbot.store.schema import REPEAT_PATTERN


@dataclass(frozen=True)
class RepeatRule:
    """`count` edits scoring at least `borderline` within `days`; the pattern flag is
    categorised and routed as `verdict` says on its wiki (None: not flagged there)."""

    count: int
    days: float
    borderline: float
    verdict: Callable[[str], Verdict | None]
    wiki: Callable[[str], WikiSettings | None] = lambda _: None  # its community settings

    def on(self, wiki_id: str) -> tuple[int, float]:
        """`count` and `days` on a wiki: its community settings page's, else these."""
        wiki = self.wiki(wiki_id)
        if wiki is None:
            return self.count, self.days
        count = int(wiki.pattern_setting("repeat", "count", self.count))
        return count, wiki.pattern_setting("repeat", "days", self.days)

    @classmethod
    def build(cls, settings: Settings, card: dict[str, Any]) -> RepeatRule:
        repeat = settings.repeat
        return cls(
            count=repeat.count,
            days=repeat.days,
            borderline=repeat.borderline or borderline_threshold(card),
            verdict=verdicts_of(REPEAT_PATTERN, settings),
            wiki=settings.wiki,
        )


@dataclass(frozen=True)
class RepeatedTargeting:
    rule: RepeatRule

    def __call__(self, tx: PatternTx, batch: Batch) -> int:
        """Keep the batch's new borderline edits per target; flag (or extend) each pair with
        `count` of them within `days`, each edit in time order with the window that ends at it
        (a batch may span weeks). Returns new flags."""
        rule = self.rule
        aimed = [
            o for o in batch.fresh if o.targets and o.verdict and o.verdict.score >= rule.borderline
        ]
        if not aimed:
            return 0
        tx.keep_aimed(aimed)
        new_flags = 0
        for item in sorted(aimed, key=lambda o: o.change.timestamp):
            change = item.change
            verdict = rule.verdict(change.wiki)
            if verdict is None:
                continue  # the wiki's community turned harassment off
            count, days = rule.on(change.wiki)
            for target in item.targets:
                edits = tx.aimed_within(change, target, days * 86400)
                # under the count, an edit only extends a pair's flag that already exists
                new_flags += tx.pattern_flag(
                    REPEAT_PATTERN,
                    change,
                    target,
                    [r for r, _ in edits],
                    max(s for _, s in edits),
                    verdict,
                    create=len(edits) >= count,
                )
        return new_flags


def borderline_threshold(card: dict[str, Any], precision: float = 0.6) -> float:
    """The lowest threshold in the model card's table with at least `precision` on dev: an
    edit this likely to be abusive counts towards a pattern, not towards an alert."""
    table = card.get("metrics", {}).get("dev", {}).get("threshold_table", [])
    good = [row["threshold"] for row in table if row.get("precision", 0) >= precision]
    return float(min(good)) if good else float(card.get("threshold", 0.5))
