"""A model and its card, the types both loaders share (flagbot.classifier for a skops model,
flagbot.cascade for a cascade), so that neither imports the other's loader."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flagbot.errors import ModelError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    card: dict[str, Any]
    estimator: Any

    @property
    def threshold(self) -> float:
        return float(self.card["threshold"])

    @property
    def category(self) -> str:
        return str(self.card.get("category", "toxic"))

    @property
    def languages(self) -> frozenset[str]:
        return card_languages(self.card)

    def score(self, texts: Sequence[str]) -> list[float]:
        """Probability of the model's category for each text (0–1)."""
        if not texts:
            return []
        return [float(p) for p in self.estimator.predict_proba(list(texts))[:, 1]]


def card_languages(card: dict[str, Any]) -> frozenset[str]:
    """The languages a model reads, from its card (a card that names none: English)."""
    return frozenset(card.get("languages", ["en"]))


def check_probability(card_path: Path, what: str, value: Any) -> float:
    """A card's probability (its threshold, a cascade's band), or a ModelError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ModelError(f"{card_path}: {what} must be a number from 0 to 1")  # NaN too
    return float(value)
