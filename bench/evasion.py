#!/usr/bin/env python3
"""How many evasion tricks and look-alikes get through, on this checkout or an older one.

    python bench/evasion.py [--root PATH]    # PATH: e.g. a git worktree of an older commit

Runs tests/data/evasion/*.yaml (from this checkout) through the code under --root the way the
pipeline treats a fetched edit, and prints caught/evaded per case and the look-alike rate. Uses
only what every version has, so old code can be measured with the same cases.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent.parent
CASES = HERE / "tests" / "data" / "evasion"


def load_cases() -> tuple[list[dict[str, Any]], list[str]]:
    """Each case with `old` and `new` filled in."""
    data = yaml.safe_load((CASES / "cases.yaml").read_text(encoding="utf-8"))
    page = data["page"]
    filler = "".join(f":Thanks, comment {i} is fine by me.\n" for i in range(1000))
    cases = []
    for case in data["cases"]:
        old = case.get("old", "{page}").format(page=page)
        new = case["new"].format(old=old, page=page, pad="pad " * 5000, filler=filler)
        cases.append({**case, "old": old, "new": new})
    lookalikes = yaml.safe_load((CASES / "lookalikes.yaml").read_text(encoding="utf-8"))
    return cases, lookalikes


def score_one(scorer: Any, texts: Any) -> Any:
    """One verdict on a talk page (namespace 1), whichever way this version takes it: Texts
    carrying their namespace, or (added, summary) pairs with a list of namespaces beside."""
    if isinstance(texts, str):
        texts = (texts, "")
    if "namespace" in getattr(texts, "_fields", ()):
        return scorer.verdicts([texts._replace(namespace=1)])[0]
    try:
        return scorer.verdicts([texts], [1])[0]
    except TypeError:  # Texts with a namespace, from a plain pair
        import flagbot.scoring as scoring

        return scorer.verdicts([scoring.Texts(*texts, namespace=1)])[0]


def verdict_for(flagbot: dict[str, Any], scorer: Any, case: dict[str, Any]) -> Any:
    """The verdict the pipeline reaches for the case's edit, or None if it is never scored."""
    diffs, pipeline, wikitext = flagbot["diffs"], flagbot["pipeline"], flagbot["wikitext"]
    names = tuple(n for n in (case.get("title"), case.get("user")) if n)
    if hasattr(diffs, "edit_added"):  # readable added text, no size skip
        added = diffs.edit_added(case["old"], case["new"])
        if hasattr(pipeline, "Texts"):  # titles, user names and quotes checked too
            texts = pipeline.readable_texts(added, "", names)
        else:
            texts = pipeline.readable_texts(added, "")
        return score_one(scorer, texts) if any(texts) else None
    added = diffs.added_wikitext(case["old"], case["new"])
    if len(added) > getattr(scorer, "max_chars", 20000):
        return None  # too_large: never scored
    text = wikitext.readable_text(added)
    return score_one(scorer, text) if text else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", default=str(HERE), help="the flagbot checkout to measure")
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    # the editable install's import hook would find this checkout's flagbot first
    sys.meta_path = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
    names = ("diffs", "pipeline", "wikitext")
    modules = {m: importlib.import_module(f"flagbot.{m}") for m in names}
    config = importlib.import_module("flagbot.config")
    classifier = importlib.import_module("flagbot.classifier")
    rules = importlib.import_module("flagbot.rules")
    settings = config.embedded_default()
    scorer = modules["pipeline"].Scorer.build(
        settings, classifier.load_model("default"), rules.load_rules(Path(args.root) / "rules.yaml")
    )
    cases, lookalikes = load_cases()
    print(f"flagbot from {Path(modules['diffs'].__file__).parent.parent}")
    caught = 0
    for case in cases:
        verdict = verdict_for(modules, scorer, case)
        ok = verdict is not None and case["category"] in verdict.categories
        if ok and case.get("route"):
            ok = case["route"] in verdict.routes
        caught += ok
        print(f"{'caught ' if ok else 'EVADED '} {case['name']}")
    flagged = [t for t in lookalikes if score_one(scorer, t).rule_hits]
    for text in flagged:
        print(f"look-alike flagged by a rule: {text}")
    print(
        f"\n{caught} of {len(cases)} tricks caught, {len(cases) - caught} evade; "
        f"{len(flagged)} of {len(lookalikes)} look-alikes flagged by a rule "
        f"({100 * len(flagged) / len(lookalikes):.1f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
