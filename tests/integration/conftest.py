"""Integration fixtures: one real MediaWiki for the session, with the accounts tests need."""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flagbot.config import WikiSettings
from tests.mailbox import Mailbox
from tests.mediawiki import PASSWORD, MediaWiki
from tests.relay import RCFeedRelay


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        with contextlib.suppress(Exception):
            box.stop()


@pytest.fixture(scope="session")
def relay() -> Iterator[RCFeedRelay]:
    """The wiki's UDP recent-changes feed as an EventStreams-compatible stream."""
    with RCFeedRelay() as feed:
        yield feed


@pytest.fixture
def fresh_relay(relay: RCFeedRelay) -> Iterator[RCFeedRelay]:
    """The relay with its fault settings reset after the test."""
    yield relay
    stream = relay.stream
    stream.close_after = stream.silent_after = 0
    stream.silent_seconds = stream.retention_seconds = stream.close_after_seconds = 0.0


@pytest.fixture(scope="session")
def wiki(mailbox: Mailbox, relay: RCFeedRelay) -> Iterator[MediaWiki]:
    """A real MediaWiki 1.39 on loopback that mails through `mailbox` and pushes its recent
    changes to `relay`: editors Alice and Bob, an oversighter with an email address, and the
    bot account FlagBot."""
    root = Path(tempfile.mkdtemp(prefix="flagbot-wiki-"))
    mediawiki = MediaWiki(root, smtp_port=mailbox.port, udp_port=relay.udp_port)
    from pywikibot import config as pwb_config

    pwb_config.minthrottle = 0  # a local test wiki: no pause between reads
    try:
        mediawiki.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        mediawiki.create_user("Alice")
        mediawiki.create_user("Bob")
        mediawiki.create_user(
            "Oversighter", groups=("sysop", "suppress"), email="oversighter@example.test"
        )
        mediawiki.create_user("FlagBot", bot=True, email="flagbot-operator@example.test")
        yield mediawiki
    finally:
        mediawiki.stop()


@pytest.fixture
def wiki_settings(make_settings, wiki):
    """Settings that watch the test wiki through the `recentchanges` polling source."""
    settings = make_settings(
        wikis=(WikiSettings(id="testwiki", url=wiki.url, script_path=""),),
        source={"type": "recentchanges", "poll_interval": 0.2},
        user_agent_contact="User:Tester <t@example.org>",
    )
    return dataclasses.replace(
        settings, source=dataclasses.replace(settings.source, overlap_seconds=3600)
    )


@pytest.fixture(scope="session")
def bot_login(wiki, tmp_path_factory) -> str:
    """pywikibot logs in as FlagBot on the test wiki (family named after the wiki id)."""
    from pywikibot import config as pwb_config

    password_file = tmp_path_factory.mktemp("pywikibot") / "user-password.py"
    password_file.write_text(f'("FlagBot", "{PASSWORD}")\n')
    password_file.chmod(0o600)
    pwb_config.usernames["testwiki"]["*"] = "FlagBot"
    pwb_config.password_file = str(password_file)
    return "FlagBot"
