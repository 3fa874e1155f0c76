"""Patterns, not just comments: repeated targeting (`repeat`) and hounding (`hounding`).

Each detector is a callable (`base.Detector`) that the store runs inside a batch's transaction
over the rows it hands it (`flagbot.store.activity.PatternTx`: SQL only), so a restart neither
loses nor repeats what an edit adds. The pipeline finds each scored edit's targets
(`targets.targets`) and builds the detectors once (`build_detectors`). A new detector is a
module here, a line in `build_detectors`, and the queries it needs in `PatternTx`.
"""

from __future__ import annotations

from typing import Any

from flagbot.config import Settings
from flagbot.patterns.base import Detector, pattern_verdict
from flagbot.patterns.hounding import (
    MAX_LEADERS,
    ExemptLookup,
    Hounding,
    HoundingRule,
    chance,
    expected_follows,
)
from flagbot.patterns.repeat import RepeatedTargeting, RepeatRule, borderline_threshold
from flagbot.patterns.targets import mention_key, mentions, page_owner, targets, user_name
from flagbot.store.schema import HOUNDING_PATTERN, REPEAT_PATTERN

__all__ = [
    "HOUNDING_PATTERN",
    "MAX_LEADERS",
    "REPEAT_PATTERN",
    "Detector",
    "Hounding",
    "HoundingRule",
    "RepeatRule",
    "RepeatedTargeting",
    "borderline_threshold",
    "build_detectors",
    "chance",
    "expected_follows",
    "mention_key",
    "mentions",
    "page_owner",
    "pattern_verdict",
    "targets",
    "user_name",
]


def build_detectors(
    settings: Settings, card: dict[str, Any], exempt: ExemptLookup | None = None
) -> tuple[Detector, ...]:
    """The pattern detectors the bot runs on every batch, in this order."""
    return (
        RepeatedTargeting(RepeatRule.build(settings, card)),
        Hounding(HoundingRule.build(settings, exempt)),
    )
