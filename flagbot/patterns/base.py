"""What every pattern detector is: a callable the store runs inside a batch's transaction,
over the rows it hands it (`flagbot.store.activity.PatternTx`), returning its new flags."""

from __future__ import annotations

from flagbot.config import Settings
from flagbot.rules import RuleHit
from flagbot.scoring import Verdict, decide
from flagbot.store import Detector

__all__ = ["Detector", "pattern_verdict"]


def pattern_verdict(pattern: str, settings: Settings) -> Verdict:
    """A pattern flag is categorised and routed as harassment (the admins' queue)."""
    hit = RuleHit(f"pattern:{pattern}", "harassment", "medium")
    return decide(1.0, [hit], {}, settings.alerts.routes)
