"""Load, validate, self-test and match the regex rules of rules.yaml.

Rules are data. Every pattern is compiled with the `regex` module and every match runs with a
timeout, so a rule that backtracks catastrophically costs at most MATCH_TIMEOUT per text instead
of freezing the bot; a pattern that already backtracks on the adversarial probes is refused at
load. A RuleHit never carries the matched text.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import regex
import yaml

from flagbot.config import CATEGORIES, SEVERITIES
from flagbot.errors import RulesError
from flagbot.literals import LiteralSets, digit_count, literal_prefilter, min_digits
from flagbot.settings_file import yaml_problem

log = logging.getLogger(__name__)

RULE_CATEGORIES = CATEGORIES[1:]  # every category but the model's own ("toxic")
RULE_KEYS = {
    "id",
    "description",
    "category",
    "severity",
    "patterns",
    "unless",
    "unless_window",
    "namespaces",
    "flags",
    "min_score",
    "unless_max_score",
    "languages",
    "examples",
}
FLAGS = {
    "IGNORECASE": regex.IGNORECASE,
    "MULTILINE": regex.MULTILINE,
    "DOTALL": regex.DOTALL,
    "VERBOSE": regex.VERBOSE,
    "ASCII": regex.ASCII,
    "CASE_SENSITIVE": 0,
}
STD_FLAGS = {
    "IGNORECASE": re.IGNORECASE,
    "MULTILINE": re.MULTILINE,
    "DOTALL": re.DOTALL,
    "VERBOSE": re.VERBOSE,
    "ASCII": re.ASCII,
}
MATCH_TIMEOUT = 0.05  # seconds per pattern per text
PROBE_TIMEOUT = 0.2
PROBES = (
    "a" * 3000 + "!",
    "1" * 3000 + "x",
    " " * 3000 + "x",
    "ab" * 1500 + "!",
    "a " * 1500 + "!",
    "a1-" * 1000 + "!",
    "x@" * 1000 + "!",
    "A." * 1500 + "!",
)


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    category: str
    severity: str


SECOND = operator.itemgetter(1)  # the literal of an (end, literal) Aho-Corasick hit
DEFAULT_UNLESS_WINDOW = 60
# An emergency rule's veto holds only while the model reads the text as benign (below this): a
# veto word ("album", "novel") is free to write, and "I will find you and kill you (album)" went
# unflagged. A rule may set its own `unless_max_score`, or null for a veto that always holds.
EMERGENCY_VETO_MAX_SCORE = 0.5
VETO_SLACK = 200  # an `unless` match may start this far outside the window and still reach it


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    category: str
    severity: str
    patterns: tuple[Any, ...]
    unless: tuple[Any, ...]
    unless_window: int  # an `unless` match vetoes a hit it overlaps or is this near (chars)
    namespaces: frozenset[int]
    min_score: float | None
    unless_max_score: float | None  # a veto holds only while the model's score is below this
    languages: frozenset[str]  # only texts in these languages (or of unknown language); empty: all
    literals: frozenset[str] | None  # one is in every match (casefolded); None: always search
    needs: tuple[LiteralSets | None, ...]  # per pattern: one literal of each set is in a match
    digits: tuple[int, ...]  # per pattern: decimal digits every match holds (a phone number: 10)
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    line: int

    def _vetoed(self, text: str, start: int, end: int) -> bool:
        """Does an `unless` pattern match overlapping this match or within the window of it?

        Scoped, so that "ISBN" or "according to" elsewhere in a comment cannot switch a rule off.
        """
        low, high = start - self.unless_window, end + self.unless_window
        around = max(low - VETO_SLACK, 0), min(high + VETO_SLACK, len(text))
        return any(
            veto.start() < high and veto.end() > low
            for unless in self.unless
            for veto in unless.finditer(text, *around, timeout=MATCH_TIMEOUT)
        )

    def _veto_overruled(self, score: float | None) -> bool:
        """The model finds the text abusive enough that no veto word can excuse it (names and
        quotes are checked without a score: their vetoes hold)."""
        limit = self.unless_max_score
        return limit is not None and score is not None and score >= limit

    @functools.cached_property
    def checks(self) -> tuple[tuple[Any, LiteralSets | None, int], ...]:
        """Each pattern with the literal sets and the digits a match of it needs."""
        return tuple(zip(self.patterns, self.needs, self.digits, strict=True))

    def all_literals(self) -> frozenset[str]:
        """Every literal the prefilter looks for on this rule's behalf."""
        sets = [s for needs in self.needs if needs for s in needs]
        return frozenset(self.literals or ()).union(*sets)

    def matches(
        self,
        text: str,
        namespace: int | None = None,
        score: float | None = None,
        present: set[str] | frozenset[str] | None = None,
        language: str = "",
    ) -> bool:
        """Does the rule hit? `present`: the casefolded literals the caller found in `text`;
        `language`: the text's (flagbot.language; "" unknown)."""
        if self.namespaces and namespace is not None and namespace not in self.namespaces:
            return False
        if self.languages and language and language not in self.languages:
            return False
        if self.min_score is not None and (score is None or score < self.min_score):
            return False
        if present is None:
            folded = text.casefold()
            present = {x for x in self.all_literals() if x in folded}
        if self.literals is not None and present.isdisjoint(self.literals):
            return False
        try:
            # run only the patterns whose every literal set is represented in the text; most
            # texts match none, and a plain search is the cheapest way to learn that
            digits = -1  # counted when a pattern needs digits, once
            for pattern, needs, needed_digits in self.checks:
                if needs is not None and any(present.isdisjoint(s) for s in needs):
                    continue
                if needed_digits:
                    if digits < 0:
                        digits = digit_count(text)
                    if digits < needed_digits:
                        continue
                if pattern.search(text, timeout=MATCH_TIMEOUT) is None:
                    continue
                if not self.unless or self._veto_overruled(score):
                    return True
                for found in pattern.finditer(text, timeout=MATCH_TIMEOUT):
                    if not self._vetoed(text, found.start(), found.end()):
                        return True
            return False
        except TimeoutError:
            log.warning("rule %s timed out on a text of %d characters; no hit", self.id, len(text))
            return False


@dataclass(frozen=True)
class RuleSet:
    path: str
    rules: tuple[Rule, ...]
    literal_index: Any = field(init=False, repr=False, compare=False)
    unfiltered: frozenset[int] = field(init=False, repr=False, compare=False)
    owners: dict[str, frozenset[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One Aho-Corasick automaton over every rule's literals: a single pass over a comment
        # tells which rules, and which of their patterns, are worth running at all.
        index = ahocorasick.Automaton()
        owners: dict[str, set[int]] = {}
        for number, rule in enumerate(self.rules):
            for literal in rule.all_literals():
                owners.setdefault(literal, set())
            for literal in rule.literals or ():
                owners[literal].add(number)
        for literal in owners:
            index.add_word(literal, literal)
        if owners:
            index.make_automaton()
        object.__setattr__(self, "literal_index", index if owners else None)
        object.__setattr__(self, "owners", {k: frozenset(v) for k, v in owners.items() if v})
        always = frozenset(n for n, rule in enumerate(self.rules) if rule.literals is None)
        object.__setattr__(self, "unfiltered", always)

    def candidates(self, text: str) -> tuple[set[int], set[str]]:
        """The rules that may match `text` (a literal of theirs is in it, or none is known) and
        the literals found."""
        if self.literal_index is None:
            return set(self.unfiltered), set()
        present = set(map(SECOND, self.literal_index.iter(text.casefold())))
        found = set(self.unfiltered)
        owners = self.owners
        for literal in present:
            numbers = owners.get(literal)
            if numbers:
                found |= numbers
        return found, present

    def match(
        self,
        text: str,
        namespace: int | None = None,
        score: float | None = None,
        language: str = "",
    ) -> list[RuleHit]:
        if not text:
            return []
        hits = []
        numbers, present = self.candidates(text)
        for number in sorted(numbers):
            rule = self.rules[number]
            if rule.matches(text, namespace, score, present, language):
                hits.append(RuleHit(rule.id, rule.category, rule.severity))
        return hits

    def check_examples(self) -> list[str]:
        """Run every rule's own examples; one line per failure, `file:line: rule ID: …`.
        A match example must match whatever the model says (score 1.0); a no-match example must
        not match with the model reading it as benign (its veto then holds) — or as the least
        abusive text the rule accepts (`min_score`)."""
        failures = []
        for rule in self.rules:
            benign = rule.min_score if rule.min_score is not None else 0.0
            for example in rule.examples_match:
                if not rule.matches(example, score=1.0):
                    failures.append(
                        f"{self.path}:{rule.line}: rule {rule.id}: "
                        f"example should match but does not: {example!r}"
                    )
            for example in rule.examples_no_match:
                if rule.matches(example, score=benign):
                    failures.append(
                        f"{self.path}:{rule.line}: rule {rule.id}: "
                        f"example should not match but does: {example!r}"
                    )
        return failures


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that remembers the line of every mapping, for error messages."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)  # type: ignore[assignment]
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _compile(pattern: Any, flags: int, where: str, problems: list[str]) -> Any | None:
    if not isinstance(pattern, str) or not pattern:
        problems.append(f"{where}: a pattern must be a non-empty string")
        return None
    try:
        compiled = regex.compile(pattern, flags)
    except regex.error as exc:
        problems.append(f"{where}: bad regex {pattern!r}: {exc}")
        return None
    try:
        for probe in PROBES:
            compiled.search(probe, timeout=PROBE_TIMEOUT)
    except TimeoutError:
        problems.append(
            f"{where}: regex {pattern!r} backtracks catastrophically "
            f"(over {PROBE_TIMEOUT} s on a {len(probe)}-character probe); rewrite it"
        )
        return None
    return compiled


def _strings(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _rule(raw: Any, path: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{path}: each rule must be a mapping")
        return None
    line = raw.pop("__line__", 0)
    rule_id = raw.get("id")
    where = f"{path}:{line}: rule {rule_id}"
    before = len(problems)
    if not isinstance(rule_id, str) or not rule_id:
        problems.append(f"{path}:{line}: rule ?: missing id")
    for key in sorted(set(raw) - RULE_KEYS):
        problems.append(f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(RULE_KEYS))}")
    if raw.get("category") not in RULE_CATEGORIES:
        problems.append(
            f"{where}: unknown category {raw.get('category')!r}; "
            f"allowed: {', '.join(RULE_CATEGORIES)}"
        )
    if raw.get("severity") not in SEVERITIES:
        problems.append(
            f"{where}: unknown severity {raw.get('severity')!r}; allowed: {', '.join(SEVERITIES)}"
        )
    if not isinstance(raw.get("description"), str):
        problems.append(f"{where}: missing description")
    flag_names = _strings(raw.get("flags", ["IGNORECASE"]))
    flags = std_flags = 0
    for name in flag_names:
        if name not in FLAGS:
            problems.append(f"{where}: unknown flag {name!r}; allowed: {', '.join(FLAGS)}")
        else:
            flags |= FLAGS[name]
            std_flags |= STD_FLAGS.get(name, 0)
    if not raw.get("patterns"):
        problems.append(f"{where}: needs at least one pattern")
    patterns = [_compile(p, flags, where, problems) for p in _strings(raw.get("patterns", []))]
    unless = [_compile(p, flags, where, problems) for p in _strings(raw.get("unless", []))]
    window = raw.get("unless_window", DEFAULT_UNLESS_WINDOW)
    if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= 10_000:
        problems.append(f"{where}: unless_window must be a whole number of characters, 0-10000")
    namespaces = _strings(raw.get("namespaces", []))
    if any(not isinstance(n, int) or isinstance(n, bool) for n in namespaces):
        problems.append(f"{where}: namespaces must be a list of integers")
    min_score = raw.get("min_score")
    if min_score is not None and (
        not isinstance(min_score, int | float)
        or isinstance(min_score, bool)
        or not 0 <= min_score <= 1
    ):
        problems.append(f"{where}: min_score must be a number from 0 to 1")
    default_veto_max = EMERGENCY_VETO_MAX_SCORE if raw.get("severity") == "emergency" else None
    unless_max_score = raw.get("unless_max_score", default_veto_max)
    if unless_max_score is not None and (
        not isinstance(unless_max_score, int | float)
        or isinstance(unless_max_score, bool)
        or not 0 <= unless_max_score <= 1
    ):
        problems.append(f"{where}: unless_max_score must be a number from 0 to 1, or null")
    languages = _strings(raw.get("languages", []))
    if any(not isinstance(code, str) or not 2 <= len(code) <= 12 for code in languages):
        problems.append(f"{where}: languages must be a list of language codes (de, fr, es, …)")
    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match", "__line__"}:
        problems.append(f"{where}: examples must be a mapping with match and no_match lists")
        examples = {}
    match_examples = _strings(examples.get("match", []))
    no_match_examples = _strings(examples.get("no_match", []))
    if any(not isinstance(e, str) for e in match_examples + no_match_examples):
        problems.append(f"{where}: examples must be strings")
    if len(problems) > before:
        return None
    literals: set[str] | None = set()
    needs, digits = [], []
    for pattern in _strings(raw["patterns"]):
        best, sets = literal_prefilter(pattern, std_flags)
        literals = None if best is None or literals is None else literals | best
        needs.append(sets)
        digits.append(min_digits(pattern, std_flags))
    return Rule(
        id=str(rule_id),
        description=raw["description"],
        category=raw["category"],
        severity=raw["severity"],
        patterns=tuple(patterns),
        unless=tuple(unless),
        unless_window=window,
        namespaces=frozenset(namespaces),
        min_score=min_score,
        unless_max_score=unless_max_score,
        languages=frozenset(c for c in languages if isinstance(c, str)),
        literals=frozenset(literals) if literals is not None else None,
        needs=tuple(needs),
        digits=tuple(digits),
        examples_match=tuple(match_examples),
        examples_no_match=tuple(no_match_examples),
        line=line,
    )


def parse_rules(text: str, path: str = "rules.yaml") -> RuleSet:
    """Validate and compile rules from YAML text; RulesError lists every problem."""
    problem = yaml_problem(text)
    if problem:
        raise RulesError([f"{path}: {problem}"])
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RulesError([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RulesError([f"{path}:1: the file must be a mapping with a `rules:` list"])
    unknown = set(data) - {"rules", "version", "__line__"}
    problems = [f"{path}:1: unknown top-level key {k!r}; allowed: rules, version" for k in unknown]
    rules: list[Rule] = []
    seen: set[str] = set()
    for raw in data["rules"]:
        rule = _rule(raw, path, problems)
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(f"{path}:{rule.line}: rule {rule.id}: duplicate id")
        seen.add(rule.id)
        rules.append(rule)
    if problems:
        raise RulesError(problems)
    return RuleSet(path=path, rules=tuple(rules))


def load_rules(path: str | Path) -> RuleSet:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_rules(text, str(path))
