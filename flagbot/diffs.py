"""Work out what an edit added: fetch both revisions through the Action API, diff them.

The diff itself (`added_wikitext`) is pure and works on plain strings: added lines and in-line
insertions count; moved lines (present verbatim in the old text) and untouched text do not.
`fetch_edit` wraps it with the API call and turns every reason not to score into a SkipEdit;
it also reads whose comment the edit replies to (`replied_to`), for the repeated-targeting
detector.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from flagbot.errors import FetchError, SkipEdit
from flagbot.events import RecentChange, valid_unicode
from flagbot.wikitext import readable_text, unquote_new_text

log = logging.getLogger(__name__)

WORD_SPLIT_MIN_RATIO = 0.5  # below this a replaced line is treated as rewritten, i.e. all added
HIDING_MARKUP = ("<!--", "-->", "display", "visibility", "font-size", "{{void", "{{^")
CANDIDATE_WINDOW = 20  # a replaced line is compared with the old lines this near its place
MAX_ADDED_WIKITEXT = 4_000_000  # twice the largest page MediaWiki allows ($wgMaxArticleSize)
RETRIES = 2  # after pywikibot's own; then the pipeline's batch retry takes over
REPLY_LOOKBACK = 500  # lines above a reply searched for the comment it is indented under
# the last of these links on a line is its signature: [[User:A|A]] ([[User talk:A|talk]])
SIGNATURE_LINK = re.compile(
    r"\[\[\s*(?:user(?:[ _]+talk)?\s*:|special\s*:\s*contrib(?:ution)?s\s*/)\s*([^|\]/#\n]+)",
    re.IGNORECASE,
)
HEADING = re.compile(r"^=+[^=].*=+\s*$")
# a reply that resets the indentation ("{{outdent}}", "{{od}}", "{{od|::::}}") still answers the
# comment above it (a wiki's own names for the template are rewritten by flagbot.localnames)
OUTDENT = re.compile(r"^[:*#]*\s*\{\{\s*(?:outdent|od|out|unindent|outdent2)\s*[|}]", re.IGNORECASE)


@dataclass(frozen=True)
class Edit:
    """What an edit added (wikitext, for scoring) and whose signed comment it is indented
    under ("" when it is no reply or the comment above is unsigned)."""

    added: str
    replied_to: str = ""


def _changed_blocks(old: Sequence[str], new: Sequence[str]) -> Iterator[tuple[int, int, int, int]]:
    """(i1, i2, j1, j2) for each run where old[i1:i2] became new[j1:j2], between unchanged runs.

    rapidfuzz aligns by longest common subsequence in C++ (bit-parallel, about n·m/64 steps);
    difflib's SequenceMatcher took 106 s on a reworded 5,000-line page (blank lines everywhere).
    """
    i = j = 0
    for op in Indel.opcodes(old, new):
        if op.tag == "equal":
            if op.src_start > i or op.dest_start > j:
                yield i, op.src_start, j, op.dest_start
            i, j = op.src_end, op.dest_end
    if i < len(old) or j < len(new):
        yield i, len(old), j, len(new)


def _inserted_words(old_line: str, new_line: str) -> str:
    old_words, new_words = old_line.split(" "), new_line.split(" ")
    pieces = [" ".join(new_words[j1:j2]) for _, _, j1, j2 in _changed_blocks(old_words, new_words)]
    return " ".join(p for p in pieces if p.strip())


def _closest(line: str, candidates: Sequence[str], place: int) -> tuple[str | None, float]:
    """The most similar of the old lines near `place` (similarity 0–1, difflib's ratio)."""
    window = candidates[max(place - CANDIDATE_WINDOW, 0) : place + CANDIDATE_WINDOW + 1]
    found = process.extractOne(line, window, scorer=fuzz.ratio, processor=None)
    return (found[0], found[1] / 100) if found else (None, 0.0)


def added_wikitext(old: str, new: str) -> str:
    """The wikitext that `new` adds to `old`: new lines and in-line insertions, not moves."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    old_set = set(old_lines)
    added: list[str] = []
    for i1, i2, j1, j2 in _changed_blocks(old_lines, new_lines):
        if i1 == i2:  # inserted lines
            added.extend(line for line in new_lines[j1:j2] if line not in old_set)
            continue
        candidates = old_lines[i1:i2]
        for offset, line in enumerate(new_lines[j1:j2]):
            if line in old_set:
                continue  # moved, not written
            # in a long rewritten run the old version of a line is near the same place
            place = offset * len(candidates) // (j2 - j1)
            best, ratio = _closest(line, candidates, place)
            if best is not None and ratio >= WORD_SPLIT_MIN_RATIO:
                inserted = _inserted_words(best, line)
                if inserted:
                    added.append(inserted)
            else:
                added.append(line)
    return "\n".join(line for line in added if line.strip())


def unhidden_text(old: str, new: str) -> str:
    """Text readers see in `new` that they did not see in `old`, when the edit removed markup
    that hides text (comment markers, display:none, {{void}}).

    The two-step trick: first add abuse inside an HTML comment, then delete the markers; in
    wikitext the second edit adds nothing. The readable texts of both versions are compared only
    when such markup was removed, since parsing whole pages is the expensive part.
    """
    new_lines = set(new.splitlines())
    removed = [line for line in old.splitlines() if line not in new_lines]
    if not any(marker in line.lower() for line in removed for marker in HIDING_MARKUP):
        return ""
    return added_wikitext(readable_text(old), readable_text(new))


def edit_added(old: str, new: str) -> str:
    """What an edit added, for scoring: new wikitext, and text that markup no longer hides."""
    unhidden = unhidden_text(old, new)
    added = unquote_new_text(added_wikitext(old, new), old)
    return f"{added}\n{unhidden}" if unhidden else added


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(":*#"))


def replied_to(old: str, new: str) -> str:
    """The user whose comment the edit's first new line replies to, read from talk-page
    threading: the reply is indented deeper (`:`) than the comment above it, whose last line
    ends with its author's signature. Replies to the same comment sit between them and are
    passed over; a heading or an unsigned comment above means no one can be named."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    start = len(os.path.commonprefix([old_lines, new_lines]))
    old_set = set(old_lines)
    first = next(
        (
            j
            for j in range(start, len(new_lines))
            if new_lines[j].strip() and new_lines[j] not in old_set
        ),
        None,
    )
    if first is None:
        return ""
    depth = _indent(new_lines[first])
    if OUTDENT.match(new_lines[first]):
        depth = REPLY_LOOKBACK  # outdented: it answers the comment right above, however deep
    elif depth == 0:
        return ""  # a new thread or top-level comment
    for line in reversed(new_lines[max(first - REPLY_LOOKBACK, 0) : first]):
        if HEADING.match(line.strip()):
            return ""
        if not line.strip() or _indent(line) >= depth:
            continue  # a blank line, or another reply to the same comment
        names = SIGNATURE_LINK.findall(line)
        return names[-1].strip() if names else ""
    return ""


def _revision_texts(response: dict[str, Any], wanted: list[int]) -> dict[int, str]:
    query = response.get("query", {})
    if query.get("badrevids"):
        raise SkipEdit("revision_missing")
    texts: dict[int, str] = {}
    for page in query.get("pages", []):
        if page.get("missing") or page.get("invalid"):
            raise SkipEdit("page_missing")
        for rev in page.get("revisions", []):
            slot = rev.get("slots", {}).get("main", {})
            if slot.get("texthidden") or rev.get("texthidden") or rev.get("suppressed"):
                raise SkipEdit("revision_hidden")
            if slot.get("missing") or "content" not in slot:
                raise SkipEdit("revision_missing")
            if slot.get("contentmodel", "wikitext") != "wikitext":
                raise SkipEdit("not_wikitext", slot.get("contentmodel", ""))
            texts[rev["revid"]] = slot["content"]
    if set(wanted) - set(texts):
        raise SkipEdit("revision_missing")
    return texts


def fetch_added(site: Any, change: RecentChange, limit: int = MAX_ADDED_WIKITEXT) -> str:
    """The wikitext this edit added (`fetch_edit`)."""
    return fetch_edit(site, change, limit).added


def fetch_edit(site: Any, change: RecentChange, limit: int = MAX_ADDED_WIKITEXT) -> Edit:
    """The wikitext this edit added, and whom it replies to, fetched through `site` (a
    pywikibot APISite).

    No size cap applies here: markup and comments are not what readers see, so a threat padded
    with a hidden 20,000-character comment must still be scored (the pipeline caps what it
    stores, not what it scores). `limit` only guards against a wiki sending absurd amounts.
    """
    old, new = fetch_revisions(site, change)
    return read_edit(old, new, limit)


def read_edit(old: str, new: str, limit: int = MAX_ADDED_WIKITEXT) -> Edit:
    """What an edit from `old` to `new` added, and whom it replies to: CPU only, no network
    (the pipeline runs it under a time budget, flagbot.budget)."""
    added = valid_unicode(edit_added(old, new))
    if len(added) > limit:
        raise SkipEdit("too_large")
    return Edit(added, valid_unicode(replied_to(old, new)))


def fetch_revisions(site: Any, change: RecentChange) -> tuple[str, str]:
    """The page's wikitext before and after the edit ("" before a page creation)."""
    from pywikibot.exceptions import APIError, Error

    if change.new_rev is None:
        raise SkipEdit("no_revision")
    wanted = [r for r in (change.old_rev, change.new_rev) if r]
    delay = 1.0
    for attempt in range(RETRIES + 1):
        try:
            response = site.simple_request(
                action="query",
                prop="revisions",
                revids=wanted,
                rvprop=["ids", "content", "contentmodel"],
                rvslots="main",
                formatversion=2,
            ).submit()
            break
        except APIError as exc:
            if exc.code in ("nosuchrevid", "missingtitle"):
                raise SkipEdit("revision_missing") from None
            if exc.code in ("permissiondenied", "badrevids"):
                raise SkipEdit("revision_hidden") from None
            error: Exception = exc
        except Error as exc:  # pywikibot has already retried maxlag and timeouts
            error = exc
        if attempt == RETRIES:
            raise FetchError(f"{change.wiki} rev {change.new_rev}: {error}")
        log.warning(
            "fetching rev %s on %s failed (%s); retrying in %.0f s",
            change.new_rev,
            change.wiki,
            type(error).__name__,
            delay,
        )
        time.sleep(delay)
        delay = min(delay * 2, 30)
    texts = _revision_texts(response, wanted)
    old = texts.get(change.old_rev, "") if change.old_rev else ""
    return old, texts[change.new_rev]
