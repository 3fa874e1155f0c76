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
QUOTE_TAGS = frozenset({"blockquote", "q"})
QUOTE_PARAMS = frozenset({"1", "text", "quote", "quotetext"})  # where a quote template's text is
QUOTE_HINT = re.compile(r"\{\{|<(?:blockquote|q)\b", re.IGNORECASE)
# Tags whose content readers see as it is written, markup and all (not parsed as wikitext).
LITERAL_TAGS = frozenset({"nowiki", "pre", "syntaxhighlight", "source", "code", "math", "chem"})
# Templates that render nothing (or hide their argument): their arguments are not seen.
INVISIBLE_TEMPLATES = frozenset({"void", "^", "null", "hidden comment", "nodisplay", "comment"})
# Options of a file link; the remaining part is the caption readers see.
FILE_OPTION = re.compile(
    r"^\s*(?:thumb|thumbnail|frame|frameless|framed|border|left|right|center|centre|none|upright"
    r"(?:\s*=?\s*[\d.]+)?|baseline|middle|sub|super|text-top|text-bottom|top|bottom|\d*x?\d+px"
    r"|(?:alt|link|page|lang|class|upright)\s*=.*)\s*$",
    re.IGNORECASE,
)
# Tags that start a new line, block or cell where readers see them: whatever they hold (or
# nothing: <br>, a ";" term, a table cell) is a word boundary, never glue ("kill<br>you")
BLOCK_TAGS = frozenset(
    {
        "br", "p", "div", "hr", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th",
        "caption", "center", "h1", "h2", "h3", "h4", "h5", "h6", "section",
    }
)  # fmt: skip
# Short link labels that are a signature's furniture, not words
SIGNATURE_LABELS = frozenset({"talk", "contribs", "t", "c", "talk page", "contributions", "✉", "☎"})
HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0", re.I)
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


def _user_link_words(target: str, label: str) -> str:
    """A user link's label if it says something: a signature's label names the user or is
    furniture ("talk"); "[[User:X|you are a liar]]" is words readers see."""
    user = target.split(":", 1)[1].split("/", 1)[0].strip().lower().replace("_", " ")
    plain = " ".join(label.split()).lower()
    if not plain or plain in SIGNATURE_LABELS or user in plain or plain in user:
        return ""
    return label if len(plain.split()) > 1 else ""  # a one-word label is a signature's nickname


def _top_level_parts(wikitext: str) -> list[str]:
    """`wikitext` split at the pipes outside nested links and templates: the parts of a file
    link or gallery line ("thumb|I will [[kill]] you|alt=x")."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(wikitext):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "|" and depth == 0:
            parts.append(wikitext[start:i])
            start = i + 1
    return [*parts, wikitext[start:]]


def _caption(wikitext: str) -> str:
    """A file's caption: its last part that is not an option (options may follow it, as in
    "thumb|caption|alt=photo"), read as readers see it."""
    captions = [p for p in _top_level_parts(wikitext) if not FILE_OPTION.match(p)]
    return _readable(mwparserfromhell.parse(captions[-1])) if captions else ""


def _file_caption(node: Wikilink) -> str:
    return "" if node.text is None else _caption(str(node.text))


def _readable(code: Wikicode) -> str:
    parts: list[str] = []
    for node in code.nodes:
        if isinstance(node, Text):
            parts.append(str(node.value))
        elif isinstance(node, Wikilink):
            raw = str(node.title).strip().lower()
            target = raw.lstrip(":")
            if raw.startswith(":") and not target.startswith(USER_NAMESPACES):
                # "[[:Category:X|words]]", "[[:File:X|words]]": a plain link, its label shown
                title = str(node.title).strip().lstrip(":")
                parts.append(_readable(node.text) if node.text is not None else title)
                continue
            if target.startswith(USER_NAMESPACES):
                if node.text is not None:  # otherwise part of a signature
                    parts.append(_user_link_words(target, _readable(node.text)))
                continue
            if target.startswith(("file:", "image:")):
                parts.append(_file_caption(node))
                continue
            if target.startswith("category:"):
                continue  # not shown where it is written
            parts.append(_readable(node.text) if node.text is not None else str(node.title))
        elif isinstance(node, Template):
            name = _template_name(node)
            if (
                name in QUOTE_TEMPLATES
                or name in SIGNATURE_TEMPLATES
                or name in INVISIBLE_TEMPLATES
            ):
                continue
            # {{small|…}}, {{collapse top|title=…}}: what the template shows comes from its
            # arguments, named ones included
            parts.extend(_readable(p.value) + " " for p in node.params)
        elif isinstance(node, Tag):
            tag = str(node.tag).strip().lower()
            if any(HIDDEN_STYLE.search(str(a.value)) for a in node.attributes if a.value):
                continue  # invisible to readers
            if tag in QUOTE_TAGS:
                continue
            if tag in BLOCK_TAGS:  # a boundary before and after, whatever it holds
                inside = _readable(node.contents).strip() if node.contents else ""
                # an empty one is a line break (<br>) or a list or term marker ("*", ";", ":")
                parts.append(f"\n{inside}\n" if inside else "\n" if tag == "br" else " ")
                continue
            if node.contents is None:
                continue
            if tag in LITERAL_TAGS:
                parts.append(str(node.contents))
            elif tag == "gallery":  # "File:X.jpg|options|caption" lines
                parts.extend(
                    _caption(line.split("|", 1)[1]) + "\n"
                    for line in str(node.contents).splitlines()
                    if "|" in line
                )
            elif tag == "ref":  # shown as a footnote: words of its own
                parts.append(f" {_readable(node.contents)} ")
            else:
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


def _quoted(node: Template | Tag) -> str | None:
    """The wikitext a quote template or tag quotes, or None if the node is no quote."""
    if isinstance(node, Template) and _template_name(node) in QUOTE_TEMPLATES:
        return " ".join(str(p.value) for p in node.params if str(p.name).strip() in QUOTE_PARAMS)
    if isinstance(node, Tag) and str(node.tag).strip().lower() in QUOTE_TAGS and node.contents:
        return str(node.contents)
    return None


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def unquote_new_text(added: str, page_before: str) -> str:
    """`added` with every quote of text that was not on the page before unwrapped.

    Quoting is how a reply cites what others wrote, so a genuine quote is not the writer's
    words; text "quoted" that nobody wrote there before is, and wrapping abuse in {{tq}} must
    not hide it.
    """
    if not QUOTE_HINT.search(added):
        return added
    code = mwparserfromhell.parse(added)
    raw_before = _folded(page_before)
    seen_before: str | None = None  # what readers saw, parsed only if a quote needs it
    for node in list(code.nodes):  # top level: a quote inside a quote goes with its quote
        if not isinstance(node, Template | Tag):
            continue
        quoted = _quoted(node)
        if quoted is None:
            continue
        folded = _folded(readable_text(quoted))
        if folded in raw_before:  # cheap test first; then what readers saw, not a hidden copy
            if seen_before is None:
                seen_before = _folded(readable_text(page_before))
            if folded in seen_before:
                continue
        code.replace(node, quoted)
    return str(code)


def quoted_text(wikitext: str) -> str:
    """The readable text of every quote in `wikitext` (what `readable_text` leaves out as
    others' words): still checked for personal information, since reposting someone's address
    in a quote is doxxing too."""
    if not QUOTE_HINT.search(wikitext):
        return ""
    nodes = mwparserfromhell.parse(wikitext).ifilter(recursive=True)
    quotes = (_quoted(n) for n in nodes if isinstance(n, Template | Tag))
    return "\n".join(filter(None, (readable_text(q) for q in quotes if q)))


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
