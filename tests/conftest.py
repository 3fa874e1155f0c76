"""Shared fixtures: the shipped model, settings for temp dirs, a real PostgreSQL server."""

from __future__ import annotations

import csv
import dataclasses
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flagbot.classifier import Model, load_model
from flagbot.config import AlertSettings, Settings, SourceSettings, WikiSettings, embedded_default
from flagbot.pipeline import Scorer
from flagbot.rules import RuleSet, load_rules

ROOT = Path(__file__).resolve().parent.parent
# 5,832 real recorded recent-change events, with their README and sources
REAL_EVENTS = ROOT / "tests" / "data" / "real-events" / "events.jsonl.gz"

# pywikibot reads its configuration once, on first import: give the whole test run a fresh,
# empty directory (cookies, apicache, throttle files) and no user-config.py.
# pywikibot only uses PYWIKIBOT_DIR when it holds a user-config.py; otherwise it writes its
# cookies, apicache/ and throttle.ctrl into the working directory (the checkout). The file is
# not read (PYWIKIBOT_NO_USER_CONFIG=2); its presence is what counts.
os.environ["PYWIKIBOT_DIR"] = tempfile.mkdtemp(prefix="flagbot-pywikibot-")
Path(os.environ["PYWIKIBOT_DIR"], "user-config.py").write_text("", encoding="utf-8")
os.environ["PYWIKIBOT_NO_USER_CONFIG"] = "2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def model() -> Model:
    return load_model("default")


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules(ROOT / "rules.yaml")


@pytest.fixture(scope="session")
def dev_rows() -> list[tuple[str, str]]:
    """(comment, toxic label "0"/"1") of training_data/dev.csv, in file order."""
    csv.field_size_limit(sys.maxsize)
    with (ROOT / "training_data" / "dev.csv").open(newline="", encoding="utf-8") as f:
        return [(row["comment_text"], row["toxic"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="session")
def dev_texts() -> list[str]:
    """The real talk comments of training_data/dev.csv, in file order."""
    csv.field_size_limit(sys.maxsize)
    with (ROOT / "training_data" / "dev.csv").open(newline="", encoding="utf-8") as f:
        return [row["comment_text"] for row in csv.DictReader(f)]


@pytest.fixture(scope="session")
def scorer(model: Model, ruleset: RuleSet) -> Scorer:
    return Scorer.build(embedded_default(), model, ruleset)


@pytest.fixture
def make_settings(tmp_path: Path):
    """Settings like the embedded default, but with the store and outbox in tmp_path."""

    def make(**changes) -> Settings:
        base = embedded_default(store=f"sqlite:///{tmp_path / 'flagbot.sqlite3'}")
        base = dataclasses.replace(
            base,
            alerts=AlertSettings(
                recipients={"oversight": ("dryrun:oversight",), "admins": ("dryrun:admins",)},
                outbox=str(tmp_path / "outbox"),
                stale_check=False,
            ),
            wikis=(WikiSettings(id="enwiki", url="https://en.wikipedia.org"),),
            batch_size=20,
            offline=False,  # tests that need no wiki give every event its added_text
        )
        source = changes.pop("source", None)
        if isinstance(source, dict):
            changes["source"] = SourceSettings(**source)
        return dataclasses.replace(base, **changes)

    return make


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    return found


class PostgresServer:
    """A throw-away PostgreSQL cluster on loopback that a test can stop and start again."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not self.pg_ctl:
            pytest.fail("PostgreSQL is not installed; ./dev.sh test installs Debian's postgresql")
        self.data = Path(tempfile.mkdtemp(prefix="flagbot-pg-"))
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
            user = pwd.getpwnam("postgres")
            os.chown(self.data, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.url = f"postgresql://flagbot@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [*self.prefix, initdb, "-D", str(self.data / "db"), "-A", "trust", "-U", "flagbot"],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data / "db"), "-w"]
            + ["-l", str(self.data / "log"), "-o", options, "start"],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, self.pg_ctl, "-D", str(self.data / "db"), "-m", "immediate", "stop"],
            capture_output=True,
        )

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on loopback, started and stopped by the tests."""
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own, which it may stop (a database outage) and start again."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path) -> str:
    """Every store test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:  # a clean schema per test
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def rc_event(
    i: int,
    text: str | None = "a friendly comment",
    *,
    namespace: int = 1,
    title: str = "Talk:Example",
    bot: bool = False,
    wiki: str = "enwiki",
    kind: str = "edit",
    ts: int | None = None,
) -> dict:
    """An EventStreams mediawiki/recentchange event, as Wikimedia sends it."""
    event = {
        "$schema": "/mediawiki/recentchange/1.0.0",
        "meta": {
            "id": f"id-{i}",
            "dt": "2026-01-01T00:00:00Z",
            "domain": "en.wikipedia.org",
            "stream": "mediawiki.recentchange",
            "partition": 0,
            "offset": i,
        },
        "id": 5000 + i,
        "type": kind,
        "namespace": namespace,
        "title": title,
        "comment": "reply",
        "timestamp": ts if ts is not None else 1_767_225_600 + i,
        "user": f"User{i}",
        "bot": bot,
        "minor": False,
        "revision": {"old": None if kind == "new" else 1000 + i - 1, "new": 1000 + i}
        if kind in ("edit", "new")
        else None,
        "server_url": "https://en.wikipedia.org",
        "server_name": "en.wikipedia.org",
        "server_script_path": "/w",
        "wiki": wiki,
    }
    if event["revision"] is None:
        del event["revision"]
    if text is not None:
        event["added_text"] = text
    return event
