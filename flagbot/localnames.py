"""A wiki's own names for user pages, so that signatures, replies and pings are read on every
wiki: "[[Benutzer:Anna|Anna]]", "[[Dyskusja wikipedysty:Anna|dyskusja]]",
"[[Spezial:Beiträge/Anna]]" are rewritten to their canonical English form before the edit is
read, and everything after (signatures, `diffs.replied_to`, `patterns.targets`) reads one form.
Before this, not one reply on the Polish, French, Italian, Serbian, Arabic or Sorani talk pages
measured got its replied-to user, and their signatures were scored as text.

The names come from the wiki itself (`WikiClient.link_names`: siteinfo's namespaces, their
aliases and gender forms, and the Contributions page's aliases), so no table is kept here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

# local name (casefolded, spaces) → canonical prefix; Contributions' own names under "contribs"
LinkNames = Mapping[str, str]
CANONICAL = {2: "User", 3: "User talk", -1: "Special"}
CONTRIBS = "contribs"


def canonical_links(wikitext: str, names: LinkNames) -> str:
    """`wikitext` with every link to a user page, user talk page or contributions written with
    the wiki's local names rewritten to "User:", "User talk:", "Special:Contributions/"."""
    if not names or "[[" not in wikitext:
        return wikitext
    pages, contribs = _patterns(tuple(sorted(names.items())))
    if contribs is not None:
        wikitext = contribs.sub(r"\1Special:Contributions/", wikitext)
    return pages.sub(lambda m: f"{m.group(1)}{names[_key(m.group(2))]}:", wikitext)


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def _spaced(name: str) -> str:
    """A name as a pattern: any run of spaces or underscores where it has a space."""
    return r"[ _]+".join(re.escape(part) for part in name.split())


@functools.lru_cache(maxsize=64)
def _patterns(items: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    local = sorted((n for n, c in items if c != CONTRIBS), key=len, reverse=True)
    special = [n for n, c in items if c == "Special"]
    contribs = [n for n, c in items if c == CONTRIBS]
    pages = re.compile(
        r"(\[\[\s*:?\s*)(" + "|".join(map(_spaced, local)) + r")\s*:(?!/)", re.IGNORECASE
    )
    if not special or not contribs:
        return pages, None
    return pages, re.compile(
        r"(\[\[\s*:?\s*)(?:"
        + "|".join(map(_spaced, special))
        + r")\s*:\s*(?:"
        + "|".join(map(_spaced, sorted(contribs, key=len, reverse=True)))
        + r")\s*/",
        re.IGNORECASE,
    )


def link_names(siteinfo: Mapping[str, Any]) -> dict[str, str]:
    """The table from a siteinfo answer (`siprop=namespaces|namespacealiases|
    specialpagealiases`): each user namespace's local and canonical name, its aliases (gender
    forms and old names among them), and the Contributions page's local names."""
    table: dict[str, str] = {}
    namespaces = siteinfo.get("namespaces", {})
    for number, canonical in CANONICAL.items():
        namespace = namespaces.get(str(number), {})
        for name in (namespace.get("name"), namespace.get("canonical")):
            if name:
                table[_key(name)] = canonical
    for alias in siteinfo.get("namespacealiases", []):
        if alias.get("id") in CANONICAL and alias.get("alias"):
            table[_key(alias["alias"])] = CANONICAL[alias["id"]]
    for page in siteinfo.get("specialpagealiases", []):
        if page.get("realname") == "Contributions":
            table.update((_key(name), CONTRIBS) for name in page.get("aliases", []))
    return table
