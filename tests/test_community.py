"""Community settings pages (flagbot.community): the schema, the operator's bounds, and what a
valid page changes. Reading pages from a real wiki: tests/integration/test_community_wiki.py."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from flagbot.community import PageState, applied, page_problems, parsed, schema
from flagbot.config import CATEGORIES, REPORT_CATEGORIES, CommunitySettings, WikiSettings
from flagbot.errors import ConfigError
from flagbot.scoring import Scorer, Texts
from flagbot.settings_file import settings_from_dict

INSULT = "You are a pathetic worthless idiot and everyone here knows it"
THREAT = "I know where you live and I will kill you"


@pytest.fixture
def settings(make_settings):
    return make_settings(
        thresholds={"toxic": 0.9},
        community=CommunitySettings(page="MediaWiki:Flagbot-config.json"),
    )


def test_community_schema_names_every_category_and_report_category():
    """The published schema and the code agree: a category added to one and not the other
    would make valid pages invalid (or the reverse)."""
    assert schema()["$defs"]["category"]["enum"] == list(CATEGORIES)
    support = schema()["properties"]["support"]["propertyNames"]["enum"]
    assert set(support) == {"default", *REPORT_CATEGORIES}


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ({"threshold": {"toxic": 0.8}}, "Additional properties are not allowed ('threshold'"),
        ({"thresholds": {"toxic": 1.5}}, "$.thresholds.toxic: 1.5 is greater than the maximum"),
        ({"thresholds": {"rudeness": 0.8}}, "'rudeness' is not one of"),
        ({"off": ["toxic", "toxic"]}, "has non-unique elements"),
        ({"exempt_groups": ["user"]}, "$.exempt_groups[0]: 'user' should not be valid"),
        ({"reports": {"per_day_newcomer": 0}}, "less than the minimum of 1"),
        ({"mode": "silent"}, "'silent' is not one of ['send', 'log-only']"),
        ([1, 2], "$: [1, 2] is not of type 'object'"),
    ],
)
def test_community_page_schema_problems_are_named(settings, page, expected):
    problems = page_problems(page, settings.wikis[0], settings)
    assert any(expected in p for p in problems), problems


def test_community_page_cannot_leave_the_operator_s_bounds(settings):
    """What a vandal or an abuser would put on an unwatched page: every alert off, thresholds
    at the floor, the emergency contact dropped, mail to a route nobody reads."""
    wiki = settings.wikis[0]
    page = {
        "thresholds": {"toxic": 0.1, "threat": 0.99},
        "off": ["threat", "personal_attack"],
        "routes": {"emergency": ["admins"], "hate": ["press"], "pii": ["admins"]},
    }
    problems = "\n".join(page_problems(page, wiki, settings))
    assert "$.thresholds.toxic: 0.1 is below 0.5" in problems
    assert "$.thresholds.threat: threat is locked" in problems
    assert "$.off: threat is locked" in problems
    assert "$.routes.emergency: emergency is locked" in problems  # emergency, oversight dropped
    assert "$.routes.hate: 'press' has no recipients for enwiki" in problems
    assert "$.routes.pii: must include oversight" in problems
    assert "personal_attack" not in problems  # not locked: a community may turn it off
    log_only = dataclasses.replace(wiki, alerts_mode="log-only")
    assert page_problems({"mode": "send"}, log_only, settings) == [
        "$.mode: the operator runs this wiki log-only; a page cannot send"
    ]
    assert page_problems({"thresholds": {"toxic": 0.95}, "mode": "log-only"}, wiki, settings) == []
    longer = {"patterns": {"repeat": {"days": 30}}}  # past what the operator keeps
    assert (
        "$.patterns.repeat.days: 30 is longer than the 7 days"
        in page_problems(longer, wiki, settings)[0]
    )


def test_a_community_page_changes_thresholds_categories_routes_and_records_its_revision(
    settings, model, ruleset
):
    scorer = Scorer.build(settings, model, ruleset)
    before = scorer.verdicts([Texts(INSULT, wiki="enwiki", namespace=1)])[0]
    assert before.flagged and before.settings_rev == 0
    page = {
        "off": ["toxic", "personal_attack", "harassment"],
        "routes": {"hate": ["oversight"]},
        "exempt_users": ["ClerkBot"],
    }
    assert page_problems(page, settings.wikis[0], settings) == []
    settings.local.put(applied(settings.wikis[0], page, 4242))
    after = scorer.verdicts([Texts(INSULT, wiki="enwiki", namespace=1)])[0]
    assert not after.flagged and after.settings_rev == 4242
    threat = scorer.verdicts([Texts(THREAT, wiki="enwiki", namespace=1)])[0]
    assert "threat" in threat.categories and "emergency" in threat.routes  # locked: still on
    assert settings.wiki("enwiki").exempt_users == ("ClerkBot",)
    assert settings.wiki("enwiki").routes["hate"] == ("oversight",)
    # another wiki is not touched by enwiki's page
    other = dataclasses.replace(
        settings, wikis=(*settings.wikis, WikiSettings("dewiki", "https://de.wikipedia.org"))
    )
    assert other.wiki("dewiki").settings_rev == 0


def test_a_community_threshold_is_per_wiki(settings, model, ruleset):
    scorer = Scorer.build(settings, model, ruleset)
    score = scorer.verdicts([Texts(INSULT, wiki="enwiki", namespace=1)])[0].score
    settings.local.put(applied(settings.wikis[0], {"thresholds": {"toxic": 0.5}}, 7))
    assert scorer.for_wiki("enwiki")[0]["toxic"] == 0.5
    assert scorer.for_wiki("otherwiki")[0]["toxic"] == 0.9  # the operator's, elsewhere
    assert score > 0.5


def test_community_page_text_that_is_not_json_or_hidden_is_named():
    assert parsed('{"off": ["toxic"],}')[1].startswith("not valid JSON: ")
    assert parsed(None)[1] == "its text is hidden (revision deleted)"
    assert parsed("x" * 200_000)[1].startswith("longer than")
    state = PageState("enwiki", 5, 6, "revision 6 not in force: …", 1.0, json.dumps({"off": []}))
    assert PageState.from_json(state.as_json()) == state


def test_community_section_of_flagbot_yaml_is_checked(settings):
    base = {
        "user_agent_contact": "x",
        "wikis": [{"id": "enwiki", "url": "https://en.wikipedia.org"}],
        "source": {"type": "replay", "path": "x.jsonl"},
    }
    loaded = settings_from_dict({**base, "community": {"page": "MediaWiki:F.json"}}, "f.yaml")
    assert loaded.community.page == "MediaWiki:F.json"
    assert loaded.community.locked == ("threat", "self_harm", "pii", "outing")
    with pytest.raises(ConfigError) as raised:
        settings_from_dict({**base, "community": {"locked": ["threats"], "pages": 1}}, "f.yaml")
    assert "community.locked: 'threats' is not a category" in str(raised.value)
    assert "community.pages: unknown key" in str(raised.value)


def test_after_a_report_the_community_support_page_is_shown_in_the_reader_s_language(
    make_settings,
):
    """The support page a community names for a report category (Incident Reporting System:
    help is offered even when nothing can be done); none named: a default text."""
    import time

    from flagbot.store import Store
    from flagbot.web import create_app
    from flagbot.wiki import WikiClient
    from tests.test_web import file_report, login

    settings = make_settings(community=CommunitySettings(page="MediaWiki:Flagbot-config.json"))
    store = Store(settings.store).open()
    app = create_app(
        settings,
        WikiClient(settings),
        store=store,
        groups_lookup=lambda user: frozenset(),
        revision_lookup=lambda wiki, rev: "visible",
        account_lookup=lambda wiki, user: (time.time() - 400 * 86400, 500),
        assessor=lambda wiki, rev: {},
    )
    app.config["TESTING"] = True
    client = login(app, "Editor1")
    plain = file_report(client, "Editor1", "hate", "User:X1").get_data(as_text=True)
    assert 'id="support-default"' in plain and "emergency services" in plain
    page = {
        "support": {
            "threat": {"de": "Projekt:Notfall", "default": "Project:Emergency"},
            "default": {"default": "Project:Help desk"},
        }
    }
    state = PageState("enwiki", 12, 12, "", time.time(), json.dumps(page))
    store.set_control("community:enwiki", state.as_json())  # as `flagbot run` saved it
    threat = file_report(client, "Editor1", "threat", "User:X2").get_data(as_text=True)
    assert "index.php?title=Project%3AEmergency" in threat and 'id="support"' in threat
    form = {"csrf": "token-Editor1", "wiki": "enwiki", "category": "threat", "targets": "User:X3"}
    german = client.post("/report?uselang=de", data=form).get_data(as_text=True)
    assert "title=Projekt%3ANotfall" in german
    hate = login(app, "Editor2")
    other = file_report(hate, "Editor2", "hate", "User:X4").get_data(as_text=True)
    assert "title=Project%3AHelp_desk" in other
    store.close()


# --- every wiki from one config (flagbot.sitematrix) ---------------------------------------


def test_community_wikis_all_resolves_open_public_wikis_from_the_site_matrix():
    from flagbot.sitematrix import SNAPSHOT, load_matrix, resolve

    wikis = {w.id: w for w in resolve("all", load_matrix(SNAPSHOT))}
    assert len(wikis) >= 800  # every open Wikimedia wiki, not a hand-made list
    assert wikis["enwiki"].url == "https://en.wikipedia.org" and wikis["enwiki"].language == "en"
    assert wikis["dewiktionary"].language == "de" and wikis["commonswiki"].language == ""
    for skipped in ("aawiki", "checkuserwiki", "stewardwiki", "foundationwiki"):
        assert skipped not in wikis  # closed, private, private, fishbowl
    chosen = resolve({"family": "wikipedia", "exclude": ["enwiki"]}, load_matrix(SNAPSHOT))
    assert chosen and all(w.id.endswith("wiki") for w in chosen)
    assert "enwiki" not in {w.id for w in chosen} and "dewiki" in {w.id for w in chosen}
    assert "commonswiki" not in {w.id for w in chosen}


def test_community_site_matrix_formatversion_1_marks_closed_wikis_with_an_empty_string():
    """The API's formatversion=1 says `"closed": ""` for a closed wiki (the key's presence is
    the truth): read as a boolean, every closed and private wiki looked open."""
    from flagbot.sitematrix import resolve

    matrix = {
        "sitematrix": {
            "count": 4,
            "0": {
                "code": "aa",
                "site": [
                    {
                        "url": "https://aa.wikipedia.org",
                        "dbname": "aawiki",
                        "code": "wiki",
                        "closed": "",
                    },
                    {
                        "url": "https://aa.wiktionary.org/",
                        "dbname": "aawiktionary",
                        "code": "wiktionary",
                    },
                ],
            },
            "specials": [
                {
                    "url": "https://checkuser.wikimedia.org",
                    "dbname": "checkuserwiki",
                    "code": "checkuser",
                    "private": "",
                },
                {
                    "url": "https://meta.wikimedia.org",
                    "dbname": "metawiki",
                    "code": "meta",
                    "closed": False,
                },
            ],
        }
    }
    wikis = resolve("all", matrix)
    assert [(w.id, w.url) for w in wikis] == [
        ("aawiktionary", "https://aa.wiktionary.org"),
        ("metawiki", "https://meta.wikimedia.org"),
    ]


def test_community_wikis_selection_problems_are_named():
    base = {"user_agent_contact": "x", "source": {"type": "replay", "path": "x.jsonl"}}
    loaded = settings_from_dict({**base, "wikis": "all"}, "f.yaml")
    assert len(loaded.wikis) >= 800 and loaded.wiki_selection == "all"
    assert loaded.wiki("dewiki").language == "de"
    with pytest.raises(ConfigError) as raised:
        settings_from_dict({**base, "wikis": {"family": "wikipedias", "except": []}}, "f.yaml")
    assert "wikis.family: 'wikipedias' is not a family" in str(raised.value)
    assert "wikis.except: unknown key" in str(raised.value)
    with pytest.raises(ConfigError, match="wikis: expected a list of wikis"):
        settings_from_dict({**base, "wikis": "everything"}, "f.yaml")


def test_community_wikis_all_replays_a_stream_of_many_wikis_each_flag_on_its_own_wiki(
    tmp_path, make_settings, scorer
):
    from flagbot.sitematrix import SNAPSHOT, load_matrix, resolve
    from tests.conftest import rc_event
    from tests.test_pipeline import make_pipeline, write_replay

    wikis = resolve("all", load_matrix(SNAPSHOT))
    names = ["dewiki", "frwiktionary", "commonswiki", "enwiki", "ptwikivoyage"]
    lines = [rc_event(i, INSULT, wiki=name) for i, name in enumerate(names)]
    lines += [rc_event(10, INSULT, wiki="checkuserwiki"), rc_event(11, INSULT, wiki="aawiki")]
    settings = make_settings(
        wikis=wikis,
        wiki_selection="all",
        source={"type": "replay", "path": write_replay(tmp_path / "r.jsonl", lines)},
    )
    pipeline = make_pipeline(settings, scorer)
    summary = pipeline.run(threading.Event())
    assert summary.filtered.get("other_wiki") == 2  # private and closed: never watched
    urls = {f.wiki: f.diff_url for f in pipeline.store.iter_flags()}
    assert set(urls) == set(names)
    hosts = {w.id: w.url for w in wikis}
    for wiki, url in urls.items():
        assert url.startswith(f"{hosts[wiki]}/w/index.php?diff="), (wiki, url)
    pipeline.close()


def test_community_global_route_takes_private_alerts_of_wikis_without_their_own(make_settings):
    """A small wiki has no oversighters: its personal-information flags went to nobody (or to
    the big wiki's team); with `global_routes` they go to the stewards, and doctor says which
    wikis do and why."""
    from flagbot.alerts import deliveries
    from flagbot.doctor import check_global_routes
    from flagbot.sitematrix import SNAPSHOT, load_matrix, resolve

    base = {
        "user_agent_contact": "x",
        "wikis": "all",
        "source": {"type": "replay", "path": "x.jsonl"},
        "alerts": {
            "recipients": {"stewards": ["smtp:stewards@example.org"]},
            "wiki_recipients": {"enwiki": {"oversight": ["smtp:oversight-en@example.org"]}},
            "global_routes": {"oversight": "stewards"},
        },
    }
    settings = settings_from_dict(base, "f.yaml")
    assert deliveries(settings, "enwiki", ["oversight"]) == [
        ("oversight", "smtp:oversight-en@example.org")
    ]
    assert deliveries(settings, "kawiki", ["oversight"]) == [
        ("oversight", "smtp:stewards@example.org")
    ]
    assert deliveries(settings, "kawiki", ["admins"]) == []  # the review queue: no mail
    (finding,) = check_global_routes(settings, None)
    total = len(resolve("all", load_matrix(SNAPSHOT)))
    assert f"oversight alerts of {total - 1} of {total} wikis go to stewards" in finding.check
    assert "enwiki" not in finding.check.split(":", 1)[1].split(", ")
    bad = {**base, "alerts": {**base["alerts"], "global_routes": {"oversight": "stewardz"}}}
    with pytest.raises(ConfigError, match="global_routes.oversight: 'stewardz' must be a route"):
        settings_from_dict(bad, "f.yaml")


@pytest.mark.parametrize(
    "page",
    [
        {"off": ["harassment"]},
        {"routes": {"harassment": ["oversight"]}},
        {"patterns": {"repeat": {"count": 4}}},  # three edits are not enough on this wiki
    ],
)
def test_community_settings_reach_the_pattern_detectors(tmp_path, make_settings, scorer, page):
    """Repeated targeting is harassment: a wiki that turned harassment off gets no pattern flag,
    and one that routes harassment to oversight gets it routed there, with the revision."""
    from flagbot.community import applied
    from tests.test_patterns import BORDERLINE, DAY, START, aimed, pattern_flags
    from tests.test_pipeline import make_pipeline, write_replay

    lines = [aimed(i, BORDERLINE[i], START + i * DAY) for i in range(3)]
    settings = make_settings(
        source={"type": "replay", "path": write_replay(tmp_path / "r.jsonl", lines)}
    )
    settings.local.put(applied(settings.wikis[0], page, 77))
    pipeline = make_pipeline(settings, Scorer.build(settings, scorer.model, scorer.rules))
    pipeline.run(threading.Event())
    found = pattern_flags(pipeline.store)
    if "off" in page or "patterns" in page:
        assert found == []
    else:
        ((flag, _details),) = found
        assert flag.routes == ("oversight",) and flag.settings_rev == 77
    pipeline.close()


def test_community_hounding_chance_is_the_wiki_s_own(tmp_path, make_settings, scorer):
    """A wiki that wants near certainty before a hounding flag sets its own `max_chance`."""
    from flagbot.community import applied
    from tests.test_patterns import HOUR, START, activity_events, pattern_flags
    from tests.test_pipeline import make_pipeline, write_replay

    lines = []
    for u in range(80):
        pages = [f"A {u}-{p}" for p in range(5)]
        lines += activity_events(10_000 + u * 10, f"Editor{u}", pages, START, HOUR)
    victim_pages = [f"Victim page {p}" for p in range(6)]
    lines += activity_events(20_000, "Vic", victim_pages, START, 3 * HOUR)
    lines += activity_events(21_000, "Stalk", victim_pages, START + HOUR, 3 * HOUR)
    lines.sort(key=lambda e: e["timestamp"])
    found = {}
    for chance in (0.0, 1e-30):
        path = write_replay(tmp_path / f"r{chance}.jsonl", lines)
        store = f"sqlite:///{tmp_path}/{chance}.db"
        settings = make_settings(source={"type": "replay", "path": path}, store=store)
        if chance:
            page = {"patterns": {"hounding": {"max_chance": chance}}}
            settings.local.put(applied(settings.wikis[0], page, 9))
        pipeline = make_pipeline(settings, scorer)
        pipeline.run(threading.Event())
        found[chance] = [d["pattern"] for _, d in pattern_flags(pipeline.store)]
        pipeline.close()
    assert found == {0.0: ["hounding"], 1e-30: []}


def test_the_readme_s_community_settings_example_is_valid(settings):
    """The example page in the README passes the schema and the bounds (it is what admins copy)."""
    import re

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Community settings", 1)[1]
    example = re.search(r"```json\n(.*?)```", section, re.S)
    assert example, "no JSON example in the README's community settings section"
    page = json.loads(example[1])
    assert set(page) == set(schema()["properties"])  # the example shows every key
    assert page_problems(page, settings.wikis[0], settings) == []
