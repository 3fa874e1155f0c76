import pytest

from flagbot.rules import RuleHit
from flagbot.scoring import Texts, decide

T = {"toxic": 0.8}


def test_below_threshold_and_no_rules_is_not_flagged():
    verdict = decide(0.5, [], T)
    assert not verdict.flagged and verdict.routes == () and verdict.severity is None


def test_model_over_threshold_flags_toxic_for_admins():
    verdict = decide(0.9, [], T)
    assert verdict.categories == ("toxic",) and verdict.routes == ("admins",)
    assert verdict.severity == "medium"


def test_rules_add_categories_and_each_category_brings_its_route():
    hits = [RuleHit("pii-x", "pii", "high"), RuleHit("a", "personal_attack", "medium")]
    verdict = decide(0.1, hits, T)
    assert verdict.categories == ("personal_attack", "pii")
    assert set(verdict.routes) == {"oversight", "admins"} and verdict.severity == "high"
    assert verdict.rule_ids == ("pii-x", "a")


def test_emergency_severity_routes_to_emergency_and_oversight():
    verdict = decide(0.1, [RuleHit("t", "threat", "emergency")], T)
    assert verdict.routes == ("emergency", "oversight") and verdict.severity == "emergency"


def test_configured_routes_replace_the_defaults():
    routes = {"personal_attack": ("stewards",), "emergency": ("emergency",)}
    verdict = decide(0.1, [RuleHit("a", "personal_attack", "high")], T, routes)
    assert verdict.routes == ("stewards",)
    verdict = decide(0.1, [RuleHit("p", "pii", "high")], T, routes)
    assert verdict.routes == ("admins",)  # no route configured for pii: review queue only


def test_per_category_thresholds_from_config():
    verdict = decide(0.75, [], {"toxic": 0.8, "personal_attack": 0.7})
    assert verdict.categories == ("personal_attack",)


def test_an_insult_hidden_in_visible_filler_is_scored_on_its_own(scorer, dev_rows):
    """Over max_chars a text is scored in windows: 30,000 characters of real benign comments
    diluted a real insult below the threshold (one score for the whole text)."""
    insult = next(
        t
        for t, label in dev_rows
        if label == "1"
        and 60 < len(t) < 300
        and scorer.verdicts([Texts(t, namespace=1)])[0].score > 0.97
        and not scorer.verdicts([Texts(t, namespace=1)])[0].rule_hits
    )
    benign = [t for t, label in dev_rows if label == "0" and "\n" not in t]
    filler = " ".join(benign)[:30_000]  # one long line: scored in overlapping windows
    text = filler[:15_000] + " " + insult + " " + filler[15_000:]
    verdict = scorer.verdicts([Texts(text, namespace=1)])[0]
    assert verdict.flagged and verdict.score > 0.9
    stored = scorer.excerpt(text, 1)
    assert insult in stored and len(stored) <= scorer.max_chars
    assert scorer.excerpt(insult, 1) == insult  # a text under the cap is stored whole


@pytest.mark.parametrize(
    "threat",
    [
        "I will kill you",
        "I w1ll k1ll y0u",
        "I will k i l l   y o u",
        "I will ki\u200bll you",
        "I will k\u0456ll you",  # Cyrillic і
        "\uff29 \uff57\uff49\uff4c\uff4c \uff4b\uff49\uff4c\uff4c \uff59\uff4f\uff55",  # fullwidth
        "I wi\u00adll kill y\u043eu",  # soft hyphen, Cyrillic о
    ],
)
def test_an_obfuscated_threat_reaches_the_emergency_contact(scorer, threat):
    """l33t, spacing, zero-width, Cyrillic and fullwidth letters beat the rules: at best the
    model sent such a threat to the admins' queue, never to the emergency route."""
    verdict = scorer.verdicts([Texts(f"{threat} if you revert again", namespace=1)])[0]
    assert "threat-kill" in verdict.rule_ids
    assert verdict.severity == "emergency" and "emergency" in verdict.routes


def test_obfuscated_personal_information_reaches_oversight(scorer):
    verdict = scorer.verdicts(
        [Texts("his email is j\u043ehn.sm\u0456th1987@gm\u0430il.com", namespace=1)]
    )[0]
    assert "oversight" in verdict.routes


@pytest.mark.parametrize(
    ("text", "route", "category"),
    [
        ("call her on (415)555-0132 tonight", "oversight", "pii"),
        ("his cell is 4155550132, text him", "oversight", "pii"),
        ("his email is john.smith1987 at gmail dot com", "oversight", "pii"),
        ("I'm going to break your legs", "emergency", "threat"),
        ("you are going to die for this", "emergency", "threat"),
        ("I will find you, and you will regret it", "emergency", "threat"),
        ("I am going to kill myself tonight, nobody here cares", "emergency", "self_harm"),
    ],
)
def test_what_people_actually_post_reaches_the_right_people(scorer, text, route, category):
    """Formats the rules missed, and threats of bodily harm that reached the admins' queue only."""
    verdict = scorer.verdicts([Texts(text, namespace=3)])[0]
    assert category in verdict.categories and route in verdict.routes


@pytest.mark.parametrize(
    "text",
    [
        "See revision 4155550132 for the change",
        "I will find you a better source tomorrow",
        "Look at example dot points in the lead",
        "If I have to read this article one more time I'll kill myself lol",
    ],
)
def test_look_alikes_of_the_new_rules_stay_unflagged_by_rules(scorer, text):
    assert scorer.verdicts([Texts(text, namespace=3)])[0].rule_ids == ()
