"""Model probability + rule hits → Verdict: which categories, how severe, which audience.

Pure: no I/O. Thresholds are per category; the model card gives the model's own category its
threshold and flagbot.yaml may override it or let the model score flag another category too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flagbot.config import SEVERITIES
from flagbot.rules import RuleHit

MODEL_SEVERITY = "medium"
# Who must see a category; the alerts routing fans a route out to recipients.
DEFAULT_ROUTES: Mapping[str, str] = {
    "pii": "oversight",
    "outing": "oversight",
    "threat": "oversight",
    "personal_attack": "admins",
    "harassment": "admins",
    "sexual_harassment": "admins",
    "hate": "admins",
    "legal_threat": "admins",
    "toxic": "admins",
}
ROUTE_ORDER = ("admins", "oversight", "emergency")  # least to most urgent


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float
    rule_hits: tuple[RuleHit, ...]
    categories: tuple[str, ...]
    severity: str | None
    route: str | None
    reasons: tuple[str, ...]

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
    routes: Mapping[str, str] = DEFAULT_ROUTES,
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
    route = None
    if categories:
        wanted = [routes.get(c, "admins") for c in categories]
        if severity == "emergency":
            wanted.append("emergency")
        route = max(wanted, key=lambda r: ROUTE_ORDER.index(r) if r in ROUTE_ORDER else 0)
    return Verdict(
        score=score,
        rule_hits=hits,
        categories=tuple(sorted(categories)),
        severity=severity,
        route=route,
        reasons=tuple(reasons),
    )
