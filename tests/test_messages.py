"""The reporter's pages and status emails in the reader's language (issue 26): MediaWiki-style
JSON message files, complete in English, German, French and Spanish."""

from __future__ import annotations

import json
import re
from email import message_from_bytes

import pytest

from flagbot.alerts import Alert, FlagRef, render
from flagbot.config import REPORT_CATEGORIES
from flagbot.messages import DIRECTORY, LANGUAGES, best_language, catalogue, html_message, message
from flagbot.store import STATUS_ROUTE
from tests.conftest import ROOT
from tests.test_web import file_report, login, web  # noqa: F401 - the fixture

STATUSES = ("received", "new", "in review", "acted on", "closed")


def flag_ref(**fields) -> FlagRef:
    base = {"flag_id": 1, "diff_url": "", "title": "", "user": "", "edit_time": 0, "score": 0.0}
    base.update(rule_ids=(), review_url="https://flagbot.example/flag/1")
    return FlagRef(**{**base, **fields})


def used_keys() -> set[str]:
    """Every message key the code and templates name, the computed ones spelled out."""
    keys: set[str] = set()
    for path in [*(ROOT / "flagbot").rglob("*.py"), *(ROOT / "flagbot").rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        keys |= set(
            re.findall(r"""(?:msg|message)\([^"'()]*["'](flagbot-[a-z_-]+[a-z_])["']""", text)
        )
    keys -= {k for k in keys if k.endswith("-")}
    keys |= {f"flagbot-category-{k}" for k in REPORT_CATEGORIES}
    keys |= {"flagbot-status-" + s.replace(" ", "-") for s in STATUSES}
    return keys


def test_every_language_has_every_message_with_the_same_parameters():
    english = catalogue("en")
    assert used_keys() <= set(english), sorted(used_keys() - set(english))
    documented = json.loads((DIRECTORY / "qqq.json").read_text(encoding="utf-8"))
    for language in LANGUAGES:
        found = catalogue(language)
        assert set(found) == set(english), (language, set(english) ^ set(found))
        for key, text in found.items():
            assert text.strip(), (language, key)
            assert sorted(re.findall(r"\$\d", text)) == sorted(re.findall(r"\$\d", english[key]))
        assert set(english) <= set(documented)  # translators learn what each one is for


def test_parameters_and_markup():
    assert message("de", "flagbot-report-limited", 3).startswith("Du hast in den letzten 24")
    assert message("xx", "flagbot-nav-queue") == "Queue"  # a language we lack: English
    escaped = html_message("en", "flagbot-login-button", "<script>")
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped
    with pytest.raises(KeyError):
        message("en", "flagbot-no-such-message")


@pytest.mark.parametrize(
    ("wanted", "fallback", "chosen"),
    [
        (["de-AT", "en"], "en", "de"),
        (["pt-BR"], "es", "es"),
        ([], "pl", "en"),
        (["fr_CA"], "", "fr"),
    ],
)
def test_the_reader_s_language_is_chosen(wanted, fallback, chosen):
    assert best_language(wanted, fallback) == chosen


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_reporter_page_renders_in_each_language(web, language):  # noqa: F811
    app, _store, _ids, _states = web
    reporter = login(app, "Editor1")
    headers = {"Accept-Language": f"{language},en;q=0.5"}
    answer = file_report(reporter, "Editor1", "threat", "User:Mallory", "")
    assert answer.status_code == 200
    pages = {
        "/report": ["flagbot-report-title", "flagbot-category-self_harm", "flagbot-report-send"],
        "/my-reports": ["flagbot-myreports-reference", "flagbot-category-threat"],
    }
    for path, keys in pages.items():
        body = reporter.get(path, headers=headers).get_data(as_text=True)
        assert f'<html lang="{language}">' in body
        for key in keys:
            assert str(html_message(language, key)) in body, (path, key)
        if language != "en":
            assert str(html_message("en", keys[0])) not in body
    # ?uselang= wins over the browser, as on MediaWiki
    body = reporter.get("/report?uselang=es", headers=headers).get_data(as_text=True)
    assert "Denunciar acoso de forma confidencial" in body
    anonymous = app.test_client().get("/login", headers=headers).get_data(as_text=True)
    assert str(html_message(language, "flagbot-login-heading")) in anonymous


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reporter_s_status_email_is_in_the_wiki_s_language(language):
    item = flag_ref(wiki="xxwiki", categories=("threat",), report=True, report_id=7)
    alert = Alert("wikimail", "Editor1", STATUS_ROUTE + "acted on", (item,), False, "xxwiki")
    subject, body = render(alert, language)
    assert "R-7" in subject and message(language, "flagbot-status-acted-on") in subject
    assert message(language, "flagbot-notice-privacy") in body
    assert f"/my-reports?uselang={language}" in body
    assert message_from_bytes  # the channels mail subject and body as they are


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_reviewer_page_renders_in_each_language(web, language):  # noqa: F811
    app, _store, ids, _states = web
    reviewer = login(app, "Oversighter1")
    flag_id = next(iter(ids.values()))
    pages = {
        "/": "flagbot-queue-heading",
        f"/flag/{flag_id}": "flagbot-flag-decide",
        "/stats": "flagbot-stats-per-rule",
        "/audit": "flagbot-audit-heading",
        "/case?wiki=enwiki&user=Vandal": "flagbot-case-hint",
        "/stats/reports": "flagbot-reportstats-heading",
    }
    for path, key in pages.items():
        answer = reviewer.get(path, headers={"Accept-Language": language})
        body = answer.get_data(as_text=True)
        assert answer.status_code == 200, path
        assert f'<html lang="{language}">' in body and str(html_message(language, key)) in body
        if language != "en":
            assert str(html_message("en", key)) not in body, path


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_alert_to_functionaries_is_in_the_wiki_s_language(language):
    item = flag_ref(
        wiki="dewiki",
        diff_url="https://de.wikipedia.org/w/index.php?diff=5",
        title="Benutzer Diskussion:Opfer",
        user="Täter",
        categories=("threat",),
        score=0.97,
        rule_ids=("threat-de",),
    )
    subject, body = render(
        Alert("smtp", "os@example.org", "emergency", (item,), False, "dewiki"), language
    )
    assert subject == message(language, "flagbot-alert-subject", "dewiki", "threat", item.title)
    assert message(language, "flagbot-alert-intro") in body
    rows = [line for line in body.splitlines() if ":" in line and "https" not in line[:12]]
    starts = {line.index(line.split(":", 1)[1].strip()) for line in rows[:7]}
    assert len(starts) == 1  # the values line up, whatever the labels' length
    assert message(language, "flagbot-alert-footer", "emergency") in body
