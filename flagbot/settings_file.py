"""Read flagbot.yaml into frozen settings (flagbot.config); unknown keys are errors.

Every problem is reported as `file: key: what is wrong, what is allowed`, all of them at once,
so an operator fixes the file in one go. A YAML file is refused before it is parsed when it is
too large or expands to too many values (an alias bomb)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from flagbot.config import (
    ALERT_MODES,
    CATEGORIES,
    CHANNELS,
    DEFAULT_ANSWER_HOURS,
    DEFAULT_ROUTES,
    EMERGENCY_ROUTE,
    EVENTSTREAMS_URL,
    OVERSIGHT_CATEGORIES,
    OVERSIGHT_ROUTE,
    REPORT_CATEGORIES,
    REQUIRED,
    REVIEW_ROUTE,
    SOURCE_TYPES,
    AlertSettings,
    BudgetSettings,
    CommunitySettings,
    HoundingSettings,
    RepeatSettings,
    Settings,
    SourceSettings,
    WebSettings,
    WikiSettings,
    project_path,
)
from flagbot.errors import ConfigError

log = logging.getLogger(__name__)

# --- checks -------------------------------------------------------------------------------

Check = Callable[[Any], str | None]  # returns what is wrong, or None


def _type(kind: type | tuple[type, ...], name: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            return f"expected {name}, got a boolean"
        return None if isinstance(value, kind) else f"expected {name}, got {type(value).__name__}"

    return check


def _http_url(value: Any) -> str | None:
    """An http(s) URL with a host: `not-a-url` was retried for ever as a network error."""
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{value!r} is not an http(s) URL with a host"
    return None


def _one_of(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or value not in choices:
            return f"{value!r} is not allowed; allowed: {', '.join(choices)}"
        return None

    return check


def _list_of(kind: type, name: str) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or any(
            not isinstance(v, kind) or isinstance(v, bool) for v in value
        ):
            return f"expected a list of {name}"
        return None

    return check


def _positive(value: Any) -> str | None:
    # NaN passes `<= 0` (every comparison with it is false): `interval: .nan` spun a core
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        return "expected a positive number"
    return None


def _port_or_zero(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        return "expected a port number (0: off)"
    return None


def _base_url(value: Any) -> str | None:
    if not isinstance(value, str):
        return "expected a URL"
    local = value.startswith(("http://127.0.0.1", "http://localhost"))
    if value and not (value.startswith("https://") or local):
        return f"{value!r} must start with https:// (http:// only on loopback)"
    return None


def _count(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "expected a whole number, 1 or more"
    return None


def _hours_or_zero(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        return "expected a number of hours, 0 (off) or more"
    return None


def _whole_or_zero(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "expected a whole number, 0 or more"
    return None


def _seconds_or_zero(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "expected a whole number of seconds, 0 or more"
    return None


def _probability(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return "expected a number from 0 to 1"
    return None


STR, BOOL, INT = _type(str, "a string"), _type(bool, "true or false"), _type(int, "an integer")
MAPPING = _type(dict, "a mapping")

WIKI_KEYS: dict[str, tuple[Check, Any]] = {
    "id": (STR, REQUIRED),
    "url": (_http_url, REQUIRED),
    "script_path": (STR, "/w"),
    "namespaces": (_list_of(int, "integers"), []),
    "extra_pages": (_list_of(str, "page titles"), []),
    "skip_bots": (BOOL, True),
    "exempt_users": (_list_of(str, "user names"), []),
    "exempt_groups": (_list_of(str, "group names"), []),
    "alerts_mode": (_one_of(("", *ALERT_MODES)), ""),
    "report_min_account_days": (_whole_or_zero, 0),
    "report_min_edits": (_whole_or_zero, 0),
    "report_newcomer_days": (_whole_or_zero, 30),
    "reports_per_day_newcomer": (_count, 1),
    "language": (STR, ""),
}
SOURCE_KEYS: dict[str, tuple[Check, Any]] = {
    "type": (_one_of(SOURCE_TYPES), REQUIRED),
    "url": (_http_url, EVENTSTREAMS_URL),
    "path": (STR, ""),
    "poll_interval": (_positive, 10.0),
    "read_timeout": (_positive, 60.0),
    "max_backoff": (_positive, 300.0),
    "overlap_seconds": (_seconds_or_zero, 60),
    "retention_days": (_positive, 7.0),
}
TOP_KEYS: dict[str, tuple[Check, Any]] = {
    "user_agent_contact": (STR, REQUIRED),
    "wikis": (_type((list, str, dict), "a list of wikis, `all` or {family: …}"), REQUIRED),
    "source": (MAPPING, REQUIRED),
    "model": (STR, "default"),
    "cascade": (BOOL, True),
    "language_model": (STR, "talk-multi-v1"),
    "rules": (STR, ""),  # empty: the shipped rules.yaml
    "store": (STR, "sqlite:///flagbot.sqlite3"),
    "thresholds": (MAPPING, {}),
    "diff_workers": (_count, 4),
    "max_diff_chars": (_count, 20000),
    "batch_size": (_count, 200),
    "purge_interval": (_positive, 3600.0),
    "metrics_port": (_port_or_zero, 0),
    "text_retention_days": (_positive, 90.0),
    "health": (MAPPING, {}),
    "patterns": (MAPPING, {}),
    "budget": (MAPPING, {}),
    "alerts": (MAPPING, {}),
    "web": (MAPPING, {}),
    "community": (MAPPING, {}),
}
COMMUNITY_KEYS: dict[str, tuple[Check, Any]] = {
    "page": (STR, ""),
    "editors": (_list_of(str, "group names"), ["sysop", "interface-admin"]),
    "poll_seconds": (_positive, 60.0),
    "min_threshold": (_probability, 0.5),
    "locked": (_list_of(str, "categories"), ["threat", "self_harm", "pii", "outing"]),
}
BUDGET_KEYS: dict[str, tuple[Check, Any]] = {
    "seconds": (_positive, 5.0),
    "chars": (_count, 20_000),
    "workers": (_count, 2),
}
HEALTH_KEYS: dict[str, tuple[Check, Any]] = {"stale_seconds": (_positive, 900.0)}
PATTERN_KEYS: dict[str, tuple[Check, Any]] = {"repeat": (MAPPING, {}), "hounding": (MAPPING, {})}
HOUNDING_KEYS: dict[str, tuple[Check, Any]] = {
    "pages": (_count, 5),
    "hours": (_positive, 24.0),
    "days": (_positive, 14.0),
    "max_chance": (_probability, 1e-4),
    "long_hours": (_hours_or_zero, 168.0),
}
REPEAT_KEYS: dict[str, tuple[Check, Any]] = {
    "count": (_count, 3),
    "days": (_positive, 7.0),
    "borderline": (_probability, 0.0),
}
WEB_KEYS: dict[str, tuple[Check, Any]] = {
    "oauth_client_id": (STR, ""),
    "oauth_client_secret_env": (STR, "FLAGBOT_OAUTH_SECRET"),
    "oauth_wiki": (STR, ""),
    "secret_key_env": (STR, "FLAGBOT_WEB_SECRET"),
    "admin_groups": (_list_of(str, "group names"), ["sysop"]),
    "oversight_groups": (_list_of(str, "group names"), ["suppress", "oversight"]),
    "groups_refresh_seconds": (_positive, 600.0),
    "secure_cookies": (BOOL, True),
    "page_size": (_count, 50),
    "metrics": (BOOL, False),
    "base_url": (_base_url, ""),
    "reports_per_day": (_count, 3),
    "reporter_shown_to": (_one_of(("oversighters", "reviewers")), "oversighters"),
    "report_stats_groups": (_list_of(str, "group names"), []),
    "answer_hours": (MAPPING, dict(DEFAULT_ANSWER_HOURS)),
}


def _section(
    data: Any, keys: dict[str, tuple[Check, Any]], where: str, problems: list[str]
) -> dict[str, Any]:
    prefix = f"{where}." if where else ""
    if not isinstance(data, dict):
        problems.append(f"{where or '(top)'}: expected a mapping")
        return {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in keys:
            problems.append(f"{prefix}{key}: unknown key; allowed: {', '.join(keys)}")
    for key, (check, default) in keys.items():
        if key not in data or data[key] is None:
            if default is REQUIRED:
                problems.append(f"{prefix}{key}: missing required value")
            else:
                out[key] = default
            continue
        wrong = check(data[key])
        if wrong:
            problems.append(f"{prefix}{key}: {wrong}")
        else:
            out[key] = data[key]
    return out


def _beside(origin: str, path: str) -> str:
    """A relative path in a config file is relative to that file's directory."""
    if not path or Path(path).is_absolute() or origin.startswith("<"):
        return path
    return str(Path(origin).resolve().parent / path)


MAX_YAML_CHARS = 1_000_000  # flagbot.yaml and rules.yaml are a few kilobytes
MAX_YAML_NODES = 200_000  # values after expanding aliases (rules.yaml: about 2,000)


def yaml_problem(text: str) -> str | None:
    """Why a YAML text is refused before it is built: too large, or aliases that expand beyond
    MAX_YAML_NODES values (a 600-byte "billion laughs" printed 312 MB of error text). Aliases
    that stay small (a shared list of namespaces) are fine."""
    if len(text) > MAX_YAML_CHARS:
        return f"larger than {MAX_YAML_CHARS:,} characters; refusing to read it"
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None  # the parser says what is wrong
    sizes: dict[int, int] = {}

    def expanded(node: yaml.Node) -> int:  # aliases share nodes: count each use, build none
        if id(node) not in sizes:
            sizes[id(node)] = 0  # a recursive alias counts once
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            sizes[id(node)] = 1 + sum(min(expanded(c), MAX_YAML_NODES + 1) for c in children)
        return sizes[id(node)]

    if root is not None and expanded(root) > MAX_YAML_NODES:
        return f"its aliases expand to more than {MAX_YAML_NODES:,} values; refusing to read it"
    return None


def load_settings(path: str | Path) -> Settings:
    """Read and validate a config file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        problem = yaml_problem(text)
        if problem:
            raise ConfigError(f"{path}: {problem}")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file (a YAML config is text)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return settings_from_dict(data, str(path))


def settings_from_dict(data: Any, origin: str) -> Settings:
    problems: list[str] = []
    top = _section(data, TOP_KEYS, "", problems)
    wikis: list[WikiSettings] = []
    listed = top.get("wikis")
    selection = listed if listed is not None and not isinstance(listed, list) else None
    if selection is not None:
        from flagbot.sitematrix import resolved, selection_problems

        problems.extend(selection_problems(selection))
        if not problems:
            wikis.extend(resolved(selection, origin))
    for i, raw in enumerate(listed if isinstance(listed, list) else []):
        wiki = _section(raw, WIKI_KEYS, f"wikis[{i}]", problems)
        if len(wiki) == len(WIKI_KEYS):
            wiki["url"] = wiki["url"].rstrip("/")
            wiki["script_path"] = wiki["script_path"].rstrip("/")  # "/" is an empty path
            fields: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in wiki.items()
            }
            wikis.append(WikiSettings(**fields))
    if "wikis" in top and not top["wikis"] or (selection is not None and not wikis):
        problems.append("wikis: needs at least one wiki")
    source = _section(top.get("source", {}), SOURCE_KEYS, "source", problems)
    if source.get("type") == "replay" and not source.get("path"):
        problems.append("source.path: missing required value for the replay source (a .jsonl file)")
    thresholds = top.get("thresholds", {})
    for category, value in thresholds.items():
        if category not in CATEGORIES:
            problems.append(
                f"thresholds.{category}: unknown category; allowed: {', '.join(CATEGORIES)}"
            )
        elif _probability(value):
            problems.append(f"thresholds.{category}: {_probability(value)}")
    alerts = _alert_settings(top.get("alerts", {}), problems)
    web = _section(top.get("web", {}), WEB_KEYS, "web", problems)
    health = _section(top.get("health", {}), HEALTH_KEYS, "health", problems)
    patterns = _section(top.get("patterns", {}), PATTERN_KEYS, "patterns", problems)
    repeat = _section(patterns.get("repeat", {}), REPEAT_KEYS, "patterns.repeat", problems)
    hounding = _section(patterns.get("hounding", {}), HOUNDING_KEYS, "patterns.hounding", problems)
    budget = _section(top.get("budget", {}), BUDGET_KEYS, "budget", problems)
    community = _section(top.get("community", {}), COMMUNITY_KEYS, "community", problems)
    for category in community.get("locked", []):
        if category not in CATEGORIES:
            problems.append(
                f"community.locked: {category!r} is not a category; "
                f"allowed: {', '.join(CATEGORIES)}"
            )
    for category, hours in web.get("answer_hours", {}).items():
        if category not in (*REPORT_CATEGORIES, "default") or _positive(hours):
            problems.append(
                f"web.answer_hours.{category}: expected a report category "
                f"({', '.join(REPORT_CATEGORIES)} or default) and a positive number of hours"
            )
    if web.get("oauth_wiki") and web["oauth_wiki"] not in {w.id for w in wikis}:
        problems.append(f"web.oauth_wiki: {web['oauth_wiki']!r} is not one of the wikis")
    if problems:
        raise ConfigError("\n".join(f"{origin}: {p}" for p in problems))
    return Settings(
        origin=origin,
        user_agent_contact=top["user_agent_contact"],
        wikis=tuple(wikis),
        wiki_selection=selection,
        source=SourceSettings(**{**source, "path": _beside(origin, source.get("path", ""))}),
        model=top["model"],
        cascade=top["cascade"],
        rules=_beside(origin, top["rules"]) or str(project_path("rules.yaml")),
        store=top["store"],
        thresholds=MappingProxyType(dict(thresholds)),
        diff_workers=int(top["diff_workers"]),
        max_diff_chars=int(top["max_diff_chars"]),
        batch_size=int(top["batch_size"]),
        purge_interval=float(top["purge_interval"]),
        metrics_port=top["metrics_port"],
        text_retention_days=float(top["text_retention_days"]),
        stale_seconds=float(health.get("stale_seconds", 900.0)),
        repeat=RepeatSettings(**repeat) if len(repeat) == len(REPEAT_KEYS) else RepeatSettings(),
        hounding=HoundingSettings(**hounding)
        if len(hounding) == len(HOUNDING_KEYS)
        else HoundingSettings(),
        budget=BudgetSettings(**budget) if len(budget) == len(BUDGET_KEYS) else BudgetSettings(),
        community=CommunitySettings(
            page=community["page"],
            editors=tuple(community["editors"]),
            poll_seconds=float(community["poll_seconds"]),
            min_threshold=float(community["min_threshold"]),
            locked=tuple(community["locked"]),
        ),
        alerts=alerts,
        web=_web_settings(web),
    )


def _web_settings(web: dict[str, Any]) -> WebSettings:
    return WebSettings(
        oauth_client_id=web["oauth_client_id"],
        oauth_client_secret_env=web["oauth_client_secret_env"],
        oauth_wiki=web["oauth_wiki"],
        secret_key_env=web["secret_key_env"],
        admin_groups=tuple(web["admin_groups"]),
        oversight_groups=tuple(web["oversight_groups"]),
        groups_refresh_seconds=float(web["groups_refresh_seconds"]),
        secure_cookies=web["secure_cookies"],
        page_size=int(web["page_size"]),
        metrics=web["metrics"],
        base_url=web["base_url"],
        reports_per_day=int(web["reports_per_day"]),
        reporter_shown_to=web["reporter_shown_to"],
        report_stats_groups=tuple(web["report_stats_groups"]),
        answer_hours=MappingProxyType({**DEFAULT_ANSWER_HOURS, **web["answer_hours"]}),
    )


# --- the alerts section -----------------------------------------------------------------------


def _recipient(value: Any) -> str | None:
    if not isinstance(value, str) or value.partition(":")[0] not in CHANNELS or ":" not in value:
        return f"{value!r} is not `channel:address`; channels: {', '.join(CHANNELS)}"
    return None


def _route_lists(value: Any, where: str, problems: list[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping of route: [channel:address, ...]")
        return out
    for route, items in value.items():
        if not isinstance(items, list):
            problems.append(f"{where}.{route}: expected a list of channel:address")
            continue
        wrong = [w for w in map(_recipient, items) if w]
        problems.extend(f"{where}.{route}: {w}" for w in wrong)
        out[str(route)] = tuple(items)
    return out


ALERT_KEYS: dict[str, tuple[Check, Any]] = {
    "routes": (MAPPING, {}),
    "recipients": (MAPPING, {}),
    "wiki_recipients": (MAPPING, {}),
    "review_url": (STR, ""),
    "sender": (STR, "flagbot@localhost"),
    "outbox": (STR, "outbox"),
    "smtp": (MAPPING, {}),
    "limits": (MAPPING, {}),
    "burst_seconds": (_positive, 600.0),
    "stale_check": (MAPPING, {}),
    "kill_switch": (MAPPING, {}),
    "auto_throttle": (MAPPING, {}),
    "interval": (_positive, 5.0),
    "mode": (_one_of(ALERT_MODES), "send"),
    "global_routes": (MAPPING, {}),
}
SMTP_KEYS: dict[str, tuple[Check, Any]] = {
    "host": (STR, "localhost"),
    "port": (_count, 25),
    "security": (_one_of(("starttls", "ssl", "none")), "starttls"),
    "username": (STR, ""),
    "password_env": (STR, "FLAGBOT_SMTP_PASSWORD"),
    "timeout": (_positive, 30.0),
}
STALE_KEYS: dict[str, tuple[Check, Any]] = {
    "enabled": (BOOL, True),
    "always_send": (_list_of(str, "route names"), ["emergency"]),
}
KILL_KEYS: dict[str, tuple[Check, Any]] = {"page": (STR, ""), "cache_seconds": (_positive, 60.0)}
THROTTLE_KEYS: dict[str, tuple[Check, Any]] = {
    "factor": (_positive, 10.0),
    "min_per_hour": (_count, 30),
    "operator": (lambda v: None if v == "" else _recipient(v), ""),
}


def _check_route_names(
    routes: Mapping[str, tuple[str, ...]],
    recipients: Mapping[str, tuple[str, ...]],
    wiki_recipients: Mapping[str, Mapping[str, tuple[str, ...]]],
    problems: list[str],
) -> None:
    """A misspelt route sends nothing, silently: every route named must exist somewhere, and a
    category whose routes reach nobody is a warning (its flags wait in the review queue only)."""
    with_recipients = set(recipients).union(*(set(r) for r in wiki_recipients.values()))
    known = {REVIEW_ROUTE, OVERSIGHT_ROUTE, EMERGENCY_ROUTE} | with_recipients
    for category, names in routes.items():
        for name in names:
            if name not in known:
                problems.append(
                    f"alerts.routes.{category}: unknown route {name!r}; known: "
                    f"{', '.join(sorted(known))} (a route is known once it has recipients)"
                )
    used = {name for names in routes.values() for name in names}
    for where, named in [("alerts.recipients", recipients)] + [
        (f"alerts.wiki_recipients.{w}", r) for w, r in wiki_recipients.items()
    ]:
        for route in named:
            if route not in used | {REVIEW_ROUTE, OVERSIGHT_ROUTE, EMERGENCY_ROUTE}:
                problems.append(
                    f"{where}.{route}: no category is routed to {route!r}; routes in use: "
                    f"{', '.join(sorted(used))}"
                )
    for category, names in routes.items():
        if not with_recipients.intersection(names):
            log.warning(
                "alerts: %s flags reach nobody by mail (routes %s have no recipients); "
                "they wait in the review queue",
                category,
                ", ".join(names) or "none",
            )


def _alert_settings(data: Any, problems: list[str]) -> AlertSettings:
    before = len(problems)
    top = _section(data, ALERT_KEYS, "alerts", problems)
    if not top or len(problems) > before:  # a key of the wrong type is left out of `top`
        return AlertSettings()
    smtp = _section(top["smtp"], SMTP_KEYS, "alerts.smtp", problems)
    stale = _section(top["stale_check"], STALE_KEYS, "alerts.stale_check", problems)
    kill = _section(top["kill_switch"], KILL_KEYS, "alerts.kill_switch", problems)
    throttle = _section(top["auto_throttle"], THROTTLE_KEYS, "alerts.auto_throttle", problems)
    routes = dict(DEFAULT_ROUTES)
    for category, value in top["routes"].items():
        if category not in (*CATEGORIES, "emergency"):
            problems.append(
                f"alerts.routes.{category}: unknown category; allowed: "
                f"{', '.join(CATEGORIES)}, emergency (the severity)"
            )
        elif not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            problems.append(f"alerts.routes.{category}: expected a list of route names")
        elif category in OVERSIGHT_CATEGORIES and OVERSIGHT_ROUTE not in value:
            problems.append(
                f"alerts.routes.{category}: must include {OVERSIGHT_ROUTE}: only oversighters "
                f"see {category} flags in the review queue"
            )
        else:
            routes[category] = tuple(value)
    limits = {"wikimail": 20, "smtp": 200}
    for channel, value in top["limits"].items():
        if (
            channel not in CHANNELS
            or isinstance(value, bool)
            or not isinstance(value, int)
            or value < 0
        ):
            problems.append(
                f"alerts.limits.{channel}: expected channel: messages per day "
                f"(0 = no limit); channels: {', '.join(CHANNELS)}"
            )
        else:
            limits[channel] = value
    wiki_recipients = {
        str(wiki): MappingProxyType(_route_lists(value, f"alerts.wiki_recipients.{wiki}", problems))
        for wiki, value in top["wiki_recipients"].items()
    }
    recipients = _route_lists(top["recipients"], "alerts.recipients", problems)
    global_routes = top["global_routes"]
    for route, target in global_routes.items():
        if not isinstance(target, str) or target not in recipients:
            problems.append(
                f"alerts.global_routes.{route}: {target!r} must be a route with recipients in "
                f"alerts.recipients (known: {', '.join(sorted(recipients)) or 'none'})"
            )
    # a global route is reached through the route it stands in for, not named by categories
    shared = {r: x for r, x in recipients.items() if r not in set(global_routes.values())}
    shared.update(
        {r: recipients.get(t, ()) for r, t in global_routes.items() if isinstance(t, str)}
    )
    _check_route_names(routes, shared, wiki_recipients, problems)
    if len(problems) > before:
        return AlertSettings()  # the problems are reported; nothing is built from a bad section
    return AlertSettings(
        routes=MappingProxyType(routes),
        recipients=MappingProxyType(recipients),
        wiki_recipients=MappingProxyType(wiki_recipients),
        review_url=top["review_url"],
        sender=top["sender"],
        outbox=top["outbox"],
        smtp_host=smtp["host"],
        smtp_port=smtp["port"],
        smtp_security=smtp["security"],
        smtp_username=smtp["username"],
        smtp_password_env=smtp["password_env"],
        smtp_timeout=float(smtp["timeout"]),
        limits=MappingProxyType(limits),
        burst_seconds=float(top["burst_seconds"]),
        stale_check=stale["enabled"],
        always_send=tuple(stale["always_send"]),
        kill_switch_page=kill["page"],
        kill_switch_cache=float(kill["cache_seconds"]),
        throttle_factor=float(throttle["factor"]),
        throttle_min_per_hour=int(throttle["min_per_hour"]),
        operator=throttle["operator"],
        interval=float(top["interval"]),
        mode=top["mode"],
        global_routes=MappingProxyType(dict(global_routes)),
    )
