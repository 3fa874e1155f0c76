"""flagbot's settings: frozen dataclasses, their defaults, the categories and routes, and the
embedded default. Read from flagbot.yaml and checked by flagbot.settings_file. Secrets never
live here: pywikibot's password file and environment variables hold them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
SOURCE_TYPES = ("eventstreams", "recentchanges", "replay")
CATEGORIES = (
    "toxic",  # the model's own category: Jigsaw "toxic" (rude, abusive, profane)
    "personal_attack",
    "harassment",
    "threat",
    "pii",
    "outing",
    "sexual_harassment",
    "hate",
    "legal_threat",
    "self_harm",  # someone saying they will harm themselves: the emergency contact, at once
    "unreadable",  # an edit over its time or size budget (flagbot.budget): the review queue
)
UNREADABLE_CATEGORY = "unreadable"
SEVERITIES = ("low", "medium", "high", "emergency")
# Private: only oversighters see these flags in the review queue (`web.auth.oversight_only`),
# and their routes must include "oversight". Visibility follows categories, never routes: a threat
# alerts oversight and the emergency contact, and admins still see it, since they block.
OVERSIGHT_CATEGORIES = ("pii", "outing")
OVERSIGHT_ROUTE = "oversight"
EMERGENCY_ROUTE = "emergency"
REVIEW_ROUTE = "admins"  # the review queue; categories without a configured route go here
ALERT_MODES = ("send", "log-only")  # log-only: flags are stored and reviewable, nothing mailed
# What a person may report (`flagbot web`'s /report), with the flag category and severity it
# becomes: threats and self-harm reach the emergency contact at once.
REPORT_CATEGORIES: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "threat": ("Threat of physical harm", "threat", "emergency"),
        "self_harm": ("Someone may harm themselves", "self_harm", "emergency"),
        "pii": ("Personal information or doxxing", "pii", "high"),
        "sexual_harassment": ("Sexual harassment", "sexual_harassment", "high"),
        "hate": ("Hate", "hate", "high"),
        "hounding": ("Intimidation or hounding", "harassment", "medium"),
        "personal_attack": ("Personal attacks", "personal_attack", "medium"),
        "other": ("Something else", "harassment", "low"),
    }
)
# hours until a reviewer will have looked at a report, as its reporter is told (per category,
# "default" for the rest): emergencies within hours
DEFAULT_ANSWER_HOURS: Mapping[str, float] = MappingProxyType(
    {"threat": 4, "self_harm": 4, "pii": 24, "default": 72}
)
# Checked in quotes, titles and user names too: repeating personal information is posting it.
EVERYWHERE_CATEGORIES = ("pii", "outing")
EVENTSTREAMS_URL = "https://stream.wikimedia.org/v2/stream/recentchange"
REQUIRED = object()


def project_path(relative: str) -> Path:
    """A shipped file (model, rules, sample stream): the checkout first, then the working dir."""
    candidate = PROJECT_DIR / relative
    return candidate if candidate.exists() else Path(relative)


@dataclass(frozen=True)
class WikiSettings:
    id: str
    url: str
    script_path: str = "/w"
    namespaces: tuple[int, ...] = ()  # empty: every talk namespace (odd numbers)
    extra_pages: tuple[str, ...] = ()
    skip_bots: bool = True
    exempt_users: tuple[str, ...] = ()
    exempt_groups: tuple[str, ...] = ()  # looked up on the wiki, cached for an hour
    alerts_mode: str = ""  # "log-only" or "send" for this wiki; empty: alerts.mode
    # who may file a confidential report about this wiki (0: anyone logged in), and how often
    # a newcomer may (web.reports_per_day for everyone else)
    report_min_account_days: int = 0
    report_min_edits: int = 0
    report_newcomer_days: int = 30
    reports_per_day_newcomer: int = 1
    # the wiki's content language (ISO 639, e.g. "de"); empty: read from a Wikimedia language
    # edition's address ("https://de.wikipedia.org"), else unknown (flagbot.language)
    language: str = ""
    # what the wiki's community settings page (flagbot.community) adds, over the operator's file
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    off: tuple[str, ...] = ()  # categories the community turned off (never a locked one)
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # report category (or "default") → language (or "default") → the wiki's support page
    support: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    settings_rev: int = 0  # the settings page's revision in force (0: the operator's file alone)
    answer_hours: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    # pattern detectors' settings of the wiki's own: {"repeat": {"count", "days"},
    # "hounding": {"max_chance"}} (flagbot.patterns); absent: the operator's
    patterns: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def pattern_setting(self, detector: str, key: str, default: float) -> float:
        return float(self.patterns.get(detector, {}).get(key, default))


@dataclass(frozen=True)
class SourceSettings:
    type: str
    url: str = EVENTSTREAMS_URL
    path: str = ""
    poll_interval: float = 10.0
    read_timeout: float = 60.0
    max_backoff: float = 300.0
    overlap_seconds: int = 60
    retention_days: float = 7.0


CHANNELS = ("dryrun", "smtp", "wikimail")
DEFAULT_ROUTES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "pii": ("oversight",),
        "outing": ("oversight",),
        "threat": ("oversight",),
        "self_harm": ("emergency",),  # a person at risk: not a matter for oversight
        "emergency": ("emergency", "oversight"),  # any category with severity emergency
    }
)  # categories not named here go to the review queue only (route "admins", no mail)


@dataclass(frozen=True)
class AlertSettings:
    """Who hears about what, through which channel; see "Alerts" in the README."""

    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_ROUTES)
    recipients: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    wiki_recipients: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    review_url: str = ""
    sender: str = "flagbot@localhost"
    outbox: str = "outbox"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password_env: str = "FLAGBOT_SMTP_PASSWORD"
    smtp_timeout: float = 30.0
    limits: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"wikimail": 20, "smtp": 200})
    )
    burst_seconds: float = 600.0
    stale_check: bool = True
    always_send: tuple[str, ...] = ("emergency",)
    kill_switch_page: str = ""
    kill_switch_cache: float = 60.0
    throttle_factor: float = 10.0
    throttle_min_per_hour: int = 30
    operator: str = ""
    interval: float = 5.0
    mode: str = "send"  # or "log-only" (for every wiki; a wiki's own `alerts: log-only` too)
    # route → the global route that stands in on a wiki with no recipients of its own for it
    # (`wiki_recipients`), e.g. {"oversight": "stewards"}: small wikis have no oversighters
    global_routes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def addresses(self) -> set[str]:
        """Every `channel:address` named anywhere in recipients and wiki_recipients."""
        lists = [*self.recipients.values()]
        lists += [x for routes in self.wiki_recipients.values() for x in routes.values()]
        return {address for addresses in lists for address in addresses}

    def recipients_for(self, wiki: str, route: str) -> tuple[str, ...]:
        """`channel:address` strings for a route on a wiki: the wiki's own list, else its
        global route's (`global_routes`), else the shared list."""
        own = self.wiki_recipients.get(wiki, {})
        if route in own:
            return tuple(own[route])
        return tuple(self.recipients.get(self.global_routes.get(route, route), ()))

    def uses_global_route(self, wiki: str, route: str) -> str:
        """The global route a wiki's `route` goes to ("" when it has its own recipients)."""
        return (
            "" if route in self.wiki_recipients.get(wiki, {}) else self.global_routes.get(route, "")
        )


@dataclass(frozen=True)
class WebSettings:
    """The review queue (`flagbot web`); see "Review queue" in the README."""

    oauth_client_id: str = ""
    oauth_client_secret_env: str = "FLAGBOT_OAUTH_SECRET"
    oauth_wiki: str = ""  # the configured wiki whose accounts log in; default: the first
    secret_key_env: str = "FLAGBOT_WEB_SECRET"
    admin_groups: tuple[str, ...] = ("sysop",)
    oversight_groups: tuple[str, ...] = ("suppress", "oversight")
    groups_refresh_seconds: float = 600.0
    secure_cookies: bool = True  # False only for plain-http tests on loopback
    page_size: int = 50
    metrics: bool = False  # serve /metrics (counts only; put it behind your proxy's rules)
    base_url: str = ""  # e.g. https://flagbot.example.org: the OAuth callback is built from it
    reports_per_day: int = 3  # confidential reports one account may file in 24 hours
    reporter_shown_to: str = "oversighters"  # or "reviewers": admins see who reported, too
    report_stats_groups: tuple[str, ...] = ()  # who may see /stats/reports; empty: any account
    answer_hours: Mapping[str, float] = field(default_factory=lambda: DEFAULT_ANSWER_HOURS)

    def answer_hours_for(self, wiki: WikiSettings, category: str) -> float:
        """Hours until a reviewer will have looked at a report: the wiki's community settings
        first, then this file; the category's, else the default."""
        hours = {**self.answer_hours, **wiki.answer_hours}
        return float(hours.get(category, hours.get("default", DEFAULT_ANSWER_HOURS["default"])))


@dataclass(frozen=True)
class RepeatSettings:
    """Repeated targeting (flagbot.patterns): `count` borderline edits by one author aimed at
    one target within `days` raise one pattern flag for the pair."""

    count: int = 3
    days: float = 7.0
    borderline: float = 0.0  # an edit counts from this score; 0: the card's threshold at P 0.6


@dataclass(frozen=True)
class HoundingSettings:
    """Hounding (flagbot.patterns): a follower who, within `days`, edits `pages` pages within
    `hours` after the followed user did, more than chance explains (`max_chance`)."""

    pages: int = 5
    hours: float = 24.0
    days: float = 14.0
    max_chance: float = 1e-4  # how unlikely the overlap must be for editors this active
    # a second, longer window with its own chance test: waiting 25 hours escaped the first
    long_hours: float = 168.0


@dataclass(frozen=True)
class BudgetSettings:
    """What one edit may cost before it is flagged for review unread (flagbot.budget)."""

    seconds: float = 5.0  # reading it: diff, wikitext parse, targets (a killed worker after)
    chars: int = 20_000  # readable added text scored at most (~2 s at worst); more: flagged unread
    workers: int = 2  # worker processes reading edits in parallel


@dataclass(frozen=True)
class CommunitySettings:
    """The operator's bounds for each wiki's community settings page (flagbot.community)."""

    page: str = ""  # e.g. "MediaWiki:Flagbot-config.json"; "": no page is read
    editors: tuple[str, ...] = ("sysop", "interface-admin")  # whose revisions count
    poll_seconds: float = 60.0
    min_threshold: float = 0.5  # a page may not set a threshold below this
    locked: tuple[str, ...] = ("threat", "self_harm", "pii", "outing")  # never turned off


class LocalSettings:
    """Each wiki's settings with its community page applied: filled by flagbot.community,
    read through `Settings.wiki`, replaced whole (a reader never sees half an update)."""

    def __init__(self) -> None:
        self.wikis: Mapping[str, WikiSettings] = MappingProxyType({})

    def put(self, wiki: WikiSettings) -> None:
        self.wikis = MappingProxyType({**self.wikis, wiki.id: wiki})


@dataclass(frozen=True)
class Settings:
    origin: str
    user_agent_contact: str
    wikis: tuple[WikiSettings, ...]
    source: SourceSettings
    model: str
    rules: str
    store: str
    cascade: bool = True  # a cascade model's slow stage; false: its fast model alone
    # the model for languages `model` cannot read (its card's `languages`); "": none
    language_model: str = "talk-multi-v1"
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    diff_workers: int = 4
    max_diff_chars: int = 20000
    batch_size: int = 200
    purge_interval: float = 3600.0  # seconds between checks for revisions the wiki has hidden
    metrics_port: int = 0  # `flagbot run` serves Prometheus metrics here on loopback; 0: off
    text_retention_days: float = 90.0  # flagged text and report descriptions kept this long
    repeat: RepeatSettings = field(default_factory=RepeatSettings)
    hounding: HoundingSettings = field(default_factory=HoundingSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    stale_seconds: float = 900.0  # `status --check`: a live source's position older is a problem
    alerts: AlertSettings = field(default_factory=AlertSettings)
    web: WebSettings = field(default_factory=WebSettings)
    offline: bool = False  # no wiki is asked: an edit without `added_text` cannot be scored
    community: CommunitySettings = field(default_factory=CommunitySettings)
    # `wikis: all` or {family: …, exclude: […]} as written (flagbot.sitematrix); None: a list
    wiki_selection: Any = None
    local: LocalSettings = field(default_factory=LocalSettings, compare=False, repr=False)

    def wiki(self, wiki_id: str) -> WikiSettings | None:
        """The configured wiki an event's `wiki` names: its `$wgDBname`, or on a wiki with a
        table prefix `$wgDBname-$wgDBprefix`; an id configured with the prefix matches first.
        With its community settings page applied, when one is in force."""
        found = self.configured(wiki_id)
        return self.local.wikis.get(found.id, found) if found is not None else None

    def configured(self, wiki_id: str) -> WikiSettings | None:
        """`wiki` as this file has it, without its community settings page (what a page is
        applied on top of)."""
        found = self._by_id.get(wiki_id)
        if found is None and "-" in wiki_id:
            found = self._by_id.get(wiki_id.split("-", 1)[0])
        return found

    @functools.cached_property
    def _by_id(self) -> Mapping[str, WikiSettings]:
        """Wikis by id: with `wikis: all` a scan of 900 per lookup cost more than scoring."""
        return MappingProxyType({w.id: w for w in reversed(self.wikis)})


def embedded_default(store: str = "sqlite:///flagbot.sqlite3") -> Settings:
    """Offline demo: replay of the sample stream, shipped model and rules, dry-run alerts."""
    return Settings(
        origin="<embedded default>",
        user_agent_contact="flagbot embedded default (offline)",
        offline=True,
        wikis=(WikiSettings(id="enwiki", url="https://en.wikipedia.org"),),
        source=SourceSettings(
            type="replay", path=str(project_path("training_data/sample_stream.jsonl"))
        ),
        model="default",
        rules=str(project_path("rules.yaml")),
        store=store,
        alerts=AlertSettings(
            recipients=MappingProxyType(
                {"oversight": ("dryrun:oversight",), "emergency": ("dryrun:emergency",)}
            ),
            stale_check=False,  # offline: there is no wiki to ask
        ),
    )
