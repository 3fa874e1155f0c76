"""Integration fixtures: one real MediaWiki for the session, with the accounts tests need."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flagbot.config import WikiSettings
from tests.mediawiki import MediaWiki


@pytest.fixture(scope="session")
def wiki() -> Iterator[MediaWiki]:
    """A real MediaWiki 1.39 on loopback: editors Alice and Bob, an oversighter, the bot."""
    root = Path(tempfile.mkdtemp(prefix="flagbot-wiki-"))
    mediawiki = MediaWiki(root)
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
