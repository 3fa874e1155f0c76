"""Confidential reports: a person who is harassed (or sees someone harassed) tells the reviewers
privately, gets a reference number, and sees the report's status on /my-reports.

A report enters the same store, routes and queue as flags: it is a flag of kind "report" whose
text is the reporter's description (private like flagged text: never in an alert or a log line,
shown only to reviewers allowed to see its category). Threats and self-harm reach the emergency
route at once. The reporter sees only their own reports and their status — never who reviewed
them, never anything about the queue (the answer is the same whatever the queue holds).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, abort, render_template, request, session

from flagbot.alerts import deliveries, one_line
from flagbot.config import REPORT_CATEGORIES
from flagbot.errors import FetchError
from flagbot.rules import RuleHit
from flagbot.scoring import decide
from flagbot.store import Store
from flagbot.web.auth import context

MAX_TARGETS, MAX_TARGET_CHARS, MAX_DESCRIPTION_CHARS = 10, 500, 5000
# what a reviewer's decision on a report's flag tells the reporter
REPORT_STATUS = {
    "confirm": "acted on",
    "handled": "acted on",
    "oversight": "in review",
    "false_positive": "closed",
}


def init(app: Flask) -> None:
    @app.route("/report", methods=["GET", "POST"])
    def report() -> Any:
        """Any logged-in account may report (blocked users too: they are often the target)."""
        settings = context()["settings"]
        wikis = [w.id for w in settings.wikis]
        if request.method == "GET":
            return render_template("report.html", wikis=wikis, categories=REPORT_CATEGORIES)
        form = request.form
        wiki, category = form.get("wiki", ""), form.get("category", "")
        targets = [one_line(t)[:MAX_TARGET_CHARS] for t in form.get("targets", "").splitlines()]
        targets = [t for t in targets if t][:MAX_TARGETS]
        description = form.get("description", "")[:MAX_DESCRIPTION_CHARS].strip()
        if wiki not in wikis or category not in REPORT_CATEGORIES or not targets:
            abort(400, "choose a wiki and a category, and name at least one diff, page or user")
        store: Store = context()["store"]
        user = session["user"]
        if store.reports_today(user, time.time() - 86400) >= settings.web.reports_per_day:
            return render_template(
                "report_done.html", limited=True, per_day=settings.web.reports_per_day
            ), 429
        _label, flag_category, severity = REPORT_CATEGORIES[category]
        verdict = decide(
            0.0,
            [RuleHit(f"report:{category}", flag_category, severity)],
            {},
            settings.alerts.routes,
        )
        reported_user = next(
            (t.split(":", 1)[1] for t in targets if t.lower().startswith("user:")), ""
        )
        wiki_settings = settings.wiki(wiki)
        base = f"{wiki_settings.url}{wiki_settings.script_path}/index.php" if wiki_settings else ""
        diff = next((t for t in targets if t.startswith(base) and base), "")
        flag = {
            "wiki": wiki,
            "title": targets[0],
            "namespace": 0,
            "user": reported_user,
            "edit_time": int(time.time()),
            "diff_url": diff or f"{base}?title=Special:Log",
            "categories": ";".join(verdict.categories),
            "score": 0.0,
            "rules": f"report:{category}",
            "severity": verdict.severity,
            "route": ";".join(verdict.routes),
            "added_text": description or None,
        }
        row = {
            "wiki": wiki,
            "reporter": user,
            "category": category,
            "targets": "\n".join(targets),
            "contact": int(bool(form.get("contact"))),
        }

        def enqueue(conn: Any, flag_id: int) -> None:
            Store.queue_alerts(conn, flag_id, deliveries(settings, wiki, verdict.routes))

        report_id = store.record_report(row, flag, enqueue)
        store.audit(user, "report", None, f"R-{report_id} {category}")
        return render_template("report_done.html", reference=f"R-{report_id}", limited=False)

    @app.get("/my-reports")
    def my_reports() -> Any:
        """The reporter's own reports, their status and dates: nothing about reviewers."""
        rows = context()["store"].reports_by(session["user"])
        return render_template("my_reports.html", reports=rows, categories=REPORT_CATEGORIES)

    @app.get("/stats/reports")
    def report_stats() -> Any:
        """How many people report what, per month: the scale of the problem, no one exposed
        (a count under SMALL_COUNT shows as "fewer than 5")."""
        allowed = context()["settings"].web.report_stats_groups
        if allowed and not _in_groups(allowed):
            abort(403)
        counts = context()["store"].report_counts()
        months = sorted({m for m, _ in counts}, reverse=True)
        rows = [(m, [_shown(counts.get((m, c), 0)) for c in REPORT_CATEGORIES]) for m in months]
        labels = [label for label, _c, _s in REPORT_CATEGORIES.values()]
        return render_template("report_stats.html", rows=rows, labels=labels)


SMALL_COUNT = 5


def _shown(count: int) -> str:
    return "0" if count == 0 else "fewer than 5" if count < SMALL_COUNT else str(count)


def _in_groups(groups: tuple[str, ...]) -> bool:
    """Whether the user holds one of `groups` on any configured wiki."""
    settings = context()["settings"]
    for wiki in settings.wikis:
        try:
            if context()["groups"](wiki.id, session["user"], False) & set(groups):
                return True
        except FetchError:
            continue
    return False


def decided(flag_id: int, decision: str) -> None:
    """A reviewer's decision on a report's flag becomes the status its reporter sees."""
    status = REPORT_STATUS.get(decision)
    if status:
        context()["store"].set_report_status(flag_id, status)
