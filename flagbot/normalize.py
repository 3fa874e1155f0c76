"""Readable text → matching text: undo the spellings people use to slip past filters.

Pure and shared by the model and the rules (through `scoring`), so both see the same letters;
the original text is what is stored and shown to reviewers.
- `matching_text`: Unicode NFKC (fullwidth and styled letters), format characters removed
  (zero-width spaces and joiners, soft hyphens, bidi controls), non-ASCII letters that look
  like ASCII ones folded to them (Cyrillic "а", Greek "ο"…) with Unicode's confusables table as
  packaged by confusable-homoglyphs, and Latin letters with diacritics folded to their base
  letter ("ï knòw whḗre ȳou líve"; lone combining marks dropped). ASCII is never changed, so
  phone numbers keep their digits.
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
NON_ASCII_WORD = re.compile(r"[^\s\x00-\x7f]*[^\x00-\x7f][^\s]*")
ASCII_LETTER = re.compile(r"[A-Za-z]")


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


# where Latin letters with diacritics and the diacritics themselves live: other scripts are
# not asked about (Chinese or Arabic text would cost a name lookup per character)
LATIN_RANGES = (
    (0x00C0, 0x036F), (0x1AB0, 0x1EFF), (0x2C60, 0x2C7F), (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F), (0x20D0, 0x20FF), (0xFE20, 0xFE2F), (0x1DF00, 0x1DFFF),
)  # fmt: skip
LATIN_LETTER = re.compile(
    r"LATIN (SMALL|CAPITAL|LETTER SMALL CAPITAL) (?:LETTER )?([A-Z])(?: WITH .*|$)"
)
DOTLESS = {"ı": "i", "ȷ": "j"}


def latin_base(char: str) -> str | None:
    """The ASCII letter a reader sees in a Latin letter with diacritics ("í", "ḗ", "ø", "ł":
    Unicode's decomposition, or the letter its name is built on for those that have none), ""
    for a combining mark on its own (it only decorates: "k̶i̶l̶l̶"), None for anything else."""
    code = ord(char)
    if not any(low <= code <= high for low, high in LATIN_RANGES):
        return None
    if unicodedata.combining(char):
        return ""
    if char in DOTLESS:
        return DOTLESS[char]
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    if base != char and base.isascii() and base.isalpha():
        return base
    named = LATIN_LETTER.fullmatch(unicodedata.name(char, ""))
    if named is None:
        return None
    return named.group(2) if named.group(1) == "CAPITAL" else named.group(2).lower()


class _FormatTable(dict[int, "str | None"]):
    """Format characters (category Cf: zero-width spaces, joiners, bidi controls) to nothing;
    found as they are met (about 170 exist)."""

    def __missing__(self, code: int) -> str | None:
        if unicodedata.category(chr(code)) != "Cf":
            raise LookupError(code)  # str.translate leaves the character as it is
        self[code] = None
        return None


class _FoldTable(_FormatTable):
    """Confusable letters to their ASCII twins (Unicode's confusables table), Latin letters with
    diacritics to their base letters (`latin_base`), format characters (category Cf) and lone
    combining diacritics to nothing.

    All but the confusables are found as they are met: listing them up front meant asking
    `unicodedata` about all 1.1 million code points (0.6 s at the first non-ASCII text). Only
    those are remembered (about 170 format characters, at most ~1,500 Latin letters and marks),
    so no text can make the table grow without bound.
    """

    def __missing__(self, code: int) -> str | None:
        base = latin_base(chr(code))  # no format character is in its Latin ranges
        if base is None:
            return super().__missing__(code)
        self[code] = base or None
        return base or None


@functools.cache
def _fold_table() -> _FoldTable:
    return _FoldTable(_confusables())


@functools.cache
def _format_table() -> _FormatTable:
    return _FormatTable()


def _fold(run: re.Match[str]) -> str:
    """A word with non-ASCII characters, folded when a reader would read it as Latin letters:
    it mixes scripts ("wіll" with a Cyrillic "і") or every letter of it has a Latin twin ("уоu"
    all Cyrillic look-alikes, "knòw"). A word of another script stays as it is ("Привет" is not
    "Пpивeт"), only its format characters removed."""
    word = run.group()
    folded = word.translate(_fold_table())
    if folded.isascii() or ASCII_LETTER.search(word):
        return folded
    return word.translate(_format_table())


def matching_text(text: str) -> str:
    """The text as a filter should read it (see the module docstring); ASCII text is unchanged."""
    if text.isascii():
        return text
    # only words with non-ASCII characters are looked up: str.translate costs ~130 ns a character
    return NON_ASCII_WORD.sub(_fold, unicodedata.normalize("NFKC", text))


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
