"""Whom an edit is aimed at: the owner of the user talk page it was posted on, the user it
replies to, and the users it pings or links."""

from __future__ import annotations

import re

import mwparserfromhell

from flagbot.events import RecentChange

USER_PAGE_NAMESPACES = (2, 3)  # User, User talk
# templates that notify a user ({{ping|A|B}}, {{reply to|A}}): their unnamed parameters are users
PING_TEMPLATES = frozenset(
    {"ping", "pinging", "reply to", "replyto", "reply", "re", "yo", "mention", "u", "rto"}
)
USER_PREFIXES = ("user", "user talk")
MAX_TARGETS = 10  # a mass ping is an announcement, not a target list
MENTION_LINES, MENTION_WORDS, MAX_MENTIONS = 3, 3, 120  # where a thread says whom it is about
WORDS = re.compile(r"[^\W_][\w'-]*")
HEADING = re.compile(r"^=+([^=\n].*?)=+\s*$", re.MULTILINE)


def user_name(raw: str) -> str:
    """A user name as MediaWiki writes it: spaces, first letter capital, no "User:" prefix."""
    name = " ".join(raw.replace("_", " ").split())
    if name.lower().startswith("user:"):
        name = name[5:].strip()
    return name[:1].upper() + name[1:255]


def page_owner(namespace: int, title: str) -> str:
    """Whose user page or user talk page (or subpage) this is; "" for any other page."""
    if namespace not in USER_PAGE_NAMESPACES or ":" not in title:
        return ""
    return user_name(title.split(":", 1)[1].split("/", 1)[0])


def targets(change: RecentChange, added_wikitext: str, replied_to: str = "") -> tuple[str, ...]:
    """Whom an edit is aimed at: the owner of the user talk page it was posted on, the user
    whose comment it replies to (`flagbot.diffs.replied_to`), and the users it pings or links;
    never its author (a signature links the author's own page)."""
    found = [page_owner(change.namespace, change.title), replied_to]
    if "{{" not in added_wikitext and "[[" not in added_wikitext:
        added_wikitext = ""  # no ping, no link: the text was parsed once already, spare it
    try:
        code = mwparserfromhell.parse(added_wikitext)
        for template in code.filter_templates(recursive=True):
            if str(template.name).strip().lower().replace("_", " ") in PING_TEMPLATES:
                found += [str(p.value) for p in template.params if not p.showkey]
        for link in code.filter_wikilinks(recursive=True):
            prefix, _, rest = str(link.title).partition(":")
            if prefix.strip().lower().replace("_", " ") in USER_PREFIXES:
                found.append(rest.split("/", 1)[0])
    except Exception:  # noqa: BLE001 - odd wikitext: the page owner is still a target
        pass
    author = user_name(change.user)
    names = dict.fromkeys(n for n in map(user_name, found) if n and n != author and "{" not in n)
    return tuple(names)[:MAX_TARGETS]


def mention_key(name: str) -> str:
    """A user name or a run of words as compared with each other: words casefolded, "_" a
    space ("Vic_99" is "vic 99")."""
    return " ".join(WORDS.findall(name.replace("_", " ").casefold()))


def mentions(added_wikitext: str) -> tuple[str, ...]:
    """Every run of one to MENTION_WORDS words in the headings an edit added: a thread about
    someone names them there ("== Vic_99's edits ==") without a link or a ping. Headings only: a
    user called "Thanks" must not be invited by every comment that starts with a thank-you.
    Only hashed ones are kept (flagbot.patterns.hounding)."""
    found: dict[str, None] = {}
    for heading in HEADING.findall(added_wikitext)[:MENTION_LINES]:
        words = mention_key(heading.replace("'s ", " ").replace("'s=", "=")).split()
        for size in range(1, MENTION_WORDS + 1):
            for start in range(len(words) - size + 1):
                found[" ".join(words[start : start + size])] = None
    return tuple(found)[:MAX_MENTIONS]
