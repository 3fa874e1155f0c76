from pathlib import Path

import pytest

from flagbot.config import embedded_default
from flagbot.errors import ConfigError
from flagbot.settings_file import load_settings

GOOD = """
user_agent_contact: "User:Example <ops@example.org>"
wikis:
  - id: enwiki
    url: https://en.wikipedia.org/
    extra_pages: ["Wikipedia:Administrators' noticeboard"]
source:
  type: eventstreams
thresholds:
  toxic: 0.85
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flagbot.yaml"
    path.write_text(text)
    return path


def test_valid_file_gives_frozen_settings_with_defaults(tmp_path):
    settings = load_settings(write(tmp_path, GOOD))
    assert settings.wikis[0].url == "https://en.wikipedia.org"
    assert settings.wikis[0].extra_pages == ("Wikipedia:Administrators' noticeboard",)
    assert settings.source.read_timeout == 60.0 and settings.model == "default"
    assert settings.thresholds["toxic"] == 0.85
    assert (settings.repeat.count, settings.repeat.days, settings.repeat.borderline) == (
        3,
        7.0,
        0.0,
    )
    with pytest.raises(AttributeError):
        settings.store = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.thresholds["toxic"] = 0.1  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "colour: blue\n", "flagbot.yaml: colour: unknown key; allowed: user_agent_contact"),
        (
            GOOD.replace("type: eventstreams", "type: irc"),
            "flagbot.yaml: source.type: 'irc' is not allowed; "
            "allowed: eventstreams, recentchanges, replay",
        ),
        (
            GOOD.replace('user_agent_contact: "User:Example <ops@example.org>"', ""),
            "flagbot.yaml: user_agent_contact: missing required value",
        ),
        (GOOD + "diff_workers: many\n", "flagbot.yaml: diff_workers: expected a whole number"),
        (GOOD + "store: 5\n", "flagbot.yaml: store: expected a string, got int"),
        (
            GOOD.replace("toxic: 0.85", "toxic: 2"),
            "flagbot.yaml: thresholds.toxic: expected a number from 0 to 1",
        ),
        (
            GOOD.replace("toxic: 0.85", "rude: 0.5"),
            "flagbot.yaml: thresholds.rude: unknown category",
        ),
        (
            GOOD.replace("    url: https://en.wikipedia.org/\n", ""),
            "flagbot.yaml: wikis[0].url: missing required value",
        ),
        (GOOD.replace("type: eventstreams", "type: replay"), "source.path: missing required value"),
        ("- just a list", "(top): expected a mapping"),
        (
            GOOD + "patterns:\n  repeat:\n    count: 0\n",
            "flagbot.yaml: patterns.repeat.count: expected a whole number, 1 or more",
        ),
        (
            GOOD + "patterns:\n  repeat:\n    days: .nan\n",
            "flagbot.yaml: patterns.repeat.days: expected a positive number",
        ),
        (GOOD + "patterns:\n  repeats: {}\n", "flagbot.yaml: patterns.repeats: unknown key"),
        ("key: [unclosed", "not valid YAML"),
    ],
)
def test_errors_name_file_key_problem_and_what_is_allowed(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "flagbot.yaml"))


def test_all_problems_are_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GOOD + "colour: blue\nbatch_size: -1\n"))
    assert "colour" in str(caught.value) and "batch_size" in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml")


def test_embedded_default_is_offline_and_finds_shipped_files():
    settings = embedded_default()
    assert settings.source.type == "replay"
    assert Path(settings.source.path).exists() and Path(settings.rules).exists()
    assert settings.alerts.recipients_for("enwiki", "oversight") == ("dryrun:oversight",)
    assert not settings.alerts.stale_check  # offline: no wiki to ask


def test_the_documented_sample_config_is_valid():
    from tests.conftest import ROOT

    settings = load_settings(ROOT / "flagbot.yaml.sample")
    assert settings.source.type == "eventstreams" and settings.wikis[0].id == "enwiki"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("alerts:\n  channel: dryrun\n", "alerts.channel: unknown key"),
        (
            "alerts:\n  recipients:\n    oversight: [oversight@example.org]\n",
            "alerts.recipients.oversight: 'oversight@example.org' is not `channel:address`",
        ),
        (
            "alerts:\n  recipients:\n    oversight: ['fax:123']\n",
            "channels: dryrun, smtp, wikimail",
        ),
        ("alerts:\n  routes:\n    spam: [oversight]\n", "alerts.routes.spam: unknown category"),
        (  # a misspelt route sent nothing, silently
            "alerts:\n  routes:\n    harassment: [oversite]\n",
            "alerts.routes.harassment: unknown route 'oversite'",
        ),
        (
            "alerts:\n  recipients:\n    oversite: ['smtp:os@example.org']\n",
            "alerts.recipients.oversite: no category is routed to 'oversite'",
        ),
        ("alerts:\n  mode: quiet\n", "alerts.mode: 'quiet' is not allowed"),
        ("alerts:\n  interval: .nan\n", "alerts.interval: expected a positive number"),
        ("alerts:\n  burst_seconds: .inf\n", "alerts.burst_seconds: expected a positive"),
        ("alerts:\n  limits:\n    smtp: -1\n", "alerts.limits.smtp: expected channel"),
        ("purge_interval: .nan\n", "purge_interval: expected a positive number"),
        ("batch_size: 2.5\n", "batch_size: expected a whole number"),
        ("diff_workers: 0\n", "diff_workers: expected a whole number"),
        (  # the queue would hide them from the admins it alerts
            "alerts:\n  routes:\n    pii: [admins]\n",
            "alerts.routes.pii: must include oversight",
        ),
        ("alerts:\n  limits:\n    smtp: lots\n", "alerts.limits.smtp: expected channel"),
        ("alerts:\n  smtp:\n    security: tls\n", "alerts.smtp.security: 'tls' is not allowed"),
        ("alerts:\n  kill_switch:\n    page: 5\n", "alerts.kill_switch.page: expected a string"),
        ("web:\n  admin_groups: sysop\n", "web.admin_groups: expected"),
        ("web:\n  base_url: http://q.example.org\n", "web.base_url: 'http://q.example.org' must"),
        ("web:\n  oauth_wiki: dewiki\n", "web.oauth_wiki: 'dewiki' is not one of the wikis"),
    ],
)
def test_alerts_and_web_sections_are_validated(tmp_path, section, message):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, GOOD + section))
    assert message in str(error.value)
    assert str(tmp_path / "flagbot.yaml") in str(error.value)


def test_alerts_section_gives_routes_and_recipients_per_wiki(tmp_path):
    settings = load_settings(
        write(
            tmp_path,
            GOOD
            + """alerts:
  routes:
    personal_attack: [admins]
  recipients:
    admins: ["smtp:admins@example.org"]
    oversight: ["wikimail:Oversight"]
  wiki_recipients:
    enwiki:
      oversight: ["smtp:oversight-en@example.org"]
""",
        )
    )
    alerts = settings.alerts
    assert alerts.routes["pii"] == ("oversight",)  # defaults kept for what is not named
    assert alerts.routes["personal_attack"] == ("admins",)
    assert alerts.recipients_for("enwiki", "oversight") == ("smtp:oversight-en@example.org",)
    assert alerts.recipients_for("dewiki", "oversight") == ("wikimail:Oversight",)
    assert alerts.recipients_for("enwiki", "emergency") == ()


def test_yaml_aliases_and_huge_files_are_refused_in_one_line(tmp_path):
    """A 600-byte "billion laughs" used to print 312 MB of error text."""
    from flagbot.errors import RulesError
    from flagbot.rules import load_rules

    laughs = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for n in range(1, 9):
        previous = chr(ord("a") + n - 1)
        laughs += (
            f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        )
    path = write(tmp_path, GOOD + laughs)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "aliases expand to more than" in str(caught.value) and len(str(caught.value)) < 300
    (tmp_path / "rules.yaml").write_text("version: 1\nrules: []\n" + laughs)
    with pytest.raises(RulesError) as rules_error:
        load_rules(tmp_path / "rules.yaml")
    assert "aliases expand" in str(rules_error.value) and len(str(rules_error.value)) < 300
    shared = """user_agent_contact: "User:Example <ops@example.org>"
wikis:
  - {id: enwiki, url: "https://en.wikipedia.org", namespaces: &talk [1, 3]}
  - {id: dewiki, url: "https://de.wikipedia.org", namespaces: *talk}
source: {type: eventstreams}
"""  # small aliases are fine: yaml.safe_dump writes them for a shared list
    assert [w.namespaces for w in load_settings(write(tmp_path, shared)).wikis] == [(1, 3)] * 2
    path.write_text(GOOD + "# " + "x" * 1_000_001 + "\n")
    with pytest.raises(ConfigError, match="larger than 1,000,000 characters"):
        load_settings(path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("alerts: {stale_check: false}", "alerts.stale_check: expected a mapping"),
        ("alerts: {smtp: 5}", "alerts.smtp: expected a mapping"),
        ("alerts: {routes: [admins]}", "alerts.routes: expected a mapping"),
        ("alerts: {recipients: 5}", "alerts.recipients: expected a mapping"),
        ("alerts: {limits: 5}", "alerts.limits: expected a mapping"),
        ("alerts: {kill_switch: yes}", "alerts.kill_switch: expected a mapping"),
        ("alerts: {auto_throttle: 1}", "alerts.auto_throttle: expected a mapping"),
    ],
)
def test_an_alert_section_of_the_wrong_type_is_named_not_a_traceback(tmp_path, extra, message):
    """Each was a KeyError traceback: the wrongly typed key was left out, then read."""
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, GOOD + extra + "\n"))


def test_urls_must_be_http_urls_and_a_binary_file_is_named(tmp_path):
    """`source.url: not-a-url` was retried for ever as a network error."""
    bad = GOOD.replace("type: eventstreams", "type: eventstreams\n  url: not-a-url")
    with pytest.raises(ConfigError, match="source.url: 'not-a-url' is not an http"):
        load_settings(write(tmp_path, bad))
    bad = GOOD.replace("url: https://en.wikipedia.org/", "url: en.wikipedia.org")
    with pytest.raises(ConfigError, match=r"wikis\[0\].url: 'en.wikipedia.org' is not an http"):
        load_settings(write(tmp_path, bad))
    path = tmp_path / "flagbot.yaml"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ConfigError, match="flagbot.yaml: not a UTF-8 text file"):
        load_settings(path)
