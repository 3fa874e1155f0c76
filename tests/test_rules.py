import dataclasses
import re
import time

import pytest

from flagbot.errors import RulesError
from flagbot.literals import digit_count, min_digits, required_literal_sets, required_literals
from flagbot.rules import load_rules, parse_rules

RULE = """rules:
  - id: attack
    description: an insult
    category: personal_attack
    severity: medium
    patterns: ['\\bidiot\\b']
    examples: {match: ["you idiot"], no_match: ["idiom"]}
"""


def test_starter_rules_load_and_pass_their_own_examples(ruleset):
    assert len(ruleset.rules) >= 30
    assert ruleset.check_examples() == []
    for rule in ruleset.rules:
        assert rule.examples_match and rule.examples_no_match, rule.id


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("call him on +44 7700 900123", "pii"),
        ("I know where you live", "threat"),
        ("your real name is John Smith", "outing"),
        ("I will sue you", "legal_threat"),
    ],
)
def test_starter_rules_catch_their_categories(ruleset, text, category):
    assert category in {h.category for h in ruleset.match(text, score=0.0)}


@pytest.mark.parametrize(
    "text",
    [
        "Signed 12:34, 5 March 2024 (UTC), see [[Special:Diff/1187654321]]",
        "ISBN 978-0-306-40615-7, coordinates 51.5074° N, 0.1278° W",
        "I'll kill this section, it duplicates the lead",
        "Per WP:OUTING, do not post personal information",
    ],
)
def test_starter_rules_leave_talk_page_look_alikes_alone(ruleset, text):
    assert ruleset.match(text, score=0.0) == []


def test_hits_carry_no_matched_text(ruleset):
    hit = ruleset.match("I know where you live")[0]
    assert set(hit.__slots__) == {"rule_id", "category", "severity"}


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            ("category: personal_attack", "category: rudeness"),
            "rules.yaml:2: rule attack: unknown category 'rudeness'",
        ),
        (
            ("severity: medium", "severity: dire"),
            "rules.yaml:2: rule attack: unknown severity 'dire'",
        ),
        (
            ("patterns: ['\\bidiot\\b']", "patterns: ['(unclosed']"),
            "rules.yaml:2: rule attack: bad regex '(unclosed'",
        ),
        (
            ("    examples:", "    colour: red\n    examples:"),
            "rules.yaml:2: rule attack: unknown key 'colour'",
        ),
        (("  - id: attack\n", "  - description2: x\n"), "rule ?: missing id"),
        (("patterns: ['\\bidiot\\b']", "patterns: []"), "rule attack: needs at least one pattern"),
    ],
)
def test_load_errors_name_file_line_rule_and_problem(edit, problem):
    with pytest.raises(RulesError) as caught:
        parse_rules(RULE.replace(*edit), "rules.yaml")
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_duplicate_ids_and_broken_yaml_are_rejected():
    with pytest.raises(RulesError, match="duplicate id"):
        parse_rules(RULE + RULE.split("rules:\n")[1].replace("\n  - id", "\n  - id"), "r.yaml")
    with pytest.raises(RulesError, match="not valid YAML"):
        parse_rules("rules: [", "r.yaml")
    with pytest.raises(RulesError, match="cannot read"):
        load_rules("/nonexistent/rules.yaml")


def test_pathological_pattern_is_refused_at_load():
    bad = RULE.replace("patterns: ['\\bidiot\\b']", "patterns: ['(\\w+\\s?)+$']")
    started = time.monotonic()
    with pytest.raises(RulesError, match="backtracks catastrophically"):
        parse_rules(bad, "rules.yaml")
    assert time.monotonic() - started < 30  # a safety bound, not a speed target


def test_every_match_is_bounded_even_on_a_100kb_input(ruleset):
    # a pattern that passes the load probes but explodes on a longer, different input
    sneaky = RULE.replace("patterns: ['\\bidiot\\b']", "patterns: ['(q+q+)+y']")
    rules = parse_rules(
        sneaky.replace('no_match: ["idiom"]', "no_match: []").replace('match: ["you idiot"], ', ""),
        "r.yaml",
    )
    started = time.monotonic()
    assert rules.match("q" * 100_000) == []  # timed out: no hit, no freeze
    assert ruleset.match("word " * 20_000 + "I know where you live")[0].category == "threat"
    assert time.monotonic() - started < 60  # a safety bound, not a speed target


def test_min_score_combines_model_and_pattern():
    rules = parse_rules(
        RULE.replace("    examples:", "    min_score: 0.5\n    examples:"), "r.yaml"
    )
    assert rules.match("you idiot", score=0.4) == []
    assert rules.match("you idiot", score=0.6)[0].rule_id == "attack"


def test_namespaces_limit_a_rule():
    rules = parse_rules(
        RULE.replace("    examples:", "    namespaces: [3]\n    examples:"), "r.yaml"
    )
    assert rules.match("you idiot", namespace=1) == []
    assert rules.match("you idiot", namespace=3)


def test_failing_examples_are_reported_with_file_line_and_rule():
    rules = parse_rules(RULE.replace('no_match: ["idiom"]', 'no_match: ["an idiot"]'), "rules.yaml")
    assert rules.check_examples() == [
        "rules.yaml:2: rule attack: example should not match but does: 'an idiot'"
    ]


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"\bidiot\b", {"idiot"}),
        (r"\b(?:kill|murder)s?\s+you\b", {"kill", "murder"}),  # the run breaks at \s+
        (r"\bn+[i1]+g{2,}a\b", {"gga"}),  # x{2,} begins and ends with xx
        (r"(?=0)(?<![\d.-])0[67](?:[\s.]\d{2}){4}", {"06", "07"}),
        (r"[A-Z]{2}\d+", None),  # nothing literal is required
        (r"\p{Lu}ser", None),  # syntax only the regex module knows: no prefilter
        (r"(?:foo)?bar|baz", {"bar", "baz"}),
    ],
)
def test_required_literals_come_from_the_pattern(pattern, literals):
    found = required_literals(pattern, re.IGNORECASE)
    assert (set(found) if found is not None else None) == literals


def test_a_lookbehind_s_literals_are_required_too():
    """A pattern that starts at its rarest word and looks behind for the rest (fast on long
    comments) still lets the prefilter skip texts without the rest; a negative lookaround
    requires nothing."""
    sets = required_literal_sets(r"\bvermin\b(?<=\b(?:rats|mice)\s+are\s+vermin)", re.I)
    assert set(sets) == {frozenset({"vermin"}), frozenset({"rats", "mice"}), frozenset({"are"})}
    assert set(required_literal_sets(r"\bvermin\b(?<!\bnot\s+vermin)", re.I)) == {
        frozenset({"vermin"})
    }


def test_a_pattern_needs_one_literal_of_each_of_its_sets():
    sets = required_literal_sets(r"\bI\s+know\s+where\s+(?:you|u)\s+(?:live|work)\b", re.I)
    assert set(sets) == {frozenset({"know"}), frozenset({"where"}), frozenset({"live", "work"})}
    assert required_literal_sets(r"[A-Z]{2}\d+", re.I) is None


def test_only_patterns_whose_literals_are_all_present_are_searched():
    rules = parse_rules(
        RULE.replace(r"['\bidiot\b']", r"['\bI know where you live\b', '\bidiot\b']")
    )
    searched = []
    rule = rules.rules[0]
    spy = [_Spy(p, searched) for p in rule.patterns]
    spied = dataclasses.replace(rules, rules=(dataclasses.replace(rule, patterns=tuple(spy)),))
    assert [h.rule_id for h in spied.match("you idiot, I know you", score=0.0)] == ["attack"]
    assert searched == [r"\bidiot\b"]  # "where" and "live" are missing: never searched
    searched.clear()
    assert [h.rule_id for h in spied.match("I KNOW WHERE YOU LIVE", score=0.0)] == ["attack"]
    assert searched == [r"\bI know where you live\b"]


class _Spy:
    """A compiled pattern that records which patterns were searched."""

    def __init__(self, pattern, log):
        self.pattern, self._compiled, self._log = pattern.pattern, pattern, log

    def search(self, text, **kwargs):
        self._log.append(self.pattern)
        return self._compiled.search(text, **kwargs)


@pytest.mark.parametrize(
    ("pattern", "digits"),
    [
        (r"\(?[2-9]\d{2}\)?[\s.-]\d{3}[\s.-]\d{4}", 10),  # a phone number
        (r"(?<=\d{4})call", 0),  # lookarounds are not part of the match
        (r"(?:\d{3}|none)-\d", 1),  # the cheaper alternative counts
        (r"[0-9]{2,}|[٠-٩]{3}", 2),  # other scripts' digits are digits too
        (r"[^0-9]{5}\w\d?", 0),  # negations, word characters, optional digits: none sure
        (r"\p{Nd}{5}", 0),  # only the regex module reads this: nothing known
    ],
)
def test_the_digits_every_match_holds_come_from_the_pattern(pattern, digits):
    assert min_digits(pattern, 0) == digits


def test_the_digit_gate_counts_every_script_s_digits():
    arabic_indic = "اتصل على ٤١٥-٥٥٥-٠١٣٢"
    assert digit_count(arabic_indic) == 10
    assert digit_count("on 2024-01-05, rev 1187654321") == 18
    rules = parse_rules(RULE.replace("\\bidiot\\b", "\\d{3}-\\d{3}-\\d{4}"))
    assert rules.rules[0].digits == (10,)
    assert [h.rule_id for h in rules.match(arabic_indic, score=0.0)] == ["attack"]
    assert rules.match("call 555-0132, 2024", score=0.0) == []


def test_pattern_python_cannot_parse_runs_without_prefilter():
    rules = parse_rules(RULE.replace("\\bidiot\\b", "\\p{Lu}diot"))
    assert rules.rules[0].literals is None
    assert [h.rule_id for h in rules.match("you IDIOT", score=0.0)] == ["attack"]


def test_prefilter_never_changes_a_verdict(ruleset, dev_texts):
    """The literal and digit prefilters are optimisations only: same hits as running every
    pattern."""
    plain = dataclasses.replace(
        ruleset,
        rules=tuple(
            dataclasses.replace(
                r, literals=None, needs=(None,) * len(r.needs), digits=(0,) * len(r.digits)
            )
            for r in ruleset.rules
        ),
    )
    assert plain.literal_index is None
    texts = dev_texts[:3000] + [t.upper() for t in dev_texts[:300]]
    hit = 0
    for text in texts:
        fast = ruleset.match(text, namespace=1, score=1.0)
        assert fast == plain.match(text, namespace=1, score=1.0), text[:80]
        hit += bool(fast)
    assert hit > 100  # the comparison covered texts the rules do match


FILLER = " I have been editing this article for years and the sourcing is a long story. "


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        # the veto word anywhere in the comment switched the rule off for the whole comment
        (
            f"ISBN 978-0-306-40615-7 is the edition.{FILLER}Call him at (415) 555-0132.",
            "pii-phone-north-america",
        ),
        (
            f"Call him at (415) 555-0132.{FILLER}According to the source it was 1998.",
            "pii-phone-north-america",
        ),
        (
            f"My own view is different.{FILLER}His email is john.smith1987@gmail.com",
            "pii-email-personal-provider",
        ),
        (
            f"The historic part is fine.{FILLER}He lives at 42 Oak Tree Lane, go visit",
            "pii-street-address",
        ),
        (
            f"I will kill you if you revert again.{FILLER}Treat everyone with kindness, they say.",
            "threat-kill",
        ),
    ],
)
def test_an_unless_pattern_vetoes_only_the_match_it_is_near(ruleset, text, rule_id):
    assert rule_id in {h.rule_id for h in ruleset.match(text, 1, 0.0)}


@pytest.mark.parametrize(
    ("text", "rule_id"),
    [
        ("ISBN 978-0-306-40615-7 is the edition we should cite", "pii-phone-north-america"),
        ("I'll kill them with kindness", "threat-kill"),
        (
            "You can email me at editor.jane@gmail.com, my own address",
            "pii-email-personal-provider",
        ),
    ],
)
def test_an_unless_pattern_next_to_the_match_still_vetoes_it(ruleset, text, rule_id):
    assert rule_id not in {h.rule_id for h in ruleset.match(text, 1, 0.0)}


def test_the_veto_window_is_configurable_and_checked():
    rules = parse_rules(
        "version: 1\nrules:\n- id: r\n  description: d\n  category: pii\n  severity: high\n"
        "  patterns: ['secret']\n  unless: ['veto']\n  unless_window: 5\n",
        "r.yaml",
    )
    assert rules.match("secret .. veto", 1, 0.0) == []  # 4 characters apart
    assert [h.rule_id for h in rules.match("secret and then, later, veto", 1, 0.0)] == ["r"]
    with pytest.raises(RulesError, match="unless_window"):
        parse_rules(
            "version: 1\nrules:\n- id: r\n  description: d\n  category: pii\n  severity: high\n"
            "  patterns: ['secret']\n  unless_window: -1\n",
            "r.yaml",
        )


@pytest.mark.parametrize(
    "text",
    [
        "I'll hunt you down. Great album by the way.",
        "I know where you live, read the novel",
        "you are going to die for this, like in the film",
    ],
)
def test_a_veto_word_typed_on_purpose_does_not_silence_a_threat(ruleset, text):
    """An emergency rule's veto holds only while the model reads the text as benign: adding
    "album" within 60 characters switched a death threat off (issue 25)."""
    assert "threat" in {h.category for h in ruleset.match(text, 1, 0.9)}
    assert "threat" not in {h.category for h in ruleset.match(text, 1, 0.1)}


def test_a_veto_that_always_holds_and_bad_limits_are_rules_choices():
    base = (
        "version: 1\nrules:\n- id: r\n  description: d\n  category: threat\n"
        "  severity: emergency\n  patterns: ['secret']\n  unless: ['veto']\n"
    )
    assert parse_rules(base, "r.yaml").match("secret veto", 1, 0.9) != []  # default: 0.5
    assert (
        parse_rules(base + "  unless_max_score: null\n", "r.yaml").match("secret veto", 1, 0.9)
        == []
    )
    assert (
        parse_rules(base + "  unless_max_score: 0.95\n", "r.yaml").match("secret veto", 1, 0.9)
        == []
    )
    with pytest.raises(RulesError, match="unless_max_score"):
        parse_rules(base + "  unless_max_score: 2\n", "r.yaml")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # threats in words no fixed phrase lists: the act of harm aimed at the reader
        ("Someone should put you in a wheelchair for that.", "threat"),
        ("I hope somebody stabs you on your way home.", "threat"),
        ("Once I find you I'll break both your arms.", "threat"),
        ("I'm going to beat you up after school", "threat"),
        ("I have your address and a baseball bat in the boot.", "threat"),
        ("I know which office you work in. I'll be waiting outside your office at five.", "threat"),
        ("Your kids won't be safe if this goes on.", "threat"),
        ("We should shoot all the refugees at the border.", "threat"),
        ("Im going to drive to your house and shoot you", "threat"),  # no apostrophe
        ("Stop reverting my work or die.", "threat"),
        ("you people should all die", "threat"),
        # outing: an account tied to a named person, an employer, a school
        ("User:Lark12 is really Nora Briggs, a teacher at Kingsway School.", "outing"),
        ("the account Wren belongs to Owen Pryce from Cardiff", "outing"),
        # hate against a protected group
        ("I hate women.", "hate"),
        ("Immigrants are vermin.", "hate"),
        ("Roma are thieves, all of them", "hate"),
        # sexual harassment: the seed, typo and all
        ("Would like to spent a night with you", "sexual_harassment"),
        ("send me a photo of yourself in a bikini", "sexual_harassment"),
    ],
)
def test_harm_is_caught_in_the_category_that_reaches_the_right_people(ruleset, text, category):
    assert category in {h.category for h in ruleset.match(text, 1, 0.0)}


def test_a_beating_is_a_threat_that_reaches_the_emergency_contact(ruleset):
    hits = ruleset.match("I'll find you and beat you until you can't stand", 1, 0.0)
    assert any(h.category == "threat" and h.severity == "emergency" for h in hits)


@pytest.mark.parametrize(
    "text",
    [
        # counter-speech: quoting or reporting hate to condemn it, negating it
        "Saying that immigrants are vermin is plain bigotry.",
        "I don't think Muslims are a threat, and neither does the source.",
        "The slogan 'refugees are parasites' was used on the party's posters.",
        "No, gays are not perverts; that edit was rightly reverted.",
        # identity words in neutral and positive sentences, reclaimed terms
        "Women are underrepresented among our biographies.",
        "As a gay man I find the new wording clearer.",
        "We queer editors have used that word for ourselves for decades.",
        # ordinary talk-page wishes and plans that share words with threats
        "Someone should fix the citation template.",
        "I hope you have a lovely weekend.",
        "I'll shoot you an email with the scan tomorrow.",
        "I'll break the table into two and kill the duplicate row.",
        "See you in person at the meetup!",
        "Would like to spend a night with you all at the editathon pub.",
        "User:Lark12 is right about the source.",
        "Per WP:OUTING, don't speculate who runs the account Lark12.",
    ],
)
def test_counter_speech_and_ordinary_talk_are_not_flagged(ruleset, text):
    assert ruleset.match(text, 1, 0.0) == []
