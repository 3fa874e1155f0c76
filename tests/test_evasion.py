"""The evasion set (tests/data/evasion/): every trick is caught, few look-alikes are flagged.

Each case is an edit (page before and after) taken through the pipeline's own functions from the
fetched revisions on (`bench/evasion.py` runs the same cases on older code for before/after).
"""

import pytest

from bench.evasion import load_cases, verdict_for
from flagbot import diffs, pipeline, wikitext
from flagbot.scoring import Texts

CASES, LOOKALIKES = load_cases()
MODULES = {"diffs": diffs, "pipeline": pipeline, "wikitext": wikitext}
KNOWN_MISSES = {"workplace"}  # third-person "X works at Y" reads like a biography; see docs


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_trick_is_caught(case, scorer):
    verdict = verdict_for(MODULES, scorer, case)
    caught = verdict is not None and case["category"] in verdict.categories
    if case.get("route"):
        caught = caught and case["route"] in verdict.routes
    if case["name"] in KNOWN_MISSES:
        assert not caught, "a known miss is caught now: take it off KNOWN_MISSES"
    else:
        assert caught, verdict


def test_few_lookalikes_are_flagged_by_the_rules(scorer):
    flagged = [t for t in LOOKALIKES if scorer.verdicts([Texts(t, namespace=1)])[0].rule_hits]
    assert len(flagged) <= 0.05 * len(LOOKALIKES), flagged
