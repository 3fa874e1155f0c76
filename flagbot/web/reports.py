"""Confidential reports: a person who is harassed (or sees someone harassed) tells the reviewers
privately, gets a reference number, and sees the report's status on /my-reports.

A report enters the same store, routes and queue as flags: it is a flag of kind "report" whose
text is the reporter's description (private like flagged text: never in an alert or a log line,
shown only to reviewers allowed to see its category). Threats and self-harm reach the emergency
route at once. The reporter sees only their own reports and their status — never who reviewed
them, never anything about the queue (the answer is the same whatever the queue holds).
"""

from __future__ import annotations

import calendar
import json
import re
import time
from typing import Any

from flask import Flask, abort, g, redirect, render_template, request, session, url_for

from flagbot.alerts import deliveries, one_line
from flagbot.community import CommunityPages
from flagbot.config import REPORT_CATEGORIES, WikiSettings
from flagbot.errors import FetchError
from flagbot.rules import RuleHit
from flagbot.scoring import decide
from flagbot.store import SECOND_REVIEW, Flag, Store, flag_row
from flagbot.store.reports import OPEN_STATUSES
from flagbot.web.services import services

MAX_TARGETS, MAX_TARGET_CHARS, MAX_DESCRIPTION_CHARS = 10, 500, 5000
ADDITIONS_PER_DAY = 5  # what a reporter may add to one report in 24 hours
# what a reviewer's decision on a report's flag tells the reporter
REPORT_STATUS = {
    "confirm": "acted on",
    "handled": "acted on",
    "oversight": "in review",
    "false_positive": "closed",
    SECOND_REVIEW: "in review",
}
DAY = 86400.0
# the revision a diff link shows: ?diff=N (the newer side), ?oldid=N, Special:Diff/[OLD/]N,
# Special:PermanentLink/N
REVISION_IN_LINK = re.compile(
    r"[?&]diff=(?P<diff>\d+)|[?&]oldid=(?P<oldid>\d+)"
    r"|Special:(?:Diff|PermanentLink)/(?:\d+/)?(?P<special>\d+)",
    re.IGNORECASE,
)


def init(app: Flask) -> None:
    @app.route("/report", methods=["GET", "POST"])
    def report() -> Any:
        """Any logged-in account may report (blocked users too: they are often the target)."""
        settings = services().settings
        wikis = [w.id for w in settings.wikis]
        if request.method == "GET":  # filled in from a wiki's "Report privately" link
            args = request.args
            chosen = args.get("wiki", "") if args.get("wiki") in wikis else ""
            targets = [one_line(t)[:MAX_TARGET_CHARS] for t in args.getlist("target")]
            category = args.get("category", "")
            return render_template(
                "report.html",
                wikis=wikis,
                categories=REPORT_CATEGORIES,
                chosen_wiki=chosen,
                targets="\n".join(t for t in targets[:MAX_TARGETS] if t),
                chosen_category=category if category in REPORT_CATEGORIES else "other",
            )
        form = request.form
        wiki, category = form.get("wiki", ""), form.get("category", "")
        targets = [one_line(t)[:MAX_TARGET_CHARS] for t in form.get("targets", "").splitlines()]
        targets = [t for t in targets if t][:MAX_TARGETS]
        description = form.get("description", "")[:MAX_DESCRIPTION_CHARS].strip()
        # PostgreSQL's text cannot hold NUL: such a report was an HTTP 500, and lost
        description = description.replace("\x00", "\ufffd")
        if wiki not in wikis or category not in REPORT_CATEGORIES or not targets:
            abort(400, "choose a wiki and a category, and name at least one diff, page or user")
        store: Store = services().store
        user = session["user"]
        if settings.community.page:  # what `flagbot run` last put in force for the wiki
            operators = settings.configured(wiki)
            assert operators is not None  # one of the configured wikis: checked above
            CommunityPages(settings, None, store).restore_wiki(operators)
        wiki_settings = settings.wiki(wiki)
        assert wiki_settings is not None
        refusal, per_day = _eligibility(wiki_settings, user)
        support = support_page(wiki_settings, category, g.get("language", "en"))
        if refusal:
            return render_template("report_done.html", refused=refusal, support=support), 403
        _label, flag_category, severity = REPORT_CATEGORIES[category]
        verdict = decide(
            0.0,
            [RuleHit(f"report:{category}", flag_category, severity)],
            {},
            {**settings.alerts.routes, **wiki_settings.routes},
        )
        reported_user = next(
            (t.split(":", 1)[1] for t in targets if t.lower().startswith("user:")), ""
        )
        base = f"{wiki_settings.url}{wiki_settings.script_path}/index.php"
        diff = next((t for t in targets if t.startswith(base)), "")
        flag = flag_row(
            verdict,
            wiki=wiki,
            title=targets[0],
            namespace=0,
            user=reported_user,
            edit_time=int(time.time()),
            diff_url=diff or f"{base}?title=Special:Log",
            score=0.0,
            added_text=description or None,
        )
        hours = settings.web.answer_hours_for(wiki_settings, category)
        row = {
            "wiki": wiki,
            "reporter": user,
            "category": category,
            "due": time.time() + hours * 3600,
            "targets": "\n".join(targets),
            "contact": int(bool(form.get("contact"))),
            "notify": int(bool(form.get("notify"))),
        }

        def enqueue(conn: Any, flag_id: int) -> None:
            Store.queue_alerts(conn, flag_id, deliveries(settings, wiki, verdict.routes))

        recorded = store.record_report(row, flag, enqueue, per_day)
        if recorded is None:
            return render_template(
                "report_done.html", limited=True, per_day=per_day, support=support
            ), 429
        report_id, flag_id = recorded
        store.audit(user, "report", flag_id, f"R-{report_id} {category}")  # seen by its wiki's
        reported = reported_revision(row["targets"])
        if reported is not None:  # read it before a reviewer asks
            services().assessments.start(flag_id, wiki, reported)
        return render_template(
            "report_done.html",
            reference=f"R-{report_id}",
            due=row["due"],
            limited=False,
            support=support,
        )

    @app.get("/my-reports")
    def my_reports() -> Any:
        """The reporter's own reports, their status and dates: nothing about reviewers."""
        rows = services().store.reports_by(session["user"])
        return render_template(
            "my_reports.html",
            reports=rows,
            categories=REPORT_CATEGORIES,
            open_statuses=OPEN_STATUSES,
        )

    @app.post("/my-reports/<int:report_id>/add")
    def add_to_report(report_id: int) -> Any:
        """More diffs and a note for an open report of one's own: as private as the report,
        never in an alert; reviewers see them in the report's timeline."""
        form = request.form
        targets = [one_line(t)[:MAX_TARGET_CHARS] for t in form.get("targets", "").splitlines()]
        targets = [t for t in targets if t][:MAX_TARGETS]
        note = form.get("note", "")[:MAX_DESCRIPTION_CHARS].strip().replace("\x00", "\ufffd")
        if not targets and not note:
            abort(400, "name a diff, page or user, or write a note")
        store = services().store
        added = store.add_to_report(
            report_id, session["user"], "\n".join(targets), note, ADDITIONS_PER_DAY
        )
        if not added:  # not theirs, closed, or too many today: one answer for all three
            abort(403, "this report cannot take more today, or is not open")
        store.audit(session["user"], "report_added", None, f"R-{report_id}")
        return redirect(url_for("my_reports") + f"#R-{report_id}")

    @app.get("/stats/reports")
    def report_stats() -> Any:
        """How many people report what, per month: the scale of the problem, no one exposed.
        A count under SMALL_COUNT shows as "fewer than 5"; a month shows once it has ended
        (watched day by day, a new report would stand out), and never counts the viewer's own
        reports (filed to push a cell over 5, they let a hidden count be subtracted out)."""
        allowed = services().settings.web.report_stats_groups
        if allowed and not _in_groups(allowed):
            abort(403)
        today = time.gmtime()
        month_start = calendar.timegm((today.tm_year, today.tm_mon, 1, 0, 0, 0))
        counts = services().store.report_counts(month_start, besides=session["user"])
        months = sorted({m for m, _ in counts}, reverse=True)
        rows = [(m, [_shown(counts.get((m, c), 0)) for c in REPORT_CATEGORIES]) for m in months]
        return render_template("report_stats.html", rows=rows, categories=list(REPORT_CATEGORIES))


SMALL_COUNT = 5


def _shown(count: int) -> int | None:
    """The count as published: None for one under SMALL_COUNT ("fewer than 5")."""
    return None if 0 < count < SMALL_COUNT else count


def _in_groups(groups: tuple[str, ...]) -> bool:
    """Whether the user holds one of `groups` on any configured wiki."""
    settings = services().settings
    for wiki in settings.wikis:
        try:
            if services().groups(wiki.id, session["user"], False) & set(groups):
                return True
        except FetchError:
            continue
    return False


def set_status(flag_id: int, status: str) -> None:
    """The status a report's reporter sees (and is told of, if they asked: the store)."""
    services().store.set_report_status(flag_id, status)


def decided(flag_id: int, status: str) -> None:
    """A reviewer's decision on a report's flag (the flag's status after it) becomes the
    status its reporter sees."""
    shown = REPORT_STATUS.get(status)
    if shown:
        set_status(flag_id, shown)


def support_page(wiki: WikiSettings, category: str, language: str) -> str:
    """The address of the wiki's support page for a report category in the reader's language
    (its community settings' `support`), or "" when it names none."""
    from urllib.parse import quote

    pages = wiki.support.get(category) or wiki.support.get("default") or {}
    title = pages.get(language) or pages.get("default") or ""
    if not title:
        return ""
    return f"{wiki.url}{wiki.script_path}/index.php?title={quote(title.replace(' ', '_'))}"


def _eligibility(wiki: Any, user: str) -> tuple[tuple[object, ...], int]:
    """Why the account may not report about `wiki` (the refusal message's parameters; empty if
    it may), and its reports per day.

    Blocked accounts may report (they are often the target). When the wiki cannot be asked,
    the report is taken with a newcomer's limit: an emergency must not wait for the wiki.
    """
    settings = services().settings
    try:
        registered, edits = services().account(wiki.id, user)
    except FetchError:
        return (), wiki.reports_per_day_newcomer
    age_days = (time.time() - registered) / DAY if registered is not None else float("inf")
    if age_days < wiki.report_min_account_days or edits < wiki.report_min_edits:
        return (wiki.id, wiki.report_min_account_days, wiki.report_min_edits), 0
    newcomer = age_days < wiki.report_newcomer_days
    return (), wiki.reports_per_day_newcomer if newcomer else settings.web.reports_per_day


def reported_revision(targets: str) -> int | None:
    """The first revision a report's diff links name."""
    for line in targets.splitlines():
        found = REVISION_IN_LINK.search(line)
        if found:
            number = int(found["diff"] or found["oldid"] or found["special"])
            return number if 0 < number < 2**63 else None
    return None


def assessment(flag: Flag, report: dict[str, Any]) -> dict[str, Any] | None:
    """How the pipeline scores the reported diff, read from the wiki once and kept (no text);
    None when the report names no diff. A wiki that cannot be read now is tried again on the
    next view; a slow reading goes on in the background."""
    if report.get("assessment"):
        found: dict[str, Any] = json.loads(report["assessment"])
        return found
    rev_id = reported_revision(report["targets"])
    if rev_id is None:
        return None
    result: dict[str, Any] = services().assessments.result(flag.id, flag.wiki, rev_id)
    return result
