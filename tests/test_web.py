"""The review queue's access rules and actions through Flask's test client.

Logging in is simulated by writing the session the OAuth callback would write (the OAuth flow
itself runs against a provider in tests/integration/test_web_browser.py). Wiki group lookups
and revision states come from in-test tables standing in for the wiki here; the integration
tests ask the real MediaWiki.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import sys
import time

import pytest

from flagbot.events import RecentChange
from flagbot.rules import RuleHit
from flagbot.scoring import decide
from flagbot.store import Outcome, Store
from flagbot.web import create_app
from flagbot.wiki import WikiClient

GROUPS = {
    "Admin1": frozenset({"user", "sysop"}),
    "Oversighter1": frozenset({"user", "sysop", "suppress"}),
    "Editor1": frozenset({"user", "autoconfirmed"}),
}
DAY = 86400
# accounts as the wiki's list=users answers (registration time, edit count); tests change them
ACCOUNTS = {
    "Editor1": (time.time() - 400 * DAY, 800),
    "Admin1": (time.time() - 3000 * DAY, 40000),
    "Oversighter1": (None, 90000),  # the oldest accounts have no registration date
}
ATTACK_TEXT = "you are a worthless idiot and everybody on this talk page knows it"
PII_TEXT = "her home address is 12 Hidden Lane, go and visit her tonight"


def change(rev: int, title: str) -> RecentChange:
    return RecentChange(
        wiki="enwiki",
        server_url="https://en.wikipedia.org",
        script_path="/w",
        namespace=1,
        title=title,
        user=f"Vandal{rev}",
        bot=False,
        type="edit",
        old_rev=rev - 1,
        new_rev=rev,
        timestamp=int(time.time()) - 60,
        comment="",
    )


@pytest.fixture
def web(make_settings, tmp_path):
    settings = make_settings()
    store = Store(settings.store).open()
    attack = decide(0.97, [RuleHit("attack-you-are-insult", "personal_attack", "medium")], {})
    pii = decide(0.2, [RuleHit("pii-street-address", "pii", "high")], {})
    store.record_batch(
        "test",
        [
            Outcome(change(101, "Talk:Attack"), "flagged", attack, ATTACK_TEXT),
            Outcome(change(102, "User talk:Target"), "flagged", pii, PII_TEXT),
        ],
        None,
    )
    ids = {f.rev_id: f.id for f in store.iter_flags()}
    states = {}
    accounts = dict(ACCOUNTS)
    assessed: list[tuple[str, int]] = []  # what the assessor was asked: the real one reads the
    # wiki and scores (tests/integration/test_web_browser.py, against the real MediaWiki)

    def assessor(wiki, rev_id):
        assessed.append((wiki, rev_id))
        if rev_id == 404:
            from flagbot.errors import FetchError

            raise FetchError(f"{wiki} has no revision {rev_id} (or it is hidden)")
        return {
            "rev": rev_id,
            "title": "User talk:Target",
            "user": "Mallory",
            "score": 0.91,
            "flagged": True,
            "categories": ["threat"],
            "rules": ["threat-kill"],
            "added_text": "the edit's own text",
            "normalised_text": "the edit's own text",
        }

    app = create_app(
        settings,
        WikiClient(settings),
        store=store,
        groups_lookup=lambda user: GROUPS.get(user, frozenset()),
        revision_lookup=lambda wiki, rev: states.get(rev, "visible"),
        account_lookup=lambda wiki, user: accounts.get(user, (time.time(), 0)),
        assessor=assessor,
    )
    app.config["TESTING"] = True
    app.extensions["test"] = {"accounts": accounts, "assessed": assessed}
    yield app, store, ids, states
    store.close()


def login(app, user):
    client = app.test_client()
    with client.session_transaction() as session:
        session["user"] = user
        session["csrf"] = "token-" + user
    return client


def mentions_flags(body: str) -> bool:
    return any(s in body for s in ("Talk:Attack", "Target", "Vandal", ATTACK_TEXT[:20], "pii"))


def test_web_anonymous_is_sent_to_login_and_sees_nothing(web):
    app, _, ids, _ = web
    client = app.test_client()
    for path in ("/", f"/flag/{ids[101]}", "/stats", "/audit", "/export.csv"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/login")
        assert not mentions_flags(response.get_data(as_text=True))
    response = client.post(f"/flag/{ids[101]}/decide", data={"decision": "confirm"})
    assert response.status_code == 302 and response.location.endswith("/login")
    login_page = client.get("/login")
    assert login_page.status_code == 200 and not mentions_flags(login_page.get_data(as_text=True))


def test_web_logged_in_non_member_gets_403_and_nothing_about_flags(web):
    app, _, ids, _ = web
    client = login(app, "Editor1")
    for path in ("/", f"/flag/{ids[101]}", f"/flag/{ids[102]}", "/stats", "/audit", "/export.csv"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert not mentions_flags(response.get_data(as_text=True))
    decided = client.post(
        f"/flag/{ids[101]}/decide", data={"decision": "confirm", "csrf": "token-Editor1"}
    )
    assert decided.status_code == 403


def test_web_admin_sees_attacks_but_not_personal_information(web):
    app, _, ids, _ = web
    client = login(app, "Admin1")
    queue = client.get("/").get_data(as_text=True)
    assert "Talk:Attack" in queue and "User talk:Target" not in queue
    assert "(1)" in queue  # the count leaves out what an admin may not see
    page = client.get(f"/flag/{ids[101]}").get_data(as_text=True)
    assert ATTACK_TEXT in page and "diff=101" in page
    hidden = client.get(f"/flag/{ids[102]}")
    assert hidden.status_code == 404 and PII_TEXT not in hidden.get_data(as_text=True)
    assert client.get("/audit").status_code == 403  # oversighters only
    assert client.get("/export.csv").status_code == 403
    stats = client.get("/stats").get_data(as_text=True)
    assert "pii-street-address" not in stats


def test_web_admins_see_threats_but_routes_never_hide_or_show_personal_information(web):
    """Visibility follows categories: a threat alerts oversight and the emergency contact, and
    admins still see it (they block); a route cannot make personal information public."""
    app, store, _, _ = web
    routes = {"threat": ("oversight",), "emergency": ("emergency", "oversight")}
    threat = decide(0.3, [RuleHit("threat-kill", "threat", "emergency")], {}, routes)
    store.record_batch("test", [Outcome(change(103, "Talk:Threat"), "flagged", threat, "x")], None)
    assert "Talk:Threat" in login(app, "Admin1").get("/").get_data(as_text=True)
    assert "User talk:Target" not in login(app, "Admin1").get("/").get_data(as_text=True)


def test_web_oversighter_sees_everything_and_exports_labels(web):
    app, store, ids, _ = web
    client = login(app, "Oversighter1")
    queue = client.get("/").get_data(as_text=True)
    assert "Talk:Attack" in queue and "User talk:Target" in queue
    assert PII_TEXT in client.get(f"/flag/{ids[102]}").get_data(as_text=True)
    client.post(
        f"/flag/{ids[102]}/decide", data={"decision": "confirm", "csrf": "token-Oversighter1"}
    )
    export = client.get("/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert rows == [
        {
            "text": PII_TEXT,
            "label": "1",
            "category": "pii",
            "source": "review:enwiki:102",
        }
    ]
    audit = client.get("/audit").get_data(as_text=True)
    assert "export_labels" in audit and "decide:confirm" in audit


def test_web_posts_without_the_csrf_token_are_refused(web):
    app, store, ids, _ = web
    client = login(app, "Admin1")
    for data in ({"decision": "confirm"}, {"decision": "confirm", "csrf": "forged"}):
        response = client.post(f"/flag/{ids[101]}/decide", data=data)
        assert response.status_code == 400
    assert store.decisions_for(ids[101]) == []
    assert client.post("/logout").status_code == 400


def test_web_decisions_are_recorded_audited_and_shown(web):
    app, store, ids, _ = web
    client = login(app, "Admin1")
    response = client.post(
        f"/flag/{ids[101]}/decide",
        data={
            "decision": "false_positive",
            "note": "quoting the other user",
            "csrf": "token-Admin1",
        },
    )
    assert response.status_code == 302
    (decision,) = store.decisions_for(ids[101])
    assert decision["reviewer"] == "Admin1" and decision["decision"] == "false_positive"
    assert store.flag(ids[101]).status == "false_positive"
    page = client.get(f"/flag/{ids[101]}").get_data(as_text=True)
    assert "Admin1: false_positive" in page and "quoting the other user" in page
    actions = [(e["actor"], e["action"]) for e in store.audit_entries()]
    assert ("Admin1", "decide:false_positive") in actions and ("Admin1", "view_flag") in actions
    stats = client.get("/stats").get_data(as_text=True)
    assert "attack-you-are-insult" in stats and "0.00" in stats  # precision 0 from one FP


def test_web_needs_oversight_moves_the_flag_to_oversighters(web):
    app, store, ids, _ = web
    admin = login(app, "Admin1")
    admin.post(f"/flag/{ids[101]}/decide", data={"decision": "oversight", "csrf": "token-Admin1"})
    assert admin.get(f"/flag/{ids[101]}").status_code == 404  # no longer the admins' business
    assert "Talk:Attack" not in admin.get("/").get_data(as_text=True)
    assert "Talk:Attack" in login(app, "Oversighter1").get("/").get_data(as_text=True)
    with store.engine.connect() as conn:
        routes = {r for (r,) in conn.exec_driver_sql("SELECT route FROM outbox")}
    assert "oversight" in routes  # the oversighters are alerted


def test_web_text_of_a_revision_hidden_on_the_wiki_is_purged_on_view(web):
    app, store, ids, states = web
    states[101] = "hidden"
    page = login(app, "Admin1").get(f"/flag/{ids[101]}").get_data(as_text=True)
    assert ATTACK_TEXT not in page and "purged" in page
    assert store.flag(ids[101]).text is None


def test_web_queue_filters_and_security_headers(web):
    app, _, _, _ = web
    client = login(app, "Oversighter1")
    only_pii = client.get("/?category=pii").get_data(as_text=True)
    assert "User talk:Target" in only_pii and "Talk:Attack" not in only_pii
    high = client.get("/?min_score=0.9&order=score").get_data(as_text=True)
    assert "Talk:Attack" in high and "User talk:Target" not in high
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    body = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*src=\"/static/)", body)  # no inline or foreign script
    assert not re.search(r"https?://(?!en\.wikipedia\.org)", body)  # no third-party assets


def test_web_session_cookie_is_secure_and_httponly(make_settings, tmp_path):
    settings = make_settings()
    app = create_app(settings, WikiClient(settings), groups_lookup=lambda _u: frozenset({"sysop"}))
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    client = login(app, "Admin1")
    response = client.get("/", base_url="https://localhost")  # reads the groups: a new session
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_web_groups_are_read_again_so_a_removed_admin_loses_access(make_settings):
    settings = make_settings()
    settings = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, groups_refresh_seconds=0.0)
    )
    groups = {"Admin1": frozenset({"sysop"})}
    app = create_app(
        settings, WikiClient(settings), groups_lookup=lambda user: groups.get(user, frozenset())
    )
    client = login(app, "Admin1")
    assert client.get("/").status_code == 200
    groups["Admin1"] = frozenset({"user"})  # desysopped on the wiki
    assert client.get("/").status_code == 403


def test_a_revoked_reviewer_loses_access_at_the_next_re_check(make_settings, monkeypatch):
    """The 10-minute re-check was answered from the wiki client's one-hour cache, and while the
    wiki could not be read the last role was kept without bound."""
    from flagbot.errors import FetchError
    from flagbot.web import auth

    settings = make_settings()
    settings = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, groups_refresh_seconds=600.0)
    )
    app = create_app(settings, WikiClient(settings), groups_lookup=lambda user: frozenset())
    now = [1_000_000.0]
    monkeypatch.setattr(auth.time, "time", lambda: now[0])
    on_wiki = {"Admin1": frozenset({"sysop"})}
    cached = dict(on_wiki)  # what WikiClient.user_groups answers without `fresh`
    readable = [True]

    def groups(wiki_id, user, fresh=False):
        if not readable[0]:
            raise FetchError("the wiki does not answer")
        if fresh:
            cached[user] = on_wiki.get(user, frozenset())
        return cached.get(user, frozenset())

    app.extensions["flagbot"].groups = groups
    client = login(app, "Admin1")
    assert client.get("/").status_code == 200
    on_wiki["Admin1"] = frozenset({"user"})  # desysopped on the wiki
    now[0] += 601
    assert client.get("/").status_code == 403  # the wiki itself was asked, not the cache

    other = login(app, "Admin2")
    on_wiki["Admin2"] = frozenset({"sysop"})
    assert other.get("/").status_code == 200
    readable[0] = False  # the wiki goes away
    now[0] += 601
    assert other.get("/").status_code == 200  # the last role, for a while
    now[0] += 3 * 601
    assert other.get("/").status_code == 403  # not without bound


def test_web_wsgi_entry_point_reads_the_config_from_the_environment(monkeypatch, tmp_path):
    import importlib

    from tests.conftest import ROOT

    config = tmp_path / "flagbot.yaml"
    config.write_text(
        (ROOT / "flagbot.yaml.sample")
        .read_text()
        .replace("sqlite:///flagbot.sqlite3", f"sqlite:///{tmp_path}/store.sqlite3")
    )
    monkeypatch.setenv("FLAGBOT_CONFIG", str(config))
    monkeypatch.delenv("FLAGBOT_WEB_SECRET", raising=False)
    from flagbot.errors import ConfigError

    # gunicorn's workers would each make their own session secret: refused
    sys.modules.pop("flagbot.web.wsgi", None)
    with pytest.raises(ConfigError, match=r"\$FLAGBOT_WEB_SECRET is not set"):
        importlib.import_module("flagbot.web.wsgi")
    monkeypatch.setenv("FLAGBOT_WEB_SECRET", "one secret for every worker")
    sys.modules.pop("flagbot.web.wsgi", None)
    app = importlib.import_module("flagbot.web.wsgi").app
    assert app.test_client().get("/").status_code == 302  # to the login page


def test_web_health_and_metrics_need_no_login_and_show_no_flags(make_settings):
    settings = make_settings()
    settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, metrics=True))
    store = Store(settings.store).open()
    pii = decide(0.2, [RuleHit("pii-street-address", "pii", "high")], {})
    store.record_batch(
        "test", [Outcome(change(7, "User talk:Target"), "flagged", pii, PII_TEXT)], None
    )
    app = create_app(
        settings, WikiClient(settings), store=store, groups_lookup=lambda user: frozenset()
    )
    client = app.test_client()
    assert client.get("/healthz").get_data(as_text=True) == "ok\n"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'flagbot_flags_stored{category="pii"} 1.0' in metrics
    assert "Target" not in metrics and "Hidden Lane" not in metrics
    off = create_app(
        make_settings(),
        WikiClient(make_settings()),
        store=store,
        groups_lookup=lambda user: frozenset(),
    )
    assert off.test_client().get("/metrics").status_code != 200  # off by default
    store.close()


def test_web_rights_are_per_wiki(make_settings):
    """An admin of enwiki is nobody on dewiki: they see enwiki's attacks, not dewiki's."""
    from flagbot.config import WikiSettings

    settings = make_settings(
        wikis=(
            WikiSettings(id="enwiki", url="https://en.wikipedia.org"),
            WikiSettings(id="dewiki", url="https://de.wikipedia.org"),
        )
    )
    store = Store(settings.store).open()
    attack = decide(0.97, [RuleHit("attack-you-are-insult", "personal_attack", "medium")], {})
    german = dataclasses.replace(change(201, "Diskussion:Angriff"), wiki="dewiki")
    store.record_batch(
        "test",
        [
            Outcome(change(200, "Talk:Attack"), "flagged", attack, ATTACK_TEXT),
            Outcome(german, "flagged", attack, ATTACK_TEXT),
        ],
        None,
    )
    rights = {("enwiki", "Admin1"): frozenset({"sysop"})}
    app = create_app(
        settings,
        WikiClient(settings),
        store=store,
        groups_lookup=lambda wiki, user: rights.get((wiki, user), frozenset()),
        revision_lookup=lambda wiki, rev: "visible",
    )
    app.config["TESTING"] = True
    client = login(app, "Admin1")
    queue = client.get("/").get_data(as_text=True)
    assert "Talk:Attack" in queue and "Diskussion:Angriff" not in queue
    ids = {f.wiki: f.id for f in store.iter_flags()}
    assert client.get(f"/flag/{ids['dewiki']}").status_code == 404
    assert client.get(f"/flag/{ids['enwiki']}").status_code == 200
    store.close()


def test_web_odd_numbers_and_huge_ids_are_not_server_errors(web):
    app, _, _, _ = web
    client = login(app, "Admin1")
    for query in ("page=inf", "page=nan", "page=1e400", "min_score=nan", "age=-inf"):
        assert client.get(f"/?{query}").status_code == 200, query
    assert client.get(f"/flag/{10**30}").status_code == 404


def test_web_notes_show_on_the_flag_and_the_export_defuses_formulas(web):
    app, store, ids, _ = web
    client = login(app, "Oversighter1")
    token = {"csrf": "token-Oversighter1"}
    client.post(f"/flag/{ids[101]}/decide", data={**token, "note": "asked on their talk page"})
    assert "asked on their talk page" in client.get(f"/flag/{ids[101]}").get_data(as_text=True)
    formula = Outcome(
        change(104, "Talk:F"),
        "flagged",
        decide(0.97, [RuleHit("attack-you-are-insult", "personal_attack", "medium")], {}),
        '=HYPERLINK("http://evil.example","you idiot")',
    )
    store.record_batch("test", [formula], None)
    flag_id = next(f.id for f in store.iter_flags() if f.rev_id == 104)
    client.post(f"/flag/{flag_id}/decide", data={**token, "decision": "confirm"})
    export = client.get("/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in export and "\n=HYPERLINK" not in export


def test_web_logout_ends_every_copy_of_the_session(web):
    """The cookie lives in the browser: a copy (another tab, a stolen one) used to stay valid."""
    app, _, _, _ = web
    client = login(app, "Admin1")
    with client.session_transaction() as session:
        session["login_at"] = time.time() - 10
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/").status_code == 200
    client.post("/logout", data={"csrf": "token-Admin1"})
    assert copy.get("/").status_code == 302  # back to the login page
    fresh = login(app, "Admin1")
    with fresh.session_transaction() as session:
        session["login_at"] = time.time() + 1  # a login after the logout
    assert fresh.get("/").status_code == 200


def test_web_oauth_callback_comes_from_base_url_never_from_the_host_header(make_settings):
    settings = make_settings()
    web = dataclasses.replace(
        settings.web, base_url="https://flagbot.example.org", oauth_client_id="consumer"
    )
    app = create_app(
        dataclasses.replace(settings, web=web),
        WikiClient(settings),
        groups_lookup=lambda u: frozenset(),
    )
    answer = app.test_client().get("/login/start", headers={"Host": "evil.example"})
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert "redirect_uri=https%3A%2F%2Fflagbot.example.org%2Foauth%2Fcallback" in location
    assert "evil.example" not in location


# --- confidential reports ----------------------------------------------------------------------
def file_report(client, user, category, targets, description="", **extra):
    form = {"csrf": f"token-{user}", "wiki": "enwiki", "category": category}
    return client.post(
        "/report", data={**form, "targets": targets, "description": description, **extra}
    )


def test_a_report_reaches_the_right_reviewers_and_never_leaks(web, tmp_path):
    """Anyone logged in reports; a threat goes to the emergency route at once; admins see it
    without the reporter's name, the reporter sees the status change, and nothing of the
    description or the reporter reaches an alert."""
    from email import message_from_bytes

    from flagbot.alerts.sender import deliver

    app, store, _, _ = web
    reporter = login(app, "Editor1")
    description = "he wrote that he knows my school and will wait for me there"
    # the reporter controls all that follows the base URL: it used to be the alert's Diff: line
    target = "https://en.wikipedia.org/w/index.php?diff=555&oldid=554&why=he-knows-my-school"
    answer = file_report(reporter, "Editor1", "threat", f"{target}\nUser:Mallory", description)
    assert answer.status_code == 200 and "R-1" in answer.get_data(as_text=True)
    assert "received" in reporter.get("/my-reports").get_data(as_text=True)
    assert reporter.get("/").status_code == 403  # a reporter is no reviewer

    settings = app.extensions["flagbot"].settings
    report_flag = next(f for f in store.iter_flags(with_text=True) if f.kind == "report")
    assert report_flag.routes[:1] == ("emergency",) and report_flag.text == description
    admin = login(app, "Admin1")
    assert "a user" in admin.get(f"/flag/{report_flag.id}").get_data(as_text=True)
    assert "in review" in reporter.get("/my-reports").get_data(as_text=True)
    admin.post(
        f"/flag/{report_flag.id}/decide", data={"csrf": "token-Admin1", "decision": "confirm"}
    )
    mine = reporter.get("/my-reports").get_data(as_text=True)
    assert "acted on" in mine and "Admin1" not in mine  # never who reviewed it
    oversighter = login(app, "Oversighter1")
    assert "Editor1" in oversighter.get(f"/flag/{report_flag.id}").get_data(as_text=True)

    assert deliver(store, settings, WikiClient(settings)).delivered >= 1
    mails = list((tmp_path / "outbox").glob("*.eml"))
    assert mails
    for mail in mails:
        text = mail.read_text() + message_from_bytes(mail.read_bytes()).get_payload()
        for secret in ("Editor1", "knows my school", "knows-my-school", "Mallory", "diff=555"):
            assert secret not in text


def test_reports_are_private_to_their_reporter_and_limited_per_day(web):
    app, store, _, _ = web
    first, second = login(app, "Editor1"), login(app, "Admin1")
    for n in range(3):
        assert file_report(first, "Editor1", "personal_attack", f"User:X{n}").status_code == 200
    limited = file_report(first, "Editor1", "personal_attack", "User:X4")
    assert limited.status_code == 429
    assert 'id="support-default"' in limited.get_data(as_text=True)  # help, though not taken
    assert "R-" not in second.get("/my-reports").get_data(as_text=True)  # not theirs
    assert file_report(first, "Editor1", "nonsense", "User:Y").status_code == 400
    assert file_report(second, "Admin1", "pii", "").status_code == 400  # names nothing
    pii = file_report(second, "Admin1", "pii", "User:Target posted my address")
    assert pii.status_code == 200
    pii_flag = next(f for f in store.iter_flags() if f.kind == "report" and "pii" in f.categories)
    assert "posted my address" not in login(app, "Admin1").get("/").get_data(as_text=True)
    assert login(app, "Admin1").get(f"/flag/{pii_flag.id}").status_code == 404  # oversight only
    assert "posted my address" in login(app, "Oversighter1").get("/").get_data(as_text=True)


def test_report_counts_show_the_scale_without_exposing_anyone(web):
    """Counts of ended months only, never the viewer's own reports: filing reports until a
    "fewer than 5" cell turned into a number, then subtracting one's own, recovered a hidden
    count of 2."""
    import calendar

    from sqlalchemy import update

    from flagbot.store.schema import reports

    app, store, _, _ = web
    editor, admin = login(app, "Editor1"), login(app, "Admin1")
    oversighter = login(app, "Oversighter1")
    for client, user in ((editor, "Editor1"), (admin, "Admin1"), (oversighter, "Oversighter1")):
        for n in range(3 if user != "Oversighter1" else 2):
            file_report(client, user, "hounding", f"User:Follower{n}")
    file_report(admin, "Admin1", "threat", "User:Threatener")
    today = time.gmtime()
    last_month = calendar.timegm((today.tm_year, today.tm_mon, 1, 0, 0, 0)) - 5 * DAY
    with store.engine.begin() as conn:  # filed last month
        conn.execute(update(reports).values(created=last_month))
    month = time.strftime("%Y-%m", time.gmtime(last_month))
    page = editor.get("/stats/reports").get_data(as_text=True)  # any account, by default
    # 8 hounding reports, 3 of them the viewer's own: 5 shown; 1 threat
    assert month in page and ">5<" in page and "fewer than 5" in page
    assert "Follower" not in page and "Threatener" not in page and "Admin1" not in page
    assert ">8<" in login(app, "Someone").get("/stats/reports").get_data(as_text=True)
    # the differencing attack: the oversighter's 2 hide as "fewer than 5" to an admin who files
    # reports of their own this month; nothing of this month shows, and own ones never count
    for n in range(3):
        file_report(admin, "Admin1", "pii", f"User:Probe{n}")
    this_month = time.strftime("%Y-%m", today)
    assert this_month not in admin.get("/stats/reports").get_data(as_text=True)
    settings = app.extensions["flagbot"].settings
    app.extensions["flagbot"].settings = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, report_stats_groups=("sysop",))
    )
    assert editor.get("/stats/reports").status_code == 403
    assert admin.get("/stats/reports").status_code == 200


def test_a_reported_diff_is_scored_for_the_reviewers_once_and_without_its_text(web):
    """Read in the background from the moment the report is filed (never in a reviewer's
    request), kept without text, and read again only if the wiki could not be read."""
    app, store, _, _ = web
    assessed = app.extensions["test"]["assessed"]
    reporter = login(app, "Editor1")
    links = "User:Mallory\nhttps://en.wikipedia.org/w/index.php?title=User_talk:Target&diff=9001"
    file_report(reporter, "Editor1", "threat", links)
    file_report(reporter, "Editor1", "threat", "[[Special:Diff/8000/8002]]")
    file_report(reporter, "Editor1", "threat", "index.php?oldid=404")
    flags_ = sorted((f for f in store.iter_flags() if f.kind == "report"), key=lambda f: f.id)
    admin = login(app, "Admin1")
    page = admin.get(f"/flag/{flags_[0].id}").get_data(as_text=True)
    assert 'id="assessed-score">0.910' in page and "threat-kill" in page
    assert "the edit&#39;s own text" not in page and "the edit's own text" not in page
    admin.get(f"/flag/{flags_[0].id}")
    assert assessed.count(("enwiki", 9001)) == 1  # kept: read once
    stored = store.report_for_flag(flags_[0].id)["assessment"]
    assert "own text" not in stored and '"score": 0.91' in stored
    admin.get(f"/flag/{flags_[1].id}")
    assert ("enwiki", 8002) in assessed  # Special:Diff/OLD/NEW: the newer revision
    unreadable = admin.get(f"/flag/{flags_[2].id}").get_data(as_text=True)
    assert 'id="assessment-error"' in unreadable and "no revision 404" in unreadable
    admin.get(f"/flag/{flags_[2].id}")
    assert assessed.count(("enwiki", 404)) == 2  # not kept: tried again


def test_a_slow_reported_diff_never_holds_the_reviewers_request(web):
    """A diff that takes a minute to read (a parse bomb) held the first view for 48 s, past
    gunicorn's 30 s timeout. The view now says it is being read; the next one has the result."""
    import threading

    app, store, _, _ = web
    released = threading.Event()
    real = app.extensions["flagbot"].assessments.assess
    app.extensions["flagbot"].assessments.assess = lambda wiki, rev: (
        released.wait(60),
        real(wiki, rev),
    )[1]
    reporter = login(app, "Editor1")
    file_report(reporter, "Editor1", "threat", "index.php?diff=9001")
    (flag_,) = [f for f in store.iter_flags() if f.kind == "report"]
    admin = login(app, "Admin1")
    started = time.monotonic()
    page = admin.get(f"/flag/{flag_.id}").get_data(as_text=True)
    assert time.monotonic() - started < 30  # the view waited its 2 s, not the minute
    assert 'id="assessment-pending"' in page
    released.set()
    deadline = time.monotonic() + 30
    while 'id="assessed-score"' not in page and time.monotonic() < deadline:
        page = admin.get(f"/flag/{flag_.id}").get_data(as_text=True)
    assert 'id="assessed-score">0.910' in page


@pytest.mark.parametrize(
    ("targets", "rev"),
    [
        ("https://w.org/w/index.php?title=T&diff=prev&oldid=77", 77),
        ("https://w.org/w/index.php?diff=78&oldid=77", 78),
        ("Special:PermanentLink/12", 12),
        ("https://w.org/wiki/Special:Diff/5", 5),
        ("User:Someone\nTalk:Page", None),
        ("?diff=99999999999999999999999", None),  # beyond any revision id: not a database error
    ],
)
def test_the_revision_a_diff_link_shows(targets, rev):
    from flagbot.web.reports import reported_revision

    assert reported_revision(targets) == rev


def test_account_age_edits_and_newcomer_limits_per_wiki(web):
    app, store, _, _ = web
    accounts = app.extensions["test"]["accounts"]
    settings = app.extensions["flagbot"].settings
    wiki = dataclasses.replace(settings.wikis[0], report_min_account_days=4, report_min_edits=10)
    app.extensions["flagbot"].settings = dataclasses.replace(settings, wikis=(wiki,))
    accounts["Fresh"] = (time.time() - 1 * DAY, 50)  # too young
    accounts["Quiet"] = (time.time() - 90 * DAY, 3)  # too few edits
    accounts["Newcomer"] = (time.time() - 10 * DAY, 20)  # allowed, one a day
    for user in ("Fresh", "Quiet"):
        refused = file_report(login(app, user), user, "threat", "User:X")
        assert refused.status_code == 403
        assert 'id="support-default"' in refused.get_data(as_text=True)
        assert "at least 4 days old with 10 edits" in refused.get_data(as_text=True)
    newcomer = login(app, "Newcomer")
    assert file_report(newcomer, "Newcomer", "hounding", "User:X").status_code == 200
    assert file_report(newcomer, "Newcomer", "hounding", "User:Y").status_code == 429
    blocked_veteran = login(app, "Editor1")  # blocks are not asked about: targets get blocked
    for n in range(3):
        assert file_report(blocked_veteran, "Editor1", "hounding", f"User:Z{n}").status_code == 200
    assert len([f for f in store.iter_flags() if f.kind == "report"]) == 4


def test_an_unreachable_wiki_still_takes_a_report_with_a_newcomer_s_limit(web):
    from flagbot.errors import FetchError

    app, _, _, _ = web

    def down(wiki, user):
        raise FetchError("cannot read the account of a user on enwiki: timed out")

    app.extensions["flagbot"].account = down
    reporter = login(app, "Editor1")
    assert file_report(reporter, "Editor1", "threat", "User:X").status_code == 200
    assert file_report(reporter, "Editor1", "threat", "User:Y").status_code == 429


def test_a_hard_case_waits_for_a_second_reviewer_who_agrees(web):
    app, store, ids, _ = web
    reporter = login(app, "Editor1")
    file_report(reporter, "Editor1", "hounding", "User:Follower")
    report = next(f for f in store.iter_flags() if f.kind == "report")
    first, second = login(app, "Admin1"), login(app, "Admin2")
    GROUPS["Admin2"] = frozenset({"sysop"})
    try:

        def decide_(client, user, decision, **extra):
            data = {"csrf": f"token-{user}", "decision": decision, **extra}
            return client.post(f"/flag/{report.id}/decide", data=data)

        decide_(first, "Admin1", "confirm", second="1", note="unsure: long history")
        assert store.flag(report.id).status == "second_review"
        assert "in review" in reporter.get("/my-reports").get_data(as_text=True)
        assert store.iter_decisions() == []  # a proposal is no label
        decide_(first, "Admin1", "confirm")  # the same reviewer cannot be the second
        assert store.flag(report.id).status == "second_review"
        decide_(second, "Admin2", "false_positive")  # disagreement: a new proposal, waits
        assert store.flag(report.id).status == "second_review"
        decide_(first, "Admin1", "false_positive")  # agrees with Admin2's proposal
        assert store.flag(report.id).status == "false_positive"
        assert "closed" in reporter.get("/my-reports").get_data(as_text=True)
        actions = [e["action"] for e in store.audit_entries() if e["flag_id"] == report.id]
        assert "decide:confirm:awaiting-second" in actions
        assert actions[0] == "decide:false_positive"  # newest first: the settled decision
        page = first.get(f"/flag/{report.id}").get_data(as_text=True)
        assert "unsure: long history" in page  # the history keeps every step
        assert [d.decision for d in store.iter_decisions()] == ["false_positive"]
    finally:
        GROUPS.pop("Admin2")


def test_reports_have_their_own_filter_and_the_reporter_can_be_shown_to_admins(web):
    app, store, _, _ = web
    file_report(login(app, "Editor1"), "Editor1", "hounding", "User:Follower")
    admin = login(app, "Admin1")
    reports_only = admin.get("/?kind=report").get_data(as_text=True)
    assert "User:Follower" in reports_only and "Talk:Attack" not in reports_only
    edits_only = admin.get("/?kind=edit").get_data(as_text=True)
    assert "Talk:Attack" in edits_only and "User:Follower" not in edits_only
    assert "User:Follower" in admin.get("/?kind=bogus").get_data(as_text=True)  # ignored
    report = next(f for f in store.iter_flags() if f.kind == "report")
    assert "Editor1" not in admin.get(f"/flag/{report.id}").get_data(as_text=True)
    settings = app.extensions["flagbot"].settings
    app.extensions["flagbot"].settings = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, reporter_shown_to="reviewers")
    )
    assert "Editor1" in admin.get(f"/flag/{report.id}").get_data(as_text=True)


def test_a_case_gathers_flags_and_reports_about_a_user_and_a_pair(web):
    app, store, _, _ = web
    attack = decide(0.95, [RuleHit("attack-you-are-insult", "personal_attack", "medium")], {})
    pii = decide(0.2, [RuleHit("pii-street-address", "pii", "high")], {})

    def by(rev, user, title, verdict=attack, namespace=3):
        edit = dataclasses.replace(change(rev, title), user=user, namespace=namespace)
        return Outcome(edit, "flagged", verdict, ATTACK_TEXT)

    store.record_batch(
        "case",
        [
            by(201, "Stalker", "User talk:Target"),
            by(202, "Stalker", "User talk:Target/Archive 1"),
            by(203, "Stalker", "Talk:Elsewhere", namespace=1),
            by(204, "Target", "User talk:Stalker"),
            by(205, "Stalker", "User talk:Target", pii),  # oversight only
            by(206, "Bystander", "User talk:Someone"),
        ],
        None,
    )
    file_report(login(app, "Editor1"), "Editor1", "hounding", "User:Somebody\nUser_talk:stalker")
    admin, oversighter = login(app, "Admin1"), login(app, "Oversighter1")
    alone = admin.get("/case?wiki=enwiki&user=User:Stalker").get_data(as_text=True)
    assert alone.count("<tr>") == 6  # 201-204, the report; not the pii flag, not 206
    assert "Talk:Elsewhere" in alone and "named in a report" in alone
    assert "User talk:Someone" not in alone
    pair = admin.get("/case?wiki=enwiki&user=Stalker&with=Target").get_data(as_text=True)
    assert pair.count("<tr>") == 4  # 201, 202, 204 and the header
    assert "Talk:Elsewhere" not in pair and "Stalker: by them; Target: on their page" in pair
    assert (
        oversighter.get("/case?wiki=enwiki&user=Stalker&with=Target")
        .get_data(as_text=True)
        .count("<tr>")
        == 5
    )  # and the personal information
    assert admin.get("/case?wiki=nowiki&user=Stalker").status_code == 400
    assert login(app, "Editor1").get("/case?wiki=enwiki&user=Stalker").status_code == 403
    odd = admin.get("/case?wiki=enwiki&user=100%25_x").get_data(as_text=True)
    assert "Nothing you may see" in odd  # LIKE wildcards in a name match only themselves
    flag_201 = next(f for f in store.iter_flags() if f.rev_id == 201)
    page = admin.get(f"/flag/{flag_201.id}").get_data(as_text=True)
    assert "user=Stalker&amp;with=Target" in page or "with=Target&amp;user=Stalker" in page


def test_a_reporter_who_asked_is_mailed_each_new_status_and_nothing_more(web):
    from flagbot.alerts import Alert, FlagRef, render

    app, store, _, _ = web
    asked, quiet = login(app, "Editor1"), login(app, "Admin1")
    file_report(asked, "Editor1", "hounding", "User:Follower", "he follows me", notify="1")
    file_report(quiet, "Admin1", "hounding", "User:Other", "he follows her")
    mine, theirs = sorted((f for f in store.iter_flags() if f.kind == "report"), key=lambda f: f.id)
    oversighter = login(app, "Oversighter1")
    for flag in (mine, theirs):
        oversighter.get(f"/flag/{flag.id}")
        oversighter.get(f"/flag/{flag.id}")  # a second view changes nothing
        data = {"csrf": "token-Oversighter1", "decision": "confirm"}
        oversighter.post(f"/flag/{flag.id}/decide", data=data)
        oversighter.post(f"/flag/{flag.id}/decide", data=data)  # the same status again
    notices = store.due_alerts(time.time() + 1)
    routes = sorted((d.route, d.recipient, d.flag.id) for d in notices if "status" in d.route)
    assert routes == [
        ("status:acted on", "wikimail:Editor1", mine.id),
        ("status:in review", "wikimail:Editor1", mine.id),
    ]  # nothing for the reporter who did not ask
    ref = FlagRef.of(store.flag(mine.id), "https://flagbot.example.org")
    subject, body = render(Alert("wikimail", "Editor1", "status:acted on", (ref,), wiki="enwiki"))
    assert subject == "[flagbot] your report R-1: acted on"
    assert "https://flagbot.example.org/my-reports" in body
    for secret in ("Follower", "follows", "Oversighter1", "hounding"):
        assert secret not in subject + body


def test_status_notices_name_neither_the_reporter_nor_the_outcome_in_logs(web, caplog):
    """ "alert sent to wikimail:Editor1 … route status:acted on" told anyone with the bot's
    logs (or `flagbot status`) who reported and what came of it."""
    import logging

    from flagbot.alerts.sender import deliver

    app, store, _, _ = web
    settings = app.extensions["flagbot"].settings
    reporter = login(app, "Editor1")
    file_report(reporter, "Editor1", "hounding", "User:Follower", "he follows me", notify="1")
    (flag,) = [f for f in store.iter_flags() if f.kind == "report"]
    oversighter = login(app, "Oversighter1")
    data = {"csrf": "token-Oversighter1", "decision": "confirm"}
    oversighter.post(f"/flag/{flag.id}/decide", data=data)

    def fail(alert, *_args):
        raise RuntimeError(f"no such user {alert.address}")  # channels' errors name them

    channels = {"dryrun": fail, "wikimail": fail, "smtp": fail}
    import flagbot.alerts.sender as sender

    real = sender.notifiers
    sender.notifiers = lambda: channels  # type: ignore[assignment]
    try:
        with caplog.at_level(logging.INFO, logger="flagbot"):
            deliver(store, settings, WikiClient(settings), now=time.time() + 1)
    finally:
        sender.notifiers = real
    notices = [r for r in caplog.records if "reporter" in r.getMessage()]
    assert notices  # the notices were tried, and said so
    for record in caplog.records:
        assert "Editor1" not in record.getMessage() and "acted on" not in record.getMessage()
    assert not any("Editor1" in line for line in store.outbox_errors())


def test_a_reporter_learns_nothing_about_the_queue_from_the_answers(web):
    """A report about an account the queue holds flags on answers exactly like one about an
    account it has never seen: a report must not leak the queue's contents."""
    app, store, _, _ = web
    assert any(f.user == "Vandal101" for f in store.iter_flags())
    reporter = login(app, "Editor1")
    answers = []
    for name in ("Vandal101", "Nobody"):
        answer = file_report(reporter, "Editor1", "personal_attack", f"User:{name}", "again")
        answers.append((answer.status_code, re.sub(r"R-\d+", "R-n", answer.get_data(as_text=True))))
    assert answers[0] == answers[1]
    mine = reporter.get("/my-reports").get_data(as_text=True)
    assert "Vandal101" not in mine and "Nobody" not in mine  # what was reported is not echoed
    rows = [
        re.sub(r"R-\d+|\d{4}-\d\d-\d\d \d\d:\d\d", "…", row)
        for row in re.findall(r"<tr>.*?</tr>", mine, re.S)[1:]  # the header first
    ]
    assert len(rows) == 2 and rows[0] == rows[1]


def test_a_pattern_flag_has_its_filter_and_a_timeline_of_its_diffs(web, model):
    from flagbot.patterns import build_detectors

    app, store, _, _ = web
    settings = app.extensions["flagbot"].settings
    rules = build_detectors(settings, model.card)
    borderline = decide(0.4, [], {})
    edits = [
        dataclasses.replace(
            change(300 + i, "User talk:Target"), user="Mallory", timestamp=1_767_225_600 + i * 3600
        )
        for i in range(3)
    ]
    store.record_batch(
        "test",
        [Outcome(e, "scored", borderline, None, ("Target",)) for e in edits],
        None,
        None,
        rules,
    )
    admin = login(app, "Admin1")
    queue = admin.get("/?kind=pattern").get_data(as_text=True)
    assert "User talk:Target" in queue and "Talk:Attack" not in queue
    (flag,) = [f for f in store.iter_flags() if f.kind == "pattern"]
    page = admin.get(f"/flag/{flag.id}").get_data(as_text=True)
    assert "Repeated targeting: Mallory → Target" in page
    assert all(f"?diff={300 + i}" in page for i in range(3)) and "0.40" in page


def test_a_hounding_timeline_says_which_edits_reverted_and_when_the_wiki_cannot_say(web, model):
    from flagbot.errors import FetchError
    from flagbot.patterns import build_detectors

    app, store, _, _ = web
    settings = app.extensions["flagbot"].settings
    start = int(time.time()) - 86400

    def edit(rev, user, page, when):
        found = dataclasses.replace(change(rev, page), user=user, namespace=0, timestamp=when)
        return dataclasses.replace(found, old_rev=None)

    others = [edit(1000 + i, f"U{i}", f"Other {i}", start + i) for i in range(300)]
    victim = [edit(2000 + p, "Vic", f"Quiet {p}", start + p * 3600) for p in range(6)]
    follower = [edit(3000 + p, "Stalk", f"Quiet {p}", start + p * 3600 + 600) for p in range(6)]
    rules = build_detectors(settings, model.card)
    assert store.record_batch("t", [], None, None, rules, others + victim + follower) == 1
    (flag,) = [f for f in store.iter_flags() if f.kind == "pattern"]
    tags = {3000: ("mw-undo",), 3001: ("mw-rollback", "mw-reverted"), 3002: ("visualeditor",)}
    app.extensions["flagbot"].tags = lambda wiki, revs: {r: tags.get(r, ()) for r in revs}
    admin = login(app, "Admin1")
    rows = re.findall(r"<tr>.*?</tr>", admin.get(f"/flag/{flag.id}").get_data(as_text=True))
    cells = [row for row in rows if "Quiet" in row]
    assert ["yes: undo" in r for r in cells] == [True] + [False] * 5
    assert "yes: rollback" in cells[1] and all(">no<" in r for r in cells[2:])

    def unreadable(wiki, revs):
        raise FetchError("enwiki is down")

    app.extensions["flagbot"].tags = unreadable
    page = admin.get(f"/flag/{flag.id}").get_data(as_text=True)
    assert page.count("unknown (wiki unreadable)") == 6


def test_twelve_simultaneous_reports_from_one_account_keep_the_daily_limit(web):
    """Through the app: the limit (3 a day for this account) holds when the submits race."""
    import threading

    app, store, _, _ = web
    start = threading.Barrier(12)
    codes: list[int] = []

    def submit(n: int) -> None:
        client = login(app, "Editor1")
        start.wait()
        codes.append(file_report(client, "Editor1", "threat", f"User:X{n}").status_code)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200] * 3 + [429] * 9
    assert len([f for f in store.iter_flags() if f.kind == "report"]) == 3


def test_a_nul_in_a_report_is_kept_as_a_replacement_character(web):
    """PostgreSQL's text cannot hold NUL: the report was an HTTP 500 and lost."""
    app, store, _, _ = web
    client = login(app, "Editor1")
    response = file_report(client, "Editor1", "pii", "User:T\x00", "my address\x00 is out")
    assert response.status_code == 200
    (flag,) = [f for f in store.iter_flags(with_text=True) if f.kind == "report"]
    assert flag.text == "my address\ufffd is out" and "\x00" not in flag.title


def test_the_audit_log_shows_an_oversighter_only_their_own_wikis(make_settings):
    """/audit was open to "an oversighter on any wiki", unfiltered: an enwiki oversighter read
    who filed a dewiki report and the dewiki reviewers' notes."""
    from flagbot.config import WikiSettings

    settings = make_settings(
        wikis=(
            WikiSettings(id="enwiki", url="https://en.wikipedia.org"),
            WikiSettings(id="dewiki", url="https://de.wikipedia.org"),
        )
    )
    store = Store(settings.store).open()
    oversight = frozenset({"user", "sysop", "suppress"})
    roles = {("enwiki", "OversighterEn"): oversight, ("dewiki", "OversighterDe"): oversight}
    app = create_app(
        settings,
        WikiClient(settings),
        store=store,
        groups_lookup=lambda wiki, user: roles.get((wiki, user), frozenset({"user"})),
        revision_lookup=lambda wiki, rev: "visible",
        account_lookup=lambda wiki, user: (time.time() - 400 * DAY, 800),
        assessor=lambda wiki, rev: {"rev": rev},
    )
    app.config["TESTING"] = True
    reporter = login(app, "Reporterin")
    form = {"csrf": "token-Reporterin", "wiki": "dewiki", "category": "hounding"}
    assert reporter.post("/report", data={**form, "targets": "User:Verfolger"}).status_code == 200
    (flag,) = [f for f in store.iter_flags() if f.kind == "report"]
    german = login(app, "OversighterDe")
    note = {"csrf": "token-OversighterDe", "note": "Akte 7"}
    assert german.post(f"/flag/{flag.id}/decide", data=note).status_code == 302
    seen_de = german.get("/audit").get_data(as_text=True)
    assert "Reporterin" in seen_de and "Akte 7" in seen_de  # their own wiki's
    seen_en = login(app, "OversighterEn").get("/audit").get_data(as_text=True)
    for secret in ("Reporterin", "Akte 7", "OversighterDe"):
        assert secret not in seen_en
    assert "view_audit" in seen_en  # their own entry
    store.close()


def test_reports_stay_out_of_anonymous_metrics_and_the_flags_listing(make_settings, tmp_path):
    """/metrics (no login) counted reports per category exactly — a small count recoverable by
    filing reports and subtracting — and `flagbot flags --json` printed what a report named."""
    import json
    import subprocess

    settings = make_settings()
    settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, metrics=True))
    store = Store(settings.store).open()
    app = create_app(
        settings,
        WikiClient(settings),
        store=store,
        groups_lookup=lambda user: GROUPS.get(user, frozenset()),
        revision_lookup=lambda wiki, rev: "visible",
        account_lookup=lambda wiki, user: (time.time() - 400 * DAY, 800),
        assessor=lambda wiki, rev: {"rev": rev},
    )
    app.config["TESTING"] = True
    reporter = login(app, "Editor1")
    assert file_report(reporter, "Editor1", "threat", "User:Threatener").status_code == 200
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'category="threat"' not in metrics and "flagbot_flags_stored" in metrics
    listing = subprocess.run(
        [sys.executable, "-m", "flagbot.cli", "flags", "--json", "--store", settings.store],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (record,) = [json.loads(line) for line in listing.splitlines()]
    assert record["kind"] == "report" and "Threatener" not in listing
    store.close()


def test_a_report_shows_its_answer_date_and_slips_to_delayed_with_a_notice(web):
    """Each report tells its reporter when a reviewer will have looked (emergencies within
    hours); past it unlooked, it is "delayed" and a reporter who asked is told; reviewers see
    the reports waiting past (or nearest) their date first."""
    from flagbot.alerts.sender import deliver

    app, store, _, _ = web
    settings = app.extensions["flagbot"].settings
    reporter = login(app, "Editor1")
    before = time.time()
    hate = file_report(reporter, "Editor1", "hate", "User:H", "slurs", notify="1")
    threat = file_report(reporter, "Editor1", "threat", "User:T", "he will hurt me", notify="1")
    shown = re.search(r'id="due">[^<]*?(\d{4}-\d\d-\d\d \d\d:\d\d)', threat.get_data(as_text=True))
    assert shown, threat.get_data(as_text=True)
    rows = {r["category"]: r for r in store.reports_by("Editor1")}
    assert rows["threat"]["due"] - before == pytest.approx(4 * 3600, abs=60)
    assert rows["hate"]["due"] - before == pytest.approx(72 * 3600, abs=60)
    assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(rows["threat"]["due"])) == shown[1]
    assert hate.status_code == 200
    mine = reporter.get("/my-reports").get_data(as_text=True)
    assert mine.count('class="due"') == 2

    oversighter = login(app, "Oversighter1")
    queue = oversighter.get("/?kind=report").get_data(as_text=True)
    flag_ids = [int(i) for i in re.findall(r'href="/flag/(\d+)"', queue)]
    by_category = {f.id: f.categories for f in store.iter_flags() if f.kind == "report"}
    assert "threat" in by_category[flag_ids[0]]  # filed second, due first

    deliver(store, settings, WikiClient(settings), now=before + 5 * 3600)  # nobody looked
    statuses = {r["category"]: r["status"] for r in store.reports_by("Editor1")}
    assert statuses == {"threat": "delayed", "hate": "received"}
    notices = [d.route for d in store.due_alerts(time.time() + 10**6) if "status" in d.route]
    assert notices == ["status:delayed"]
    assert "delayed" in reporter.get("/my-reports").get_data(as_text=True)
    page = oversighter.get(f"/flag/{flag_ids[0]}").get_data(as_text=True)
    assert 'id="report-status">delayed' in page  # and looking at it puts it in review
    assert {r["status"] for r in store.reports_by("Editor1")} == {"in review", "received"}


def test_a_reporter_adds_evidence_to_an_open_report_and_reviewers_see_it(web):
    """More diffs and a note, later, from "My reports": as private as the report (never in an
    alert, purged with its text), only the reporter's own open report, five a day."""
    from pathlib import Path

    from flagbot.alerts.sender import deliver

    app, store, _, _ = web
    reporter = login(app, "Editor1")
    file_report(reporter, "Editor1", "hounding", "User:Follower", "he follows me")
    (report,) = store.reports_by("Editor1")
    add = f"/my-reports/{report['id']}/add"
    form = {"csrf": "token-Editor1", "targets": "https://en.wikipedia.org/w/index.php?diff=777",
            "note": "he did it again on the village pump"}  # fmt: skip
    assert "Add diffs or a note to R-" in reporter.get("/my-reports").get_data(as_text=True)
    assert reporter.post(add, data=form).status_code == 302
    other = login(app, "Editor2")
    assert other.post(add, data={**form, "csrf": "token-Editor2"}).status_code == 403
    assert reporter.post(add, data={"csrf": "token-Editor1"}).status_code == 400  # nothing
    for _ in range(4):
        assert reporter.post(add, data=form).status_code == 302
    assert reporter.post(add, data=form).status_code == 403  # the sixth today

    flag = next(f for f in store.iter_flags() if f.kind == "report")
    page = login(app, "Oversighter1").get(f"/flag/{flag.id}").get_data(as_text=True)
    assert page.count("village pump") == 5 and "diff=777" in page
    settings = app.extensions["flagbot"].settings
    assert deliver(store, settings, WikiClient(settings), now=time.time() + 10**6).delivered
    mails = list(Path(settings.alerts.outbox).rglob("*.eml"))
    assert mails and not any("village pump" in m.read_text() for m in mails)
    store.purge_older_than(time.time() + 1)
    assert all(a["note"] is None for a in store.additions_to(report["id"]))

    data = {"csrf": "token-Oversighter1", "decision": "false_positive"}
    login(app, "Oversighter1").post(f"/flag/{flag.id}/decide", data=data)
    assert store.reports_by("Editor1")[0]["status"] == "closed"
    assert reporter.post(add, data=form).status_code == 403  # closed: no more


def test_a_flag_links_the_community_settings_revision_it_was_decided_under(web):
    app, store, _, _ = web
    verdict = dataclasses.replace(
        decide(0.97, [RuleHit("attack-you-are-insult", "personal_attack", "medium")], {}),
        settings_rev=4242,
    )
    store.record_batch("test", [Outcome(change(303, "Talk:Under"), "flagged", verdict, "x")], None)
    flag = next(f for f in store.iter_flags() if f.rev_id == 303)
    assert flag.settings_rev == 4242
    page = login(app, "Admin1").get(f"/flag/{flag.id}").get_data(as_text=True)
    assert 'href="https://en.wikipedia.org/w/index.php?oldid=4242"' in page
    other = next(f for f in store.iter_flags() if f.rev_id != 303 and f.kind == "edit")
    assert 'id="settings-rev"' not in login(app, "Admin1").get(f"/flag/{other.id}").get_data(
        as_text=True
    )


def test_a_report_link_is_kept_across_the_login_unless_it_would_break_the_cookie(web):
    """The gadget's link survives the login; a crafted one of thousands of characters would make
    the session cookie too large (the browser drops it, and the login fails): not kept."""
    app, _, _, _ = web
    client = app.test_client()
    assert client.get("/report?wiki=enwiki&target=User%3ABob").status_code == 302
    with client.session_transaction() as session:
        assert session["after_login"] == "/report?wiki=enwiki&target=User%3ABob"
    other = app.test_client()
    assert other.get("/report?target=" + "x" * 3000).status_code == 302
    with other.session_transaction() as session:
        assert "after_login" not in session
