#!/usr/bin/env python3
"""Held-out detection cases (issue 25), on this checkout or an older one:

    python bench/heldout.py [--root PATH] [--show-open]   # PATH: a worktree of an older commit

Scores bench/heldout/open.yaml (the half to build against) and sealed.yaml (scored, never read
while building) the way the pipeline scores an added comment on a talk page, each abusive case
also in two disguises nobody tuned to: one accented letter in every word, and its words split
by markup readers do not see as glue (<br>, table cells). Per category: recall (flagged *with
the expected category*: a threat must reach the emergency contact, outing the oversighters),
and for benign cases the share flagged at all. --show-open lists the open half's misses; the
sealed half's are never printed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import unicodedata
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
# what counts as caught, per expected category
CAUGHT = {
    "threat": {"threat"},
    "outing": {"outing", "pii"},
    "hate": {"hate"},
    "sexual_harassment": {"sexual_harassment"},
    "attack": {"toxic", "personal_attack", "harassment", "hate", "threat"},
}
# accents readers read through: a combining mark on one letter of every word
ACCENTS = ("\u0301", "\u0300", "\u0308", "\u0302", "\u0304")


def accented(text: str) -> str:
    words = []
    for i, word in enumerate(text.split(" ")):
        at = next((j for j, ch in enumerate(word) if ch.isalpha()), None)
        if at is not None:
            mark = ACCENTS[i % len(ACCENTS)]
            word = unicodedata.normalize("NFC", word[: at + 1] + mark + word[at + 1 :])
        words.append(word)
    return " ".join(words)


def glued(text: str) -> str:
    """Half the words after a <br>, the rest in the next table cell."""
    words = text.split(" ")
    third = max(1, len(words) // 3)
    first, second, rest = words[:third], words[third : 2 * third], words[2 * third :]
    return f"{{|\n|{' '.join(first)}<br>{' '.join(second)}||{' '.join(rest)}\n|}}"


def load(root: Path) -> Any:
    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m == "flagbot" or m.startswith("flagbot.")]:
        del sys.modules[name]
    config = importlib.import_module("flagbot.config")
    try:
        build_scorer = importlib.import_module("flagbot.bot").build_scorer
    except ImportError:
        build_scorer = importlib.import_module("flagbot.pipeline").build_scorer
    return build_scorer(config.embedded_default()), importlib.import_module("flagbot")


def categories(scorer: Any, flagbot: Any, wikitext: str) -> set[str]:
    readable = importlib.import_module("flagbot.wikitext").readable_text(wikitext)
    scoring = importlib.import_module("flagbot.scoring")
    texts = scoring.Texts(readable, "")
    if "namespace" in scoring.Texts._fields:
        texts = texts._replace(namespace=1)
    verdict = scorer.verdicts([texts])[0]
    return set(verdict.categories) if verdict.flagged else set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(HERE.parent))
    parser.add_argument("--show-open", action="store_true")
    args = parser.parse_args()
    scorer, flagbot = load(Path(args.root))
    print("| half | category | n | plain | accented | markup |\n|---|---|---:|---:|---:|---:|")
    for half in ("open", "sealed"):
        cases = yaml.safe_load((HERE / "heldout" / f"{half}.yaml").read_text())["cases"]
        by: dict[str, list[dict[str, Any]]] = {}
        for case in cases:
            by.setdefault(case["expect"], []).append(case)
        for expect, group in by.items():
            row = []
            for disguise in (str, accented, glued):
                hits = 0
                for case in group:
                    found = categories(scorer, flagbot, disguise(case["text"]))
                    hit = bool(found) if expect == "none" else bool(found & CAUGHT[expect])
                    hits += hit
                    wrong = hit if expect == "none" else not hit
                    if args.show_open and half == "open" and disguise is str and wrong:
                        print(f"  open miss [{expect}] {sorted(found)}: {case['text']}")
                row.append(f"{hits}/{len(group)}")
            label = "flagged (benign)" if expect == "none" else expect
            print(f"| {half} | {label} | {len(group)} | {' | '.join(row)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
