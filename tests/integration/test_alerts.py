"""Private alerts against real servers: an SMTP server (aiosmtpd) and the real MediaWiki.

`pytest tests/integration -k alert` selects these. Flags are recorded through the pipeline's
own seam (Store.record_batch + alerts.make_enqueue), or by the pipeline itself from real edits.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time

import pytest
from sqlalchemy import select

from flagbot.alerts import make_enqueue
from flagbot.alerts import sender as sender_module
from flagbot.alerts.sender import deliver
from flagbot.cli import main as flagbot_main
from flagbot.config import AlertSettings, WikiSettings
from flagbot.events import RecentChange
from flagbot.rules import RuleHit
from flagbot.scoring import decide
from flagbot.sources import source_key
from flagbot.store import Outcome, Store, flags, outbox
from flagbot.wiki import WikiClient
from tests.integration.test_real_wiki import fresh_title, post_comments
from tests.test_pipeline import make_pipeline, run_until

ABUSE = [
    f"Your home address is {n} Hidden Lane and everyone will know where you sleep at night"
    for n in range(100, 160)
]
_revs = itertools.count(5_000_000)


def smtp_settings(make_settings, mailbox, **alerts):
    config = AlertSettings(
        recipients={"oversight": ("smtp:oversight-l@lists.test",)},
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        smtp_timeout=5.0,
        stale_check=False,
        sender="flagbot@bot.test",
        review_url="https://flagbot.example.test",
    )
    return make_settings(alerts=dataclasses.replace(config, **alerts))


def record_flags(store, settings, count, user=None, title=None, severity="high"):
    """`count` pii flags (each by its own user on its own page unless given) → {rev: text}."""
    outcomes, texts = [], {}
    for _ in range(count):
        rev = next(_revs)
        change = RecentChange(
            wiki="enwiki",
            server_url="https://en.wikipedia.org",
            script_path="/w",
            namespace=3,
            title=title or f"User talk:Target{rev}",
            user=user or f"Editor{rev}",
            bot=False,
            type="edit",
            old_rev=rev - 1,
            new_rev=rev,
            timestamp=int(time.time()),
            comment="reply",
        )
        text = ABUSE[rev % len(ABUSE)]
        verdict = decide(0.3, [RuleHit("pii-street-address", "pii", severity)], {"toxic": 0.8})
        outcomes.append(Outcome(change, "flagged", verdict, text))
        texts[rev] = text
    store.record_batch("test", outcomes, None, make_enqueue(settings))
    return texts


def diffs_in(message) -> list[int]:
    body = message.get_content()
    return [int(x) for x in __import__("re").findall(r"index\.php\?diff=(\d+)", body)]


def assert_private(message, texts):
    """No 30-character run of any flagged text in the subject or body."""
    seen = f"{message['Subject']}\n{message.get_content()}"
    for text in texts:
        for start in range(0, max(len(text) - 30, 1), 5):
            assert text[start : start + 30] not in seen


def outbox_rows(store):
    with store.engine.connect() as conn:
        return list(conn.execute(select(outbox)))


@pytest.fixture
def store(make_settings):
    store = Store(make_settings().store).open()
    yield store
    store.close()


@pytest.fixture(autouse=True)
def empty_mailbox(mailbox):
    mailbox.clear()
    yield
    mailbox.clear()


def test_alert_smtp_reaches_the_list_once_without_the_text(make_settings, mailbox, store):
    settings = smtp_settings(make_settings, mailbox)
    texts = record_flags(store, settings, 3)
    report = deliver(store, settings, WikiClient(settings))
    assert report.messages == 3 and report.delivered == 3
    received = mailbox.to("oversight-l@lists.test")
    assert sorted(d for m in received for d in diffs_in(m)) == sorted(texts)
    for message in received:
        assert message["From"] == "flagbot@bot.test"
        assert "https://flagbot.example.test/flag/" in message.get_content()
        assert_private(message, texts.values())
    assert deliver(store, settings, WikiClient(settings)).messages == 0  # nothing is sent twice
    assert len(mailbox.messages) == 3


def test_alert_crash_between_send_and_mark_repeats_one_message_at_most(
    make_settings, mailbox, store, monkeypatch
):
    """The crash is simulated in-process (an exception out of the marking step, as a kill -9
    would leave it): the message went out, its rows are still pending."""
    settings = smtp_settings(make_settings, mailbox)
    texts = record_flags(store, settings, 4)
    real_mark = store.mark_alerts
    crashed = []

    def crash_once(ids, status, **values):
        if status == "sent" and not crashed:
            crashed.append(ids)
            raise KeyboardInterrupt("killed between send and mark")
        real_mark(ids, status, **values)

    monkeypatch.setattr(store, "mark_alerts", crash_once)
    with pytest.raises(KeyboardInterrupt):
        deliver(store, settings, WikiClient(settings))
    assert len(mailbox.messages) == 1  # sent, not marked
    deliver(
        store, settings, WikiClient(settings)
    )  # the restarted sender: the other alerts go out at once
    assert len(mailbox.messages) == 4
    # the crashed message's rows are still claimed; once the claim is stale, they go again
    deliver(
        store, settings, WikiClient(settings), now=time.time() + sender_module.CLAIM_TIMEOUT + 1
    )
    delivered = [d for _, m in mailbox.messages for d in diffs_in(m)]
    assert sorted(set(delivered)) == sorted(texts)  # none lost
    assert len(delivered) == len(texts) + 1  # exactly one repeat: the crashed message
    assert {r.status for r in outbox_rows(store)} == {"sent"}


def test_alert_smtp_outage_keeps_alerts_and_delivers_when_back(make_settings, mailbox, store):
    settings = smtp_settings(make_settings, mailbox)
    texts = record_flags(store, settings, 2)
    mailbox.stop()
    try:
        report = deliver(store, settings, WikiClient(settings))
        assert report.messages == 0 and report.retrying == 2 and report.errors
        rows = outbox_rows(store)
        assert {r.status for r in rows} == {"pending"} and all(r.attempts == 1 for r in rows)
        assert all(r.next_attempt > time.time() for r in rows)  # backing off
        assert store.outbox_errors() and "SMTP 127.0.0.1" in store.outbox_errors()[0]
        report = deliver(
            store, settings, WikiClient(settings), now=time.time() + 61
        )  # still down: longer backoff
        assert report.retrying == 2
        assert {r.attempts for r in outbox_rows(store)} == {2}
    finally:
        mailbox.start()
    assert deliver(store, settings, WikiClient(settings)).messages == 0  # the backoff is honoured
    report = deliver(store, settings, WikiClient(settings), now=time.time() + 3600)
    assert report.delivered == 2
    assert sorted(d for _, m in mailbox.messages for d in diffs_in(m)) == sorted(texts)


def test_alert_emergency_retries_every_15_s_through_a_long_smtp_outage(
    make_settings, mailbox, store
):
    """20 minutes of SMTP down: the shared backoff (1, 2, 4 … 60 minutes) made a self-harm
    alert wait 11 more minutes once SMTP was back. The emergency route retries on a short fixed
    interval; the review-queue route keeps backing off."""
    from flagbot.alerts.sender import URGENT_RETRY_DELAY

    settings = smtp_settings(
        make_settings,
        mailbox,
        recipients={
            "oversight": ("smtp:oversight-l@lists.test",),
            "emergency": ("smtp:emergency@wmf.test",),
        },
    )
    record_flags(store, settings, 1, severity="emergency")
    mailbox.stop()
    now = time.time()
    try:
        for _ in range(8):  # each pass when the emergency row is due again
            deliver(store, settings, WikiClient(settings), now=now)
            rows = {r.recipient: r for r in outbox_rows(store) if r.status == "pending"}
            emergency = rows["smtp:emergency@wmf.test"]
            assert emergency.next_attempt == pytest.approx(now + URGENT_RETRY_DELAY)
            now = emergency.next_attempt
        oversight = rows["smtp:oversight-l@lists.test"]
        assert oversight.attempts == 2  # in the same 2 minutes: 1 then 2 minutes apart
        assert oversight.next_attempt - now >= 4 * URGENT_RETRY_DELAY  # backing off
    finally:
        mailbox.start()
    report = deliver(store, settings, WikiClient(settings), now=now)
    assert report.delivered == 1
    (message,) = mailbox.messages
    assert message[1]["To"] == "emergency@wmf.test"


def test_alert_the_sender_wakes_when_a_batch_queues_alerts(make_settings, mailbox, store):
    """With the shipped 5 s interval, an alert waited for the sender's next poll (p95 4.5 s);
    now a commit that queued alerts wakes it. The interval here is 60 s: only the wake can
    deliver within the test's wait."""
    import threading

    from flagbot.alerts.sender import run_sender

    settings = smtp_settings(make_settings, mailbox, interval=60.0)
    stop, wake = threading.Event(), threading.Event()
    sender = threading.Thread(
        target=run_sender, args=(store, settings, stop, WikiClient(settings), None, wake)
    )
    sender.start()
    try:
        record_flags(store, settings, 1)
        wake.set()  # what Pipeline.commit does when a batch added flags
        deadline = time.monotonic() + 30
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(mailbox.messages) == 1
    finally:
        stop.set()
        wake.set()
        sender.join(10)
    assert not sender.is_alive()  # stop + wake end it at once, not after the 60 s interval


def test_alert_recipient_limit_folds_into_digests_and_loses_nothing(make_settings, mailbox, store):
    settings = smtp_settings(make_settings, mailbox, limits={"smtp": 2})
    texts = record_flags(store, settings, 5)
    now = time.time()
    assert (
        deliver(store, settings, WikiClient(settings), now=now).messages == 1
    )  # 5 due, room for 2: one digest
    (digest,) = mailbox.messages
    assert "5 flagged edits (digest)" in digest[1]["Subject"]
    texts |= record_flags(store, settings, 3)
    assert (
        deliver(store, settings, WikiClient(settings), now=now + 10).messages == 1
    )  # the last slot: a digest
    texts |= record_flags(store, settings, 2)
    report = deliver(store, settings, WikiClient(settings), now=now + 20)
    assert report.messages == 0 and report.waiting == 2  # limit reached: kept, not dropped
    assert (
        deliver(store, settings, WikiClient(settings), now=now + 86_400 + 30).messages == 2
    )  # a new day: room
    delivered = [d for _, m in mailbox.messages for d in diffs_in(m)]
    assert sorted(delivered) == sorted(texts)  # every flag exactly once
    for _, message in mailbox.messages:
        assert_private(message, texts.values())


def test_alert_burst_from_one_user_becomes_one_alert(make_settings, mailbox, store):
    settings = smtp_settings(make_settings, mailbox, burst_seconds=600)
    now = time.time()
    first = record_flags(store, settings, 4, user="Burster")
    assert deliver(store, settings, WikiClient(settings), now=now).messages == 1
    assert sorted(diffs_in(mailbox.messages[0][1])) == sorted(first)
    later = record_flags(store, settings, 2, user="Burster")  # follow-ups inside the window
    report = deliver(store, settings, WikiClient(settings), now=now + 60)
    assert report.messages == 0 and report.waiting == 2
    assert deliver(store, settings, WikiClient(settings), now=now + 601).messages == 1
    assert sorted(diffs_in(mailbox.messages[1][1])) == sorted(later)


def test_alert_emergency_is_not_held_by_a_full_limit(make_settings, mailbox, store):
    settings = smtp_settings(
        make_settings,
        mailbox,
        limits={"smtp": 1},
        recipients={
            "oversight": ("smtp:oversight-l@lists.test",),
            "emergency": ("smtp:oversight-l@lists.test",),
        },
    )
    record_flags(store, settings, 1)
    assert (
        deliver(store, settings, WikiClient(settings)).messages == 1
    )  # the day's only slot is used
    urgent = record_flags(store, settings, 1, severity="emergency")
    report = deliver(store, settings, WikiClient(settings))
    assert report.messages == 1  # still sent
    assert diffs_in(mailbox.messages[-1][1]) == list(urgent)


def test_alert_auto_throttle_holds_the_queue_tells_the_operator_once_then_releases(
    make_settings, mailbox, store, capsys
):
    settings = smtp_settings(
        make_settings,
        mailbox,
        throttle_factor=3,
        throttle_min_per_hour=2,
        operator="smtp:operator@bot.test",
    )
    record_flags(store, settings, 12)  # 12 in an hour where 6 is the ceiling: a bad rules change?
    report = deliver(store, settings, WikiClient(settings))
    assert report.messages == 0 and "auto-throttle" in report.held
    (notice,) = mailbox.to("operator@bot.test")
    assert "held" in notice["Subject"] and "flagbot alerts release" in notice.get_content()
    assert (
        deliver(store, settings, WikiClient(settings)).messages == 0
    )  # still held, no second notice
    assert len(mailbox.to("operator@bot.test")) == 1
    assert flagbot_main(["alerts", "release", "--store", settings.store]) == 0
    assert "released" in capsys.readouterr().out
    report = deliver(store, settings, WikiClient(settings))
    assert report.delivered == 12 and not report.held
    assert len(mailbox.to("oversight-l@lists.test")) >= 1


# --- through the real wiki -------------------------------------------------------------------
@pytest.fixture
def wiki_alert_settings(wiki_settings, bot_login, tmp_path):
    return dataclasses.replace(
        wiki_settings,
        wikis=(WikiSettings(id="testwiki", url=wiki_settings.wikis[0].url, script_path=""),),
        alerts=AlertSettings(
            recipients={
                "oversight": ("wikimail:Oversighter",),
                "emergency": ("dryrun:emergency",),
            },
            outbox=str(tmp_path / "outbox"),
            review_url="https://flagbot.example.test",
        ),
    )


def flag_real_edits(wiki, settings, scorer, pairs):
    """Post comments as editors, let the pipeline (polling source) flag them; → {rev: text}."""
    newest = wiki.session("Bob").get(
        action="query", list="recentchanges", rcprop="ids|timestamp", rclimit=1
    )["query"]["recentchanges"][0]
    revs = post_comments(wiki, pairs)
    pipeline = make_pipeline(settings, scorer)
    # start reading at this test's edits, not at other tests' older ones
    pipeline.store.save_position(
        source_key(settings),
        json.dumps({"testwiki": {"ts": newest["timestamp"], "rcid": newest["rcid"]}}),
    )
    run_until(pipeline, set(revs))
    pipeline.close()
    return pipeline.store, {rev: text for rev, (_, text) in revs.items()}


def test_alert_wikimail_through_the_real_wiki(wiki, wiki_alert_settings, scorer, mailbox):
    title = fresh_title("User talk")
    store, revs = flag_real_edits(
        wiki, wiki_alert_settings, scorer, [("Alice", title, "His phone number is 415-555-0132")]
    )
    report = deliver(store, wiki_alert_settings, WikiClient(wiki_alert_settings))
    assert report.messages == 1, report.errors
    (message,) = mailbox.to("oversighter@example.test")
    body = message.get_content()
    (rev,) = revs
    assert f"{wiki.url}/index.php?oldid={rev}" in body  # the diff link of a page creation
    assert "FlagBot" in message["From"] or "FlagBot" in body  # sent by the bot account
    assert_private(message, revs.values())
    assert "415-555" not in body
    contributions = wiki.session("Bob").get(
        action="query", list="usercontribs", ucuser="FlagBot", uclimit=10
    )["query"]["usercontribs"]
    assert contributions == []  # the bot never edits


def test_alert_wikimail_to_an_account_without_email_fails_clearly(
    wiki, wiki_alert_settings, scorer, mailbox
):
    settings = dataclasses.replace(
        wiki_alert_settings,
        alerts=dataclasses.replace(
            wiki_alert_settings.alerts, recipients={"oversight": ("wikimail:Bob",)}
        ),
    )
    store, _ = flag_real_edits(
        wiki, settings, scorer, [("Alice", fresh_title(), "her cell is 212.555.0187")]
    )
    report = deliver(store, settings, WikiClient(settings))
    assert report.failed == 1 and "does not accept email" in report.errors[0]
    assert (
        deliver(store, settings, WikiClient(settings), now=time.time() + 7200).failed == 0
    )  # not retried forever
    assert [r.status for r in outbox_rows(store)] == ["failed"]
    assert mailbox.messages == []


def test_alert_for_a_revision_suppressed_before_sending_is_not_sent_and_text_is_purged(
    wiki, wiki_alert_settings, scorer, mailbox
):
    title = fresh_title("User talk")
    doxx = "I will find you, your home address is 12 Hidden Lane"
    threat = "I am going to kill you, you will not see it coming"
    store, revs = flag_real_edits(
        wiki, wiki_alert_settings, scorer, [("Alice", title, doxx), ("Alice", title, threat)]
    )
    wiki.session("Alice").edit(title, "\n\nLater, unrelated comment.", append=True)
    for rev in revs:
        wiki.session("Oversighter").hide_revision(rev, suppress=True)
    report = deliver(store, wiki_alert_settings, WikiClient(wiki_alert_settings))
    assert report.handled_before_alert >= 1
    statuses = {(r.route, r.status) for r in outbox_rows(store)}
    assert ("oversight", "handled_before_alert") in statuses
    assert ("emergency", "sent") in statuses  # the emergency route always sends
    assert mailbox.to("oversighter@example.test") == []
    with store.engine.connect() as conn:
        stored = list(conn.execute(select(flags.c.added_text, flags.c.purged_at)))
    assert stored and all(text is None and purged for text, purged in stored)


def test_alert_kill_switch_off_keeps_alerts_queued(wiki, wiki_alert_settings, scorer, mailbox):
    switch = "User:FlagBot/Run"
    settings = dataclasses.replace(
        wiki_alert_settings,
        alerts=dataclasses.replace(
            wiki_alert_settings.alerts, kill_switch_page=switch, kill_switch_cache=60
        ),
    )
    admin = wiki.session("Oversighter")
    admin.edit(switch, "no")
    store, revs = flag_real_edits(
        wiki, settings, scorer, [("Alice", fresh_title(), "his number is +1 646-555-0199")]
    )
    now = time.time()
    client = WikiClient(settings)  # the sender thread's: the switch is cached in it
    report = deliver(store, settings, now=now, client=client)
    assert report.messages == 0 and "kill switch" in report.held
    assert {r.status for r in outbox_rows(store)} == {"pending"}
    admin.edit(switch, "yes")
    assert deliver(store, settings, now=now + 1, client=client).messages == 0  # cached a minute
    assert deliver(store, settings, now=now + 61, client=client).messages == 1
    assert len(mailbox.to("oversighter@example.test")) == 1


def test_alert_wikimail_rate_limited_by_the_wiki_is_kept_and_retried_later(
    wiki, wiki_alert_settings, scorer, mailbox
):
    # one email per 3 seconds for the bot: short, so that the test can outlast the window
    with wiki.extra_settings("$wgRateLimits['emailuser'] = ['user' => [1, 3]];"):
        store, revs = flag_real_edits(  # two users, two pages: two separate alerts
            wiki,
            wiki_alert_settings,
            scorer,
            [
                ("Alice", fresh_title(), "call me on 212-555-0187"),
                ("Bob", fresh_title(), "ring him at 646-555-0199"),
            ],
        )
        started = time.monotonic()
        report = deliver(store, wiki_alert_settings, WikiClient(wiki_alert_settings))
        assert time.monotonic() - started < 30  # pywikibot did not sleep the limit out
        assert report.messages == 1 and report.retrying == 1  # the second one: ratelimited
        assert "rate-limits" in report.errors[0]
        (row,) = [r for r in outbox_rows(store) if r.status == "pending"]
        assert row.next_attempt >= time.time() + 3000  # back off for about an hour
        time.sleep(3.5)  # the wiki's window passes
        assert (
            deliver(store, wiki_alert_settings, WikiClient(wiki_alert_settings)).messages == 0
        )  # our backoff still holds
        report = deliver(
            store, wiki_alert_settings, WikiClient(wiki_alert_settings), now=time.time() + 3601
        )
        assert report.messages == 1, report.errors
    received = mailbox.to("oversighter@example.test")
    assert {r for r in revs for m in received if f"oldid={r}" in m.get_content()} == set(revs)


def test_alert_wikimail_while_the_wikis_mail_server_is_down_is_kept(
    wiki, wiki_alert_settings, scorer, mailbox
):
    store, revs = flag_real_edits(
        wiki, wiki_alert_settings, scorer, [("Alice", fresh_title(), "her cell is 917-555-0143")]
    )
    mailbox.stop()  # the wiki's SMTP server
    try:
        report = deliver(store, wiki_alert_settings, WikiClient(wiki_alert_settings))
        assert report.messages == 0 and report.retrying == 1, report
        assert "could not send" in report.errors[0]  # the wiki said Failure: not marked sent
    finally:
        mailbox.start()
    report = deliver(
        store, wiki_alert_settings, WikiClient(wiki_alert_settings), now=time.time() + 3600
    )
    assert report.messages == 1
    (message,) = mailbox.to("oversighter@example.test")
    assert f"oldid={next(iter(revs))}" in message.get_content()


def test_alert_two_senders_sharing_postgresql_send_each_alert_once(
    make_settings, mailbox, postgres_url
):
    from sqlalchemy import create_engine, text

    database = f"alerts_{int(time.time() * 1000)}"
    with create_engine(postgres_url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}"))
    url = postgres_url.rsplit("/", 1)[0] + f"/{database}"
    settings = dataclasses.replace(smtp_settings(make_settings, mailbox), store=url)
    first, second = Store(url).open(), Store(url).open()
    texts = record_flags(first, settings, 30)
    results = []
    threads = [
        threading.Thread(
            target=lambda s=s: results.append(deliver(s, settings, WikiClient(settings)))
        )
        for s in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    delivered = [d for _, m in mailbox.messages for d in diffs_in(m)]
    assert sorted(delivered) == sorted(texts)  # each exactly once across both senders
    assert sum(r.delivered for r in results) == 30
    first.close()
    second.close()


def test_alert_a_revert_handles_an_attack_but_not_personal_information(
    wiki, wiki_alert_settings, scorer, mailbox
):
    """A reverted attack needs nobody now; a reverted phone number is still in the page history
    for anyone to read, so oversight is told all the same (only suppression removes it)."""
    settings = dataclasses.replace(
        wiki_alert_settings,
        alerts=dataclasses.replace(
            wiki_alert_settings.alerts,
            recipients={**wiki_alert_settings.alerts.recipients, "admins": ("dryrun:admins",)},
            routes={**wiki_alert_settings.alerts.routes, "personal_attack": ("admins",)},
        ),
    )
    attack, phone = "you are a pathetic worthless idiot", "ring her at 646-555-0199"
    first, second = fresh_title("User talk"), fresh_title("User talk")
    store, revs = flag_real_edits(
        wiki,
        settings,
        scorer,
        [
            ("Bob", first, "Thanks for the sources."),
            ("Alice", first, attack),
            ("Bob", second, "Thanks for the map."),
            ("Alice", second, phone),
        ],
    )
    admin = wiki.session("Oversighter")
    for title, text in ((first, attack), (second, phone)):
        rev = next(r for r, t in revs.items() if t == text)
        admin.post(action="edit", title=title, undo=rev, token=admin.csrf)
    wiki.maintenance("runJobs.php")  # the wiki's job runner tags the undone edits mw-reverted
    report = deliver(store, settings, WikiClient(settings))
    assert report.handled_before_alert == 1 and report.messages == 1
    rows = {r.route: r for r in outbox_rows(store)}
    assert rows["admins"].status == "handled_before_alert"
    assert rows["admins"].error == "revision reverted"
    assert rows["oversight"].status == "sent"
    assert len(mailbox.to("oversighter@example.test")) == 1
    assert all(flag.text for flag in store.iter_flags(with_text=True))  # still visible


def test_doctor_checks_the_real_wiki_smtp_store_and_oauth(
    wiki, wiki_alert_settings, mailbox, monkeypatch
):
    """`flagbot doctor`: each thing an operator gets wrong, against the real servers."""
    from flagbot.doctor import run_checks, table

    monkeypatch.setenv("T_OAUTH_SECRET", "x")
    monkeypatch.setenv("T_WEB_SECRET", "y")
    alerts = dataclasses.replace(
        wiki_alert_settings.alerts,
        recipients={
            "oversight": ("wikimail:Oversighter", "wikimail:Bob"),  # Bob takes no email
            "emergency": ("smtp:emergency@example.test",),
        },
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        kill_switch_page="User:FlagBot/NoSuchSwitch",
    )
    web = dataclasses.replace(
        wiki_alert_settings.web,
        oauth_client_id="consumer",
        oauth_client_secret_env="T_OAUTH_SECRET",
        secret_key_env="T_WEB_SECRET",
    )
    settings = dataclasses.replace(wiki_alert_settings, alerts=alerts, web=web)
    findings = {f.check: f.problem for f in run_checks(settings, WikiClient(settings))}
    assert findings["store reachable and migrated"] is None
    assert findings["model default loads"] is None
    assert findings["rules load, examples pass"] is None
    assert findings["testwiki answers"] is None
    assert findings["testwiki bot account logs in with `sendemail`"] is None
    assert findings["testwiki wikimail:Oversighter accepts email"] is None
    assert "email" in findings["testwiki wikimail:Bob accepts email"]
    assert "does not exist" in findings["testwiki kill switch page"]
    assert findings[f"SMTP 127.0.0.1:{mailbox.port} connects and logs in"] is None
    assert findings["review queue OAuth"] is None
    assert mailbox.messages == []  # read-only: nothing was sent
    broken = dataclasses.replace(
        settings,
        alerts=dataclasses.replace(alerts, smtp_port=1),
        wikis=(dataclasses.replace(settings.wikis[0], id="nowiki", url="http://127.0.0.1:1"),),
    )
    report = table(run_checks(broken, WikiClient(broken)))
    assert "SMTP 127.0.0.1:1 connects and logs in  PROBLEM" in report
    assert "nowiki answers" in report and "PROBLEM" in report.split("nowiki answers")[1]
