"""RecentChange from EventStreams JSON, MediaWiki RC-feed JSON and API rows.

This is the only module that knows the shape of a recent-change event. Anything malformed
raises BadEvent with a short reason that is safe to log and count; the event's content is never
put into an exception or a log line above DEBUG.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flagbot.errors import BadEvent

EDIT_TYPES = frozenset({"edit", "new"})
EARLIEST = 978_307_200  # 2001-01-01: no wiki edit is older
FUTURE_SLACK = 86_400  # clocks drift, but an edit a day ahead of ours is not real
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (from a bad JSON escape such as "\\ud800") and NUL replaced
    by U+FFFD.

    UTF-8 cannot encode the former and PostgreSQL's text cannot hold the latter, so the store and
    mail would fail on them; dropping the edit instead would let abuse through by adding one
    odd escape.
    """
    return UNSTORABLE.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class RecentChange:
    """One change on one wiki, whatever feed it came from."""

    wiki: str
    server_url: str
    script_path: str
    namespace: int
    title: str
    user: str
    bot: bool
    type: str
    old_rev: int | None
    new_rev: int | None
    timestamp: int
    comment: str
    rcid: int | None = None
    position: str | None = None
    added_text: str | None = None  # replay files only: the text the edit added, no diff fetch
    log_id: int | None = None  # log entries (type "log") only
    log_type: str | None = None  # "move", "newusers", …
    target_title: str | None = None  # a page move's new title

    @property
    def key(self) -> int:
        """What identifies the change on its wiki in the store: the revision id, or for a log
        entry (a move, an account creation: no revision) its log id, negated."""
        return self.new_rev or -(self.log_id or 0)

    @property
    def diff_url(self) -> str:
        # an empty $wgScriptPath arrives as "/" (the pipeline rebases changes onto the
        # configured wiki's URL before anything is stored or sent)
        base = f"{self.server_url.rstrip('/')}{self.script_path.rstrip('/')}/index.php"
        if self.new_rev is None and self.log_id:
            return f"{base}?title=Special:Log&logid={self.log_id}"
        if self.old_rev:
            return f"{base}?diff={self.new_rev}&oldid={self.old_rev}"
        return f"{base}?oldid={self.new_rev}"


def _field(
    obj: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...
) -> Any:
    if name not in obj or obj[name] is None:
        if default is ...:
            raise BadEvent(f"missing_field:{name}")
        return default
    value = obj[name]
    # bool is an int in Python; an integer field must not accept true/false
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadEvent(f"wrong_type:{name}")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:  # the store holds 64 bits
        raise BadEvent(f"out_of_range:{name}")
    return valid_unicode(value) if isinstance(value, str) else value


def _revisions(obj: dict[str, Any], change_type: str) -> tuple[int | None, int | None]:
    if change_type not in EDIT_TYPES:
        return None, None
    revision = _field(obj, "revision", dict)
    new = _field(revision, "new", int)
    old = _field(revision, "old", int, None)
    if new <= 0 or (old is not None and old < 0):
        raise BadEvent("out_of_range:revision")
    return (old or None), new


def _log_entry(
    obj: dict[str, Any], change_type: str, id_field: str, type_field: str, params_field: str
) -> dict[str, Any]:
    """log_id, log_type and a move's target_title, for a log entry (EventStreams sends
    `log_params.target`, the Action API `logparams.target_title`)."""
    if change_type != "log":
        return {}
    log_id = _field(obj, id_field, int, None)
    log_type = _field(obj, type_field, str, None)
    params = obj.get(params_field)
    target = None
    if log_type == "move" and isinstance(params, dict):
        target = params.get("target", params.get("target_title"))
        if target is not None and not isinstance(target, str):
            raise BadEvent("wrong_type:log_params")
        target = valid_unicode(target) if target else None
    if log_id is not None and log_id <= 0:
        log_id = None  # MediaWiki's tests send 0: no entry to link to
    return {"log_id": log_id, "log_type": log_type, "target_title": target}


def _timestamp(seconds: int) -> int:
    """An edit time within reason: a saved position of 1970 would re-read a wiki's history."""
    if not EARLIEST <= seconds <= time.time() + FUTURE_SLACK:
        raise BadEvent("out_of_range:timestamp")
    return seconds


def _change_type(obj: dict[str, Any]) -> str:
    """The change type; Flow/StructuredDiscussions sends 142 as a number or a string."""
    value = obj.get("type")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return str(_field(obj, "type", str))


def parse_event(
    raw: str | bytes | dict[str, Any], position: str | None = None
) -> RecentChange | None:
    """Parse an EventStreams or RC-feed event; None for a canary event (to be dropped).

    Whatever the input, the only exception is BadEvent: an event that makes parsing itself fail
    (JSON nested 100,000 deep) is `poison:<error>`, so no event can stop a source.
    """
    try:
        return _parse_event(raw, position)
    except BadEvent:
        raise
    except Exception as exc:
        raise BadEvent(f"poison:{type(exc).__name__}") from None


def _parse_event(raw: str | bytes | dict[str, Any], position: str | None) -> RecentChange | None:
    if isinstance(raw, str | bytes):
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadEvent("not_json") from None
    else:
        obj = raw
    if not isinstance(obj, dict):
        raise BadEvent("not_object")
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise BadEvent("wrong_type:meta")
    if meta and meta.get("domain") == "canary":
        return None
    change_type = _change_type(obj)
    old, new = _revisions(obj, change_type)
    return RecentChange(
        wiki=_field(obj, "wiki", str),
        server_url=_field(obj, "server_url", str),
        script_path=_field(obj, "server_script_path", str, "/w"),
        namespace=_field(obj, "namespace", int),
        title=_field(obj, "title", str),
        user=_field(obj, "user", str, ""),
        bot=_field(obj, "bot", bool, False),
        type=change_type,
        old_rev=old,
        new_rev=new,
        timestamp=_timestamp(_field(obj, "timestamp", int)),
        comment=_field(obj, "comment", str, ""),
        rcid=_field(obj, "id", int, None),
        position=position,
        added_text=_field(obj, "added_text", str, None),
        **_log_entry(obj, change_type, "log_id", "log_type", "log_params"),
    )


def _api_flag(row: dict[str, Any], name: str) -> bool:
    """A boolean of an API row: `true` in formatversion 2, present as `""` in formatversion 1."""
    value = row.get(name, False)
    return value is not False and value is not None


def parse_api_row(
    row: dict[str, Any], wiki: str, server_url: str, script_path: str, position: str | None = None
) -> RecentChange:
    """Parse one `list=recentchanges` row (formatversion 2); the API does not name the wiki."""
    if not isinstance(row, dict):
        raise BadEvent("not_object")
    change_type = _change_type(row)
    old = new = None
    if change_type in EDIT_TYPES:
        new = _field(row, "revid", int)
        old = _field(row, "old_revid", int, 0) or None
    try:
        when = datetime.strptime(_field(row, "timestamp", str), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise BadEvent("wrong_type:timestamp") from None
    return RecentChange(
        wiki=wiki,
        server_url=server_url,
        script_path=script_path,
        namespace=_field(row, "ns", int),
        title=_field(row, "title", str),
        user=_field(row, "user", str, ""),
        bot=_api_flag(row, "bot"),
        type=change_type,
        old_rev=old,
        new_rev=new,
        timestamp=_timestamp(int(when.replace(tzinfo=UTC).timestamp())),
        comment=_field(row, "comment", str, ""),
        rcid=_field(row, "rcid", int, None),
        position=position,
        **_log_entry(row, change_type, "logid", "logtype", "logparams"),
    )
