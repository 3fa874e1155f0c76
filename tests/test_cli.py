"""CLI contracts of ARCHITECTURE.md, run as a real `flagbot` process."""

import csv
import email
import email.policy
import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import REAL_EVENTS, ROOT, rc_event
from tests.sse_server import StreamServer

SAMPLE = str(ROOT / "training_data" / "sample_stream.jsonl")


def flagbot(*args, cwd, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "flagbot.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_replay_json_summary(tmp_path):
    out = flagbot("replay", SAMPLE, "--json", cwd=tmp_path)
    summary = json.loads(out.stdout)
    assert summary["read"] == 305 and summary["bad"] == 3
    assert (
        summary["filtered"] + summary["scored"] + sum(summary["skipped"].values()) + summary["bad"]
        == 305
    )
    assert summary["flagged"]["toxic"] >= 10 and summary["new_flags"] >= 10
    # replay is repeatable: a throw-away store unless --store is given
    assert (
        json.loads(flagbot("replay", SAMPLE, "--json", cwd=tmp_path).stdout)["new_flags"]
        == summary["new_flags"]
    )


def mail_text(raw: bytes) -> str:
    """Headers and decoded body of a message, as a reader would see them."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return f"{message['Subject']}\n{message['To']}\n{message.get_content()}"


def test_run_embedded_default_then_flags_status_and_privacy(tmp_path):
    run = flagbot("run", cwd=tmp_path)
    assert "read 305, bad 3" in run.stdout
    lines = flagbot("flags", "--json", cwd=tmp_path).stdout.splitlines()
    flags = [json.loads(line) for line in lines]
    assert flags and set(flags[0]) == {
        "wiki",
        "rev_id",
        "kind",
        "title",
        "user",
        "categories",
        "score",
        "rules",
        "status",
        "created",
    }
    emails = list((tmp_path / "outbox").glob("*.eml"))
    mails = [mail_text(p.read_bytes()) for p in emails]
    mailed = {int(m) for t in mails for m in re.findall(r"index\.php\?(?:diff|oldid)=(\d+)", t)}
    # pii, outing and threat go to oversight (mailed); the rest to the review queue only
    routed = {f["rev_id"] for f in flags if {"pii", "outing", "threat"} & set(f["categories"])}
    assert routed and routed <= mailed
    assert mailed <= {f["rev_id"] for f in flags} and len(mailed) < len(flags)
    texts = {}
    for line in Path(SAMPLE).read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
            texts[event["revision"]["new"]] = event["added_text"]
        except (ValueError, KeyError, TypeError):
            continue
    logs_and_mail = run.stderr + "".join(mails)
    for flag in flags:  # no 30-character run of a flagged text in INFO logs or alerts
        text = " ".join(texts[flag["rev_id"]].split())
        for start in range(0, max(len(text) - 30, 1), 10):
            assert text[start : start + 30] not in logs_and_mail
    status = json.loads(flagbot("status", "--json", cwd=tmp_path).stdout)
    assert json.loads(status["position"]) == {"line": 305}
    assert status["outcomes"]["flagged"] == len(flags)
    assert set(status["outbox"]) == {"sent"} and status["outbox"]["sent"] >= len(routed)
    again = flagbot("run", cwd=tmp_path)  # durable: a second run has nothing new
    assert "read 0" in again.stdout


def test_score_text_and_csv_contract(tmp_path):
    one = json.loads(flagbot("score", "I know where you live", cwd=tmp_path).stdout)
    assert one["flagged"] == 1 and "threat" in one["categories"].split(";")
    src = tmp_path / "in.csv"
    with src.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "comment"])
        writer.writerow(["a", "Thanks for the copyedit, much clearer now."])
        writer.writerow(["b", "you are a stupid idiot, fuck off"])
    flagbot(
        "score",
        "--input",
        str(src),
        "--text-column",
        "comment",
        "--output",
        str(tmp_path / "out.csv"),
        cwd=tmp_path,
    )
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert list(rows[0]) == [
        "id",
        "comment",
        "score",
        "flagged",
        "categories",
        "rules",
        "language",
        "skip_reason",
    ]
    assert rows[0]["language"] == "en" and rows[0]["skip_reason"] == ""
    assert rows[0]["flagged"] == "0" and rows[1]["flagged"] == "1"
    assert 0 <= float(rows[0]["score"]) < float(rows[1]["score"]) <= 1
    assert "attack-profane-address" in rows[1]["rules"].split(";")
    missing = flagbot(
        "score",
        "--input",
        str(src),
        "--text-column",
        "nope",
        "--output",
        "o.csv",
        cwd=tmp_path,
        check=False,
    )
    assert missing.returncode == 2 and "no column 'nope'" in missing.stderr


def test_rules_check_exits_1_naming_each_failure(tmp_path):
    assert "0 failures" in flagbot("rules", "check", cwd=tmp_path).stdout
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - id: x\n    description: d\n    category: pii\n    severity: low\n"
        "    patterns: ['secret']\n    examples: {match: ['nothing here'], no_match: []}\n"
    )
    result = flagbot("rules", "check", str(bad), cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert f"{bad}:2: rule x: example should match but does not: 'nothing here'" in result.stderr
    bad.write_text("rules:\n  - id: y\n    category: nope\n")
    result = flagbot("rules", "check", str(bad), cwd=tmp_path, check=False)
    assert result.returncode == 1 and f"{bad}:2: rule y: unknown category 'nope'" in result.stderr


def test_config_error_stops_with_the_key_and_exit_2(tmp_path):
    (tmp_path / "flagbot.yaml").write_text(
        "user_agent_contact: x\nwikis: []\nsource: {type: irc}\n"
    )
    result = flagbot("run", "--config", "flagbot.yaml", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "flagbot.yaml: source.type: 'irc' is not allowed" in result.stderr
    assert "flagbot.yaml: wikis: needs at least one wiki" in result.stderr


def stored(db) -> int:
    """Revisions another process has stored so far (0 before its store exists)."""
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM processed").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigterm_finishes_the_batch_saves_and_exits_0(tmp_path):
    now = int(time.time())
    stream = [rc_event(i, "a calm comment", ts=now + i) for i in range(30)]
    with StreamServer(stream) as server:
        (tmp_path / "flagbot.yaml").write_text(
            f"user_agent_contact: 'User:T <t@example.org>'\nwikis: [{{id: enwiki, url: 'https://en.wikipedia.org'}}]\n"
            f"source: {{type: eventstreams, url: '{server.url}', read_timeout: 2}}\n"
            f"model: default\nrules: '{ROOT / 'rules.yaml'}'\nstore: 'sqlite:///{tmp_path}/s.db'\n"
        )
        process = subprocess.Popen(
            # offline: a live event's added_text is never scored (only a replay file's), and
            # there is no wiki here; what is tested is the stop and the saved position
            [sys.executable, "-m", "flagbot.cli", "run", "--offline", "--config", "flagbot.yaml"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYWIKIBOT_NO_USER_CONFIG": "2"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored(tmp_path / "s.db") < 30:
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        read = re.search(r"read (\d+)", out)
        assert read and int(read[1]) >= 30, out
    status = json.loads(
        flagbot("status", "--json", "--config", "flagbot.yaml", cwd=tmp_path).stdout
    )
    last_id = json.loads(json.loads(status["position"])["id"])
    assert last_id[0] == {
        "topic": "eqiad.mediawiki.recentchange",
        "partition": 0,
        "timestamp": (now + 29) * 1000 + 1,
    }
    assert status["outcomes"] == {"no_text_offline": 30}


def real_events_config(tmp_path, wiki_url="https://www.wikidata.org"):
    """Watch the wikis of the real recorded events, every namespace."""
    namespaces = list(range(0, 16)) + [120, 121, 146, 147, 640, 641]
    (tmp_path / "real.yaml").write_text(
        yaml.safe_dump(
            {
                "user_agent_contact": "User:T <t@example.org>",
                "wikis": [
                    {"id": w, "url": wiki_url, "namespaces": namespaces}
                    for w in ("wikidatawiki", "enwiki", "commonswiki", "eswiki")
                ],
                "source": {"type": "replay", "path": "unused.jsonl", "max_backoff": 1},
                "model": "default",
                "rules": str(ROOT / "rules.yaml"),
                "store": f"sqlite:///{tmp_path}/unused.db",
            }
        )
    )
    return tmp_path / "real.yaml"


def test_offline_replay_of_all_real_events_through_stdin_ends_with_its_summary(tmp_path):
    """Real events carry no added_text: offline, replay waited for ever for a wiki, the
    in-memory store gave the sender thread "no such table" tracebacks, and /dev/stdin was
    counted (and used up) before it was read."""
    config = real_events_config(tmp_path)
    with gzip.open(REAL_EVENTS, "rb") as f:
        events = f.read()
    result = subprocess.run(
        [sys.executable, "-m", "flagbot.cli", "replay", "--offline", "--json"]
        + ["--config", str(config), "/dev/stdin"],
        input=events,
        capture_output=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout)
    assert summary["read"] == 5832 and summary["bad"] == 0
    assert summary["filter_reasons"]["bot"] > 4000
    assert list(summary["skipped"]) == ["no_text_offline"]  # every watched edit, none fetched
    assert summary["skipped"]["no_text_offline"] > 1000
    assert summary["scored"] == 0
    assert b"Traceback" not in result.stderr and b"no such table" not in result.stderr


def test_ctrl_c_during_replay_prints_the_summary_and_exits_130(tmp_path):
    """The wiki cannot be reached (a closed port on loopback): the batch waits for it, and
    Ctrl-C must still end the replay with its summary."""
    config = real_events_config(tmp_path, wiki_url="http://127.0.0.1:9")
    with gzip.open(REAL_EVENTS, "rt", encoding="utf-8") as f:
        lines = [line for _, line in zip(range(200), f, strict=False)]
    (tmp_path / "some.jsonl").write_text("".join(lines))
    process = subprocess.Popen(
        [sys.executable, "-m", "flagbot.cli", "replay", "--config", str(config), "some.jsonl"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYWIKIBOT_NO_USER_CONFIG": "2"},
    )
    time.sleep(6)  # the model is loaded and the first batch waits for the wiki
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert out.startswith("read "), err


def test_explain_shows_what_was_scored_and_why(tmp_path):
    """`flagbot explain` runs the pipeline's own functions on two page versions: the hidden
    padding comment and the signature are gone, the obfuscation is undone, the route shown."""
    old = "== Talk ==\nFirst comment. [[User:A|A]] 01:02, 3 May 2020 (UTC)\n"
    padding = "<!-- " + "pad " * 6000 + "-->"
    new = old + f":I w1ll k\u0456ll y0u {padding} [[User:B|B]] 01:05, 3 May 2020 (UTC)\n"
    (tmp_path / "old.wikitext").write_text(old, encoding="utf-8")
    (tmp_path / "new.wikitext").write_text(new, encoding="utf-8")
    args = ["explain", "--old", "old.wikitext", "--new", "new.wikitext", "--namespace", "1"]
    result = json.loads(flagbot(*args, "--json", cwd=tmp_path).stdout)
    assert result["added_text"] == "I w1ll k\u0456ll y0u"
    assert result["normalised_text"] == "I w1ll kill y0u"
    assert result["flagged"] and "threat-kill" in result["rules"]
    assert result["routes"][0] == "emergency" and result["skip_reason"] is None
    unchanged = flagbot(
        "explain", "--old", "old.wikitext", "--new", "old.wikitext", "--json", cwd=tmp_path
    )
    assert json.loads(unchanged.stdout)["skip_reason"] == "empty_text"
    missing = flagbot("explain", cwd=tmp_path, check=False)
    assert missing.returncode == 2 and "--new" in missing.stderr


def test_explain_checks_a_title_and_a_user_name(tmp_path):
    """Names are checked by the rules alone: with an edit, or on their own."""
    (tmp_path / "new.wikitext").write_text("Thanks for the source.\n", encoding="utf-8")
    args = ["explain", "--new", "new.wikitext", "--title", "Jane Doe lives at 42 Elm Street"]
    result = json.loads(flagbot(*args, "--json", cwd=tmp_path).stdout)
    assert result["flagged"] and result["names_flagged"]
    assert result["rules"] == ["pii-street-address"] and result["routes"] == ["oversight"]
    alone = json.loads(
        flagbot("explain", "--user", "JaneDoeIsAPedophile", "--json", cwd=tmp_path).stdout
    )
    assert alone["rules"] == ["attack-accusation"] and alone["score"] == 0
    clean = json.loads(
        flagbot("explain", "--user", "Elm Street fan", "--json", cwd=tmp_path).stdout
    )
    assert not clean["flagged"] and not clean["names_flagged"]


def test_status_check_exits_1_when_the_bot_is_stuck_or_alerts_keep_failing(tmp_path):
    """For monitors and container restarts."""
    from flagbot.store import Store

    store_url = f"sqlite:///{tmp_path / 'flagbot.sqlite3'}"
    (tmp_path / "flagbot.yaml").write_text(
        yaml.safe_dump(
            {
                "user_agent_contact": "User:T <t@example.org>",
                "wikis": [{"id": "enwiki", "url": "https://en.wikipedia.org"}],
                "source": {"type": "eventstreams"},
                "store": store_url,
                "health": {"stale_seconds": 60},
            }
        )
    )
    never = flagbot("status", "--check", "--config", "flagbot.yaml", cwd=tmp_path, check=False)
    assert never.returncode == 1 and "never saved a position" in never.stdout
    store = Store(store_url).open()
    key = "eventstreams:https://stream.wikimedia.org/v2/stream/recentchange"
    store.save_position(key, json.dumps({"id": None, "ts": time.time()}))
    fresh = flagbot("status", "--check", "--config", "flagbot.yaml", cwd=tmp_path, check=False)
    assert fresh.returncode == 0, fresh.stdout
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE positions SET updated = updated - 3600")
    stale = flagbot(
        "status", "--check", "--json", "--config", "flagbot.yaml", cwd=tmp_path, check=False
    )
    assert stale.returncode == 1
    assert "has not advanced" in json.loads(stale.stdout)["problems"][0]
    store.close()


def test_web_refuses_a_public_address_without_a_session_secret(tmp_path):
    """With several workers or after a restart, logins failed: each made its own secret."""
    env_free = flagbot("web", "--host", "0.0.0.0", "--port", "1", cwd=tmp_path, check=False)
    assert env_free.returncode == 2 and "FLAGBOT_WEB_SECRET" in env_free.stderr


def test_bad_files_and_ports_are_one_line_errors_with_exit_2(tmp_path):
    """Each of these was a traceback (or, for the port, a server on port 99999 % 65536)."""
    good = tmp_path / "in.csv"
    good.write_text("text\nhello\n", encoding="utf-8")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(128, 256)) * 8)
    cases = [
        (["--input", "missing.csv", "--output", "o.csv"], "missing.csv: cannot read"),
        (["--input", str(binary), "--output", "o.csv"], "binary.csv: not a UTF-8 CSV file"),
        (["--input", str(good), "--output", str(tmp_path)], "cannot write: Is a directory"),
        (["--input", str(good), "--output", str(tmp_path / "no" / "o.csv")], "cannot write"),
    ]
    for args, message in cases:
        result = flagbot("score", *args, "--text-column", "text", cwd=tmp_path, check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    result = flagbot("web", "--port", "99999", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "'99999' is not a port" in result.stderr
