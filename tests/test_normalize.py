"""normalize: the spellings people use to slip past filters, undone; ASCII left alone."""

import re
import unicodedata

import pytest

from flagbot.normalize import matching_text, rule_variant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ki\u200bll y\u200dou", "kill you"),  # zero-width space and joiner
        ("kil\u00adl you", "kill you"),  # soft hyphen
        ("\u202ekill you", "kill you"),  # a bidi override
        ("I will k\u0456ll you", "I will kill you"),  # Cyrillic і
        (
            "\u0443\u043e\u0443 \u0430r\u0435 \u0430n idiot",
            "yoy are an idiot",
        ),  # Cyrillic у, о, а, е
        ("\uff4b\uff49\uff4c\uff4c \uff59\uff4f\uff55", "kill you"),  # fullwidth
        ("\U0001d424\U0001d422\U0001d425\U0001d425", "kill"),  # mathematical bold
    ],
)
def test_matching_text_undoes_invisible_and_look_alike_characters(text, expected):
    assert matching_text(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Call 415-555-0132 or +44 7700 900123", "ISBN 978-0-306-40615-7", "plain ascii, 0 changes"],
)
def test_ascii_is_never_changed(text):
    assert matching_text(text) == text


def test_real_non_latin_text_keeps_its_meaning_where_nothing_looks_latin():
    assert matching_text("日本語のテキスト") == "日本語のテキスト"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I w1ll k1ll y0u", "I will kill you"),
        ("y0u 4r3 4n 1d10t", "you are an idiot"),
        ("k i l l   y o u", "kill   you"),
        ("k.i.l.l you", "kill you"),
        ("call 415-555-0132 in 2023", "call 415-555-0132 in 2023"),  # numbers are not words
    ],
)
def test_rule_variant_spells_out_leet_and_joins_spaced_letters(text, expected):
    assert rule_variant(text) == expected


def test_every_code_point_is_folded_without_the_table_growing_past_format_characters():
    from flagbot import normalize

    everything = "".join(chr(c) for c in range(0x80, 0x30000) if not 0xD800 <= c < 0xE000)
    folded = matching_text(everything)
    assert "\u200b" not in folded and "\u00ad" not in folded and "\u202e" not in folded
    table = normalize._fold_table()
    remembered = {c for c, v in table.items() if v is None}
    assert remembered  # format characters and lone diacritics are remembered as they are met…
    assert all(  # …and nothing else is dropped
        unicodedata.category(chr(c)) == "Cf" or unicodedata.combining(chr(c)) for c in remembered
    )
    added = {c: v for c, v in table.items() if v and c not in normalize._confusables()}
    assert all(unicodedata.name(chr(c)).startswith("LATIN") for c in added)  # letters to letters
    assert all(v.isascii() and v.isalpha() and len(v) == 1 for v in added.values())
    assert len(table) < len(normalize._confusables()) + 2000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ï knòw whḗre ȳou líve", "i know where you live"),  # one accent per word
        ("k̶i̶l̶l̶ ÿ̸o̸u̸", "kill you"),  # strikethrough and stacked combining marks
        ("ᴋɪʟʟ ʏᴏᴜ", "kill you"),  # small capitals
        ("ø ł đ ħ ı", "o l d h i"),  # letters with no decomposition, by their names
        ("уоu аrе а јеrk", "you are a jerk"),  # every letter a Cyrillic look-alike
        ("I wіll kіll you", "I will kill you"),  # one Cyrillic letter in a Latin word
    ],
)
def test_letters_readers_see_as_latin_are_folded(text, expected):
    assert matching_text(text) == expected


@pytest.mark.parametrize("text", ["Привет, как дела?", "Καλημέρα σας", "你好，世界", "مرحبا بكم"])
def test_words_of_another_script_are_left_as_written(text):
    """Folding look-alikes in a Russian word turned "Привет" into "Пpивeт": neither Russian nor
    English. Only words that mix scripts, or are all look-alikes, are folded."""
    assert matching_text(text) == unicodedata.normalize("NFKC", text)
    assert matching_text("Пр\u200bивет") == "Привет"  # format characters go all the same


def test_every_accented_latin_letter_with_an_ascii_base_is_folded():
    """Coverage against Unicode's own data (UnicodeData names and decompositions, as Python's
    unicodedata has them): every Latin letter built on an ASCII letter folds to it."""
    built_on = re.compile(r"LATIN (SMALL|CAPITAL) LETTER ([A-Z]) WITH ")
    letters = [chr(c) for c in range(0x80, 0x30000) if built_on.match(unicodedata.name(chr(c), ""))]
    assert len(letters) > 700
    # NFKC splits a few into the letter and a spacing mark ("ŀ" → "l·"): the letter is what counts
    missed = [c for c in letters if not matching_text(c)[:1].isascii()]
    assert missed == []
