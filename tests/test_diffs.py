"""diffs: the pure diff, and fetch_added against recorded Action API responses.

The fetch tests use a stand-in for pywikibot's APISite that returns recorded JSON shaped like a
real MediaWiki 1.39 answer to prop=revisions (formatversion 2). The real-wiki path is exercised
by tests/integration.
"""

import pytest

from flagbot.diffs import added_wikitext, edit_added, fetch_added
from flagbot.errors import SkipEdit
from flagbot.events import RecentChange
from flagbot.wikitext import quoted_text, readable_text

OLD = "== Topic ==\nFirst comment. ~~sig1\n\n== Other ==\nA long standing paragraph of text here.\n"


def test_new_lines_are_added():
    new = OLD + ":Reply: you are wrong about this.\n"
    assert added_wikitext(OLD, new) == ":Reply: you are wrong about this."


def test_inline_insertion_gives_only_inserted_words():
    new = OLD.replace("First comment.", "First comment, and you are an idiot.")
    assert added_wikitext(OLD, new) == "comment, and you are an idiot."


def test_moved_lines_are_not_added():
    lines = OLD.splitlines()
    moved = "\n".join(lines[3:] + lines[:3])
    assert added_wikitext(OLD, moved) == ""


def test_removed_text_is_not_added():
    assert added_wikitext(OLD, OLD.replace("First comment. ~~sig1\n", "")) == ""


def test_page_creation_adds_everything():
    assert added_wikitext("", "hello\nworld") == "hello\nworld"


def big_page(lines, blank_every=0):
    """A talk page of distinct comments (optionally with blank lines, as most pages have)."""
    out = []
    for i in range(lines):
        out.append(f":Comment number {i} about source {i * 7} and wording {i % 13}. ~~sig{i % 50}")
        if blank_every and i % blank_every == 0:
            out.append("")
    return out


@pytest.mark.parametrize("blank_every", [0, 3])
def test_a_threat_hidden_in_a_rewritten_20000_line_page_is_found(blank_every):
    """Every line of a 20,000-line page reworded a little, one new line in the middle: the new
    line counts whole, the rewordings count only for their new words. (difflib took minutes.)"""
    old = big_page(20_000, blank_every)
    new = [line.replace("wording", "phrasing") for line in old]
    new.insert(len(new) // 2, "I will find where you live and hurt you.")
    added = added_wikitext("\n".join(old), "\n".join(new)).splitlines()
    assert "I will find where you live and hurt you." in added
    assert len(added) == 20_001
    assert {line for line in added if "hurt" not in line} == {"phrasing"}


def test_a_huge_single_line_edit_gives_only_the_inserted_words():
    words = [f"w{i}" for i in range(50_000)]
    new = words[:25_000] + ["you", "idiot"] + words[25_000:]
    assert added_wikitext(" ".join(words), " ".join(new)) == "you idiot"


class RecordedSite:
    """Stand-in for pywikibot.APISite.simple_request(...).submit(): returns a recorded reply."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = []

    def simple_request(self, **params):
        self.requests.append(params)
        site = self

        class Request:
            def submit(self):
                return site.reply

        return Request()


def change(old=1, new=2):
    return RecentChange(
        "testwiki", "http://w", "", 1, "Talk:X", "U", False, "edit", old, new, 0, ""
    )


def pages(*revs):
    return {"query": {"pages": [{"pageid": 1, "title": "Talk:X", "revisions": list(revs)}]}}


def rev(revid, content=None, **extra):
    slot = {"contentmodel": extra.pop("model", "wikitext")}
    if content is not None:
        slot["content"] = content
    slot.update(extra)
    return {"revid": revid, "slots": {"main": slot}}


def test_fetch_added_diffs_the_two_revisions():
    site = RecordedSite(pages(rev(1, "a\n"), rev(2, "a\nb is new\n")))
    assert fetch_added(site, change(), 20000) == "b is new"
    assert site.requests[0]["revids"] == [1, 2]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (pages(rev(1, "a"), rev(2, texthidden=True)), "revision_hidden"),
        (pages(rev(1, missing=True), rev(2, "b")), "revision_missing"),
        ({"query": {"badrevids": {"2": {"revid": 2, "missing": True}}}}, "revision_missing"),
        ({"query": {"pages": [{"title": "Talk:X", "missing": True}]}}, "page_missing"),
        (pages(rev(1, "{}", model="json"), rev(2, "{}", model="json")), "not_wikitext"),
        (pages(rev(1, "a")), "revision_missing"),
        (pages(rev(1, ""), rev(2, "x" * 30000)), "too_large"),  # over the guard given
    ],
)
def test_fetch_added_gives_clear_skip_reasons(reply, reason):
    with pytest.raises(SkipEdit) as caught:
        fetch_added(RecordedSite(reply), change(), limit=20000)
    assert caught.value.reason == reason


def test_a_threat_padded_with_a_hidden_comment_is_not_skipped_for_size():
    """A threat plus a 20,000-character HTML comment was `too_large`: never scored. Readers see
    only the threat; the size of markup and comments must not decide what is scored."""
    padded = "I will kill you if you revert again <!--" + "pad " * 6000 + "-->"
    site = RecordedSite(pages(rev(1, "== Talk =="), rev(2, "== Talk ==\n" + padded)))
    added = fetch_added(site, change())
    assert readable_text(added) == "I will kill you if you revert again"


def test_page_creation_fetches_only_the_new_revision():
    site = RecordedSite(pages(rev(2, "brand new page")))
    assert fetch_added(site, change(old=None), 20000) == "brand new page"
    assert site.requests[0]["revids"] == [2]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # the markers of a one-line comment deleted
        ("== T ==\n:<!-- I will kill you -->\n", "== T ==\n:I will kill you\n"),
        # a comment over several lines: only the marker lines change
        ("== T ==\n<!--\nI will kill you\n-->\n", "== T ==\nI will kill you\n"),
        # display:none taken away
        (
            '== T ==\n<span style="display:none">I will kill you</span>\n',
            "== T ==\n<span>I will kill you</span>\n",
        ),
    ],
)
def test_text_a_second_edit_unhides_counts_as_added(old, new):
    """Two-step edits: abuse first posted hidden, then revealed by deleting the hiding markup;
    in wikitext the second edit added nothing, so it was never scored."""
    assert "I will kill you" in readable_text(edit_added(old, new))


def test_an_ordinary_edit_does_not_parse_whole_pages(monkeypatch):
    from flagbot import diffs

    monkeypatch.setattr(diffs, "readable_text", lambda text: pytest.fail("parsed the page"))
    assert edit_added(OLD, OLD + ":a reply <!-- note -->\n") == ":a reply <!-- note -->"


@pytest.mark.parametrize(
    "quote",
    [
        "{{tq|you are a pathetic idiot}}",
        "{{talkquote|text=you are a pathetic idiot}}",
        "<blockquote>you are a pathetic idiot</blockquote>",
        "{{quote|you are a pathetic idiot}}",
    ],
)
def test_a_quote_of_text_nobody_wrote_before_is_the_writers_own(quote):
    """Wrapping abuse in a quote template hid it: quotes were always dropped."""
    added = edit_added(OLD, OLD + f":Well, {quote} [[User:Eve|Eve]]\n")
    assert "you are a pathetic idiot" in readable_text(added)


def test_a_genuine_quote_of_what_is_on_the_page_is_not_scored_as_the_replys_words():
    old = OLD + ":You are a pathetic idiot. [[User:Mallory|Mallory]]\n"
    added = edit_added(old, old + "::You wrote {{tq|you are a   pathetic idiot}}; please stop.\n")
    assert readable_text(added) == "You wrote ; please stop."


def test_a_genuine_quote_is_still_there_for_the_personal_information_rules():
    old = OLD + ":She lives at 42 Elm Street, Springfield. [[User:Mallory|Mallory]]\n"
    added = edit_added(old, old + "::Outing: {{tq|She lives at 42 Elm Street, Springfield.}}\n")
    assert readable_text(added) == "Outing:"
    assert quoted_text(added) == "She lives at 42 Elm Street, Springfield."


def test_quoting_text_first_hidden_in_a_comment_is_not_a_genuine_quote():
    """Two steps: hide the insult in a comment (nothing visible, nothing scored), then "quote"
    it. The raw wikitext held it, but readers never saw it there."""
    old = OLD + "<!-- you are a pathetic idiot -->\n"
    added = edit_added(old, old + ":You said {{tq|you are a pathetic idiot}}\n")
    assert "you are a pathetic idiot" in readable_text(added)


SIG = "[[User:{0}|{0}]] ([[User talk:{0}|talk]]) 10:00, 1 January 2026 (UTC)"
THREAD = "\n".join(
    [
        "== Reverts ==",
        "Why did you revert me? " + SIG.format("Bob"),
        ":Because the source says otherwise, see [[User:Zed|Zed]]'s note. " + SIG.format("Carol"),
        "::I disagree. " + SIG.format("Dave"),
        "",
        "== Another thread ==",
        "Unsigned question, no signature here",
        "",
    ]
)


def reply_at(thread: str, after: str, line: str) -> str:
    """The page with `line` inserted after the line starting with `after`."""
    lines = thread.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith(after)) + 1
    return "\n".join(lines[:at] + [line] + lines[at:])


@pytest.mark.parametrize(
    ("after", "line", "expected"),
    [
        # deeper than Carol's comment, after the sibling reply by Dave: Carol, not Dave or Zed
        ("::I disagree", "::You are a liar. ~~~~", "Carol"),
        ("::I disagree", ":::You too. ~~~~", "Dave"),  # under Dave's
        ("Why did you", ":Reply to the opener ~~~~", "Bob"),  # inserted mid-page
        ("::I disagree", "Not indented: no reply", ""),
        ("Unsigned question", ":a reply to nobody signed", ""),
        ("== Another", ":indented under a heading", ""),
        # an IP's signature links its contributions
        (
            "Why did you",
            ":x " + SIG.format("Eve").replace("User:Eve", "Special:Contributions/192.0.2.7"),
            "Bob",
        ),
    ],
)
def test_whose_comment_a_reply_is_indented_under(after, line, expected):
    from flagbot.diffs import replied_to

    assert replied_to(THREAD, reply_at(THREAD, after, line)) == expected


def test_replies_to_an_ip_and_on_a_page_of_20000_lines():
    from flagbot.diffs import replied_to

    ip = "Question " + "[[Special:Contributions/192.0.2.7|192.0.2.7]] 10:00 (UTC)"
    assert replied_to(ip, ip + "\n:answer") == "192.0.2.7"
    big = "\n".join(f"Line {i} of an archive " + SIG.format(f"U{i}") for i in range(20_000))
    assert replied_to(big, big + "\n:you again") == "U19999"
    assert replied_to(big, big) == ""  # a null edit
    assert replied_to(big, big.replace("Line 5 ", "Line five ", 1)) == ""  # an unindented fix


def test_fetch_edit_names_the_comment_replied_to():
    from flagbot.diffs import fetch_edit

    old, new = THREAD, reply_at(THREAD, "::I disagree", "::You are a liar.")
    site = RecordedSite(pages(rev(1, old), rev(2, new)))
    edit = fetch_edit(site, change(), 20000)
    assert edit.added == "::You are a liar." and edit.replied_to == "Carol"
