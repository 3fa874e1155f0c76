import pytest

from flagbot.wikitext import readable_text


def test_signature_and_timestamp_are_removed():
    text = (
        "I disagree with this. [[User:Alice|Alice]] ([[User talk:Alice|talk]])"
        " 12:34, 5 March 2024 (UTC)"
    )
    assert readable_text(text) == "I disagree with this."


def test_quotes_of_others_are_removed():
    text = (
        ":You wrote {{tq|the source is fine}} and <blockquote>another quote</blockquote>"
        " {{talkquote|third}} but you are wrong"
    )
    out = readable_text(text)
    assert "source is fine" not in out and "another quote" not in out and "third" not in out
    assert out.startswith("You wrote") and out.endswith("but you are wrong")


def test_markup_templates_refs_and_comments_reduce_to_readable_text():
    text = (
        "::* '''Strong''' {{small|whisper}} [[Foo bar|linked]] [[Plain]] <!-- hidden -->"
        "[https://example.org an external link]<ref>a citation</ref> {{ping|Bob}}"
    )
    out = readable_text(text)
    assert out == "Strong whisper linked Plain an external link a citation"  # refs are read


def test_headings_and_indentation():
    assert readable_text("== Sources ==\n:::reply here") == "Sources\n\nreply here"


def test_empty_and_signature_only_give_empty_text():
    assert readable_text("") == ""
    assert readable_text("[[User:Bob|Bob]] ([[User talk:Bob|talk]]) 01:02, 3 May 2020 (UTC)") == ""


def test_plain_prose_skips_the_parser_with_the_same_result(dev_texts, monkeypatch):
    """The fast path for text without markup characters is an optimisation only."""
    import re

    from flagbot import wikitext

    texts = dev_texts[:1500]
    assert sum(not wikitext.MARKUP.search(t) for t in texts) > 1000  # most take the fast path
    fast = [wikitext.readable_text(t) for t in texts]
    monkeypatch.setattr(wikitext, "MARKUP", re.compile(""))  # matches everything: always parse
    assert [wikitext.readable_text(t) for t in texts] == fast


INSULT = "you are a pathetic lying idiot"


@pytest.mark.parametrize(
    "wrapped",
    [
        f"<nowiki>{INSULT}</nowiki>",
        f"<pre>{INSULT}</pre>",
        f"<ref>{INSULT}</ref>",
        f"<ref name=x>{INSULT}</ref>",
        f"<syntaxhighlight lang=text>{INSULT}</syntaxhighlight>",
        f"<code>{INSULT}</code>",
        f"[[User:Bob|{INSULT}]]",
        f"[[User talk:Bob|{INSULT}]]",
        f"[[File:Example.jpg|thumb|left|{INSULT}]]",
        f"<gallery>\nFile:Example.jpg|{INSULT}\n</gallery>",
        f"{{{{collapse top|title={INSULT}}}}}",
        f"{{{{hat|reason={INSULT}}}}}",
        f"{{{{small|{INSULT}}}}}",
        f"<span title='x'>{INSULT}</span>",
        f"[[Talk:Foo|{INSULT}]]",
        f"<poem>{INSULT}</poem>",
    ],
)
def test_text_readers_see_inside_wrappers_is_kept(wrapped):
    """Wrappers left nothing to score, although readers see the text."""
    assert INSULT in readable_text(f"Look: {wrapped} [[User:Eve|Eve]] 01:02, 3 May 2020 (UTC)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you id<!-- split -->iot", "you idiot"),
        ("you id{{void|x}}iot", "you idiot"),
        ('you are fine<span style="display:none"> hidden insult</span>', "you are fine"),
        ("[[User:Bob|Bob]] ([[User talk:Bob|talk]])", ""),  # a signature stays out
        ("[[User:Bob|Bobby the Great]] 01:02, 3 May 2020 (UTC)", ""),  # names the user
        ("[[User:Bob|the worst admin ever]] 01:02, 3 May 2020 (UTC)", "the worst admin ever"),
    ],
)
def test_invisible_text_is_dropped_and_split_words_are_joined(text, expected):
    assert readable_text(text) == expected


@pytest.mark.parametrize(
    ("wikitext", "words"),
    [
        ("I will kill<br>you", "I will kill you"),
        ("I will kill<br/>you", "I will kill you"),
        ("you are an<p>idiot</p>", "you are an idiot"),
        ("{|\n|you are an||idiot\n|}", "you are an idiot"),  # table cells on one line
        ("{|\n!you are an!!idiot\n|}", "you are an idiot"),  # header cells
        (";you:idiot", "you idiot"),  # definition list: term and description
        ("[[:Category:X|you are a worthless idiot]]", "you are a worthless idiot"),
        ("[[:File:X.jpg|you are an idiot]]", "you are an idiot"),
        ("[[File:X.jpg|thumb|I will kill you|alt=photo]]", "I will kill you"),  # options after
        ("[[File:X.jpg|thumb|you are [[Idiot|an idiot]]|alt=x]]", "you are an idiot"),
        ("<gallery>\nFile:A.jpg|alt=x|you [[moron|dumb moron]]\n</gallery>", "you dumb moron"),
    ],
)
def test_markup_keeps_every_word_boundary_readers_see(wikitext, words):
    """MediaWiki renders each of these with the words apart (a line break, a new cell, a
    caption): glued ("killyou") or dropped, a threat slipped past every rule."""
    assert " ".join(readable_text(wikitext).split()) == words


def test_a_category_link_without_a_colon_still_shows_nothing():
    assert readable_text("[[Category:Idiots]] fine") == "fine"
    assert readable_text("[[:Category:Idiots]]") == "Category:Idiots"
