"""The EventStreams source against a double that resumes like the real service (by Kafka
timestamps, "earliest offset >= t"), with the real service's warts: non-monotonic and equal
timestamps, an idle datacenter's "latest" entry, periodic server closes, rejected ids."""

import json
import threading
import time

import pytest

from flagbot.sources.eventstreams import resume_id, stream
from flagbot.wiki import WikiClient
from tests.conftest import REAL_EVENTS, rc_event
from tests.sse_server import TOPICS, StreamServer
from tests.test_pipeline import (
    NOW,
    events,
    make_pipeline,
    processed_revs,
    run_until,
    start_at,
    stream_settings,
)

EQIAD, CODFW = TOPICS
REAL_ID = (
    '[{"topic":"eqiad.mediawiki.recentchange","partition":0,"timestamp":1756449917002},'
    '{"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]'
)


def test_resume_id_rewinds_every_timestamp_and_replaces_latest():
    rewound = json.loads(resume_id(REAL_ID, 1756449915, 60))
    assert rewound == [
        {"topic": EQIAD, "partition": 0, "timestamp": 1756449917002 - 60_000},
        {"topic": CODFW, "partition": 0, "timestamp": 1756449917002 - 60_000},
    ]
    exact = '[{"topic":"t","partition":0,"offset":41}]'
    assert json.loads(resume_id(exact, 1.0, 60)) == [{"topic": "t", "partition": 0, "offset": 41}]
    assert resume_id("59", None, 60) == "59"  # not Kafka assignments: another server's id


def publish_all(server, stamps, first=0):
    """Events first.. with the given Kafka timestamps (ms), on the active topic."""
    for i, ms in enumerate(stamps, start=first):
        server.publish(rc_event(i, "Thanks, I added the source.", ts=NOW + i), kafka_ms=ms)


@pytest.mark.parametrize(
    "stamp",
    [
        # a real 2025 capture: a message stamped 8 ms before its predecessor
        lambda i: (NOW + i) * 1000 - (1008 if i % 2 else 0),
        # older captures: second resolution, neighbours share a timestamp
        lambda i: (NOW + i // 2) * 1000,
    ],
    ids=["non-monotonic", "equal"],
)
def test_periodic_server_closes_miss_nothing(make_settings, scorer, stamp):
    """The server closes after 7 messages; requests-sse's own reconnect sent the last id
    verbatim, and the server skipped the message stamped at or before it."""
    with StreamServer(close_after=7, live=True) as server:
        publish_all(server, [stamp(i) for i in range(40)])
        settings = stream_settings(make_settings, server.url, max_backoff=0.2, overlap_seconds=1)
        start_at(settings, server.url, NOW)
        pipeline = make_pipeline(settings, scorer)
        run_until(pipeline, 40, safety_seconds=30)
        assert processed_revs(pipeline.store) == list(range(1000, 1040))
        assert len(server.connections) >= 40 // 7
        for connection in server.connections[1:]:  # every resume was rewound by 1 s
            sent = json.loads(connection["last_event_id"])
            assert all("timestamp" in entry for entry in sent)


def test_restart_on_equal_timestamps_misses_nothing(make_settings, scorer):
    with StreamServer(live=True) as server:
        publish_all(server, [(NOW + i // 2) * 1000 for i in range(9)])
        settings = stream_settings(make_settings, server.url, overlap_seconds=1)
        start_at(settings, server.url, NOW)
        first = make_pipeline(settings, scorer)
        run_until(first, 9)  # stopped after the first of a pair (1008, 1009)
        first.store.close()
        publish_all(server, [(NOW + 4) * 1000, *[(NOW + 5) * 1000] * 3], first=9)
        again = make_pipeline(settings, scorer)
        summary = run_until(again, 13)
        assert processed_revs(again.store) == list(range(1000, 1013))
        assert summary.new_flags == 0 and summary.duplicates >= 1  # the overlap, absorbed


def test_restart_across_a_datacenter_switchover(make_settings, scorer):
    """The saved id has the idle topic as offset -1 ("latest"): sent verbatim, the restart
    received nothing the newly active datacenter produced while flagbot was down."""
    with StreamServer(live=True) as server:
        publish_all(server, [(NOW + i) * 1000 for i in range(5)])
        settings = stream_settings(make_settings, server.url, overlap_seconds=1)
        start_at(settings, server.url, NOW)
        first = make_pipeline(settings, scorer)
        run_until(first, 5)
        saved = json.loads(
            json.loads(first.store.load_position(f"eventstreams:{server.url}"))["id"]
        )
        first.store.close()
        assert saved[1] == {"topic": CODFW, "partition": 0, "offset": -1}
        server.active = CODFW  # the switchover, while flagbot is down
        publish_all(server, [(NOW + i) * 1000 for i in range(5, 12)], first=5)
        again = make_pipeline(settings, scorer)
        run_until(again, 12, safety_seconds=20)
        assert processed_revs(again.store) == list(range(1000, 1012))


@pytest.mark.parametrize(
    "bad_id",
    [
        '[{"topic":"eqiad.mediawiki.recentchange-v0","partition":0,"timestamp":1}]',  # 404
        '[{"topic":5,"partition":0}]',  # 400
    ],
    ids=["renamed-topic-404", "invalid-400"],
)
def test_a_rejected_saved_id_resumes_by_time(make_settings, scorer, bad_id, caplog):
    with StreamServer(events(10), live=True) as server:
        settings = stream_settings(make_settings, server.url, overlap_seconds=1)
        from flagbot.store import Store

        store = Store(settings.store).open()
        store.save_position(f"eventstreams:{server.url}", json.dumps({"id": bad_id, "ts": NOW + 4}))
        store.close()
        pipeline = make_pipeline(settings, scorer)
        run_until(pipeline, 7, safety_seconds=20)
        assert processed_revs(pipeline.store) == list(range(1003, 1010))  # 1 s before event 4
        assert server.connections[0]["last_event_id"]  # tried once, then dropped
        assert server.connections[1]["last_event_id"] is None
        assert server.connections[1]["since"]
        assert "rejected the saved position (HTTP" in caplog.text


def test_a_canary_keeps_the_last_real_event_time(make_settings):
    canary = {**rc_event(99, None), "meta": {"domain": "canary"}, "timestamp": NOW + 10_000}
    with StreamServer(live=True) as server:
        server.publish(rc_event(1, "hello", ts=NOW + 1), kafka_ms=(NOW + 1) * 1000)
        server.publish(canary, kafka_ms=(NOW + 2) * 1000)
        settings = stream_settings(make_settings, server.url)
        stop = threading.Event()
        items = stream(settings, json.dumps({"id": None, "ts": NOW}), stop, WikiClient(settings))
        first, second = next(items), next(items)
        stop.set()
    assert first[0].new_rev == 1001 and second[0] is None
    assert json.loads(second[1])["ts"] == NOW + 1  # not the canary's, nor the wall clock's
    assert json.loads(json.loads(second[1])["id"])[0]["timestamp"] == (NOW + 2) * 1000 + 1


@pytest.mark.parametrize(
    "capture", ["sse_hellocontroller_2025-08-29.sse", "sse_airlivin_capture.sse"]
)
def test_real_captured_streams_are_read_and_resumed_by_rewound_timestamps(make_settings, capture):
    """Raw text/event-stream captures of Wikimedia's recentchange stream, served byte for byte."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    raw = (REAL_EVENTS.parent / "sse-captures" / capture).read_bytes()
    frames = [f for f in raw.decode().split("\n\n") if "data: " in f]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v2/stream/recentchange"
        settings = stream_settings(make_settings, url, retention_days=36500)  # old captures
        stop = threading.Event()
        items = stream(
            settings, json.dumps({"id": None, "ts": 1_700_000_000}), stop, WikiClient(settings)
        )
        got = [next(items) for _ in frames]
        stop.set()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert all(item is not None and item.wiki for item, _ in got)
    saved = json.loads(got[-1][1])
    ids = [line[4:] for f in frames for line in f.splitlines() if line.startswith("id: ")]
    newest = max(e.get("timestamp", 0) for i in ids for e in json.loads(i))  # the high-water mark
    assert max(e.get("timestamp", 0) for e in json.loads(saved["id"])) == newest
    resumed = json.loads(resume_id(saved["id"], saved["ts"], 60))
    assert [e["timestamp"] for e in resumed] == [newest - 60_000] * 2  # idle DC included


def test_a_first_start_saves_its_own_time_at_once(make_settings):
    """A first start killed before its first batch used to resume from "now" on the next start,
    losing every edit in between (seen end to end: 118 of 300 edits under kill -9)."""
    import time

    from flagbot.sources.recentchanges import poll

    with StreamServer(live=True) as server:
        settings = stream_settings(make_settings, server.url)
        stop = threading.Event()
        item, position = next(stream(settings, None, stop, WikiClient(settings)))
        assert item is None and abs(json.loads(position)["ts"] - time.time()) < 5
        # a restart from that checkpoint asks for everything since then, minus the overlap
        again = stream(settings, position, stop, WikiClient(settings))
        server.publish(rc_event(1, "hello", ts=int(time.time())))
        assert next(again)[0].new_rev == 1001
        stop.set()
    item, position = next(
        poll(settings, None, threading.Event(), WikiClient(settings))
    )  # the polling source too
    assert item is None and "enwiki" in json.loads(position)


def test_status_lag_reads_both_kinds_of_saved_position():
    """`flagbot status` showed no lag for the recentchanges source: its position is per wiki."""
    from flagbot.sources import position_time

    assert position_time('{"id": "[]", "ts": 1767225600.5}') == 1767225600.5
    polled = (
        '{"enwiki": {"ts": "2026-01-01T00:00:10Z", "rcid": 4},'
        ' "dewiki": {"ts": "2026-01-01T00:00:00Z"}}'
    )
    assert position_time(polled) == 1767225600.0  # the wiki furthest behind
    assert position_time(None) is None and position_time("{broken") is None


def _read_until(server, settings, position, wanted, per_message_sleep=0.0, seconds=30.0):
    """Consume stream() as the pipeline would; stop once every wanted rev id was seen."""
    seen: set[int] = set()
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        for item, _ in stream(settings, position, stop, WikiClient(settings)):
            if item is not None and getattr(item, "new_rev", None) is not None:
                seen.add(item.new_rev)
                time.sleep(per_message_sleep)
            if wanted <= seen:
                stop.set()
    finally:
        timer.cancel()
    return seen


@pytest.mark.parametrize(
    "close_after, close_after_seconds, per_message_sleep",
    [(2, 0, 0), (7, 0, 0), (88, 0, 0), (0, 0.3, 0.02)],
    ids=["2-messages", "7-messages", "88-messages", "slow-consumer"],
)
def test_connections_shorter_than_the_overlap_still_make_progress(
    make_settings, close_after, close_after_seconds, per_message_sleep
):
    """A restart rewinds 60 s, which holds 200 already-read messages; every connection ends
    before it gets past them (the livelock seen on a loaded machine: "the stream closed after 88
    messages, all within the overlap" for ever). Each reconnect must start after what the
    previous one delivered, and the idle datacenter's entry must not drift back."""
    with StreamServer(close_after=close_after, close_after_seconds=close_after_seconds) as server:
        stamps = [NOW * 1000 + 10 * i for i in range(300)]
        publish_all(server, stamps)
        settings = stream_settings(make_settings, server.url, overlap_seconds=60, max_backoff=0.2)
        saved_id = json.dumps(
            [
                {"topic": EQIAD, "partition": 0, "timestamp": stamps[199] + 1},
                {"topic": CODFW, "partition": 0, "offset": -1},
            ]
        )
        position = json.dumps({"id": saved_id, "ts": NOW + 2})
        wanted = set(range(1200, 1300))
        seen = _read_until(server, settings, position, wanted, per_message_sleep)
        assert wanted <= seen, f"missed {len(wanted - seen)} of 100 new events"
        sent = [json.loads(c["last_event_id"]) for c in server.connections]
        idle = {entry["timestamp"] for ids in sent for entry in ids if entry["topic"] == CODFW}
        assert len(idle) == 1  # the replaced "latest" stays where it was first put
        eqiad = [next(e["timestamp"] for e in ids if e["topic"] == EQIAD) for ids in sent]
        assert eqiad == sorted(eqiad)  # never rewound past an earlier connection's start
        assert eqiad[0] == stamps[199] + 1 - 60_000  # the restart itself does rewind


def test_a_late_message_stamped_before_the_last_one_read_is_not_skipped(make_settings):
    """Kafka times are not monotonic: between two connections a message stamped 5 ms before the
    newest one read arrives. The next connection must still read it (its floor is the newest
    time read, not a millisecond past it)."""
    with StreamServer(close_after=3) as server:
        stamps = [NOW * 1000 + 10 * i for i in range(8)]
        publish_all(server, stamps)
        settings = stream_settings(make_settings, server.url, overlap_seconds=60, max_backoff=0.2)
        position = json.dumps(
            {"id": json.dumps([{"topic": EQIAD, "partition": 0, "timestamp": 1}]), "ts": NOW}
        )
        seen: set[int] = set()
        stop = threading.Event()
        timer = threading.Timer(30, stop.set)
        timer.start()
        try:
            for item, _ in stream(settings, position, stop, WikiClient(settings)):
                if item is None or getattr(item, "new_rev", None) is None:
                    continue
                seen.add(item.new_rev)
                if item.new_rev == 1007 and len(server.log[EQIAD]) == 8:
                    server.publish(rc_event(8, "late", ts=NOW), kafka_ms=stamps[-1] - 5)
                    server.publish(rc_event(9, "later", ts=NOW), kafka_ms=stamps[-1] + 10)
                if {1008, 1009} <= seen:
                    stop.set()
        finally:
            timer.cancel()
        assert seen == set(range(1000, 1010))
