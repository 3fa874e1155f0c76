import json

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
