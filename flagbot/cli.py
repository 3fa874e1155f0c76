"""The `flagbot` command and its subcommands; the only place that sets up logging."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from flagbot import __version__
from flagbot.config import Settings, SourceSettings, embedded_default, project_path
from flagbot.errors import FlagbotError, RulesError
from flagbot.settings_file import load_settings
from flagbot.wiki import WikiClient

log = logging.getLogger("flagbot")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config) if args.config else embedded_default()
    if getattr(args, "store", None):
        settings = dataclasses.replace(settings, store=args.store)
    return settings


def _progress(total: int | None, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="ev", disable=not enabled, file=sys.stderr, leave=False)


def _run_pipeline(settings: Settings, show_progress: bool) -> dict[str, Any]:
    from flagbot.bot import run_until_stopped

    total = None
    if settings.source.type == "replay" and os.path.isfile(settings.source.path):
        with open(settings.source.path, encoding="utf-8", errors="replace") as f:
            total = sum(1 for _ in f)  # not for a pipe (/dev/stdin): counting would use it up
    bar = _progress(total, show_progress and sys.stderr.isatty())
    try:
        return run_until_stopped(settings, bar.update)
    finally:
        bar.close()


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, sort_keys=True))
        return
    flagged = ", ".join(f"{k} {v}" for k, v in sorted(summary["flagged"].items())) or "none"
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(summary["skipped"].items())) or "none"
    print(
        f"read {summary['read']}, bad {summary['bad']}, filtered {summary['filtered']}, "
        f"duplicates {summary['duplicates']}, scored {summary['scored']}, "
        f"new flags {summary['new_flags']} in {summary['seconds']} s"
    )
    print(f"flagged per category: {flagged}")
    print(f"skipped: {skipped}")
    if summary["bad"]:
        print(f"bad events: {summary['bad_reasons']}")


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.offline:
        settings = dataclasses.replace(settings, offline=True)
    log.info("flagbot %s: %s source, config %s", __version__, settings.source.type, settings.origin)
    _print_summary(_run_pipeline(settings, True), args.json)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from flagbot.alerts import dry_run

    settings = load_settings(args.config) if args.config else embedded_default()
    with tempfile.TemporaryDirectory(prefix="flagbot-replay-") as scratch:
        settings = dataclasses.replace(
            settings,
            # a file, not "sqlite://": an in-memory database is one per thread
            store=args.store or f"sqlite:///{os.path.join(scratch, 'replay.sqlite3')}",
            source=SourceSettings(type="replay", path=args.file),
            offline=settings.offline or args.offline,
        )
        summary = _run_pipeline(dry_run(settings), True)
    _print_summary(summary, args.json)
    return 130 if summary["stopped_by_signal"] else 0  # Ctrl-C: the summary, then 130


def _scorer(args: argparse.Namespace) -> Any:
    from flagbot.bot import build_scorer

    return build_scorer(_settings(args))


def _port(text: str) -> int:
    """argparse type: a TCP port (werkzeug served port 99999 as 99999 mod 65536)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return port


def cmd_score(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        raise FlagbotError(
            "score: give either TEXT or --input F.csv (with --text-column, --output)"
        )
    from flagbot.scoring import Texts

    scorer = _scorer(args)
    if args.text is not None:
        verdict = scorer.verdicts([Texts(args.text)])[0]
        print(json.dumps(_score_columns(verdict)))
        return 0
    if not args.text_column or not args.output:
        raise FlagbotError("score: --input needs --text-column and --output")
    csv.field_size_limit(sys.maxsize)
    try:
        with open(args.input, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if args.text_column not in (reader.fieldnames or []):
                raise FlagbotError(
                    f"{args.input}: no column {args.text_column!r}; columns: "
                    f"{', '.join(reader.fieldnames or [])}"
                )
            rows = list(reader)
            fields = list(reader.fieldnames or [])
    except OSError as exc:
        raise FlagbotError(f"{args.input}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FlagbotError(f"{args.input}: not a UTF-8 CSV file ({exc})") from None
    out_fields = fields + [
        c
        for c in ("score", "flagged", "categories", "rules", "language", "skip_reason")
        if c not in fields
    ]
    try:
        output = open(args.output, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise FlagbotError(f"{args.output}: cannot write: {exc.strerror}") from None
    bar = _progress(len(rows), sys.stderr.isatty())
    with output as f:
        writer = csv.DictWriter(f, fieldnames=out_fields)
        writer.writeheader()
        for start in range(0, len(rows), 512):
            chunk = rows[start : start + 512]
            verdicts = scorer.verdicts([Texts(r[args.text_column] or "") for r in chunk])
            for row, verdict in zip(chunk, verdicts, strict=True):
                writer.writerow({**row, **_score_columns(verdict)})
            bar.update(len(chunk))
    bar.close()
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Why an edit is (not) flagged; prints the edit's text, for the operator's terminal only."""
    from flagbot import diffs
    from flagbot.explain import explain

    names = tuple(n for n in (args.title, args.user) if n)
    if args.rev is not None:
        result = _explain_revision(args)
    elif args.new is not None:
        scorer = _scorer(args)
        old = _read_text(args.old) if args.old else ""
        added = diffs.edit_added(old, _read_text(args.new))
        result = explain(scorer, added, args.summary or "", args.namespace, names)
    elif names:  # a name alone: would this page title or user name be flagged?
        result = explain(_scorer(args), "", "", args.namespace, names)
    else:
        raise FlagbotError(
            "explain: give --new NEW.wikitext [--old OLD.wikitext] [--title T] [--user U], "
            "--title T / --user U alone, or --wiki ID --rev N"
        )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for key, value in result.items():
        if isinstance(value, str) and "\n" in value:
            print(f"{key}:")
            print("  " + value.replace("\n", "\n  "))
        else:
            print(f"{key}: {value}")
    return 0


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError as exc:
        raise FlagbotError(f"{path}: {exc.strerror}") from None


def _explain_revision(args: argparse.Namespace) -> dict[str, Any]:
    """An edit on a wiki, with the wiki's community settings in force (flagbot.community)."""
    from flagbot.bot import build_scorer
    from flagbot.community import CommunityPages
    from flagbot.explain import explain_revision

    settings = _settings(args)
    wiki = settings.wiki(args.wiki or "")
    if wiki is None:
        known = ", ".join(w.id for w in settings.wikis)
        raise FlagbotError(f"explain: --wiki {args.wiki!r} is not configured (configured: {known})")
    client = WikiClient(settings)
    if settings.community.page:
        state = CommunityPages(settings, client).refresh_wiki(wiki)
        if state.problem:
            print(f"community settings of {wiki.id}: {state.problem}", file=sys.stderr)
    scorer = build_scorer(settings)
    return explain_revision(settings, client, scorer, args.wiki, args.rev)


def _score_columns(verdict: Any) -> dict[str, Any]:
    """A row's verdict; `skip_reason` says when the model cannot read the row's language (the
    score is still the model's, and rules still flag)."""
    unread = not verdict.flagged and not verdict.served
    return {
        "score": round(verdict.score, 6),
        "flagged": int(verdict.flagged),
        "categories": ";".join(verdict.categories),
        "rules": ";".join(verdict.rule_ids),
        "language": verdict.language,
        "skip_reason": f"unsupported_language:{verdict.language}" if unread else "",
    }


REPORT_WITHHELD = "(a confidential report: see the review queue)"


def cmd_flags(args: argparse.Namespace) -> int:
    from flagbot.store import REPORT_KIND, Store

    store = Store(_settings(args).store).open()
    try:
        found_patterns = store.pattern_details()
        for flag in store.iter_flags():
            created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(flag.created))
            # what a confidential report names is for the oversighters' own views only
            report = flag.kind == REPORT_KIND
            record = {
                "wiki": flag.wiki,
                "rev_id": flag.rev_id,
                "kind": flag.kind,
                "title": REPORT_WITHHELD if report else flag.title,
                "user": REPORT_WITHHELD if report else flag.user,
                "categories": list(flag.categories),
                "score": round(flag.score, 6),
                "rules": list(flag.rule_ids),
                "status": flag.status,
                "created": created,
            }
            if flag.id in found_patterns:
                details = found_patterns[flag.id]
                record.update(
                    pattern=details["pattern"], target=details["target"], rev_ids=details["rev_ids"]
                )
            if args.json:
                print(json.dumps(record, ensure_ascii=False))
            else:
                print(
                    f"{created}  {flag.wiki}  rev {flag.rev_id}  {','.join(flag.categories)}  "
                    f"{flag.score:.2f}  {flag.status}  {record['title']}  "
                    f"{REPORT_WITHHELD if report else flag.diff_url}"
                )
    finally:
        store.close()
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from flagbot.rules import load_rules

    path = args.file or str(project_path("rules.yaml"))
    try:
        ruleset = load_rules(path)
    except RulesError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    failures = ruleset.check_examples()
    for failure in failures:
        print(failure, file=sys.stderr)
    examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in ruleset.rules)
    print(f"{path}: {len(ruleset.rules)} rules, {examples} examples, {len(failures)} failures")
    return 1 if failures else 0


def cmd_status(args: argparse.Namespace) -> int:
    from flagbot.alerts.sender import hold, urgent_routes
    from flagbot.community import stored_states
    from flagbot.sources import position_time, source_key
    from flagbot.store import Store

    settings = _settings(args)
    store = Store(settings.store).open()
    try:
        key = source_key(settings)
        position = store.load_position(key)
        status: dict[str, Any] = {
            "source": key,
            "position": position,
            "lag_seconds": None,
            "outcomes": store.outcome_counts(),
            "flags_by_category": store.category_counts(),
            "outbox": store.outbox_counts(),
            "alerts_held": hold(store),
            "emergency_alerts_waiting": store.pending_alerts(urgent_routes(settings)),
            "alert_errors": store.outbox_errors(),
        }
        if settings.community.page:
            status["community_settings"] = {
                wiki: {"revision": state.rev, "newest": state.newest, "problem": state.problem}
                for wiki, state in stored_states(store, settings).items()
            }
        at = position_time(position)
        if at is not None:
            status["lag_seconds"] = round(time.time() - at, 1)
        problems = _health_problems(settings, store, key) if args.check else []
    finally:
        store.close()
    if args.check:
        status["problems"] = problems
    if args.json:
        print(json.dumps(status, sort_keys=True))
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 1 if problems else 0


def cmd_settings_check(args: argparse.Namespace) -> int:
    """A proposed revision of a wiki's community settings page, tried on the last days' edits."""
    from flagbot.bot import build_scorer
    from flagbot.community import CommunityPages, dry_run
    from flagbot.store import Store

    settings = _settings(args)
    wiki = settings.wiki(args.wiki)
    if wiki is None:
        raise FlagbotError(f"settings check: --wiki {args.wiki!r} is not configured")
    store = Store(settings.store).open()
    try:
        CommunityPages(settings, None, store).restore()  # what `flagbot run` has in force
        since = time.time() - args.days * 86400
        client = WikiClient(settings)
        result = dry_run(settings, client, build_scorer(settings), store, wiki, args.rev, since)
    finally:
        store.close()
    if args.json:
        print(json.dumps(result, sort_keys=True))
    elif result["problems"]:
        print(f"revision {args.rev} would not be in force:")
        print("\n".join(f"  {p}" for p in result["problems"]))
    else:
        print(f"revision {args.rev} on {result['edits']} edits of the last {args.days:g} day(s):")
        for category, counts in result["flags"].items():
            change = counts["proposed"] - counts["now"]
            print(f"  {category}: {counts['now']} -> {counts['proposed']} ({change:+d})")
    return 1 if result["problems"] else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Read-only checks of the whole setup: a table of OK / problem and its fix."""
    from flagbot.doctor import run_checks, table

    settings = _settings(args)
    findings = run_checks(settings, WikiClient(settings))
    print(table(findings))
    return 1 if any(f.problem for f in findings) else 0


FAILING_ATTEMPTS = 3  # an alert that failed this often "keeps failing"


def _health_problems(settings: Settings, store: Any, key: str) -> list[str]:
    """`status --check`: what a monitor should wake someone for."""
    problems = []
    if settings.source.type != "replay":  # a live source saves its position as it goes
        updated = store.position_updated(key)
        if updated is None:
            problems.append("the source has never saved a position: is `flagbot run` running?")
        elif time.time() - updated > settings.stale_seconds:
            problems.append(
                f"the source position has not advanced for {time.time() - updated:.0f} s "
                f"(health.stale_seconds: {settings.stale_seconds:.0f})"
            )
    failing = store.failing_alerts(FAILING_ATTEMPTS)
    if failing:
        problems.append(f"{failing} alert(s) failed or keep failing to deliver; see alert_errors")
    from flagbot.community import stored_states

    for wiki, state in stored_states(store, settings).items():
        if state.problem and settings.community.page:
            problems.append(f"community settings of {wiki}: {state.problem}")
    return problems


def cmd_alerts_send(args: argparse.Namespace) -> int:
    from flagbot.alerts.sender import deliver
    from flagbot.store import Store

    settings = _settings(args)
    store = Store(settings.store).open()
    try:
        report = deliver(store, settings, WikiClient(settings))
    finally:
        store.close()
    print(
        f"sent {report.messages} message(s) carrying {report.delivered} alert(s); "
        f"retrying {report.retrying}, failed {report.failed}, waiting {report.waiting}, "
        f"handled before alert {report.handled_before_alert}"
    )
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    if report.held:
        print(f"held: {report.held}")
    return 0


def cmd_alerts_release(args: argparse.Namespace) -> int:
    from flagbot.alerts.sender import release
    from flagbot.store import Store

    store = Store(_settings(args).store).open()
    try:
        held = release(store)
    finally:
        store.close()
    print("released the alert queue" if held else "the alert queue was not held")
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from flagbot.classifier import MODEL_SUFFIX, default_name, load_model, set_default
    from flagbot.evaluation import comparison_table, evaluate, worse_beyond
    from flagbot.training import load_labels

    data = load_labels(args.data or [str(project_path("training_data/dev.csv"))])
    candidate = load_model(args.name)  # refuses a tampered or incompatible model first
    directory = candidate.path.parent  # the default of the directory it lives in
    current_name = default_name(directory)
    if current_name and current_name != candidate.name:
        current = load_model(str(directory / f"{current_name}{MODEL_SUFFIX}"))
        results = [evaluate(current, data), evaluate(candidate, data)]
        print(comparison_table(results))
        problems = worse_beyond(results[0], results[1], args.tolerance)
        for problem in problems:
            print(f"worse: {problem}", file=sys.stderr)
        if problems and not args.force:
            print(
                f"not promoted: {candidate.name} is worse than {current_name} beyond the "
                f"tolerance {args.tolerance}; use --force to promote anyway",
                file=sys.stderr,
            )
            return 1
    pointer = set_default(directory, candidate.name)
    print(f"promoted {candidate.name} (was {current_name or 'none'}): {pointer}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from flagbot.web import create_app

    settings = _settings(args)
    if not settings.web.oauth_client_id:
        log.warning("web.oauth_client_id is not set: nobody can log in (see the README)")
    loopback = args.host in ("127.0.0.1", "localhost", "::1")
    if not loopback and not os.environ.get(settings.web.secret_key_env):
        raise FlagbotError(
            f"web: serving on {args.host} needs ${settings.web.secret_key_env} (a random secret "
            "for the session cookies): without it, logins fail across restarts and workers"
        )
    if loopback and settings.web.secure_cookies:
        # this built-in server speaks plain http; on loopback that is fine, elsewhere use a
        # WSGI server behind HTTPS (README), where the cookies stay Secure
        settings = dataclasses.replace(
            settings, web=dataclasses.replace(settings.web, secure_cookies=False)
        )
    app = create_app(settings, WikiClient(settings))
    log.info("review queue on http://%s:%d/", args.host, args.port)
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from flagbot.purge import purge_expired, purge_hidden
    from flagbot.store import Store

    settings = _settings(args)
    store = Store(settings.store).open()
    try:
        purged = purge_hidden(store, settings, WikiClient(settings))
        expired = purge_expired(store, settings)
    finally:
        store.close()
    print(f"purged the stored text of {purged} revision(s) the wiki has hidden or deleted")
    print(f"forgot the text of {expired} flag(s) and report(s) older than text_retention_days")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flagbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"flagbot {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="DEBUG logging (it may show flagged text; the default INFO never does)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config", metavar="F", help="flagbot.yaml (default: embedded offline demo)"
        )
        p.add_argument("--store", metavar="URL", help="override the store URL of the config")
        return p

    p = with_config(sub.add_parser("run", help="watch the configured source and flag edits"))
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.add_argument(
        "--offline",
        action="store_true",
        help="ask no wiki (a smoke test of the source and the store): edits are stored as "
        "skipped no_text_offline",
    )
    p.set_defaults(func=cmd_run)
    p = with_config(sub.add_parser("replay", help="run the whole pipeline over a JSON-lines file"))
    p.add_argument("file", metavar="FILE", help="a .jsonl file, or /dev/stdin")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument(
        "--offline",
        action="store_true",
        help="ask no wiki: events without added_text are skipped as no_text_offline "
        "(always so without --config)",
    )
    p.set_defaults(func=cmd_replay)
    p = with_config(
        sub.add_parser(
            "explain", help="why an edit is (not) flagged: its text, score, rules and routes"
        )
    )
    p.add_argument("--old", metavar="OLD.wikitext", help="the page before the edit")
    p.add_argument("--new", metavar="NEW.wikitext", help="the page after the edit")
    p.add_argument("--summary", metavar="TEXT", help="the edit summary")
    p.add_argument("--namespace", type=int, metavar="N", help="the page's namespace number")
    p.add_argument("--title", metavar="T", help="the page title (checked by the rules)")
    p.add_argument("--user", metavar="U", help="the editor's user name (checked by the rules)")
    p.add_argument("--wiki", metavar="ID", help="a configured wiki (with --rev)")
    p.add_argument("--rev", type=int, metavar="N", help="a revision id on --wiki")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_explain)
    p = with_config(sub.add_parser("score", help="score one text or a CSV file"))
    p.add_argument("text", nargs="?", metavar="TEXT")
    p.add_argument("--input", metavar="F.csv")
    p.add_argument("--text-column", metavar="C")
    p.add_argument("--output", metavar="O.csv")
    p.set_defaults(func=cmd_score)
    p = with_config(sub.add_parser("flags", help="list stored flags"))
    p.add_argument("--json", action="store_true", help="one JSON object per flag")
    p.set_defaults(func=cmd_flags)
    rules = sub.add_parser("rules", help="rules.yaml tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    p = rules_sub.add_parser("check", help="validate rules and run their examples")
    p.add_argument("file", nargs="?", metavar="FILE")
    p.set_defaults(func=cmd_rules_check)
    alerts = sub.add_parser("alerts", help="the alert outbox")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    p = with_config(alerts_sub.add_parser("send", help="one delivery pass over the outbox"))
    p.set_defaults(func=cmd_alerts_send)
    p = with_config(alerts_sub.add_parser("release", help="lift an auto-throttle hold"))
    p.set_defaults(func=cmd_alerts_release)
    p = with_config(
        sub.add_parser("purge", help="forget stored text of revisions the wiki has hidden")
    )
    p.set_defaults(func=cmd_purge)
    p = with_config(sub.add_parser("web", help="serve the review queue (Flask)"))
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port (8080)")
    p.set_defaults(func=cmd_web)
    model = sub.add_parser("model", help="the shipped classifiers")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    p = model_sub.add_parser(
        "promote", help="make NAME the default model if it is not worse on dev than the current"
    )
    p.add_argument("name", metavar="NAME", help="a model in classifiers/, or a path to one")
    p.add_argument("--data", nargs="+", metavar="FILE", help="label files (training_data/dev.csv)")
    p.add_argument("--tolerance", type=float, default=0.005, help="allowed drop per metric (0.005)")
    p.add_argument("--force", action="store_true", help="promote even if it is worse")
    p.set_defaults(func=cmd_model_promote)
    community = sub.add_parser("settings", help="a wiki's community settings page")
    community_sub = community.add_subparsers(dest="settings_command", required=True)
    p = with_config(
        community_sub.add_parser(
            "check", help="what a proposed page revision would change on the last day's edits"
        )
    )
    p.add_argument("--wiki", required=True)
    p.add_argument("--rev", type=int, required=True, help="the page revision to try")
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_settings_check)
    p = with_config(sub.add_parser("doctor", help="check the wikis, mail, store, model, OAuth"))
    p.set_defaults(func=cmd_doctor)
    p = with_config(sub.add_parser("status", help="position, lag, counts"))
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--check", action="store_true", help="exit 1 when the bot looks stuck or alerts fail"
    )
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose + 1, 2)]
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("urllib3", "requests_sse", "pywiki", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    try:
        return int(args.func(args))
    except FlagbotError as exc:
        print(f"flagbot: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
