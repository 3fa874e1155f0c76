"""What flagbot says to people, in their language: MediaWiki-style JSON message files in
flagbot/i18n/ (en, de, fr, es; qqq.json documents each message for translators), the format
translatewiki.net takes. Parameters are $1, $2, …; a language that lacks a message falls back
to English. The web pages pick the reader's language (`?uselang=`, then the browser's
Accept-Language, then the wiki's content language); a reporter's status email, the wiki's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from markupsafe import Markup, escape

DIRECTORY = Path(__file__).resolve().parent / "i18n"
LANGUAGES = ("en", "de", "fr", "es")  # complete catalogues (tests check every key)


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    path = DIRECTORY / f"{language}.json"
    if language not in LANGUAGES or not path.exists():
        return {}
    found = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in found.items() if not k.startswith("@")}


def message(language: str, key: str, *params: object) -> str:
    """The message in `language` (else English) with $1, $2, … filled in. An unknown key is a
    bug: KeyError."""
    return _filled(_text(language, key), params, str)


def html_message(language: str, key: str, *params: object) -> Markup:
    """`message` for a page: the message escaped, each parameter escaped unless it is markup
    already (a link)."""
    return Markup(_filled(escape(_text(language, key)), params, escape))


def _text(language: str, key: str) -> str:
    return catalogue(language).get(key) or catalogue("en")[key]


def _filled(text: str, params: tuple[object, ...], convert: Callable[[object], str]) -> str:
    for number in range(len(params), 0, -1):  # $10 before $1
        text = text.replace(f"${number}", convert(params[number - 1]))
    return text


def best_language(wanted: Iterable[str], fallback: str = "en") -> str:
    """The first of `wanted` (language tags, best first: "de-AT" counts as "de") that flagbot
    speaks, else `fallback` if it does, else English."""
    for tag in wanted:
        code = tag.lower().split("-")[0].split("_")[0]
        if code in LANGUAGES:
            return code
    return fallback if fallback in LANGUAGES else "en"
