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

# local name (casefolded, spaces) → canonical prefix; Contributions' own names under "contribs",
# the template namespace's under "Template", the local names of the templates flagbot reads
# (ping, unsigned signatures, outdent) under their English name
LinkNames = Mapping[str, str]
CANONICAL = {2: "User", 3: "User talk", -1: "Special", 10: "Template"}
CONTRIBS = "contribs"
LINKED = ("User", "User talk", "Special")
TEMPLATES = ("ping", "unsigned", "outdent")


def canonical_links(wikitext: str, names: LinkNames) -> str:
    """`wikitext` with every link to a user page, user talk page or contributions written with
    the wiki's local names rewritten to "User:", "User talk:", "Special:Contributions/", and
    every call of the ping, unsigned or outdent template by a local name rewritten to its
    English name ("{{Notif|" → "{{ping|", "{{Unsigniert|" → "{{unsigned|")."""
    if not names or ("[[" not in wikitext and "{{" not in wikitext):
        return wikitext
    pages, contribs, templates = _patterns(tuple(sorted(names.items())))
    if templates is not None and "{{" in wikitext:  # "{{Notif|Anna}}" is "{{ping|Anna}}"
        wikitext = templates.sub(
            lambda m: f"{m.group(1)}{names[_key(m.group(2))]}{m.group(3)}", wikitext
        )
    if "[[" not in wikitext:
        return wikitext
    if contribs is not None:
        wikitext = contribs.sub(r"\1Special:Contributions/", wikitext)
    return pages.sub(lambda m: f"{m.group(1)}{names[_key(m.group(2))]}:", wikitext)


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


def _spaced(name: str) -> str:
    """A name as a pattern: any run of spaces or underscores where it has a space."""
    return r"[ _]+".join(re.escape(part) for part in name.split())


def _alternatives(names: list[str]) -> str:
    return "|".join(map(_spaced, sorted(names, key=len, reverse=True)))


@functools.lru_cache(maxsize=64)
def _patterns(
    items: tuple[tuple[str, str], ...],
) -> tuple[re.Pattern[str], re.Pattern[str] | None, re.Pattern[str] | None]:
    """The link, contributions and ping patterns for one wiki's names (compiled once)."""
    by: dict[str, list[str]] = {}
    for name, kind in items:
        by.setdefault(kind, []).append(name)
    linked = [n for kind in LINKED for n in by.get(kind, [])]
    pages = re.compile(r"(\[\[\s*:?\s*)(" + _alternatives(linked) + r")\s*:", re.IGNORECASE)
    contribs = None
    if by.get("Special") and by.get(CONTRIBS):
        contribs = re.compile(
            r"(\[\[\s*:?\s*)(?:"
            + _alternatives(by["Special"])
            + r")\s*:\s*(?:"
            + _alternatives(by[CONTRIBS])
            + r")\s*/",
            re.IGNORECASE,
        )
    templates = None
    local_templates = [n for kind in TEMPLATES for n in by.get(kind, [])]
    if local_templates:
        namespace = r"(?:(?:" + _alternatives(by.get("Template") or ["template"]) + r")\s*:\s*)?"
        templates = re.compile(
            r"(\{\{\s*)" + namespace + r"(" + _alternatives(local_templates) + r")(\s*[|}])",
            re.IGNORECASE,
        )
    return pages, contribs, templates


def link_names(siteinfo: Mapping[str, Any]) -> dict[str, str]:
    """The table from a siteinfo answer (`siprop=namespaces|namespacealiases|
    specialpagealiases`): each user and template namespace's local and canonical name, its
    aliases (gender forms and old names among them), and the Contributions page's local
    names."""
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


def template_names(answer: Mapping[str, Any]) -> dict[str, str]:
    """The local names of the ping, unsigned and outdent templates, from a `prop=redirects`
    query on Template:Ping|Template:Unsigned|Template:Outdent with `redirects` (formatversion
    2): each template by its title, the title it redirects to, and every redirect to it
    ("Vorlage:Ping", "Modèle:Notif", "Template:Od")."""
    table: dict[str, str] = {}
    resolved = {r.get("to", ""): r.get("from", "") for r in answer.get("redirects", [])}
    normalized = {n.get("to", ""): n.get("from", "") for n in answer.get("normalized", [])}
    for page in answer.get("pages", []):
        title = page.get("title", "")
        asked = normalized.get(resolved.get(title, title), resolved.get(title, title))
        canonical = _key(asked.split(":", 1)[-1])
        if page.get("missing") or canonical not in TEMPLATES:
            continue
        redirects = [r.get("title", "") for r in page.get("redirects", [])]
        for name in filter(None, [title, *redirects]):
            table[_key(name.split(":", 1)[-1])] = canonical
    return table
