"""What every pattern detector is: a callable the store runs inside a batch's transaction,
over the rows it hands it (`flagbot.store.activity.PatternTx`), returning its new flags."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from flagbot.config import Settings
from flagbot.rules import RuleHit
from flagbot.scoring import Verdict, decide
from flagbot.store import Detector

__all__ = ["Detector", "pattern_verdict", "verdicts_of"]
HARASSMENT = "harassment"


def pattern_verdict(pattern: str, settings: Settings, wiki_id: str) -> Verdict | None:
    """A pattern flag is categorised and routed as harassment (the admins' queue), as the wiki's
    community settings route it; None where the wiki turned harassment off."""
    wiki = settings.wiki(wiki_id)
    if wiki is not None and HARASSMENT in wiki.off:
        return None
    routes = {**settings.alerts.routes, **(wiki.routes if wiki is not None else {})}
    verdict = decide(1.0, [RuleHit(f"pattern:{pattern}", HARASSMENT, "medium")], {}, routes)
    return dataclasses.replace(verdict, settings_rev=wiki.settings_rev if wiki else 0)


def verdicts_of(pattern: str, settings: Settings) -> Callable[[str], Verdict | None]:
    """A detector's verdict on each wiki (`pattern_verdict`), asked when it flags."""
    return functools.partial(pattern_verdict, pattern, settings)
