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
import re._parser as re_parser
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import regex
import yaml

from flagbot.config import CATEGORIES, SEVERITIES
from flagbot.errors import RulesError

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
LiteralSets = tuple[frozenset[str], ...]  # a match holds one literal of each set
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
    literals: frozenset[str] | None  # one is in every match (casefolded); None: always search
    needs: tuple[LiteralSets | None, ...]  # per pattern: one literal of each set is in a match
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

    @functools.cached_property
    def checks(self) -> tuple[tuple[Any, LiteralSets | None], ...]:
        """Each pattern with the literal sets a match of it needs."""
        return tuple(zip(self.patterns, self.needs, strict=True))

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
    ) -> bool:
        """Does the rule hit? `present`: the casefolded literals the caller found in `text`."""
        if self.namespaces and namespace is not None and namespace not in self.namespaces:
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
            for pattern, needs in self.checks:
                if needs is not None and any(present.isdisjoint(s) for s in needs):
                    continue
                if pattern.search(text, timeout=MATCH_TIMEOUT) is None:
                    continue
                if not self.unless:
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
        self, text: str, namespace: int | None = None, score: float | None = None
    ) -> list[RuleHit]:
        if not text:
            return []
        hits = []
        numbers, present = self.candidates(text)
        for number in sorted(numbers):
            rule = self.rules[number]
            if rule.matches(text, namespace, score, present):
                hits.append(RuleHit(rule.id, rule.category, rule.severity))
        return hits

    def check_examples(self) -> list[str]:
        """Run every rule's own examples; one line per failure, `file:line: rule ID: …`."""
        failures = []
        for rule in self.rules:
            for example in rule.examples_match:
                if not rule.matches(example, score=1.0):
                    failures.append(
                        f"{self.path}:{rule.line}: rule {rule.id}: "
                        f"example should match but does not: {example!r}"
                    )
            for example in rule.examples_no_match:
                if rule.matches(example, score=1.0):
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
    needs = []
    for pattern in _strings(raw["patterns"]):
        best, sets = literal_prefilter(pattern, std_flags)
        literals = None if best is None or literals is None else literals | best
        needs.append(sets)
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
        literals=frozenset(literals) if literals is not None else None,
        needs=tuple(needs),
        examples_match=tuple(match_examples),
        examples_no_match=tuple(no_match_examples),
        line=line,
    )


# --- literal prefilter ----------------------------------------------------------------------
# Most rules need some literal ("kill", "@", "real name") that most comments lack. Before running
# a rule's patterns we test, with the cheap `in`, whether the casefolded text holds any of the
# literals every match must contain. The literals come from the pattern's own parse tree
# (Python's re parser); a pattern it cannot parse or reason about simply runs every time.
_MAX_SET = 64


def _useful(found: set[str] | None) -> bool:
    return found is not None and "" not in found


def _better(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    if not _useful(b):
        return a if _useful(a) else None
    if not _useful(a):
        return b
    assert a is not None and b is not None
    # a set without everyday words first ("die" beats "you"); four characters are already
    # rare in talk text; past that, fewer literals test faster
    return b if _rarity(b) > _rarity(a) else a


# Words in a large share of talk-page comments: a prefilter on them lets nearly every text in.
EVERYDAY = frozenset(
    [
        "you",
        "your",
        "i",
        "we",
        "he",
        "she",
        "it",
        "they",
        "them",
        "his",
        "her",
        "my",
        "me",
        "are",
        "is",
        "was",
        "be",
        "the",
        "a",
        "an",
        "all",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "this",
        "that",
        "not",
        "have",
        "has",
        "what",
        "who",
        "will",
        "should",
    ]
) | {"you are", "you're", "i will", "i'll", "going to", "gonna", "we will", "we'll", "i'm"}


def _rarity(found: set[str]) -> tuple[bool, int, int]:
    return (found.isdisjoint(EVERYDAY), min(4, *map(len, found)), -len(found))


def _product(a: set[str], b: set[str]) -> set[str] | None:
    if len(a) * len(b) > _MAX_SET:
        return None
    return {x + y for x in a for y in b}


def _exact(op: Any, av: Any) -> set[str] | None:
    """Every string this node can match, when that is a small finite set."""
    name = str(op)
    if name == "LITERAL":
        return {chr(av).casefold()}
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return {""}
    if name == "IN":
        chars: set[str] = set()
        for item_op, item_av in av:
            if str(item_op) == "LITERAL":
                chars.add(chr(item_av).casefold())
            elif str(item_op) == "RANGE" and item_av[1] - item_av[0] < 16:
                chars.update(chr(c).casefold() for c in range(item_av[0], item_av[1] + 1))
            else:
                return None
        return chars or None
    if name == "SUBPATTERN":
        return _exact_sequence(av[-1])
    if name == "ATOMIC_GROUP":
        return _exact_sequence(av)
    if name == "BRANCH":
        union: set[str] = set()
        for alternative in av[1]:
            found = _exact_sequence(alternative)
            if found is None:
                return None
            union |= found
        return union if len(union) <= _MAX_SET else None
    if name.endswith("_REPEAT"):
        low, high, body = av
        once = _exact_sequence(body)
        if once is None or high > 3:
            return None
        result: set[str] = set()
        current: set[str] | None = {""}
        for count in range(high + 1):
            if current is None:
                return None
            if count >= low:
                result |= current
            current = _product(current, once)
        return result if len(result) <= _MAX_SET else None
    return None


def _exact_sequence(items: Any) -> set[str] | None:
    result: set[str] | None = {""}
    for op, av in items:
        found = _exact(op, av)
        if found is None or result is None:
            return None
        result = _product(result, found)
    return result


def _required(op: Any, av: Any) -> set[str] | None:
    """Strings of which every match of this node contains at least one, if known."""
    name = str(op)
    if name == "SUBPATTERN":
        return _required_sequence(av[-1])
    if name == "ATOMIC_GROUP":
        return _required_sequence(av)
    if name == "BRANCH":
        union: set[str] = set()
        for alternative in av[1]:
            found = _required_sequence(alternative)
            if not _useful(found):
                return None
            union |= found  # type: ignore[arg-type]
        return union
    if name.endswith("_REPEAT") and av[0] >= 1:
        return _required_sequence(av[2])
    return None


def _required_sequence(items: Any) -> set[str] | None:
    return _best(_required_sets(items))


def _best(sets: list[set[str]]) -> set[str] | None:
    best: set[str] | None = None
    for found in sets:
        best = _better(best, found)
    return best


def _required_sets(items: Any) -> list[set[str]]:
    """Every literal set the sequence is known to need (one literal of each is in any match)."""
    sets: list[set[str] | None] = []
    run: set[str] = {""}
    for op, av in items:
        found = _exact(op, av)
        sets.append(found)  # one part alone may test faster than the whole run
        joined = _product(run, found) if found is not None else None
        if joined is not None:
            run = joined
            continue
        if str(op).endswith("_REPEAT") and av[0] >= 1:
            # x{2,} starts with two x and ends with two x: the run goes on into it, then restarts
            once = body = _exact_sequence(av[2])
            for _ in range(min(av[0], 3) - 1):
                body = _product(body, once) if body is not None and once is not None else None
            if body is not None and (joined := _product(run, body)) is not None:
                sets.append(joined)
                run = body
                continue
        sets.append(run)
        sets.append(found if found is not None else _required(op, av))
        run = found if found is not None else {""}
    sets.append(run)
    return [s for s in sets if _useful(s)]  # type: ignore[misc]


def _parse(pattern: str, flags: int) -> Any:
    std_flags = flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(re_parser.parse(pattern, std_flags))


def _minimal(found: set[str]) -> frozenset[str]:
    # "live" in text already covers "lives": keep only literals that contain no other
    return frozenset(s for s in found if not any(o != s and o in s for o in found))


def literal_prefilter(pattern: str, flags: int) -> tuple[frozenset[str] | None, LiteralSets | None]:
    """What the prefilter knows of `pattern`, from one parse (None where nothing is known):

    - the best single set of casefolded literals one of which is in every match;
    - all the sets worth testing: a match holds one literal of each ("I know where you live"
      needs "know" and "where" and "live", not only one of them).
    """
    try:
        sets = _required_sets(_parse(pattern, flags))
    except Exception:  # noqa: BLE001 - syntax only the regex module knows: no prefilter
        return None, None
    best = _best(sets)
    # Short literals are in nearly every text, and a set whose literals each contain one of
    # another set's adds nothing: keep what actually narrows.
    found = {_minimal(s) for s in sets if min(map(len, s)) >= 3}
    kept = [
        s
        for s in found
        if not any(t != s and all(any(a in b for a in s) for b in t) for t in found)
    ]
    return (_minimal(best) if best is not None else None), (tuple(sorted(kept, key=sorted)) or None)


def required_literals(pattern: str, flags: int) -> frozenset[str] | None:
    """Casefolded literals one of which is in every match of `pattern`; None when unknown."""
    return literal_prefilter(pattern, flags)[0]


def required_literal_sets(pattern: str, flags: int) -> LiteralSets | None:
    """All the literal sets of `pattern` worth testing; None when unknown."""
    return literal_prefilter(pattern, flags)[1]


def parse_rules(text: str, path: str = "rules.yaml") -> RuleSet:
    """Validate and compile rules from YAML text; RulesError lists every problem."""
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
