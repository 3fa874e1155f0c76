"""Model probability + rule hits → Verdict: which categories, how severe, which audience.

Pure: no I/O. Thresholds are per category; the model card gives the model's own category its
threshold and flagbot.yaml may override it or let the model score flag another category too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flagbot.config import DEFAULT_ROUTES, SEVERITIES
from flagbot.rules import RuleHit

MODEL_SEVERITY = "medium"
REVIEW_ROUTE = "admins"  # the review queue; categories without a configured route go here


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    rule_hits: tuple[RuleHit, ...]
    categories: tuple[str, ...]
    severity: str | None
    routes: tuple[str, ...]  # every route that hears about it, e.g. ("emergency", "oversight")
    reasons: tuple[str, ...]
    on_names: bool = False  # a page title or user name is flagged text: alerts leave them out

    @property
    def flagged(self) -> bool:
        return bool(self.categories)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(h.rule_id for h in self.rule_hits)


def decide(
    score: float,
    hits: Iterable[RuleHit],
    thresholds: Mapping[str, float],
    routes: Mapping[str, tuple[str, ...]] = DEFAULT_ROUTES,
) -> Verdict:
    hits = tuple(hits)
    categories: dict[str, None] = {}
    severities = []
    reasons = []
    for category, threshold in thresholds.items():
        if score >= threshold:
            categories[category] = None
            severities.append(MODEL_SEVERITY)
            reasons.append(f"model:{category}>={threshold:.3f}")
    for hit in hits:
        categories[hit.category] = None
        severities.append(hit.severity)
        reasons.append(f"rule:{hit.rule_id}")
    severity = max(severities, key=SEVERITIES.index) if severities else None
    wanted: dict[str, None] = {}
    if severity == "emergency":
        wanted.update(dict.fromkeys(routes.get("emergency", ())))
    for category in categories:
        wanted.update(dict.fromkeys(routes.get(category, (REVIEW_ROUTE,))))
    return Verdict(
        score=score,
        rule_hits=hits,
        categories=tuple(sorted(categories)),
        severity=severity,
        routes=tuple(wanted),
        reasons=tuple(reasons),
    )
