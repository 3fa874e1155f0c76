"""Store tests: each runs on SQLite and on a real PostgreSQL server started by conftest."""

import dataclasses

import pytest
from sqlalchemy import select

from flagbot.errors import StoreError
from flagbot.events import parse_event
from flagbot.rules import RuleHit
from flagbot.scoring import decide
from flagbot.store import SCHEMA_VERSION, Outcome, Store, flags, outbox, schema_version
from tests.conftest import rc_event


def outcome(i, flagged=False):
    change = parse_event(rc_event(i))
    if flagged:
        verdict = decide(0.95, [RuleHit("r1", "pii", "high")], {"toxic": 0.8})
        return Outcome(change, "flagged", verdict, "the flagged text")
    return Outcome(change, "scored", decide(0.1, [], {"toxic": 0.8}))


@pytest.fixture
def store(store_url):
    store = Store(store_url).open()
    yield store
    store.close()


def test_batch_and_position_are_stored_together_and_duplicates_ignored(store):
    assert store.record_batch("src", [outcome(1), outcome(2, flagged=True)], '{"n": 2}') == 1
    assert store.load_position("src") == '{"n": 2}'
    # the overlap after a restart: the same revisions again add nothing
    assert store.record_batch("src", [outcome(2, flagged=True), outcome(3)], '{"n": 3}') == 0
    assert store.outcome_counts() == {"scored": 2, "flagged": 1}
    flags = list(store.iter_flags())
    assert len(flags) == 1 and flags[0].rev_id == 1002 and flags[0].text is None
    assert store.category_counts() == {"pii": 1, "toxic": 1}
    assert store.load_position("src") == '{"n": 3}'


def test_a_failing_transaction_keeps_neither_flags_nor_position(store):
    def explode(conn, flag_id, item):
        raise RuntimeError("crash inside the transaction")

    store.record_batch("src", [outcome(1)], '{"n": 1}')
    with pytest.raises(RuntimeError):
        store.record_batch("src", [outcome(5, flagged=True)], '{"n": 5}', on_flag=explode)
    assert store.load_position("src") == '{"n": 1}'
    assert not store.is_processed("enwiki", 1005) and list(store.iter_flags()) == []


def test_on_flag_writes_outbox_rows_in_the_same_transaction(store):
    def enqueue(conn, flag_id, item):
        Store.queue_alerts(conn, flag_id, [("oversight", "dryrun:os")])

    store.record_batch("src", [outcome(7, flagged=True)], None, on_flag=enqueue)
    assert store.outbox_counts() == {"pending": 1}


def test_purge_forgets_the_text_and_audits_it(store):
    store.record_batch("src", [outcome(8, flagged=True)], None)
    assert next(store.iter_flags(with_text=True)).text == "the flagged text"
    assert store.purge_text("enwiki", 1008, "flagbot", "revision suppressed")
    flag = next(store.iter_flags(with_text=True))
    assert flag.text is None and flag.purged_at is not None
    assert not store.purge_text("enwiki", 9999, "flagbot", "unknown")


def test_decisions_feed_the_label_export(store):
    store.record_batch("src", [outcome(9, flagged=True)], None)
    flag_id = next(store.iter_flags()).id
    store.record_decision(flag_id, "Admin1", "false_positive", "just a quote")
    store.record_decision(flag_id, "Admin2", "confirm")
    rows = list(store.iter_decisions())
    assert len(rows) == 1 and rows[0].decision == "confirm"
    assert rows[0].flag.text == "the flagged text"


def test_reopening_keeps_data_and_a_newer_schema_is_refused(store_url):
    first = Store(store_url).open()
    first.record_batch("src", [outcome(1, flagged=True)], '{"n": 1}')
    first.close()
    again = Store(store_url).open()
    assert again.migrate() == SCHEMA_VERSION  # nothing to do, nothing lost
    assert len(list(again.iter_flags())) == 1
    with again.engine.begin() as conn:
        conn.execute(schema_version.update().values(version=SCHEMA_VERSION + 1))
    again.close()
    with pytest.raises(StoreError, match="newer than this flagbot"):
        Store(store_url).open()


def test_unusable_url_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError):
        Store("nosuchdb://x").open()
    with pytest.raises(StoreError):
        Store(f"sqlite:///{tmp_path}/missing/dir/x.db").open()


def test_fresh_schema_has_version(store):
    with store.engine.connect() as conn:
        assert conn.execute(select(schema_version.c.version)).scalar() == SCHEMA_VERSION


def test_a_version_1_store_is_upgraded_without_losing_rows(store_url):
    """A store written by flagbot with schema 1 (no outbox.message, no control table)."""
    old = Store(store_url).open()
    old.record_batch("src", [outcome(1, flagged=True)], '{"n": 1}')
    with old.engine.begin() as conn:
        flag_id = conn.execute(select(flags.c.id)).scalar()
        conn.execute(
            outbox.insert().values(
                flag_id=flag_id,
                route="oversight",
                recipient="dryrun:os",
                channel="dryrun",
                status="pending",
                attempts=0,
                next_attempt=0,
                created=1.0,
            )
        )
        conn.exec_driver_sql("ALTER TABLE outbox DROP COLUMN message")
        conn.exec_driver_sql("DROP TABLE control")
        conn.execute(schema_version.update().values(version=1))
    old.close()
    upgraded = Store(store_url).open()
    try:
        assert upgraded.migrate() == SCHEMA_VERSION
        with upgraded.engine.connect() as conn:
            (row,) = conn.execute(select(outbox)).all()
        assert row.recipient == "dryrun:os" and row.message is None
        assert len(list(upgraded.iter_flags())) == 1
        upgraded.set_control("k", "v")
        assert upgraded.get_control("k") == "v"
    finally:
        upgraded.close()


def test_a_version_4_store_moves_the_claiming_sender_out_of_the_message_column(store_url):
    """outbox.message meant "the claiming process" while sending and "the message id" once
    sent; schema 5 gives the claim its own column."""
    old = Store(store_url).open()
    old.record_batch("src", [outcome(1, flagged=True)], None)
    with old.engine.begin() as conn:
        flag_id = conn.execute(select(flags.c.id)).scalar()
        Store.queue_alerts(conn, flag_id, [("oversight", "dryrun:a"), ("oversight", "dryrun:b")])
        conn.execute(
            outbox.update()
            .where(outbox.c.recipient == "dryrun:a")
            .values(status="sending", message="host:123", claimed_at=5.0)
        )
        conn.execute(
            outbox.update()
            .where(outbox.c.recipient == "dryrun:b")
            .values(status="sent", message="abc")
        )
        conn.exec_driver_sql("ALTER TABLE outbox DROP COLUMN claimed_by")
        conn.execute(schema_version.update().values(version=4))
    old.close()
    upgraded = Store(store_url).open()
    try:
        assert upgraded.migrate() == SCHEMA_VERSION
        assert upgraded.claims() == [(1, "host:123", 5.0)]
        with upgraded.engine.connect() as conn:
            rows = {r.recipient: r for r in conn.execute(select(outbox))}
        assert rows["dryrun:a"].message is None and rows["dryrun:b"].message == "abc"
    finally:
        upgraded.close()


def test_a_version_2_store_gets_64_bit_ids_and_times_without_losing_rows(store_url):
    """Wikidata's revision ids are past 2**31 and edit times pass it in 2038: PostgreSQL's
    INTEGER refused such a batch on every restart. A store made with 32-bit columns (schema 2)
    is upgraded in place."""
    old = Store(store_url).open()
    old.record_batch("src", [outcome(1, flagged=True), outcome(2)], '{"n": 2}')
    with old.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # as schema 2 made them
            conn.exec_driver_sql("ALTER TABLE processed ALTER COLUMN rev_id TYPE INTEGER")
            conn.exec_driver_sql(
                "ALTER TABLE flags ALTER COLUMN rev_id TYPE INTEGER, "
                "ALTER COLUMN old_rev_id TYPE INTEGER, ALTER COLUMN edit_time TYPE INTEGER"
            )
        conn.execute(schema_version.update().values(version=2))
    old.close()
    upgraded = Store(store_url).open()
    try:
        assert [f.rev_id for f in upgraded.iter_flags()] == [1001]
        assert upgraded.outcome_counts() == {"flagged": 1, "scored": 1}
        big = rc_event(3)
        big["revision"] = {"old": 2_299_999_999, "new": 2_300_000_000}
        change = dataclasses.replace(parse_event(big), timestamp=2**31 + 1000)  # in 2038
        verdict = decide(0.95, [RuleHit("r1", "pii", "high")], {"toxic": 0.8})
        upgraded.record_batch("src", [Outcome(change, "flagged", verdict, "t")], '{"n": 3}')
        assert upgraded.is_processed("enwiki", 2_300_000_000)
        (flag,) = [f for f in upgraded.iter_flags() if f.rev_id > 2**31]
        assert (flag.old_rev_id, flag.edit_time) == (2_299_999_999, 2**31 + 1000)
    finally:
        upgraded.close()


def test_a_nul_byte_is_stored_as_a_replacement_character(store):
    """PostgreSQL's text cannot hold NUL: the batch (and every restart) used to fail."""
    event = rc_event(4, "abuse \x00 here")
    event["title"] = "Talk:A\x00B"
    change = parse_event(event)
    verdict = decide(0.95, [RuleHit("r1", "pii", "high")], {"toxic": 0.8})
    store.record_batch("src", [Outcome(change, "flagged", verdict, change.added_text)], "{}")
    (flag,) = store.iter_flags(with_text=True)
    assert flag.title == "Talk:A\ufffdB" and flag.text == "abuse \ufffd here"


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    """It holds flagged text and personal information."""
    path = tmp_path / "private.sqlite3"
    store = Store(f"sqlite:///{path}").open()
    store.record_batch("src", [outcome(1, flagged=True)], None)
    store.close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_retention_forgets_old_text_and_keeps_decisions(store):
    """Flagged text and report descriptions are kept `retention_days`, like AbuseFilter's
    private data; the flag, its categories and decisions stay for counts and labels history."""
    store.record_batch("src", [outcome(1, flagged=True), outcome(2, flagged=True)], None)
    old, new = sorted(store.iter_flags(), key=lambda f: f.rev_id)
    store.record_decision(old.id, "Admin1", "confirm")
    with store.engine.begin() as conn:
        conn.execute(flags.update().where(flags.c.id == old.id).values(created=1.0))
    assert store.purge_older_than(1000.0) == 1
    kept = {f.rev_id: f for f in store.iter_flags(with_text=True)}
    assert kept[old.rev_id].text is None and kept[old.rev_id].purged_at is not None
    assert kept[new.rev_id].text == "the flagged text"
    assert kept[old.rev_id].status == "confirm" and kept[old.rev_id].categories
    assert store.purge_older_than(1000.0) == 0  # once


def test_a_reporters_daily_limit_holds_when_twelve_reports_arrive_at_once(store):
    """Checked before the insert, in another transaction, 12 simultaneous submits of one
    account were all accepted on PostgreSQL (11 on SQLite; limit 3)."""
    import threading

    from flagbot.store.schema import reports

    start = threading.Barrier(12)
    accepted: list[int | None] = []

    def submit(n: int) -> None:
        start.wait()
        flag = {
            "wiki": "enwiki",
            "title": f"User:X{n}",
            "namespace": 0,
            "user": "X",
            "edit_time": 1,
            "diff_url": "https://en.wikipedia.org/w/index.php?title=Special:Log",
            "categories": "threat",
            "score": 0.0,
            "rules": "report:threat",
            "severity": "emergency",
            "route": "emergency",
        }
        row = {"wiki": "enwiki", "reporter": "Editor1", "category": "threat", "targets": "X"}
        accepted.append(store.record_report(row, flag, None, per_day=3))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a is not None for a in accepted) == [False] * 9 + [True] * 3
    with store.engine.connect() as conn:
        assert len(conn.execute(select(reports.c.id)).all()) == 3
        assert len(conn.execute(select(flags.c.id)).all()) == 3  # the refused left no flag


def test_the_two_person_rule_never_agrees_with_a_replaced_proposal(store):
    """A proposes "confirm" for a second review; then at once A replaces it by
    "false_positive" while B agrees to "confirm". B's agreement may count only if it came
    before A's replacement (2 of 5 trials on PostgreSQL agreed with the replaced proposal)."""
    import threading
    import time

    from sqlalchemy import event

    from flagbot.store.schema import decisions

    def slow_reader(_conn, _cursor, statement, *_args):
        # B lingers after reading the proposal, so that A's replacement falls inside its
        # decision: without the lock B then agreed with a proposal that no longer stood
        if threading.current_thread().name == "B" and "FROM decisions" in statement:
            time.sleep(0.3)

    event.listen(store.engine, "after_cursor_execute", slow_reader)
    for trial in range(3):
        store.record_batch("test", [outcome(500 + trial, flagged=True)], None)
        flag_id = max(f.id for f in store.iter_flags())
        assert store.record_decision(flag_id, "A", "confirm", second=True) == "second_review"
        start = threading.Barrier(2)

        def decide(reviewer, decision, second, flag_id=flag_id, start=start):
            start.wait()
            if reviewer == "A":
                time.sleep(0.1)  # B has read the proposal by now
            store.record_decision(flag_id, reviewer, decision, second=second)

        threads = [
            threading.Thread(target=decide, args=("A", "false_positive", True), name="A"),
            threading.Thread(target=decide, args=("B", "confirm", False), name="B"),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(decisions.c.reviewer, decisions.c.decision)
                .where(decisions.c.flag_id == flag_id)
                .order_by(decisions.c.id)
            ).all()
        status = store.flag(flag_id).status
        if [tuple(r) for r in rows[1:]] == [("B", "confirm"), ("A", "false_positive")]:
            assert status == "second_review"  # B agreed first; A's new proposal waits again
        else:
            assert [tuple(r) for r in rows[1:]] == [("A", "false_positive"), ("B", "confirm")]
            assert status == "second_review"  # B disagreed with the standing proposal
    event.remove(store.engine, "after_cursor_execute", slow_reader)
