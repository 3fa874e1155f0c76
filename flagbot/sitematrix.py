"""Every wiki of a farm from one config: `wikis: all`, or `wikis: {family: wikipedia, exclude:
[...]}`, resolved from the farm's site matrix (the Action API's `action=sitematrix`).

Why: the stream carries all ~900 Wikimedia wikis, and the small ones, with no local oversighters
or admins, are where harassment goes unanswered; listing them by hand means they are left out.
Private, closed and fishbowl wikis are skipped (nobody outside may read them, nobody can edit
them, or only staff do). Each wiki's server, script path and content language come from the
matrix. A recorded snapshot ships in `flagbot/data/sitematrix.json` (offline use and tests;
`scripts/record_sitematrix.py`); `flagbot run` asks the farm for the current matrix at start when
online and keeps the snapshot's answer if it cannot.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from flagbot.config import Settings, WikiSettings
from flagbot.errors import ConfigError

log = logging.getLogger(__name__)
SNAPSHOT = Path(__file__).with_name("data") / "sitematrix.json"
# a family's name in flagbot.yaml → its code in the matrix (a wiki's dbname ends with it)
FAMILIES = {
    "wikipedia": "wiki",
    "wiktionary": "wiktionary",
    "wikibooks": "wikibooks",
    "wikinews": "wikinews",
    "wikiquote": "wikiquote",
    "wikisource": "wikisource",
    "wikiversity": "wikiversity",
    "wikivoyage": "wikivoyage",
    "special": "special",  # Commons, Wikidata, Meta, …
}
SELECTION_KEYS = ("family", "exclude", "matrix")


class Site(NamedTuple):
    dbname: str
    url: str
    family: str  # a FAMILIES key
    language: str  # "" when the matrix does not say
    skipped: str  # "private", "closed", "fishbowl" or "" (watched)


def _flag(entry: Mapping[str, Any], key: str) -> bool:
    """formatversion=2 says true/false; formatversion=1 says true by the key being there (with
    "" as its value) — `bool("")` is False, which read every closed wiki as open."""
    return key in entry and entry[key] is not False


def sites(matrix: Mapping[str, Any]) -> Iterator[Site]:
    """Every wiki in an `action=sitematrix` answer (either formatversion)."""
    body = matrix.get("sitematrix", matrix)
    for key, language in body.items():
        if key in ("count", "specials") or not isinstance(language, dict):
            continue
        for site in language.get("site", []):
            family = next((f for f, c in FAMILIES.items() if c == site.get("code")), "")
            yield _site(site, family, str(language.get("code", "")))
    for site in body.get("specials", []):  # Commons, Wikidata, Meta: every language is written
        yield _site(site, "special", "")


def _site(entry: Mapping[str, Any], family: str, language: str) -> Site:
    skipped = next((k for k in ("private", "closed", "fishbowl") if _flag(entry, k)), "")
    return Site(str(entry["dbname"]), str(entry["url"]).rstrip("/"), family, language, skipped)


def load_matrix(path: str | Path = SNAPSHOT) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the site matrix: {exc}") from None
    return loaded


def selection_problems(selection: Any) -> list[str]:
    """What is wrong with a `wikis:` that is not a list: "all" or a mapping of SELECTION_KEYS."""
    if selection == "all":
        return []
    if not isinstance(selection, dict):
        return ["wikis: expected a list of wikis, `all`, or {family: …, exclude: […]}"]
    problems = [
        f"wikis.{key}: unknown key; allowed: {', '.join(SELECTION_KEYS)}"
        for key in selection
        if key not in SELECTION_KEYS
    ]
    families = selection.get("family", "all")
    for family in [families] if isinstance(families, str) else families:
        if family != "all" and family not in FAMILIES:
            problems.append(
                f"wikis.family: {family!r} is not a family; allowed: all, {', '.join(FAMILIES)}"
            )
    exclude = selection.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        problems.append("wikis.exclude: expected a list of wiki ids (dbnames)")
    return problems


def resolve(selection: Any, matrix: Mapping[str, Any]) -> tuple[WikiSettings, ...]:
    """The wikis a selection names, from a matrix: open, public, not excluded."""
    selection = {} if selection == "all" else selection
    families = selection.get("family", "all")
    families = {families} if isinstance(families, str) else set(families)
    exclude = set(selection.get("exclude", ()))
    out: dict[str, WikiSettings] = {}
    for site in sites(matrix):
        wanted = "all" in families or site.family in families
        if wanted and not site.skipped and site.dbname not in exclude:
            out.setdefault(site.dbname, WikiSettings(site.dbname, site.url, language=site.language))
    return tuple(out.values())


def with_live_matrix(settings: Settings, client: Any) -> Settings:
    """`settings` with its wikis resolved from the farm's current matrix (asked of the wiki
    that serves it, Meta for Wikimedia), or as they are when it cannot be asked."""
    if settings.wiki_selection is None or settings.offline:
        return settings
    snapshot = load_matrix(_matrix_path(settings.wiki_selection))
    meta = next((s for s in sites(snapshot) if s.dbname == "metawiki"), None)
    if meta is None:
        return settings
    try:
        matrix = client.site_matrix(WikiSettings(meta.dbname, meta.url))
    except Exception as exc:  # noqa: BLE001 — any failure: the snapshot stands
        log.warning("site matrix not refreshed (%s); the recorded snapshot stands", exc)
        return settings
    wikis = resolve(settings.wiki_selection, matrix)
    if not wikis:
        log.warning("the live site matrix names no wiki; the recorded snapshot stands")
        return settings
    log.info("site matrix: %d wikis watched", len(wikis))
    return dataclasses.replace(settings, wikis=wikis)


def _matrix_path(selection: Any) -> str | Path:
    return selection.get("matrix") or SNAPSHOT if isinstance(selection, dict) else SNAPSHOT


def resolved(selection: Any, origin: str) -> tuple[WikiSettings, ...]:
    """`wikis:` as flagbot.yaml gives it (not a list), resolved from the recorded matrix."""
    path = _matrix_path(selection)
    if path != SNAPSHOT and not Path(path).is_absolute() and not origin.startswith("<"):
        path = Path(origin).resolve().parent / path  # beside the config file
    return resolve(selection, load_matrix(path))
