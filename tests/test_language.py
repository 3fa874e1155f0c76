"""Every language (issue 26): what language an edit is in, and an honest count of the edits the
model cannot read — before this, a German talk page was "scored" and nobody was told."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from flagbot.config import WikiSettings, embedded_default
from flagbot.errors import RulesError
from flagbot.language import identified, identify, wiki_language
from flagbot.rules import parse_rules
from flagbot.scoring import Scorer, Texts
from flagbot.settings_file import settings_from_dict
from tests.conftest import rc_event
from tests.test_pipeline import make_pipeline, write_replay

GERMAN = "Ich bin mit dieser Änderung nicht einverstanden, bitte besprich sie zuerst hier."
FRENCH = "Je ne suis pas d'accord avec cette modification, merci d'en discuter ici d'abord."


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (GERMAN, "de"),
        (FRENCH, "fr"),
        ("No estoy de acuerdo con este cambio, por favor discútelo aquí primero.", "es"),
        ("Bu değişikliğe katılmıyorum, lütfen önce burada tartışalım.", "tr"),
        ("لا أوافق على هذا التعديل، يرجى مناقشته هنا أولاً من فضلك.", "ar"),
        ("I don't agree with this change, please discuss it here first.", "en"),
    ],
)
def test_a_comment_s_language_is_identified(text, language):
    assert identify(text, prior="") == language


def test_a_short_text_takes_the_wiki_s_language():
    """ "ok thanks" or a signature says nothing: the wiki's language stands."""
    assert identify("ok, danke", prior="de") == "de"
    assert identify("[[User:X|X]] 12:00", prior="") == ""


@pytest.mark.parametrize(
    ("url", "setting", "language"),
    [
        ("https://de.wikipedia.org", "", "de"),
        ("https://simple.wikipedia.org", "", "en"),  # Simple English is English
        ("https://example.org", "simple", "en"),  # as the site matrix names it
        ("https://zh-yue.wikipedia.org", "", "zh-yue"),
        ("https://fr.m.wiktionary.org", "", "fr"),
        ("https://commons.wikimedia.org", "", ""),  # every language is written there
        ("https://www.wikidata.org", "", ""),
        ("http://127.0.0.1:8080", "", ""),  # another MediaWiki: doctor asks its siteinfo
        ("http://127.0.0.1:8080", "pl", "pl"),  # the operator said so
    ],
)
def test_a_wiki_s_language_comes_from_its_setting_or_its_address(url, setting, language):
    assert wiki_language(WikiSettings(id="mywiki", url=url, language=setting)) == language


def test_the_language_setting_is_checked():
    base = {"wikis": [{"id": "dewiki", "url": "https://de.wikipedia.org", "language": 3}]}
    with pytest.raises(Exception, match="language"):
        settings_from_dict(base, "flagbot.yaml")


@pytest.fixture(scope="module")
def de_scorer(model, ruleset):
    settings = dataclasses.replace(embedded_default(), wikis=de_scorer_wikis())
    return Scorer.build(settings, model, ruleset)


def test_an_edit_the_model_cannot_read_says_so(de_scorer):
    verdict = de_scorer.verdicts([Texts(GERMAN, wiki="dewiki", namespace=1)])[0]
    assert (verdict.language, verdict.served, verdict.flagged) == ("de", False, False)
    english = de_scorer.verdicts([Texts("Thanks, I fixed the citation.", wiki="dewiki")])[0]
    assert english.served  # short English on dewiki: the wiki's language, but not below
    assert de_scorer.verdicts([Texts("ok", wiki="enwiki")])[0].served


def test_a_paragraph_of_another_language_does_not_hide_english_abuse(de_scorer):
    """The model scores every text whatever its language: appending German to an insult made
    the edit "German", and had that skipped the model, the insult would have gone unread."""
    text = "You are a pathetic worthless moron and everyone hates you. " + GERMAN * 3
    verdict = de_scorer.verdicts([Texts(text, wiki="enwiki", namespace=1)])[0]
    assert verdict.language == "de" and verdict.flagged


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Je vais te tuer, je sais où tu habites.", "threat"),
        ("Ich bring dich um, ich weiß, wo du wohnst.", "threat"),
        ("Te voy a matar, sé dónde vives.", "threat"),
        ("Ich will nicht mehr leben, heute Nacht ist Schluss.", "self_harm"),
        ("Je veux mourir, je vais me suicider ce soir.", "self_harm"),
    ],
)
def test_threats_and_self_harm_in_german_french_and_spanish(de_scorer, text, category):
    verdict = de_scorer.verdicts([Texts(text, wiki="dewiki", namespace=1)])[0]
    assert category in verdict.categories and verdict.severity == "emergency"


def test_a_rule_for_one_language_stays_out_of_the_others():
    text = (
        "version: 1\nrules:\n- id: r\n  description: d\n  category: threat\n  severity: high\n"
        "  patterns: ['\\bmort\\b']\n  languages: [fr]\n"
    )
    rules = parse_rules(text, "r.yaml")
    assert rules.match("la mort", 1, 0.0, "fr") and rules.match("la mort", 1, 0.0, "")
    assert rules.match("Mort is his name", 1, 0.0, "en") == []
    with pytest.raises(RulesError, match="languages"):
        parse_rules(text.replace("[fr]", "[3]"), "r.yaml")


def test_unread_edits_are_counted_in_the_run_the_store_and_the_score_command(
    tmp_path, make_settings, de_scorer, capsys
):
    from flagbot.cli import main as flagbot_main
    from flagbot.metrics import store_metrics

    lines = [
        rc_event(1, GERMAN, wiki="dewiki"),
        rc_event(2, FRENCH, wiki="dewiki"),
        rc_event(3, "Thanks, I added the source for the second claim.", wiki="enwiki"),
        rc_event(4, "Ich bring dich um, ich weiß, wo du wohnst.", wiki="dewiki"),
    ]
    settings = make_settings(
        source={"type": "replay", "path": write_replay(tmp_path / "r.jsonl", lines)},
        wikis=de_scorer_wikis(),
    )
    pipeline = make_pipeline(settings, de_scorer)
    summary = pipeline.run(threading.Event())
    assert summary.skipped == {"unsupported_language:de": 1, "unsupported_language:fr": 1}
    assert summary.scored == 2 and summary.flagged.get("threat") == 1  # the German threat
    outcomes = pipeline.store.outcome_counts()
    assert outcomes["unsupported_language:de"] == 1 and outcomes["unsupported_language:fr"] == 1
    metrics = store_metrics(pipeline.store, "x").decode()
    assert 'flagbot_edits_by_outcome{outcome="unsupported_language:de"} 1.0' in metrics
    pipeline.close()
    pipeline.store.close()
    assert flagbot_main(["score", FRENCH]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["language"] == "fr" and row["skip_reason"] == "unsupported_language:fr"


def de_scorer_wikis():
    return (
        WikiSettings(id="enwiki", url="https://en.wikipedia.org"),
        WikiSettings(id="dewiki", url="https://de.wikipedia.org"),
    )


def test_explain_says_the_language(de_scorer):
    from flagbot.explain import explain

    result = explain(de_scorer, FRENCH, namespace=1)
    assert result["language"] == "fr" and result["skip_reason"] == "unsupported_language:fr"
    assert (
        explain(de_scorer, "Thanks for the copyedit, it reads much better now.")["skip_reason"]
        is None
    )


def test_doctor_warns_when_a_wiki_writes_a_language_the_model_cannot_read(make_settings):
    from flagbot.doctor import _language

    class Site:
        siteinfo = {"lang": "pl"}

    settings = make_settings()
    fr = WikiSettings(id="frwiki", url="https://fr.wikipedia.org")
    finding = _language(settings, fr, Site())
    assert finding.problem and "unsupported_language:fr" in finding.problem
    other = WikiSettings(id="local", url="http://127.0.0.1:8080")
    assert "'pl'" in (_language(settings, other, Site()).problem or "")
    for served in ("https://en.wikipedia.org", "https://de.wikipedia.org"):  # de: talk-multi-v1
        assert _language(settings, dataclasses.replace(fr, url=served), Site()).problem is None
    alone = dataclasses.replace(settings, language_model="")
    de = dataclasses.replace(fr, url="https://de.wikipedia.org")
    assert "unsupported_language:de" in (_language(alone, de, Site()).problem or "")


@pytest.fixture(scope="module")
def multi_scorer(model, ruleset):
    from flagbot.classifier import load_model

    settings = dataclasses.replace(embedded_default(), wikis=de_scorer_wikis())
    return Scorer.build(settings, model, ruleset, load_model("talk-multi-v1"))


def test_the_language_model_reads_german_spanish_italian_and_turkish(multi_scorer):
    """talk-multi-v1 (scripts/train_multilingual.py) serves the languages its card lists, each
    with its own threshold; German abuse the English cascade scores low is flagged."""
    card = multi_scorer.other.card
    assert set(card["languages"]) == {"de", "es", "it", "tr"}
    assert multi_scorer.model.card["languages"] == ["en"]  # each card says what it reads
    for language in card["languages"]:
        figures = card["metrics"]["per_language"][language]
        assert figures["test_roc_auc"] >= 0.8 and figures["test_at_threshold"]["precision"] >= 0.6
    abuse = "Du dummes Arschloch, verpiss dich endlich von hier, du widerliche Ratte!"
    verdict = multi_scorer.verdicts([Texts(abuse, wiki="dewiki", namespace=1)])[0]
    assert verdict.language == "de" and verdict.served and verdict.flagged
    assert "toxic" in verdict.categories
    calm = multi_scorer.verdicts([Texts(GERMAN, wiki="dewiki", namespace=1)])[0]
    assert calm.served and not calm.flagged
    french = multi_scorer.verdicts([Texts(FRENCH, wiki="dewiki", namespace=1)])[0]
    assert french.language == "fr" and not french.served  # not served: counted as unread


def test_the_english_model_still_reads_an_edit_the_language_model_takes(multi_scorer):
    text = "You are a pathetic worthless moron and everyone hates you. " + GERMAN * 3
    verdict = multi_scorer.verdicts([Texts(text, wiki="enwiki", namespace=1)])[0]
    assert verdict.language == "de" and verdict.flagged


def test_plain_english_is_known_without_the_identifier(monkeypatch):
    """Most English comments are told by their function words (13 µs, not 270): the identifier
    is not even asked; German, Spanish or Turkish ones never pass that test."""
    import flagbot.language as language

    monkeypatch.setattr(language, "_identifier", lambda: pytest.fail("identifier asked"))
    assert identify("I think that this source is not reliable, what do you think?") == "en"
    monkeypatch.undo()
    for text in (GERMAN, FRENCH, "Bu değişikliğe katılmıyorum, lütfen önce burada tartışalım."):
        assert identify(text) != "en"


def test_english_padding_does_not_hide_german_abuse_on_a_german_wiki(multi_scorer):
    """Evasion: English function words ("the and you of is…") around German abuse make the
    edit "English", which only the English model reads, and it scores German insults low. On a
    wiki whose own language only the language model reads, that model reads every edit."""
    abuse = "Du dummes Arschloch, verpiss dich endlich von hier, du widerliche Ratte!"
    padded = f"the and you of is the that this {abuse} the and you of is with"
    assert identify(padded) == "en"  # the disguise works on the identifier…
    english_only = multi_scorer.model.score([padded])[0]
    assert english_only < multi_scorer.thresholds["toxic"]  # …and on the English model
    verdict = multi_scorer.verdicts([Texts(padded, wiki="dewiki", namespace=1)])[0]
    assert verdict.flagged and "toxic" in verdict.categories
    # and padding around a calm German comment is still calm
    calm = "the and you of is the that this Danke für die Quelle, das hilft sehr. the and you"
    assert not multi_scorer.verdicts([Texts(calm, wiki="dewiki", namespace=1)])[0].flagged
    # a real English comment on dewiki stays the English model's alone (measured on Jigsaw dev:
    # of 2,305 benign comments told English by their function words, none is German beneath)
    english = Texts("I think that this source is not reliable, what do you think?", wiki="dewiki")
    assert multi_scorer._read_by_other(english, "en") is None
    assert multi_scorer._read_by_other(Texts(padded, wiki="dewiki"), "en") == "de"


def test_a_short_english_comment_on_a_turkish_wiki_is_english_not_the_wiki_s_language(
    make_settings, model, ruleset
):
    """Too short to tell, a comment took its wiki's language: "Good luck with that." on trwiki
    was Turkish, and the Turkish model flagged it (0.42 against 0.416). Between the wiki's
    language and English, the likelier one is taken now; short Turkish stays Turkish."""
    from flagbot.classifier import load_model

    assert identified("Good luck with that.", "tr") == ("en", False)
    assert identified("Nvm. I think I fixed it. Cheers!", "tr") == ("en", False)
    assert identified("Teşekkürler, düzelttim.", "tr") == ("tr", False)
    assert identified("Gracias, ya está.", "es") == ("es", False)
    assert identified("12:05", "tr") == ("tr", False)  # no letters: nothing to rank
    wikis = (WikiSettings(id="trwiki", url="https://tr.wikipedia.org"),)
    settings = dataclasses.replace(make_settings(), wikis=wikis)
    scorer = Scorer.build(settings, model, ruleset, load_model("talk-multi-v1"))
    assert scorer.other.score(["Good luck with that."])[0] >= scorer.other.card["thresholds"]["tr"]
    verdict = scorer.verdicts([Texts("Good luck with that.", wiki="trwiki", namespace=1)])[0]
    assert verdict.language == "en" and not verdict.flagged
