"""What a regular expression's every match must contain: literal strings, read from the pattern's
parse tree, so a rule whose literals a comment lacks need not run at all.

Most rules need some literal ("kill", "@", "real name") that most comments lack. Before running
a rule's patterns, `rules.RuleSet` tests with one Aho-Corasick pass whether the casefolded text
holds any of the literals every match must contain. The literals come from Python's own regular
expression parser (`re._parser`, private: where it is missing or cannot read a pattern, the rule
simply runs every time).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

try:
    import re._parser as re_parser  # private since Python 3.11 (sre_parse before)
except ImportError:  # pragma: no cover - another Python: no prefilter, every rule runs
    re_parser = None

LiteralSets = tuple[frozenset[str], ...]  # a match holds one literal of each set

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
        if str(op) == "ASSERT":  # a lookahead or lookbehind that must hold: its literals too
            sets.extend(_required_sets(av[1]))
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
    if re_parser is None:
        raise ValueError("no regular expression parser to read literals from")
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


def _digit(op: Any, av: Any) -> bool:
    """Is this one-character node sure to match a decimal digit?"""
    name = str(op)
    if name == "LITERAL":
        return chr(av).isdecimal()
    if name != "IN" or not av:
        return False
    for item_op, item_av in av:
        item = str(item_op)
        if item == "LITERAL" and chr(item_av).isdecimal():
            continue
        if item == "RANGE" and all(chr(c).isdecimal() for c in range(item_av[0], item_av[1] + 1)):
            continue
        if item == "CATEGORY" and str(item_av) == "CATEGORY_DIGIT":
            continue
        return False  # a negation, a letter, any other class: not surely a digit
    return True


def _digits(items: Any) -> int:
    """How many decimal digits every match of this sequence holds, at least."""
    total = 0
    for op, av in items:
        name = str(op)
        if _digit(op, av):
            total += 1
        elif name.endswith("_REPEAT"):
            total += av[0] * _digits(av[2])
        elif name == "SUBPATTERN":
            total += _digits(av[-1])
        elif name == "ATOMIC_GROUP":
            total += _digits(av)
        elif name == "BRANCH":
            total += min(_digits(alternative) for alternative in av[1])
        # lookarounds, anchors, back-references and the rest: nothing known, nothing counted
    return total


def min_digits(pattern: str, flags: int) -> int:
    """Decimal digits (Unicode's, as `\\d` matches) that every match of `pattern` holds.

    A phone-number pattern needs ten: a comment with fewer digits need not be searched, and
    digits themselves are too common to serve as prefilter literals. 0 when unknown.
    """
    try:
        return _digits(_parse(pattern, flags))
    except Exception:  # noqa: BLE001 - syntax only the regex module knows: nothing known
        return 0


def digit_count(text: str) -> int:
    """The decimal digits in `text`; a few C-level scans for ASCII text."""
    if text.isascii():
        return sum(map(text.count, "0123456789"))
    return sum(map(str.isdecimal, text))


def required_literals(pattern: str, flags: int) -> frozenset[str] | None:
    """Casefolded literals one of which is in every match of `pattern`; None when unknown."""
    return literal_prefilter(pattern, flags)[0]


def required_literal_sets(pattern: str, flags: int) -> LiteralSets | None:
    """All the literal sets of `pattern` worth testing; None when unknown."""
    return literal_prefilter(pattern, flags)[1]
