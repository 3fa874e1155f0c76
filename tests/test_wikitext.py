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
    assert out == "Strong whisper linked Plain an external link"


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
