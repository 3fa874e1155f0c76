import gzip
import json
import time

import pytest

from flagbot.errors import BadEvent
from flagbot.events import parse_api_row, parse_event
from tests.conftest import rc_event


def test_eventstreams_event_parses_every_field():
    change = parse_event(json.dumps(rc_event(3, "hi")), position="p3")
    assert change is not None
    assert (change.wiki, change.namespace, change.title, change.user) == (
        "enwiki",
        1,
        "Talk:Example",
        "User3",
    )
    assert (change.old_rev, change.new_rev, change.type, change.bot) == (1002, 1003, "edit", False)
    assert change.position == "p3" and change.added_text == "hi"
    assert change.diff_url == "https://en.wikipedia.org/w/index.php?diff=1003&oldid=1002"


def test_rc_feed_json_without_meta_parses_the_same():
    event = rc_event(4)
    del event["meta"], event["$schema"]
    change = parse_event(json.dumps(event))
    assert change is not None and change.new_rev == 1004


def test_page_creation_has_no_old_revision():
    change = parse_event(rc_event(5, kind="new"))
    assert change is not None and change.old_rev is None
    assert change.diff_url.endswith("?oldid=1005")


def test_canary_events_are_dropped():
    event = rc_event(6)
    event["meta"]["domain"] = "canary"
    assert parse_event(event) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        ("[1, 2]", "not_object"),
        ('"a string"', "not_object"),
        (json.dumps({k: v for k, v in rc_event(1).items() if k != "wiki"}), "missing_field:wiki"),
        (json.dumps({**rc_event(1), "namespace": "1"}), "wrong_type:namespace"),
        (json.dumps({**rc_event(1), "namespace": True}), "wrong_type:namespace"),
        (json.dumps({**rc_event(1), "revision": {"old": 1}}), "missing_field:new"),
        (json.dumps({**rc_event(1), "meta": "x"}), "wrong_type:meta"),
        # numbers the store cannot hold or later code cannot format
        (json.dumps({**rc_event(1), "revision": {"new": 10**20}}), "out_of_range:new"),
        (json.dumps({**rc_event(1), "revision": {"new": -7}}), "out_of_range:revision"),
        (json.dumps({**rc_event(1), "revision": {"old": -1, "new": 3}}), "out_of_range:revision"),
        (json.dumps({**rc_event(1), "id": 2**64}), "out_of_range:id"),
        (json.dumps({**rc_event(1), "namespace": -(10**30)}), "out_of_range:namespace"),
        (json.dumps({**rc_event(1), "timestamp": 10**20}), "out_of_range:timestamp"),
        (json.dumps({**rc_event(1), "timestamp": -1}), "out_of_range:timestamp"),
        # a saved time of 1970 made the next start re-read the wiki's whole history
        (json.dumps({**rc_event(1), "timestamp": 0}), "out_of_range:timestamp"),
        (json.dumps({**rc_event(1), "timestamp": 946_684_800}), "out_of_range:timestamp"),
        (
            json.dumps({**rc_event(1), "timestamp": int(time.time()) + 3 * 86400}),
            "out_of_range:timestamp",
        ),
        # parsing itself fails (RecursionError): the event is bad, not the end of the bot
        ("[" * 100_000 + "]" * 100_000, "poison:RecursionError"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "poison:RecursionError"),
    ],
)
def test_malformed_events_raise_a_reason_without_content(raw, reason):
    with pytest.raises(BadEvent) as caught:
        parse_event(raw)
    assert caught.value.reason == reason
    assert "Talk:Example" not in str(caught.value)


def test_log_events_need_no_revision():
    change = parse_event(rc_event(7, kind="log"))
    assert change is not None and change.new_rev is None and change.type == "log"


def test_a_move_names_its_target_in_both_feeds():
    """EventStreams strips "4::target" to `log_params.target` (MachineReadableRCFeedFormatter);
    the Action API gives `logparams.target_title`. Log entries are keyed by their negated id."""
    event = {**rc_event(7, kind="log"), "log_id": 99, "log_type": "move", "log_action": "move"}
    streamed = parse_event({**event, "log_params": {"target": "New title", "noredir": "0"}})
    assert streamed is not None and streamed.target_title == "New title"
    assert streamed.key == -99 and streamed.diff_url.endswith("title=Special:Log&logid=99")
    row = {
        "type": "log",
        "ns": 0,
        "title": "Old",
        "logid": 5,
        "logtype": "move",
        "logparams": {"target_ns": 0, "target_title": "New", "suppressredirect": False},
        "user": "Y",
        "timestamp": "2026-01-01T00:00:05Z",
    }
    assert parse_api_row(row, "w", "http://x", "").target_title == "New"
    with pytest.raises(BadEvent, match="wrong_type:log_params"):
        parse_event({**event, "log_params": {"target": ["not", "a", "title"]}})
    unit_test_move = {**event, "log_id": 0, "log_params": {"color": "green"}}  # MediaWiki's own
    assert parse_event(unit_test_move).target_title is None


def test_api_row_parses_into_the_same_shape():
    row = {
        "type": "edit",
        "ns": 3,
        "title": "User talk:X",
        "revid": 20,
        "old_revid": 19,
        "rcid": 7,
        "user": "Y",
        "timestamp": "2026-01-01T00:00:05Z",
        "comment": "c",
    }
    change = parse_api_row(row, "testwiki", "http://127.0.0.1:8080", "")
    assert (change.wiki, change.namespace, change.new_rev, change.old_rev) == (
        "testwiki",
        3,
        20,
        19,
    )
    assert change.timestamp == 1_767_225_605
    assert change.diff_url == "http://127.0.0.1:8080/index.php?diff=20&oldid=19"
    new_page = parse_api_row({**row, "type": "new", "old_revid": 0}, "w", "http://x", "")
    assert new_page.old_rev is None
    with pytest.raises(BadEvent):
        parse_api_row({**row, "timestamp": "yesterday"}, "w", "http://x", "")


def test_lone_surrogates_become_replacement_characters_not_crashes():
    """A bad JSON escape ("\\ud800") makes a string UTF-8 cannot encode; keep the edit, fix it."""
    event = rc_event(1, "you idiot \ud800", title="Talk:A\udfffB")
    event["comment"] = "reply \ud800"
    change = parse_event(json.dumps(event))
    assert change.added_text == "you idiot \ufffd"
    assert change.title == "Talk:A\ufffdB" and change.comment == "reply \ufffd"
    change.added_text.encode("utf-8")  # would raise before


@pytest.mark.parametrize("flow_type", [142, "142"])
def test_flow_changes_are_not_edits_whatever_their_type_looks_like(flow_type):
    """StructuredDiscussions sends its type as 142 or "142"; a number was a bad event, with a
    WARNING for each."""
    change = parse_event(
        {**{k: v for k, v in rc_event(8).items() if k != "revision"}, "type": flow_type}
    )
    assert change is not None and change.type == "142" and change.new_rev is None


def test_an_empty_script_path_gives_a_clean_diff_link():
    change = parse_event({**rc_event(9), "server_script_path": "/"})
    assert change.diff_url == "https://en.wikipedia.org/index.php?diff=1009&oldid=1008"


@pytest.mark.parametrize(
    ("value", "bot"), [("", True), (True, True), (False, False), (None, False)]
)
def test_api_bot_flag_reads_both_format_versions(value, bot):
    """formatversion 1 marks a bot edit with "bot": "", which bool() reads as false."""
    row = {
        "type": "edit",
        "ns": 1,
        "title": "Talk:X",
        "revid": 20,
        "old_revid": 19,
        "user": "ArchiveBot",
        "timestamp": "2026-01-01T00:00:05Z",
    }
    if value is not None:
        row["bot"] = value
    assert parse_api_row(row, "w", "http://x", "").bot is bot


def test_api_row_time_is_bounded_too():
    row = {"type": "edit", "ns": 1, "title": "T", "revid": 2, "timestamp": "1970-01-01T00:00:00Z"}
    with pytest.raises(BadEvent, match="out_of_range:timestamp"):
        parse_api_row(row, "w", "http://x", "")


def test_every_real_recorded_event_parses_or_is_a_named_bad_event():
    """5,832 real recent-change events from Wikimedia's streams and MediaWiki's RC feed."""
    from tests.conftest import REAL_EVENTS

    kinds: dict[str, int] = {}
    with gzip.open(REAL_EVENTS, "rt", encoding="utf-8") as lines:
        for line in lines:
            try:
                change = parse_event(line)
            except BadEvent as bad:  # pragma: no cover - shown in the assertion below
                kinds[f"bad:{bad.reason}"] = kinds.get(f"bad:{bad.reason}", 0) + 1
                continue
            kinds[change.type if change else "canary"] = (
                kinds.get(change.type if change else "canary", 0) + 1
            )
    assert sum(kinds.values()) == 5832
    assert not [k for k in kinds if k.startswith("bad:")], kinds
    assert kinds["edit"] == 5715 and kinds["new"] == 75
