"""The review queue's pages: queue, flag, decisions, stats, audit log and the labels export."""

from __future__ import annotations

import io
import math
import time
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, abort, g, redirect, render_template, request, session, url_for

from flagbot import patterns
from flagbot.config import CATEGORIES
from flagbot.errors import FetchError
from flagbot.messages import html_message
from flagbot.store import PATTERN_KIND, SECOND_REVIEW, Flag
from flagbot.web.auth import (
    OVERSIGHTER,
    can_see,
    csrf_token,
    oversees,
    oversighter,
    reviewer,
    role,
    role_on,
)
from flagbot.web.services import services

# the labels are messages: flagbot-decision-<key>, flagbot-flagstatus-<status>, flagbot-kind-<kind>
DECISIONS = ("confirm", "false_positive", "handled", "oversight")
STATUSES = ("new", *DECISIONS, SECOND_REVIEW)
KINDS = ("edit", "name", "report", "pattern")
SCORE_BANDS = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.9), (0.9, 0.95), (0.95, 1.01))
TRUE_POSITIVE = {"confirm", "handled", "oversight"}


def init(app: Flask) -> None:
    from flagbot.web import reports

    reports.init(app)
    app.jinja_env.globals.update(
        csrf_token=csrf_token, role=role, role_on=role_on, OVERSIGHTER=OVERSIGHTER
    )
    app.jinja_env.filters["utc"] = lambda ts: time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts or 0))
    app.jinja_env.filters["urlencode_without_page"] = lambda args: urlencode(
        [(k, v) for k, v in args.items(multi=True) if k != "page"]
    )

    @app.errorhandler(403)
    def forbidden(_error: Any) -> Any:
        message = html_message(g.get("language", "en"), "flagbot-noaccess")
        return render_template("error.html", message=message), 403

    @app.get("/")
    @reviewer
    def queue() -> Any:
        store = services().store
        args = request.args
        age = _number(args.get("age"), 0)
        rows = store.find_flags(
            wiki=args.get("wiki", ""),
            status=args.get("status", ""),
            min_score=_number(args.get("min_score"), 0.0),
            max_score=_number(args.get("max_score"), 1.0),
            since=time.time() - age * 86400 if age else 0.0,
            order=_queue_order(args.get("order", ""), args.get("kind", "")),
            kind=args.get("kind", "") if args.get("kind") in KINDS else "",
        )
        category = args.get("category", "")
        visible = [f for f in rows if can_see(f) and (not category or category in f.categories)]
        size = services().settings.web.page_size
        page = max(1, int(_number(args.get("page"), 1)))
        shown = visible[(page - 1) * size : page * size]
        store.audit(session["user"], "view_queue", None, request.query_string.decode()[:200])
        return render_template(
            "queue.html",
            flags=shown,
            total=len(visible),
            page=page,
            pages=max(1, -(-len(visible) // size)),
            args=args,
            wikis=[w.id for w in services().settings.wikis],
            categories=CATEGORIES,
            statuses=STATUSES,
            kinds=KINDS,
        )

    @app.get("/flag/<int:flag_id>")
    @reviewer
    def flag(flag_id: int) -> Any:
        store = services().store
        _purge_if_hidden(_visible_flag(flag_id))
        found = store.flag(flag_id)  # again: the purge may have just removed the text
        store.audit(session["user"], "view_flag", flag_id, "")
        report = store.report_for_flag(flag_id) if found and found.kind == "report" else None
        assessed = None
        if found and report:
            from flagbot.web.reports import assessment, set_status

            if report["status"] in ("received", "delayed"):
                set_status(flag_id, "in review")  # the reporter sees someone looked
            assessed = assessment(found, report)
        return render_template(
            "flag.html",
            flag=found,
            report=report,
            assessed=assessed,
            reporter_shown=found is not None and _reporter_shown(found.wiki),
            owner=page_owner(found) if found else "",
            pattern=_with_reverts(found, store.pattern_details(flag_id).get(flag_id))
            if found and found.kind == PATTERN_KIND
            else None,
            history=store.decisions_for(flag_id),
            decisions=DECISIONS,
            additions=store.additions_to(report["id"]) if report else [],
            now=time.time(),
        )

    @app.post("/flag/<int:flag_id>/decide")
    @reviewer
    def decide(flag_id: int) -> Any:
        store = services().store
        found = _visible_flag(flag_id)
        decision = request.form.get("decision", "")
        note = request.form.get("note", "")[:2000]
        if decision not in DECISIONS and not note:
            abort(400, "unknown decision")
        if decision in DECISIONS:
            second = bool(request.form.get("second"))
            status = store.record_decision(flag_id, session["user"], decision, note, second)
            if found.kind == "report":
                from flagbot.web.reports import decided

                decided(flag_id, status)
            if status == "oversight":
                _route_to_oversight(found)
        else:
            store.audit(session["user"], "note", flag_id, note)
        return redirect(url_for("flag", flag_id=flag_id))

    @app.get("/case")
    @reviewer
    def case() -> Any:
        """Flags and reports about one user, or between two, in time order: harassment is
        repetitive, and one remark rarely shows it."""
        store = services().store
        wiki = request.args.get("wiki", "")
        user = patterns.user_name(request.args.get("user", ""))
        other = patterns.user_name(request.args.get("with", ""))
        if services().settings.wiki(wiki) is None or not user:
            abort(400, "name a configured wiki and a user")
        names = [n for n in (user, other) if n]
        timeline = []
        for found, targets in store.case_flags(wiki, names):
            how = [(n, concerns(found, targets, n)) for n in names]
            if can_see(found) and all(key for _n, key in how):
                timeline.append((found, how))
        store.audit(session["user"], "view_case", None, f"{wiki} {' / '.join(names)}"[:200])
        return render_template("case.html", wiki=wiki, names=names, timeline=timeline)

    @app.get("/stats")
    @reviewer
    def stats() -> Any:
        store = services().store
        flags = [f for f in store.find_flags() if can_see(f)]
        per_day = Counter(time.strftime("%Y-%m-%d", time.gmtime(f.created)) for f in flags)
        days = sorted(per_day)[-30:]
        outcome: dict[str, Counter[str]] = defaultdict(Counter)
        bands: dict[str, Counter[str]] = defaultdict(Counter)
        for f in flags:
            if f.status not in TRUE_POSITIVE and f.status != "false_positive":
                continue
            verdict = "tp" if f.status in TRUE_POSITIVE else "fp"
            for rule in f.rule_ids or ("(model only)",):
                outcome[rule][verdict] += 1
            low, high = next(b for b in SCORE_BANDS if b[0] <= f.score < b[1])
            bands[f"{low:.2f}–{min(high, 1.0):.2f}"][verdict] += 1
        store.audit(session["user"], "view_stats", None, "")
        unread = sorted(  # edits in a language the model cannot read: counted, never hidden
            (outcome.partition(":")[2], count)
            for outcome, count in store.outcome_counts().items()
            if outcome.startswith("unsupported_language:")
        )
        return render_template(
            "stats.html",
            unread=unread,
            per_day=[(d, per_day[d]) for d in days],
            most=max(per_day.values(), default=1),
            rules=_precision(outcome),
            bands=_precision(bands),
        )

    @app.get("/audit")
    @oversighter
    def audit_log() -> Any:
        store = services().store
        store.audit(session["user"], "view_audit", None, "")
        overseen = oversees()
        everywhere = {w.id for w in services().settings.wikis} <= overseen
        entries = store.audit_entries(None if everywhere else overseen, session["user"])
        return render_template("audit.html", entries=entries)

    @app.get("/export.csv")
    @oversighter
    def export() -> Any:
        from flagbot.training import write_labels

        store = services().store
        buffer = io.StringIO()
        counts = write_labels(store, buffer, wikis=oversees(), spreadsheet_safe=True)
        store.audit(session["user"], "export_labels", None, f"{counts['rows']} rows")
        return Response(
            buffer.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=flagbot-labels.csv"},
        )


def page_owner(flag: Flag) -> str:
    """Whose user page or user talk page (or subpage) the flag is on; "" for other pages."""
    return patterns.page_owner(flag.namespace, flag.title)


def concerns(flag: Flag, targets: str, name: str) -> str:
    """How a flag concerns a user (a message key's end: flagbot-case-…), "" if it does not: by
    them, on their page, or a report naming them."""
    if flag.user == name:
        return "report-about-them" if flag.kind == "report" else "by-them"
    if page_owner(flag) == name:
        return "on-their-page"
    for line in targets.splitlines() if flag.kind == "report" else ():
        prefix, _, rest = line.partition(":")
        user_page = prefix.replace("_", " ").strip().lower() in ("user", "user talk")
        if user_page and patterns.user_name(rest.split("/")[0]) == name:
            return "named-in-a-report"
    return ""


def _reporter_shown(wiki: str) -> bool:
    """Whether this reviewer may see who reported: oversighters, or every reviewer when
    web.reporter_shown_to says so."""
    if services().settings.web.reporter_shown_to == "reviewers":
        return True
    return role_on(wiki) == OVERSIGHTER


def _visible_flag(flag_id: int) -> Flag:
    """The flag, or 404 — the same answer whether it does not exist or is not theirs to see."""
    found = services().store.flag(flag_id)
    if found is None or not can_see(found):
        abort(404)
    return found


def _number(value: str | None, default: float) -> float:
    """A query number; anything else (words, inf, nan: `int(inf)` raised a 500) is `default`."""
    try:
        number = float(value) if value not in (None, "") else default
    except ValueError:
        return default
    return number if math.isfinite(number) and abs(number) < 1e12 else default


def _precision(counts: dict[str, Counter[str]]) -> list[tuple[str, int, int, float]]:
    rows = []
    for key, c in sorted(counts.items()):
        total = c["tp"] + c["fp"]
        rows.append((key, c["tp"], c["fp"], c["tp"] / total if total else 0.0))
    return rows


REVERT_TAGS = {"mw-rollback": "rollback", "mw-undo": "undo", "mw-manual-revert": "manual revert"}


def _with_reverts(flag: Flag, pattern: dict[str, Any] | None) -> dict[str, Any] | None:
    """A hounding timeline with, per follower's edit, whether it reverted (the wiki's change
    tags, asked now: the stream carries none): "undo", "rollback", "manual revert", "" for
    none, None when the wiki cannot be read."""
    if not pattern or pattern["pattern"] != patterns.HOUNDING_PATTERN:
        return pattern
    try:
        tags = services().tags(flag.wiki, [e["rev_id"] for e in pattern["edits"]])
    except FetchError:
        tags = None
    for edit in pattern["edits"]:
        found = None if tags is None else tags.get(edit["rev_id"], ())
        edit["revert"] = (
            None
            if found is None
            else ", ".join(name for tag, name in REVERT_TAGS.items() if tag in found)
        )
    return pattern


def _purge_if_hidden(flag: Flag) -> None:
    """Check on view: text of a revision the wiki hides now is purged from the store."""
    if flag.purged_at or not flag.text:
        return
    try:
        state = services().revision(flag.wiki, flag.rev_id)
    except FetchError:
        return  # unknown: show what is stored, check again on the next view
    if state in ("hidden", "missing"):
        services().store.purge_text(flag.wiki, flag.rev_id, "flagbot-web", state)


def _route_to_oversight(flag: Flag) -> None:
    """ "Needs oversight": the flag leaves the admins' queue and the oversighters are told."""
    recipients = services().settings.alerts.recipients_for(flag.wiki, "oversight")
    services().store.queue_route_once(flag.id, "oversight", recipients)


def _queue_order(asked: str, kind: str) -> str:
    """Score or newest as asked; reports, by default, those waiting past (or nearest) their
    answer date first."""
    if asked in ("score", "newest"):
        return asked
    return "due" if kind == "report" else "newest"
