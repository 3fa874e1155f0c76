"""Load and validate flagbot.yaml into frozen settings; unknown keys are errors.

Every problem is reported as `file: key: what is wrong, what is allowed`, all of them at once,
so an operator fixes the file in one go. Secrets never live here: pywikibot's password file and
environment variables hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from flagbot.errors import ConfigError

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
)
SEVERITIES = ("low", "medium", "high", "emergency")
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


@dataclass(frozen=True)
class Settings:
    origin: str
    user_agent_contact: str
    wikis: tuple[WikiSettings, ...]
    source: SourceSettings
    model: str
    rules: str
    store: str
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    diff_workers: int = 4
    max_diff_chars: int = 20000
    batch_size: int = 200
    alerts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def wiki(self, wiki_id: str) -> WikiSettings | None:
        return next((w for w in self.wikis if w.id == wiki_id), None)


def embedded_default(store: str = "sqlite:///flagbot.sqlite3") -> Settings:
    """Offline demo: replay of the sample stream, shipped model and rules, dry-run alerts."""
    return Settings(
        origin="<embedded default>",
        user_agent_contact="flagbot embedded default (offline)",
        wikis=(WikiSettings(id="enwiki", url="https://en.wikipedia.org"),),
        source=SourceSettings(
            type="replay", path=str(project_path("training_data/sample_stream.jsonl"))
        ),
        model="default",
        rules=str(project_path("rules.yaml")),
        store=store,
        alerts=MappingProxyType({"channel": "dryrun", "outbox": "outbox"}),
    )


# --- validation -------------------------------------------------------------------------------

Check = Callable[[Any], str | None]  # returns what is wrong, or None


def _type(kind: type | tuple[type, ...], name: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            return f"expected {name}, got a boolean"
        return None if isinstance(value, kind) else f"expected {name}, got {type(value).__name__}"

    return check


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
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return "expected a positive number"
    return None


def _probability(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return "expected a number from 0 to 1"
    return None


STR, BOOL, INT = _type(str, "a string"), _type(bool, "true or false"), _type(int, "an integer")
MAPPING = _type(dict, "a mapping")

WIKI_KEYS: dict[str, tuple[Check, Any]] = {
    "id": (STR, REQUIRED),
    "url": (STR, REQUIRED),
    "script_path": (STR, "/w"),
    "namespaces": (_list_of(int, "integers"), []),
    "extra_pages": (_list_of(str, "page titles"), []),
    "skip_bots": (BOOL, True),
    "exempt_users": (_list_of(str, "user names"), []),
    "exempt_groups": (_list_of(str, "group names"), []),
}
SOURCE_KEYS: dict[str, tuple[Check, Any]] = {
    "type": (_one_of(SOURCE_TYPES), REQUIRED),
    "url": (STR, EVENTSTREAMS_URL),
    "path": (STR, ""),
    "poll_interval": (_positive, 10.0),
    "read_timeout": (_positive, 60.0),
    "max_backoff": (_positive, 300.0),
    "overlap_seconds": (INT, 60),
    "retention_days": (_positive, 7.0),
}
TOP_KEYS: dict[str, tuple[Check, Any]] = {
    "user_agent_contact": (STR, REQUIRED),
    "wikis": (_type(list, "a list of wikis"), REQUIRED),
    "source": (MAPPING, REQUIRED),
    "model": (STR, "default"),
    "rules": (STR, "rules.yaml"),
    "store": (STR, "sqlite:///flagbot.sqlite3"),
    "thresholds": (MAPPING, {}),
    "diff_workers": (_positive, 4),
    "max_diff_chars": (_positive, 20000),
    "batch_size": (_positive, 200),
    "alerts": (MAPPING, {}),
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


def load_settings(path: str | Path) -> Settings:
    """Read and validate a config file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return settings_from_dict(data, str(path))


def settings_from_dict(data: Any, origin: str) -> Settings:
    problems: list[str] = []
    top = _section(data, TOP_KEYS, "", problems)
    wikis = []
    for i, raw in enumerate(top.get("wikis") or []):
        wiki = _section(raw, WIKI_KEYS, f"wikis[{i}]", problems)
        if len(wiki) == len(WIKI_KEYS):
            wiki["url"] = wiki["url"].rstrip("/")
            fields: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in wiki.items()
            }
            wikis.append(WikiSettings(**fields))
    if "wikis" in top and not top["wikis"]:
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
    if problems:
        raise ConfigError("\n".join(f"{origin}: {p}" for p in problems))
    return Settings(
        origin=origin,
        user_agent_contact=top["user_agent_contact"],
        wikis=tuple(wikis),
        source=SourceSettings(**source),
        model=top["model"],
        rules=top["rules"],
        store=top["store"],
        thresholds=MappingProxyType(dict(thresholds)),
        diff_workers=int(top["diff_workers"]),
        max_diff_chars=int(top["max_diff_chars"]),
        batch_size=int(top["batch_size"]),
        alerts=MappingProxyType(dict(top["alerts"])),
    )
