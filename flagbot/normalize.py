"""Readable text → matching text: undo the spellings people use to slip past filters.

Pure and shared by the model and the rules (through `scoring`), so both see the same letters;
the original text is what is stored and shown to reviewers.
- `matching_text`: Unicode NFKC (fullwidth and styled letters), format characters removed
  (zero-width spaces and joiners, soft hyphens, bidi controls), and non-ASCII letters that look
  like ASCII ones folded to them (Cyrillic "а", Greek "ο"…) with Unicode's confusables table as
  packaged by confusable-homoglyphs. ASCII is never changed, so phone numbers keep their digits.
- `rule_variant`: for the rules only, also l33t digits inside words ("k1ll" → "kill") and
  spaced-out letters ("k i l l   y o u" → "kill you"); the rules run on both texts.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# a word that mixes letters with l33t characters (a phone number or a year has no letters)
LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[013457@$])[\w@$]+", re.I)
# three or more single letters with one separator between them: "k i l l", "k.i.l.l", "k-i-l-l"
SPACED = re.compile(r"\b[a-z](?:[ .\-_*][a-z]){2,}\b", re.I)
SEPARATORS = re.compile(r"[ .\-_*]")
# where either could apply: a letter next to a l33t character, or three spaced single letters
OBFUSCATED = re.compile(
    r"[a-z][013457@$]|[013457@$][a-z]|\b[a-z][ .\-_*][a-z][ .\-_*][a-z]\b", re.I
)


@functools.cache
def _confusables() -> dict[int, str]:
    """Non-ASCII characters that Unicode's confusables table maps to one ASCII letter or digit."""
    from confusable_homoglyphs import confusables

    table: dict[int, str] = {}
    for char, homoglyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in homoglyphs:
            target = glyph["c"]
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ord(char)] = target
                break
    return table


@functools.cache
def _format_characters() -> dict[int, None]:
    """Every format character (category Cf): invisible, so a filter must not see them either."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}


def matching_text(text: str) -> str:
    """The text as a filter should read it (see the module docstring); ASCII text is unchanged."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text).translate(_format_characters())
    return text.translate(_confusables())


def rule_variant(text: str) -> str:
    """`text` with l33t words spelled out and spaced-out letters joined (for the rules only)."""
    if not OBFUSCATED.search(text):  # most texts: one scan, no copy
        return text
    text = LEET_WORD.sub(lambda m: m.group().translate(LEET), text)
    return SPACED.sub(lambda m: SEPARATORS.sub("", m.group()), text)
