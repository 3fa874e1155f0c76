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
import string
import unicodedata

LEET_CHARS, LEET_LETTERS = "013457@$", "oieastas"  # "k1ll" → "kill", "$ick" → "sick"
LEET = str.maketrans(LEET_CHARS, LEET_LETTERS)
SPACERS = " .-_*"  # what people put between spaced-out letters
_LEET_CLASS, _SPACER_CLASS = f"[{re.escape(LEET_CHARS)}]", f"[{re.escape(SPACERS)}]"
# a word that mixes letters with l33t characters (a phone number or a year has no letters);
# explicit [A-Za-z] rather than IGNORECASE: Python's re scans it twice as fast
LEET_WORD = re.compile(rf"(?<![\w@$])(?=[\w@$]*[A-Za-z])(?=[\w@$]*{_LEET_CLASS})[\w@$]+")
# three or more single letters with one spacer between them: "k i l l", "k.i.l.l", "k-i-l-l"
SPACED = re.compile(rf"\b[A-Za-z](?:{_SPACER_CLASS}[A-Za-z]){{2,}}\b")
SEPARATORS = re.compile(_SPACER_CLASS)
# "1 w1ll k1ll y0u": a lone "1" before a verb is the pronoun (a number stays a number)
LONE_I = re.compile(
    r"(?<![\w.,])1(?=\s+(?:w[i1]ll|[a4]m|sh[a4]ll|kn[o0]w|c[a4]n|h[a4]te|w[i1]sh|w[a4]nt|g[o0]nn[a4])\b)",
    re.IGNORECASE,
)
NON_ASCII = re.compile(r"[^\x00-\x7f]+")


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


class _FoldTable(dict[int, "str | None"]):
    """Confusable letters to their ASCII twins; format characters (category Cf) to nothing.

    Format characters are found as they are met: listing them up front meant asking
    `unicodedata` about all 1.1 million code points (0.6 s at the first non-ASCII text). Only
    they are remembered (about 170 exist), so no text can make the table grow without bound.
    """

    def __missing__(self, code: int) -> None:
        if unicodedata.category(chr(code)) != "Cf":
            raise LookupError(code)  # str.translate leaves the character as it is
        self[code] = None
        return None


@functools.cache
def _fold_table() -> _FoldTable:
    return _FoldTable(_confusables())


def _fold(run: re.Match[str]) -> str:
    return run.group().translate(_fold_table())


def matching_text(text: str) -> str:
    """The text as a filter should read it (see the module docstring); ASCII text is unchanged."""
    if text.isascii():
        return text
    # only the non-ASCII runs are looked up: str.translate costs ~130 ns a character
    return NON_ASCII.sub(_fold, unicodedata.normalize("NFKC", text))


def _shape_table() -> bytes:
    table = bytearray(b"#" * 256)
    for char in string.ascii_letters:
        table[ord(char)] = ord("a")
    for char in SPACERS:
        table[ord(char)] = ord(" ")
    for char in LEET_CHARS:
        table[ord(char)] = ord("1")
    return bytes(table)


SHAPE = _shape_table()  # letter → "a", separator → " ", l33t character → "1", else "#"


def rule_variant(text: str) -> str:
    """`text` with l33t words spelled out and spaced-out letters joined (for the rules only)."""
    # a byte-level sketch of the text rules out both in a few µs for most comments, where the
    # regular expressions below would each scan the whole text
    shape = b" " + text.encode("ascii", "replace").translate(SHAPE)
    if b" 1 " in shape:
        text = LONE_I.sub("I", text)
    if b"a1" in shape or b"1a" in shape:
        text = LEET_WORD.sub(lambda m: m.group().translate(LEET), text)
    if b" a a a" in shape:
        text = SPACED.sub(lambda m: SEPARATORS.sub("", m.group()), text)
    return text


CAMEL_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def name_words(name: str) -> str:
    """A page title or user name as words: "JaneDoe_IsARapist" is "Jane Doe Is A Rapist".

    Names have no spaces to spare (underscores, CamelCase), and rules match words.
    """
    return CAMEL_BOUNDARY.sub(" ", name.replace("_", " "))
