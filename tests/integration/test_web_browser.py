"""The review queue in a real headless Chromium (Debian's, driven by Playwright).

Login goes through a stand-in OAuth 2.0 provider (tests/oauth_provider.py: Debian's MediaWiki
has no OAuth extension); the user's groups come from the real test MediaWiki, and the flags
from real edits on it, found by the real pipeline. `pytest tests/integration -k web`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from flagbot.community import CommunityPages
from flagbot.config import CommunitySettings, WebSettings
from flagbot.store import Store
from flagbot.web import create_app
from flagbot.wiki import WikiClient
from tests.conftest import ROOT
from tests.integration.test_alerts import flag_real_edits
from tests.integration.test_real_wiki import fresh_title
from tests.oauth_provider import OAuthProvider

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PII = "His phone number is 415-555-0132, call him"
ATTACK = "You are a pathetic idiot and a liar, get lost"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is not installed; ./dev.sh test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def review(wiki, wiki_settings, scorer, monkeypatch):
    """The review app on a real HTTP port, with flags from real edits on the test wiki."""
    wiki.create_user("Sysop1", groups=("sysop",))
    monkeypatch.setenv("FLAGBOT_OAUTH_SECRET", "provider-secret")
    settings = dataclasses.replace(
        wiki_settings,
        web=WebSettings(oauth_client_id="flagbot-review", secure_cookies=False),
    )
    store, revs = flag_real_edits(
        wiki,
        settings,
        scorer,
        [("Alice", fresh_title("User talk"), PII), ("Bob", fresh_title(), ATTACK)],
    )
    store.close()
    with OAuthProvider("flagbot-review", "provider-secret") as provider:
        app = create_app(
            settings,
            WikiClient(settings),
            store=Store(settings.store).open(),
            oauth_base=provider.url,
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", provider, revs
        finally:
            server.shutdown()


def log_in(browser, url, provider, user):
    provider.user = user
    page = browser.new_page()
    page.goto(url)
    assert page.url.endswith("/login")
    with page.expect_navigation(url=lambda u: "/oauth/" not in u and "/login" not in u):
        page.click("#login")  # → the provider → back through /oauth/callback
    return page


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: a temporary folder, so a test run rewrites no tracked file;
    FLAGBOT_SCREENSHOTS=docs refreshes the ones shown in docs/."""
    wanted = os.environ.get("FLAGBOT_SCREENSHOTS")
    folder = ROOT / wanted if wanted else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_web_oversighter_logs_in_reviews_decides_and_sees_stats_and_audit(
    browser, review, tmp_path
):
    url, provider, revs = review
    page = log_in(browser, url, provider, "Oversighter")
    assert page.url == url + "/"
    queue = page.inner_text("#queue")
    assert "User talk:Integration" in queue and "Talk:Integration" in queue
    shots = screenshot_dir(tmp_path)
    page.screenshot(path=str(shots / "review-queue.png"), full_page=True)

    with page.expect_navigation():
        page.click("#queue tbody tr:has-text('pii') a")
    assert PII in page.inner_text("#text")  # oversighters see the text of pii flags
    assert "blurred" in page.get_attribute("#text", "class")  # until they ask to see it
    assert "Flagged as pii" in page.inner_text("main")  # the category comes first
    page.click("#show-text")
    assert "blurred" not in page.get_attribute("#text", "class")
    assert "/index.php?" in page.get_attribute("#diff", "href")
    page.screenshot(path=str(shots / "review-flag.png"), full_page=True)
    with page.expect_navigation():
        page.keyboard.press("c")  # the keyboard shortcut for "Confirm"
    assert page.inner_text("#status") == "confirmed"  # the status as a reviewer reads it
    assert "Oversighter: confirm" in page.inner_text("#history")

    page.goto(url + "/stats")
    stats = page.inner_text("main")
    assert "pii-phone-north-america" in stats and "1.00" in stats
    page.goto(url + "/audit")
    audit = page.inner_text("#audit")
    assert "decide:confirm" in audit and "login" in audit and "view_flag" in audit
    page.close()


def test_web_admin_sees_attacks_only(browser, review):
    url, provider, _ = review
    page = log_in(browser, url, provider, "Sysop1")
    queue = page.inner_text("#queue")
    assert "Talk:Integration" in queue and "pii" not in queue
    with page.expect_navigation():
        page.click("#queue tbody tr a")
    assert ATTACK in page.inner_text("#text")
    page.goto(url + "/audit")
    assert "No access" in page.inner_text("main")
    page.close()


def test_web_user_without_the_groups_learns_nothing(browser, review):
    url, provider, _ = review
    page = log_in(browser, url, provider, "Alice")
    body = page.inner_text("body")
    assert "No access" in body
    assert "Integration" not in body and "415-555" not in body and "idiot" not in body
    page.close()


# --- confidential reports, end to end -----------------------------------------------------------
SENDER_INTERVAL = 1.0  # seconds between the sender's passes in this test


@pytest.fixture
def reports_app(
    wiki, wiki_settings, make_settings, scorer, bot_login, mailbox, monkeypatch, tmp_path
):
    """The review app with a running sender: emergencies by SMTP to the emergency team (the
    real test SMTP server), status notices by wiki email through the real wiki."""
    from flagbot.alerts.sender import run_sender
    from tests.integration.test_alerts import smtp_settings

    wiki.create_user("Carol", email="carol@example.test")
    monkeypatch.setenv("FLAGBOT_OAUTH_SECRET", "provider-secret")
    alerts = smtp_settings(
        make_settings,
        mailbox,
        recipients={
            "oversight": ("smtp:oversight-l@lists.test",),
            "emergency": ("smtp:emergency@team.test",),
        },
        interval=SENDER_INTERVAL,
        outbox=str(tmp_path / "outbox"),
    ).alerts
    page = f"Project:Flagbot-config {fresh_title('')}.json"
    settings = dataclasses.replace(
        wiki_settings,
        web=WebSettings(oauth_client_id="flagbot-review", secure_cookies=False),
        alerts=alerts,
        community=CommunitySettings(page=page),
    )
    store, revs = flag_real_edits(wiki, settings, scorer, [("Bob", fresh_title(), ATTACK)])
    # the wiki's admins name a support page for threats; `flagbot run` reads it into the store
    support = {"support": {"threat": {"default": "Project:Emergency help"}}}
    wiki.session("Oversighter").edit(page, json.dumps(support), "support page")
    CommunityPages(settings, WikiClient(settings), store).refresh()
    store.close()
    stop = threading.Event()
    with OAuthProvider("flagbot-review", "provider-secret") as provider:
        store = Store(settings.store).open()
        app = create_app(settings, WikiClient(settings), store=store, oauth_base=provider.url)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threads = [
            threading.Thread(target=server.serve_forever, daemon=True),
            threading.Thread(
                target=run_sender, args=(store, settings, stop, WikiClient(settings)), daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", provider, revs, wiki
        finally:
            stop.set()
            server.shutdown()
            threads[1].join(timeout=10)


def wait_for(mailbox, address, count=1, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mailbox.to(address)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} within {timeout} s")


def file_report(page, url, category, targets, description, notify=False):
    page.goto(url + "/report")
    page.check(f"input[name=category][value={category}]")
    page.fill("textarea[name=targets]", targets)
    page.fill("textarea[name=description]", description)
    if notify:
        page.check("input[name=notify]")
    with page.expect_navigation():
        page.click("#send-report")
    return page.inner_text("#reference")


def test_a_reported_diff_is_reviewed_and_the_reporter_sees_and_is_told_the_outcome(
    browser, reports_app, mailbox, tmp_path
):
    url, provider, revs, wiki = reports_app
    (rev,) = revs
    shots = screenshot_dir(tmp_path)
    carol = log_in(browser, url, provider, "Carol")
    carol.goto(url + "/report")
    carol.screenshot(path=str(shots / "report-form.png"), full_page=True)
    description = "He keeps calling me names on every page I edit"
    reference = file_report(
        carol, url, "personal_attack", f"{wiki.url}/index.php?diff={rev}", description, True
    )
    assert reference.startswith("R-")
    assert carol.locator("#support-default").count() == 1  # no page named for attacks
    assert carol.inner_text("#due").endswith("(UTC).")  # when a reviewer will have looked

    # later, the reporter adds what happened next, by keyboard, from "My reports"
    carol.goto(url + "/my-reports")
    assert carol.locator(".due").count() == 1
    carol.focus("summary")
    carol.keyboard.press("Enter")  # opens "Add diffs or a note"
    carol.fill("textarea[name=targets]", f"{wiki.url}/index.php?diff={rev}")
    carol.fill("textarea[name=note]", "He did it again on my user page today")
    with carol.expect_navigation():
        carol.click("button[id^=add-]")

    reviewer = log_in(browser, url, provider, "Oversighter")
    reviewer.goto(url + "/?kind=report")
    with reviewer.expect_navigation():
        reviewer.click("#queue tbody tr a")
    assert "did it again on my user page" in reviewer.inner_text("#additions")
    assert reviewer.locator("#report-due").count() == 1
    assert reviewer.inner_text("#reporter").startswith("Carol")  # oversighters see who
    # the reported diff, read from the real wiki and scored by the real pipeline, in the
    # background since the report was filed: a reviewer who comes early reloads
    deadline = time.monotonic() + 60
    while reviewer.locator("#assessment-pending").count() and time.monotonic() < deadline:
        time.sleep(0.5)
        reviewer.reload()
    assert float(reviewer.inner_text("#assessed-score")) > 0.5
    assert reviewer.inner_text("#assessed-flagged").startswith("yes")
    with reviewer.expect_navigation():
        reviewer.click("#decide-confirm")
    assert reviewer.inner_text("#report-status") == "acted on"

    carol.goto(url + "/my-reports")
    mine = carol.inner_text("main")
    assert reference in mine and "acted on" in mine and "Oversighter" not in mine
    carol.screenshot(path=str(shots / "my-reports.png"), full_page=True)
    notices = wait_for(mailbox, "carol@example.test", count=2)  # in review, then acted on
    for notice in notices:
        body = notice.get_content()
        assert reference in notice["Subject"] and "Oversighter" not in body
        assert "calling me names" not in body and "Bob" not in body and str(rev) not in body
    assert {n["Subject"].rsplit(": ", 1)[1] for n in notices} == {"in review", "acted on"}
    carol.close()
    reviewer.close()


def test_an_emergency_report_reaches_the_emergency_team_within_the_sender_interval(
    browser, reports_app, mailbox
):
    url, provider, _, wiki = reports_app
    carol = log_in(browser, url, provider, "Carol")
    copies_before = len(mailbox.to("oversight-l@lists.test"))  # the mailbox serves every test
    sent = time.time()
    reference = file_report(
        carol, url, "threat", "User:Bob", "He wrote that he will come to my school tomorrow"
    )
    # help is offered at once: the page the wiki's community named for threats
    assert carol.get_attribute("#support", "href") == (
        f"{wiki.url}/index.php?title=Project%3AEmergency_help"
    )
    (alert,) = wait_for(mailbox, "emergency@team.test")
    arrived = mailbox.arrivals[[m for _, m in mailbox.messages].index(alert)]
    assert arrived - sent <= SENDER_INTERVAL + 5.0  # one pass of the sender, and sending
    assert "threat" in alert["Subject"] and "confidential report" in alert["Subject"]
    # threats go to oversight too, by default
    copy = wait_for(mailbox, "oversight-l@lists.test", copies_before + 1)[-1]
    for mail in (alert, copy):
        for secret in ("Carol", "school", "Bob", reference):
            assert secret not in mail["Subject"] + mail.get_content()
    carol.close()


GADGETS = (
    "* flagbot-report[ResourceLoader|default|dependencies=mediawiki.util,mediawiki.Title]"
    "|flagbot-report.js"
)


def test_a_reader_reports_a_comment_from_the_talk_page_in_two_clicks(
    browser, reports_app, tmp_path
):
    """The gadget, installed on the real wiki as its interface admins would (Gadgets extension,
    MediaWiki:Gadget-flagbot-report.js copied from flagbot's /gadget.js), puts "Report
    privately" beside each signed comment and on diffs; a logged-in reader reports Bob's reply
    with two clicks, and the report names the page's revision and Bob."""
    import requests

    url, provider, _, wiki = reports_app
    gadget = requests.get(url + "/gadget.js", timeout=10)
    assert gadget.headers["Content-Type"].startswith("text/javascript")
    assert f'"{url}"' in gadget.text and '"Report privately"' in gadget.text
    wiki.create_user("Gadgeteer", groups=("sysop", "interface-admin"))
    title = fresh_title()
    with wiki.extra_settings("wfLoadExtension( 'Gadgets' );"):
        admin = wiki.session("Gadgeteer")
        admin.edit("MediaWiki:Gadgets-definition", GADGETS, "flagbot gadget")
        admin.edit("MediaWiki:Gadget-flagbot-report.js", gadget.text, "flagbot gadget")
        admin.edit("MediaWiki:Gadget-flagbot-report", "Report a comment privately to flagbot")
        wiki.session("Alice").edit(title, "== Sources ==\nThe source is fine. ~~~~", "new")
        reply = wiki.session("Bob").edit(title, "\n:You are clueless, go away. ~~~~", "", True)
        rev = reply["newrevid"]

        carol = log_in(browser, url, provider, "Carol")
        carol.goto(f"{wiki.url}/index.php?title={title.replace(' ', '_')}")
        carol.wait_for_selector("a.flagbot-report >> nth=1")
        assert carol.locator("a.flagbot-report").count() == 2  # Alice's comment and Bob's reply
        carol.screenshot(path=str(screenshot_dir(tmp_path) / "gadget.png"))
        to_bob = carol.locator("a.flagbot-report[aria-label='Report privately: Bob']")
        with carol.expect_navigation():
            to_bob.click()  # click one
        assert carol.input_value("select[name=wiki]") == "testwiki"
        assert carol.input_value("textarea[name=targets]") == (
            f"{wiki.url}/index.php?oldid={rev}\nUser:Bob"
        )
        with carol.expect_navigation():
            carol.click("#send-report")  # click two
        reference = carol.inner_text("#reference")

        reviewer = log_in(browser, url, provider, "Oversighter")
        reviewer.goto(url + "/?kind=report")
        with reviewer.expect_navigation():
            reviewer.click("#queue tbody tr a")
        assert reviewer.inner_text("#targets") == f"{wiki.url}/index.php?oldid={rev}\nUser:Bob"
        assert reference.startswith("R-")

        # on the diff of Bob's edit too, and by keyboard alone
        carol.goto(f"{wiki.url}/index.php?diff={rev}")
        on_diff = carol.wait_for_selector("#mw-diff-ntitle1 a.flagbot-report")
        assert f"diff%3D{rev}" in on_diff.get_attribute("href")
        assert "User%3ABob" in on_diff.get_attribute("href")
        on_diff.focus()
        with carol.expect_navigation():
            carol.keyboard.press("Enter")
        assert f"?diff={rev}" in carol.input_value("textarea[name=targets]")

        # a wiki with DiscussionTools: its comment markers name the author (the markup its
        # CommentFormatter writes; DiscussionTools is not installed here, so it is added to
        # the page as that extension would render it)
        carol.goto(f"{wiki.url}/index.php?title={title.replace(' ', '_')}")
        carol.wait_for_selector("a.flagbot-report >> nth=1")
        marked = carol.evaluate(
            """() => {
                const id = 'c-Dana_Smith-20261205120000-Alice-20261205110000';
                const box = document.createElement('div');
                box.innerHTML = '<p><span data-mw-comment-start="" id="' + id + '"></span>'
                    + 'Go away. <a href="/index.php?title=User:Dana_Smith">Dana Smith</a> '
                    + '12:00, 5 December 2026 (UTC)<span data-mw-comment-end="' + id
                    + '"></span></p>';
                document.getElementById('mw-content-text').appendChild(box);
                mw.hook('wikipage.content').fire($(box));
                return [...box.querySelectorAll('a.flagbot-report')].map(a => [
                    a.getAttribute('aria-label'), a.previousSibling.previousSibling.nodeName]);
            }"""
        )
        assert marked == [["Report privately: Dana Smith", "SPAN"]]  # after the end marker

        # a reader not yet logged in to flagbot logs in and lands on the filled-in form
        stranger = browser.new_page()
        stranger.goto(f"{wiki.url}/index.php?title={title.replace(' ', '_')}")
        stranger.wait_for_selector("a.flagbot-report >> nth=1")
        with stranger.expect_navigation():
            stranger.click("a.flagbot-report[aria-label='Report privately: Bob']")
        assert stranger.url.endswith("/login")
        provider.user = "Carol"
        with stranger.expect_navigation(url=lambda u: "/report?" in u):
            stranger.click("#login")
        assert "User:Bob" in stranger.input_value("textarea[name=targets]")
        for page in (carol, reviewer, stranger):
            page.close()


def test_reporting_works_without_javascript_and_every_field_has_a_label(browser, reports_app):
    """Keyboard and screen readers: every field of the report form and of "add to a report"
    has a label; the whole flow — login, report, add to it — works with JavaScript off."""
    url, provider, _, _ = reports_app
    provider.user = "Carol"
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(url)
    with page.expect_navigation(url=lambda u: "/oauth/" not in u and "/login" not in u):
        page.click("#login")
    page.goto(url + "/report?wiki=testwiki&target=User%3ABob")
    assert page.input_value("textarea[name=targets]") == "User:Bob"
    page.focus("textarea[name=description]")
    page.keyboard.type("He keeps reverting me with insults")
    page.check("input[name=category][value=personal_attack]")
    page.focus("#send-report")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.inner_text("#reference").startswith("R-")
    page.goto(url + "/my-reports")
    page.click("summary")  # <details> opens without JavaScript
    page.fill("textarea[name=note]", "and again today")
    with page.expect_navigation():
        page.click("button[id^=add-]")
    assert "/my-reports#R-" in page.url  # added: back on the report's row
    for path in ("/report", "/my-reports"):
        page.goto(url + path)
        unlabelled = page.eval_on_selector_all(
            "input:not([type=hidden]), textarea, select, button",
            "els => els.filter(e => !(e.labels && e.labels.length) && !e.textContent.trim())"
            ".map(e => e.outerHTML)",
        )
        assert unlabelled == [], (path, unlabelled)
    context.close()
