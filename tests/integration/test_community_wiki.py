"""Community settings on a real MediaWiki (flagbot.community): an admin's edit to the settings
page changes how the next edits are treated, a non-admin's edit to an unprotected page and an
admin's invalid edit change nothing and are reported, and a restart keeps the last good page."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time

from flagbot.cli import _health_problems, main
from flagbot.community import CommunityPages, PageState, dry_run, stored_states
from flagbot.config import CommunitySettings
from flagbot.doctor import check_community
from flagbot.errors import FetchError
from flagbot.explain import explain_revision
from flagbot.metrics import Metrics
from flagbot.scoring import Scorer
from flagbot.store import Store
from tests.integration.test_real_wiki import fresh_title, post_comments, wiki_config
from tests.test_pipeline import make_pipeline, run_until

INSULT = "You are a pathetic worthless idiot and a liar, get lost"
_pages = itertools.count()


def wait_for(condition, seconds=60.0):
    """Poll `condition` until true; the deadline is a safety net, not a target."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_onwiki_community_settings_take_effect_within_a_minute_and_vandals_are_ignored(
    wiki, wiki_settings, model, ruleset, tmp_path, capsys
):
    # Project: pages are unprotected: anyone may edit this one, only admins' edits count
    page = f"Project:Flagbot-config {next(_pages)}.json"
    settings = dataclasses.replace(
        wiki_settings, community=CommunitySettings(page=page, poll_seconds=0.5)
    )
    pipeline = make_pipeline(settings, Scorer.build(settings, model, ruleset))
    metrics = Metrics()
    pages = CommunityPages(settings, pipeline.client, pipeline.store, metrics)
    stop = threading.Event()
    poller = threading.Thread(target=pages.run, args=(stop,), daemon=True)
    poller.start()
    try:
        admin = wiki.session("Oversighter")  # sysop
        good = admin.edit(page, json.dumps({"exempt_users": ["Alice"]}), "exempt Alice")
        wait_for(lambda: pages.states.get("testwiki", PageState("")).rev == good["newrevid"])
        title = fresh_title()
        by_alice = post_comments(wiki, [("Alice", title, INSULT)])
        by_bob = post_comments(wiki, [("Bob", title, INSULT)])
        summary = run_until(pipeline, set(by_bob))
        assert summary.filtered.get("exempt_user", 0) >= 1
        flags = {f.rev_id: f for f in pipeline.store.iter_flags()}
        assert not set(by_alice) & set(flags)
        (bob_rev,) = by_bob
        assert flags[bob_rev].settings_rev == good["newrevid"]  # the review page links to it

        # a proposal saved elsewhere, tried on the stored edits before anyone applies it
        off = {"off": ["toxic", "personal_attack", "harassment"]}
        proposal = admin.edit(f"{page} proposal", json.dumps(off), "proposal")["newrevid"]
        wiki_settings_now = settings.wikis[0]
        tried = dry_run(
            settings, pipeline.client, pipeline.scorer, pipeline.store, wiki_settings_now,
            proposal, 0.0,
        )  # fmt: skip
        assert tried["problems"] == [] and tried["edits"] >= 1
        assert tried["flags"]["toxic"]["now"] >= 1 and tried["flags"]["toxic"]["proposed"] == 0
        assert settings.wiki("testwiki").settings_rev == good["newrevid"]  # nothing applied
        config = wiki_config(tmp_path, wiki, store=settings.store, community={"page": page})
        assert main(["settings", "check", "--config", str(config), "--wiki", "testwiki",
                     "--rev", str(proposal)]) == 0  # fmt: skip
        assert "toxic: " in capsys.readouterr().out
        invalid = admin.edit(f"{page} proposal", '{"off": ["threat"]}', "proposal 2")["newrevid"]
        assert main(["settings", "check", "--config", str(config), "--wiki", "testwiki",
                     "--rev", str(invalid)]) == 1  # fmt: skip
        assert "$.off: threat is locked" in capsys.readouterr().out

        # a non-admin rewrites the page to turn everything off: ignored, and said so
        vandal = wiki.session("Bob").edit(page, json.dumps({"off": ["toxic"]}), "tidy")
        wait_for(lambda: pages.states["testwiki"].newest == vandal["newrevid"])
        state = pages.states["testwiki"]
        assert state.rev == good["newrevid"]
        assert f"{vandal['newrevid']} by Bob" in state.problem and "ignored" in state.problem
        assert settings.wiki("testwiki").exempt_users == ("Alice",)

        # an admin's invalid edit keeps the last good settings and is reported
        bad = admin.edit(page, '{"thresholds": {"toxic": 0.1}, "of": []}', "lower")
        wait_for(lambda: pages.states["testwiki"].newest == bad["newrevid"])
        state = pages.states["testwiki"]
        assert state.rev == good["newrevid"]
        assert f"revision {bad['newrevid']} not in force" in state.problem
        assert "Additional properties are not allowed ('of'" in state.problem
        assert metrics.community_problem.labels("testwiki")._value.get() == 1
        stored = stored_states(pipeline.store, settings)["testwiki"]
        assert stored.problem == state.problem and stored.rev == good["newrevid"]
        # the operator hears of it: `status --check`, doctor; explain reads the wiki's settings
        problems = _health_problems(settings, pipeline.store, "none")
        assert any(p.startswith("community settings of testwiki: revision") for p in problems)
        finding, protection = check_community(settings, pipeline.client)
        assert f"revision {good['newrevid']} in force" in finding.check
        assert "not in force" in (finding.problem or "")
        assert "anyone can edit it" in (protection.problem or "")  # a Project: page
        admin.post(
            action="protect", title=page, protections="edit=sysop", reason="t", token=admin.csrf
        )
        assert check_community(settings, pipeline.client)[1].problem is None
        explained = explain_revision(
            settings, pipeline.client, pipeline.scorer, "testwiki", bob_rev
        )
        assert explained["settings_rev"] == good["newrevid"] and explained["flagged"]
    finally:
        stop.set()
        poller.join()
        pipeline.close()

    # a restart while the wiki is away: the last good page is back in force, not the defaults.
    # A stand-in client: pywikibot keeps one site per wiki id for the process, so the real
    # test wiki cannot be made unreachable under the same id; this one fails as WikiClient does
    class Away:
        def page_revisions(self, *_):  # as WikiClient's: (title, revisions) or FetchError
            raise FetchError("cannot read Project:… on testwiki: connection refused")

    restarted = dataclasses.replace(settings, local=type(settings.local)())
    assert restarted.wiki("testwiki").exempt_users == ()
    store = Store(settings.store).open()
    again = CommunityPages(restarted, Away(), store)
    again.restore()
    again.refresh()
    assert restarted.wiki("testwiki").exempt_users == ("Alice",)
    assert again.states["testwiki"].rev == good["newrevid"]
    assert "connection refused" in again.states["testwiki"].problem
    store.close()


def test_onwiki_settings_page_edit_seen_in_the_stream_is_read_at_once(wiki, wiki_settings):
    """With hundreds of wikis the pages are polled rarely; an edit to one, as the stream shows
    it (underscores and all), is read at once."""
    from flagbot.events import RecentChange
    from flagbot.wiki import WikiClient

    page = f"Project:Flagbot-config {next(_pages)}.json"
    settings = dataclasses.replace(
        wiki_settings, community=CommunitySettings(page=page, poll_seconds=3600)
    )
    pages = CommunityPages(settings, WikiClient(settings))
    stop = threading.Event()
    poller = threading.Thread(target=pages.run, args=(stop,), daemon=True)
    poller.start()
    try:
        rev = wiki.session("Oversighter").edit(page, json.dumps({"mode": "log-only"}))["newrevid"]
        assert "testwiki" not in pages.states  # an hour's poll: not read by itself
        seen = RecentChange(
            wiki="testwiki", type="edit", namespace=4, title=page.replace(" ", "_"),
            user="Oversighter", bot=False, timestamp=0, comment="", old_rev=None, new_rev=rev,
            server_url=wiki.url, script_path="",
        )  # fmt: skip
        pages.notice(seen)
        wait_for(lambda: pages.states.get("testwiki", PageState("")).rev == rev, 30)
        assert settings.wiki("testwiki").alerts_mode == "log-only"
    finally:
        stop.set()
        poller.join()
