"""flagbot's reading side against a real MediaWiki: diffs, the polling source, the pipeline.

Editors act through the wiki's Action API; flagbot reads through pywikibot, as in production.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import sys
import threading
import time

import pytest

from flagbot.diffs import fetch_added, fetch_edit
from flagbot.errors import SkipEdit
from flagbot.events import RecentChange
from flagbot.pipeline import Pipeline
from flagbot.scoring import Texts
from flagbot.sources import source_key
from flagbot.store import Store
from flagbot.wiki import WikiClient
from tests.conftest import ROOT
from tests.test_pipeline import make_pipeline, processed_revs, run_until

_pages = itertools.count()


def fresh_title(prefix: str = "Talk") -> str:
    """A page no other test touches (the wiki lives for the whole session)."""
    return f"{prefix}:Integration {next(_pages)}"


def wiki_config(directory, wiki, **keys):
    """A flagbot.yaml that reads the test wiki through the polling source, with `keys` added."""
    import yaml

    config = directory / "flagbot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "user_agent_contact": "User:Tester <t@example.org>",
                "wikis": [{"id": "testwiki", "url": wiki.url, "script_path": ""}],
                "source": {"type": "recentchanges"},
                **keys,
            }
        )
    )
    return config


def change_for(wiki, edit: dict, title: str, namespace: int = 1) -> RecentChange:
    return RecentChange(
        wiki="testwiki",
        type="new" if edit.get("new") else "edit",
        namespace=namespace,
        title=title,
        user="Alice",
        bot=False,
        timestamp=0,
        comment="",
        old_rev=edit.get("oldrevid") or None,
        new_rev=edit["newrevid"],
        server_url=wiki.url,
        script_path="",
    )


@pytest.fixture(scope="module")
def comments() -> dict[str, list[str]]:
    """Real talk comments from dev.csv, clearly abusive (label 1) and clearly benign (label 0),
    short plain prose so that what the wiki stores is what was written."""
    csv.field_size_limit(sys.maxsize)
    out: dict[str, list[str]] = {"abusive": [], "benign": []}
    with (ROOT / "training_data" / "dev.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            text = " ".join(row["comment_text"].split())
            if not 40 <= len(text) <= 300 or any(c in text for c in "[]{}<>|=~'#*:&"):
                continue
            out["abusive" if row["toxic"] == "1" else "benign"].append(text)
    return out


def test_added_text_of_real_edits(wiki, wiki_settings):
    site = WikiClient(wiki_settings).site(wiki_settings.wikis[0])
    alice, title = wiki.session("Alice"), fresh_title()
    created = alice.edit(title, "== Sources ==\nThe book is fine.\n\n== Other ==\nAgreed.\n")
    assert "Sources" in fetch_added(site, change_for(wiki, created, title), 20000)

    reply = alice.edit(title, "\n:You are an idiot. ~~~~", append=True)
    added = fetch_added(site, change_for(wiki, reply, title), 20000)
    assert added.startswith(":You are an idiot. [[User:Alice|Alice]]")
    assert "The book is fine" not in added
    answer = wiki.session("Bob").edit(title, "\n::Look who is talking. ~~~~", append=True)
    edit = fetch_edit(site, change_for(wiki, answer, title), 20000)
    assert edit.added.startswith("::Look who is talking.") and edit.replied_to == "Alice"

    current = wiki.session("Bob").get(
        action="query", prop="revisions", titles=title, rvprop="content", rvslots="main"
    )["query"]["pages"][0]["revisions"][0]["slots"]["main"]["content"]
    top, bottom = current.split("\n\n== Other ==")
    swapped = "== Other ==" + bottom + "\n\n" + top
    moved = alice.edit(title, swapped)  # sections swapped: nothing written
    assert fetch_added(site, change_for(wiki, moved, title), 20000) == ""

    inline = alice.edit(title, swapped.replace("The book is fine.", "The book is fine, moron."))
    assert fetch_added(site, change_for(wiki, inline, title), 20000) == "fine, moron."


def test_hidden_missing_non_wikitext_and_huge_edits_give_skip_reasons(wiki, wiki_settings):
    site = WikiClient(wiki_settings).site(wiki_settings.wikis[0])
    alice, title = wiki.session("Alice"), fresh_title()
    alice.edit(title, "Opening comment.\n")
    doxx = alice.edit(title, "\nHer home address is 12 Example Road.", append=True)
    alice.edit(title, "\nLater comment.", append=True)
    wiki.session("Oversighter").hide_revision(doxx["newrevid"], suppress=True)
    with pytest.raises(SkipEdit) as hidden:
        fetch_added(site, change_for(wiki, doxx, title), 20000)
    assert hidden.value.reason == "revision_hidden"

    with pytest.raises(SkipEdit) as missing:
        fetch_added(site, change_for(wiki, {"newrevid": 987654, "oldrevid": 987653}, title), 20000)
    assert missing.value.reason == "revision_missing"

    css = alice.edit("User:Alice/common.css", "body { color: black; }")
    with pytest.raises(SkipEdit) as not_wikitext:
        fetch_added(site, change_for(wiki, css, "User:Alice/common.css", namespace=2), 20000)
    assert not_wikitext.value.reason == "not_wikitext"

    huge = alice.edit(title, "\n" + "A long new paragraph. " * 100, append=True)
    with pytest.raises(SkipEdit) as too_large:
        fetch_added(site, change_for(wiki, huge, title), 500)
    assert too_large.value.reason == "too_large"


def post_comments(wiki, pairs):
    """(editor, title, text) → {rev_id: (title, text)}; each comment appended with a signature."""
    revs = {}
    sessions = {name: wiki.session(name) for name in {p[0] for p in pairs}}
    for name, title, text in pairs:
        edit = sessions[name].edit(title, f"\n\n{text} ~~~~", summary="reply", append=True)
        revs[edit["newrevid"]] = (title, text)
    return revs


def flagged_revs(store):
    return {flag.rev_id for flag in store.iter_flags()}


def test_polling_source_flags_abusive_talk_edits_once_across_a_restart(
    wiki, wiki_settings, scorer, comments
):
    abusive = [
        t for t in comments["abusive"] if scorer.verdicts([Texts(t, namespace=1)])[0].score > 0.97
    ]
    benign = [
        t for t in comments["benign"] if scorer.verdicts([Texts(t, namespace=1)])[0].score < 0.05
    ]
    assert len(abusive) >= 12 and len(benign) >= 12
    talk, user_talk, article = fresh_title(), fresh_title("User talk"), fresh_title("")
    first = post_comments(
        wiki,
        [("Alice", talk, t) for t in abusive[:4]]
        + [("Bob", user_talk, t) for t in abusive[4:6]]
        + [("Bob", talk, t) for t in benign[:6]]
        + [("Alice", article.lstrip(":"), t) for t in abusive[6:8]],  # not a talk page
    )
    talk_revs = {r for r, (title, _) in first.items() if "alk" in title}

    pipeline = make_pipeline(wiki_settings, scorer)
    run_until(pipeline, talk_revs)
    store = pipeline.store
    abusive_talk = {r for r, (title, text) in first.items() if text in abusive and r in talk_revs}
    assert set(processed_revs(store)) >= talk_revs
    assert flagged_revs(store) & set(first) == abusive_talk  # other tests' edits are older
    position = store.load_position(source_key(wiki_settings))
    assert position and "testwiki" in position
    pipeline.close()

    # the bot is down while more edits happen; a new process resumes from the saved position
    second = post_comments(
        wiki,
        [("Alice", talk, t) for t in abusive[8:12]] + [("Bob", talk, t) for t in benign[6:12]],
    )
    store = Store(wiki_settings.store).open()
    restarted = Pipeline(pipeline.settings, store, scorer, None, pipeline.client)
    summary = run_until(restarted, talk_revs | set(second))
    assert set(processed_revs(restarted.store)) >= talk_revs | set(second)
    assert flagged_revs(restarted.store) & (set(first) | set(second)) == abusive_talk | {
        r for r, (_, text) in second.items() if text in abusive
    }
    assert summary.new_flags == 4  # the overlap re-read the old rows without flagging them again
    restarted.close()


@pytest.mark.parametrize("source", ["recentchanges", "eventstreams"])
def test_a_bot_edit_is_filtered_as_bot_by_both_sources(wiki, wiki_settings, scorer, relay, source):
    """pywikibot asked list=recentchanges in formatversion 1, where a bot edit carries
    "bot": "" (false to Python): an archiving bot was flagged as the author of what it moved."""
    title = fresh_title()
    text = "You are a pathetic idiot and a liar, get lost"
    archived = wiki.session("FlagBot").edit(title, f"\n\n{text} ~~~~", "archiving", True, bot=True)
    by_alice = post_comments(wiki, [("Alice", title, text)])
    settings = wiki_settings
    if source == "eventstreams":
        settings = dataclasses.replace(
            settings,
            source=dataclasses.replace(settings.source, type="eventstreams", url=relay.url),
        )
    pipeline = make_pipeline(settings, scorer)
    summary = run_until(pipeline, set(by_alice))
    pipeline.close()
    assert summary.filtered["bot"] >= 1
    assert not pipeline.store.is_processed("testwiki", archived["newrevid"])
    assert flagged_revs(pipeline.store) & {archived["newrevid"], *by_alice} == set(by_alice)


def test_exempt_groups_are_looked_up_on_the_wiki(wiki, wiki_settings, scorer):
    settings = dataclasses.replace(
        wiki_settings,
        wikis=(dataclasses.replace(wiki_settings.wikis[0], exempt_groups=("suppress",)),),
    )
    title = fresh_title()
    text = "You are a pathetic idiot and a liar, get lost"
    by_oversighter = post_comments(wiki, [("Oversighter", title, text)])
    by_alice = post_comments(wiki, [("Alice", title, text)])
    pipeline = make_pipeline(settings, scorer)
    summary = run_until(pipeline, set(by_oversighter) | set(by_alice))
    pipeline.close()
    assert summary.skipped["exempt_group"] >= 1
    assert flagged_revs(pipeline.store) & (set(by_oversighter) | set(by_alice)) == set(by_alice)


def test_purge_forgets_text_of_revisions_the_wiki_has_hidden(wiki, wiki_settings, scorer):
    """`flagbot run`'s retention thread purges on its own, even with the stale check off."""
    from flagbot.purge import purge_hidden, run_retention

    title = fresh_title("User talk")
    revs = post_comments(
        wiki,
        [
            ("Alice", title, "her home address is 12 Hidden Lane"),
            ("Bob", title, "your real name is"),
        ],
    )
    wiki.session("Alice").edit(title, "\n\nA later comment.", append=True)
    pipeline = make_pipeline(wiki_settings, scorer)
    run_until(pipeline, set(revs))
    pipeline.close()
    store = pipeline.store
    ours = {r for r in flagged_revs(store) if r in revs}
    assert len(ours) == 2
    hidden, kept = sorted(ours)
    wiki.session("Oversighter").hide_revision(hidden, suppress=True)
    settings = dataclasses.replace(
        wiki_settings,
        purge_interval=0.2,
        alerts=dataclasses.replace(wiki_settings.alerts, stale_check=False, interval=0.1),
    )
    stop = threading.Event()
    sender = threading.Thread(
        target=run_retention, args=(store, settings, stop, WikiClient(settings))
    )
    sender.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = {f.rev_id: f.text for f in store.iter_flags(with_text=True)}
            if text[hidden] is None:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        sender.join()
    assert text[hidden] is None and text[kept]  # only what the wiki hides is forgotten
    assert (
        purge_hidden(store, wiki_settings, WikiClient(wiki_settings)) == 0
    )  # nothing left to purge
    actions = [e["action"] for e in store.audit_entries() if e["action"] == "purge_text"]
    assert actions


def test_explain_a_real_revision_by_id(wiki, wiki_settings, tmp_path, capsys):
    """`flagbot explain --wiki ID --rev N` fetches the revision and its parent like the pipeline."""
    import json

    from flagbot.cli import main as flagbot_main

    title = fresh_title()
    (rev,) = post_comments(wiki, [("Alice", title, "His phone number is 415-555-0132")])
    config = wiki_config(
        tmp_path, wiki, model="default", rules=str(ROOT / "rules.yaml"),
        store=f"sqlite:///{tmp_path / 's.db'}",
    )  # fmt: skip
    args = ["explain", "--config", str(config), "--wiki", "testwiki", "--rev", str(rev), "--json"]
    assert flagbot_main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["added_text"] == "His phone number is 415-555-0132"
    assert result["title"] == title and result["user"] == "Alice"
    assert result["filter_reason"] is None and "oversight" in result["routes"]


def test_hounding_on_a_real_wiki_with_undo_tags_and_exempt_groups(
    wiki, wiki_settings, scorer, tmp_path
):
    """Stalk undoes Vic's edits on three articles; Suppressor (a fresh account in the
    `suppress` group: no other test's edits change its odds) copyedits three others after Vic.
    Both follow Vic; only Stalk is flagged while `suppress` is an exempt group, both without,
    and the timeline says, from the wiki's own tags, that Stalk's edits were undos."""
    from flagbot.config import HoundingSettings
    from flagbot.web import create_app
    from tests.test_web import login

    for name in ("Vic", "Stalk"):
        wiki.create_user(name)
    wiki.create_user("Suppressor", groups=("suppress",))
    vic, stalk, suppressor = (wiki.session(n) for n in ("Vic", "Stalk", "Suppressor"))
    undos = []
    for _ in range(3):
        undone, copyedited = f"Hounded article {next(_pages)}", f"Hounded article {next(_pages)}"
        vic.edit(undone, "A stub about a river.")
        revid = vic.edit(undone, "A stub about a river, with its length.")["newrevid"]
        undo = stalk.post(action="edit", title=undone, undo=revid, token=stalk.csrf)["edit"]
        undos.append(undo["newrevid"])
        vic.edit(copyedited, "A stub about a lake.")
        suppressor.edit(copyedited, "A stub about a lake, copyedited.")
    sentinel = post_comments(wiki, [("Alice", fresh_title(), "Thanks for the sources.")])
    lenient = HoundingSettings(pages=3, max_chance=0.5)  # a test wiki has few pages to compare
    settings = dataclasses.replace(
        wiki_settings,
        wikis=(dataclasses.replace(wiki_settings.wikis[0], exempt_groups=("suppress",)),),
        hounding=lenient,
    )
    found = {}
    for exempt, store in (("suppress",), settings.store), ((), f"sqlite:///{tmp_path}/b.db"):
        wiki_ = dataclasses.replace(settings.wikis[0], exempt_groups=exempt)
        pipeline = make_pipeline(dataclasses.replace(settings, wikis=(wiki_,), store=store), scorer)
        run_until(pipeline, set(sentinel))
        pipeline.close()
        details = pipeline.store.pattern_details()
        found[exempt] = {
            (d["user"], flag_id)
            for flag_id, d in details.items()
            if d["pattern"] == "hounding" and d["target"] == "Vic"
        }
    assert {user for user, _ in found[()]} == {"Stalk", "Suppressor"}
    ((user, flag_id),) = found[("suppress",)]
    assert user == "Stalk"

    store = Store(settings.store).open()
    app = create_app(
        settings,
        WikiClient(settings),
        store=store,
        groups_lookup=lambda _user: frozenset({"sysop"}),
    )
    page = login(app, "Admin").get(f"/flag/{flag_id}").get_data(as_text=True)
    assert page.count("yes: undo") == 3 and all(f"?diff={rev}" in page for rev in undos)


def test_an_account_the_wiki_does_not_know_is_a_newcomer_not_the_oldest(wiki, wiki_settings):
    """`account()` answered (None, 0) both for the oldest accounts (no registration date) and
    for a user unknown on that wiki, so an account made today, refused on its home wiki,
    reported about any other wiki with the full daily limit."""
    import time

    client = WikiClient(wiki_settings)
    registered, edits = client.account(wiki_settings.wikis[0], "Nobody-here-7c1d")
    assert registered is not None and time.time() - registered < 60 and edits == 0
    registered, edits = client.account(wiki_settings.wikis[0], "Alice")
    assert registered is not None and edits >= 0  # a real account: its own date


def test_a_reply_signed_with_the_wiki_s_own_namespace_names(wiki, wiki_settings):
    """A real MediaWiki that knows "Benutzer:" and "Benutzer Diskussion:" as its own names for
    user pages (namespace aliases, as a German wiki has them): flagbot reads them from its
    siteinfo, so the reply below a comment signed that way is aimed at its author, and the
    signature is not scored as words."""
    from flagbot.pipeline import fetch_revisions, read_edit

    aliases = (
        "$wgNamespaceAliases['Benutzer'] = NS_USER; "
        "$wgNamespaceAliases['Benutzer_Diskussion'] = NS_USER_TALK;"
    )
    admin = wiki.session("Alice")
    admin.edit("Template:Ping", "@[[User:{{{1}}}|{{{1}}}]]")
    admin.edit("Template:Notif", "#REDIRECT [[Template:Ping]]")  # a local name for it
    with wiki.extra_settings(aliases):
        client = WikiClient(wiki_settings)
        site_wiki = wiki_settings.wikis[0]
        names = client.link_names(site_wiki)
        assert names["benutzer"] == "User" and names["benutzer diskussion"] == "User talk"
        assert names["user"] == "User" and names.get("contributions") == "contribs"
        assert names["notif"] == names["ping"] == "ping"
        assert "outdent" not in names.values()  # the test wiki has no Template:Outdent
        title = fresh_title()
        wiki.session("Alice").edit(
            title,
            "== Quellen ==\nDie Quelle ist schwach. [[Benutzer:Alice|Alice]] "
            "([[Benutzer Diskussion:Alice|Diskussion]])\n",
        )
        answer = wiki.session("Bob").edit(
            title, "\n:Ich sehe das anders, {{Notif|Carol}}? [[Benutzer:Bob|Bob]]", append=True
        )
        change = dataclasses.replace(change_for(wiki, answer, title), user="Bob")
        old, new = fetch_revisions(client, site_wiki, change)
        _edit, texts, aimed_at = read_edit(change, old, new)
    assert set(aimed_at) == {"Alice", "Carol"}
    assert texts.added == "Ich sehe das anders, ?"
