"""Turn the wikitext an edit added into the text a person wrote.

Signatures, quotes of other people and markup are removed, so the classifier and the rules see
the writer's own words. Pure: plain strings in, plain strings out.
"""

from __future__ import annotations

import re

import mwparserfromhell
from mwparserfromhell.nodes import Comment, Heading, Tag, Template, Text, Wikilink
from mwparserfromhell.wikicode import Wikicode

# Templates that quote someone else: their content is not the writer's words.
QUOTE_TEMPLATES = frozenset(
    {
        "tq",
        "talkquote",
        "talk quote",
        "quote",
        "tqi",
        "tq2",
        "talkquote2",
        "cquote",
        "quote box",
        "blockquote",
        "xt",
        "!xt",
        "green",
        "quotation",
    }
)
# Templates that are a signature or a ping: names, not words.
SIGNATURE_TEMPLATES = frozenset(
    {
        "unsigned",
        "unsigned ip",
        "unsignedip",
        "unsigned2",
        "ping",
        "reply to",
        "replyto",
        "re",
        "u",
        "user",
        "userlinks",
        "user link",
        "noping",
        "yo",
        "hi",
    }
)
QUOTE_TAGS = frozenset(
    {
        "blockquote",
        "q",
        "ref",
        "syntaxhighlight",
        "source",
        "pre",
        "nowiki",
        "math",
        "gallery",
        "references",
    }
)
USER_NAMESPACES = (
    "user:",
    "user talk:",
    "special:contributions/",
    "special:contribs/",
    "ut:",
    "u:",
)
SIGNATURE_TIME = re.compile(
    r"\d{1,2}:\d{2}, \d{1,2} (?:January|February|March|April|May|June|July|August|September"
    r"|October|November|December) \d{4} \((?:UTC|CET|CEST|[A-Z]{2,5})\)"
)
INDENT = re.compile(r"^[:*#;]+\s*", re.MULTILINE)
SPACES = re.compile(r"[ \t]{2,}|\t")  # runs only: single spaces need no replacing
BLANK_LINES = re.compile(r"\n{3,}")
# what a removed signature leaves behind: "()", "(talk)", "·", "--"
SIGNATURE_REMAINS = re.compile(
    r"\(\s*(?:talk|contribs|[·•|\s])*\)|\s[·•]\s|\s?(?:--|—|–)\s*$", re.MULTILINE
)


def _template_name(node: Template) -> str:
    return str(node.name).strip().lower().replace("_", " ")


def _readable(code: Wikicode) -> str:
    parts: list[str] = []
    for node in code.nodes:
        if isinstance(node, Text):
            parts.append(str(node.value))
        elif isinstance(node, Wikilink):
            target = str(node.title).strip().lower().lstrip(":")
            if target.startswith(USER_NAMESPACES):
                continue  # part of a signature
            if target.startswith(("file:", "image:", "category:")):
                continue
            parts.append(_readable(node.text) if node.text is not None else str(node.title))
        elif isinstance(node, Template):
            name = _template_name(node)
            if name in QUOTE_TEMPLATES or name in SIGNATURE_TEMPLATES:
                continue
            # e.g. {{small|…}}, {{strong|…}}: keep the visible positional arguments
            parts.extend(_readable(p.value) for p in node.params if not p.showkey)
            parts.append(" ")
        elif isinstance(node, Tag):
            tag = str(node.tag).strip().lower()
            if tag in QUOTE_TAGS or node.contents is None:
                if tag == "br":
                    parts.append("\n")
                continue
            parts.append(_readable(node.contents))
        elif isinstance(node, Heading):
            parts.append(_readable(node.title) + "\n")
        elif isinstance(node, Comment):
            continue
        else:  # external links, HTML entities, arguments: their plain text
            parts.append(
                str(node.__strip__(normalize=True, collapse=True, keep_template_params=False) or "")
            )
    return "".join(parts)


# Any of these may start wikitext markup; a text without them is plain prose to the parser.
MARKUP = re.compile(r"[\[\]{}<>&=~_|]|''|://|^[*#;:]", re.MULTILINE)


def readable_text(wikitext: str) -> str:
    """The words a person wrote: no signature, quotes of others, templates or markup."""
    if not wikitext.strip():
        return ""
    # plain prose, as most comments are, gives the parser nothing to do
    text = _readable(mwparserfromhell.parse(wikitext)) if MARKUP.search(wikitext) else wikitext
    text = SIGNATURE_TIME.sub("", text)
    text = text.replace("'''", "").replace("''", "").replace("~~~~", "")
    text = SIGNATURE_REMAINS.sub("", text)
    text = INDENT.sub("", text)
    text = SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.splitlines())
    return BLANK_LINES.sub("\n\n", text).strip(" \n-—–")
