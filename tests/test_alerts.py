"""Alert rendering with hostile metadata (the delivery paths are in tests/integration)."""

from email import message_from_bytes

from flagbot.alerts import Alert, FlagRef, email_message, render
from flagbot.config import AlertSettings
from flagbot.wiki import WikiClient


def flag(title, user):
    return FlagRef(
        flag_id=1,
        wiki="enwiki",
        diff_url="https://en.wikipedia.org/w/index.php?diff=2&oldid=1",
        title=title,
        user=user,
        edit_time=1_767_225_600,
        categories=("personal_attack",),
        score=0.97,
        rule_ids=(),
        review_url="",
    )


def test_a_title_or_user_with_line_breaks_adds_no_header_and_no_line():
    evil = flag("Talk:A\r\nBcc: everyone@example.org", "Bob\nDiff:       https://evil.example/")
    alert = Alert(channel="smtp", address="os@example.org", route="oversight", items=(evil,))
    subject, body = render(alert)
    assert "\n" not in subject and "\r" not in subject
    assert subject.endswith("on Talk:A Bcc: everyone@example.org")
    assert [line for line in body.splitlines() if line.startswith("Diff:")] == [
        "Diff:       https://en.wikipedia.org/w/index.php?diff=2&oldid=1"
    ]
    message = message_from_bytes(bytes(email_message(alert, subject, body, AlertSettings())))
    assert message["Bcc"] is None and message["To"] == "os@example.org"


def test_the_auto_throttle_tells_an_operator_on_any_channel(make_settings, tmp_path, caplog):
    """The operator notice carries no flagged edit; the dryrun and wikimail channels used to
    read `alert.items[0]` and raise IndexError (logged), so only an smtp: operator was told."""
    from flagbot.alerts import make_enqueue
    from flagbot.alerts.sender import deliver
    from flagbot.store import Store
    from tests.integration.test_alerts import record_flags

    settings = make_settings(
        alerts=AlertSettings(
            recipients={"oversight": ("dryrun:oversight-l",)},
            outbox=str(tmp_path / "outbox"),
            stale_check=False,
            throttle_factor=3,
            throttle_min_per_hour=2,
            operator="dryrun:operator",
        )
    )
    store = Store(settings.store).open()
    assert make_enqueue  # flags are queued through the pipeline's own seam
    record_flags(store, settings, 12)
    report = deliver(store, settings, WikiClient(settings))
    assert "auto-throttle" in report.held and report.messages == 0
    (notice,) = (tmp_path / "outbox").glob("*operator*.eml")
    mail = message_from_bytes(notice.read_bytes())
    assert "held" in mail["Subject"] and "flagbot alerts release" in mail.get_payload()
    assert "could not tell the operator" not in caplog.text
    store.close()


# --- the sender's policy, without a channel ----------------------------------------------------
def due(row_id, user="U", title="Talk:P", route="admins", wiki="enwiki"):
    from flagbot.store import Due, Flag

    flag = Flag(
        id=row_id,
        kind="edit",
        wiki=wiki,
        rev_id=1000 + row_id,
        old_rev_id=None,
        title=title,
        namespace=1,
        user=user,
        edit_time=1_767_225_600,
        diff_url=f"https://en.wikipedia.org/w/index.php?oldid={1000 + row_id}",
        categories=("personal_attack",),
        score=0.9,
        rule_ids=(),
        severity="medium",
        routes=(route,),
        status="new",
        created=0.0,
    )
    return Due(id=row_id, route=route, recipient="smtp:x@y", channel="smtp", attempts=0, flag=flag)


def test_follow_ups_on_one_user_or_page_make_one_message():
    from flagbot.alerts.sender import plan

    rows = [due(1, "A", "Talk:1"), due(2, "A", "Talk:2"), due(3, "B", "Talk:2"), due(4, "C")]
    decided = plan(rows, {}, used=0, limit=0, burst_seconds=600, always_send=())
    assert sorted(sorted(r.id for r in m) for m in decided.messages) == [[1, 2, 3], [4]]
    assert not decided.digest and not decided.wait


def test_a_burst_waits_for_its_window_but_the_emergency_route_does_not():
    from flagbot.alerts.sender import plan

    rows = [due(1, "A"), due(2, "A", route="emergency"), due(3, "B", "Talk:Q")]
    last = {("enwiki", "user:A"): 1000.0}
    decided = plan(rows, last, used=0, limit=0, burst_seconds=600, always_send=("emergency",))
    assert decided.wait == {1: 1600.0}
    assert sorted(r.id for m in decided.messages for r in m) == [2, 3]


def test_the_daily_limit_folds_into_a_digest_then_holds_all_but_emergencies():
    from flagbot.alerts.sender import plan

    rows = [due(i, f"U{i}", f"Talk:{i}") for i in range(5)]
    folded = plan(rows, {}, used=8, limit=10, burst_seconds=0, always_send=("emergency",))
    assert folded.digest and [len(m) for m in folded.messages] == [5]
    full = plan(
        [*rows, due(9, "E", "Talk:E", route="emergency")],
        {},
        used=10,
        limit=10,
        burst_seconds=0,
        always_send=("emergency",),
    )
    assert [[r.id for r in m] for m in full.messages] == [[9]] and full.over_limit == 5


def test_the_auto_throttle_trips_only_far_above_the_usual_rate():
    from flagbot.alerts.sender import surge

    now = 10 * 86400.0
    # 7 days of 2 flags an hour; factor 10 with a floor of 30/hour: 300 is the ceiling
    usual = dict(earlier=2 * 24 * 7, first=now - 7 * 86400, now=now, factor=10, floor=30)
    assert surge(300, **usual) is None
    assert "301 flagged edits" in (surge(301, **usual) or "")
    assert surge(0, **usual) is None


def test_the_auto_throttle_never_holds_the_emergency_route(make_settings, tmp_path):
    """A brigading spike is exactly when the auto-throttle trips; the emergency contact must
    still hear about a threat at once (only the kill switch, a human decision, holds it)."""
    from flagbot.alerts.sender import deliver
    from flagbot.store import Store
    from tests.integration.test_alerts import record_flags

    settings = make_settings(
        alerts=AlertSettings(
            recipients={"oversight": ("dryrun:oversight",), "emergency": ("dryrun:emergency",)},
            outbox=str(tmp_path / "outbox"),
            stale_check=False,
            throttle_factor=3,
            throttle_min_per_hour=2,
        )
    )
    store = Store(settings.store).open()
    record_flags(store, settings, 12)  # oversight only: held
    record_flags(store, settings, 1, severity="emergency")  # emergency + oversight
    report = deliver(store, settings, WikiClient(settings))
    assert "auto-throttle" in report.held
    assert len(list((tmp_path / "outbox").glob("*-emergency-*.eml"))) == 1
    assert list((tmp_path / "outbox").glob("*-oversight-*.eml")) == []
    assert report.waiting == 13  # 12 flags and the emergency flag's oversight row
    store.close()


def test_log_only_mode_stores_flags_and_mails_nobody(tmp_path, make_settings, scorer):
    """How a community tries flagbot before trusting it: everything reviewable, no alert;
    for one wiki (`wikis[].alerts_mode`) or for all (`alerts.mode`)."""
    import dataclasses
    import threading

    from flagbot.config import WikiSettings
    from tests.test_pipeline import ABUSIVE, make_pipeline, rc_event, write_replay

    def queued_wikis(mode, name):
        lines = [rc_event(1, ABUSIVE), rc_event(2, ABUSIVE, wiki="dewiki")]
        settings = make_settings(
            store=f"sqlite:///{tmp_path / name}.sqlite3",
            source={"type": "replay", "path": write_replay(tmp_path / f"{name}.jsonl", lines)},
            wikis=(
                WikiSettings(id="enwiki", url="https://en.wikipedia.org", alerts_mode="log-only"),
                WikiSettings(id="dewiki", url="https://de.wikipedia.org"),
            ),
        )
        alerts = dataclasses.replace(settings.alerts, routes={"toxic": ("oversight",)}, mode=mode)
        pipeline = make_pipeline(dataclasses.replace(settings, alerts=alerts), scorer)
        assert pipeline.run(threading.Event()).new_flags == 2  # both stored, reviewable
        with pipeline.store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT f.wiki FROM outbox o JOIN flags f ON f.id = o.flag_id"
            ).all()
        pipeline.store.close()
        return {wiki for (wiki,) in rows}

    assert queued_wikis("send", "one") == {"dewiki"}
    assert queued_wikis("log-only", "all") == set()


def test_dry_run_messages_are_private_and_never_overwritten(make_settings, tmp_path):
    """A later run's message about the same flag used to overwrite the earlier file."""
    from flagbot.alerts import dryrun

    settings = make_settings()
    alert = Alert("dryrun", "oversight", "oversight", (flag("Talk:X", "U"),), False, "enwiki")
    for _ in range(2):
        dryrun.send(alert, "subject", "body", settings)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2 and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert (tmp_path / "outbox").stat().st_mode & 0o777 == 0o700
