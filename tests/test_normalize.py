"""normalize: the spellings people use to slip past filters, undone; ASCII left alone."""

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
    assert remembered  # format characters are remembered as they are met…
    assert all(unicodedata.category(chr(c)) == "Cf" for c in remembered)  # …and nothing else
    assert len(table) < len(normalize._confusables()) + 400
