"""The store's tables and their numbered migrations (a database newer than the code is
refused by `StoreBase.migrate`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    update,
)

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
positions = Table(
    "positions",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("position", Text, nullable=False),
    Column("updated", Float, nullable=False),
)
processed = Table(
    "processed",
    metadata,
    Column("wiki", String(64), primary_key=True),
    Column("rev_id", BigInteger, primary_key=True, autoincrement=False),
    Column("outcome", String(64), nullable=False),  # scored, flagged, or a skip reason
    Column("processed_at", Float, nullable=False),
    # a scored edit's score and its rule hits' categories (no text): what `flagbot settings
    # check` re-decides under a proposed community settings page
    Column("score", Float),
    Column("rule_categories", Text),
    Index("ix_processed_outcome", "outcome"),
)
flags = Table(
    "flags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("wiki", String(64), nullable=False),
    # Wikidata's ids are past 2**31 already; a log entry (a move, a new account) is -log_id
    Column("rev_id", BigInteger, nullable=False),
    Column("old_rev_id", BigInteger),
    Column("title", Text, nullable=False),
    Column("namespace", Integer, nullable=False),
    Column("user", Text, nullable=False),
    Column("edit_time", BigInteger, nullable=False),  # 2**31 seconds is in 2038
    Column("diff_url", Text, nullable=False),
    Column("categories", Text, nullable=False),  # ;-separated
    Column("score", Float, nullable=False),
    Column("rules", Text, nullable=False),  # ;-separated rule ids
    Column("severity", String(16)),
    Column("route", String(32)),
    Column("status", String(32), nullable=False, default="new"),
    Column("added_text", Text),  # kept only for flagged edits; purged when the wiki hides it
    Column("summary", Text),
    Column("purged_at", Float),
    Column("created", Float, nullable=False),
    # "edit": its text is flagged; "name": its page title or user name is (alerts omit them)
    Column("kind", String(16), nullable=False, server_default="edit"),
    # the wiki's community settings revision the flag was decided under (flagbot.community)
    Column("settings_rev", BigInteger),
    UniqueConstraint("wiki", "rev_id", name="uq_flags_wiki_rev"),
)
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("flag_id", Integer, ForeignKey("flags.id"), nullable=False),
    Column("route", String(32), nullable=False),
    Column("recipient", Text, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("status", String(32), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False, default=0),
    Column("error", Text),
    Column("created", Float, nullable=False),
    Column("sent_at", Float),
    Column("message", String(64)),  # the message that carried it (sent)
    Column("claimed_at", Float),  # when a sender took it (status "sending"); for two senders
    Column("claimed_by", String(200)),  # which sender took it: host:pid
    UniqueConstraint("flag_id", "route", "recipient", name="uq_outbox_delivery"),
)
control = Table(  # small operator state: the auto-throttle hold, kill switch cache
    "control",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated", Float, nullable=False),
)
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("flag_id", Integer, ForeignKey("flags.id"), nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("decision", String(32), nullable=False),  # confirm, false_positive, handled, oversight
    Column("note", Text),
    Column("decided_at", Float, nullable=False),
)
reports = Table(  # confidential reports: a person tells reviewers what happened
    "reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("flag_id", Integer, ForeignKey("flags.id"), nullable=False),  # its place in the queue
    Column("wiki", String(64), nullable=False),
    Column("reporter", Text, nullable=False),  # shown to nobody but oversighters
    Column("category", String(32), nullable=False),
    Column("targets", Text, nullable=False),  # diff links, pages or user names, one per line
    Column("contact", Integer, nullable=False, default=0),  # agrees to be contacted
    Column("status", String(16), nullable=False, default="received"),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    # the model's and the rules' view of a reported diff (JSON, no text), once it was read
    Column("assessment", Text, nullable=True),
    Column("notify", Integer, nullable=False, default=0),  # wiki email on each status change
    # when a reviewer will have looked, as the reporter was told (the report's category and
    # wiki's `answer_hours` at filing); past it unlooked, the status is "delayed"
    Column("due", Float),
    Index("ix_reports_reporter", "reporter"),
)
report_additions = Table(  # what a reporter adds to an open report later: more diffs, a note
    "report_additions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("report_id", Integer, ForeignKey("reports.id"), nullable=False),
    Column("added", Float, nullable=False),
    Column("targets", Text, nullable=False),  # one per line, as the report's
    Column("note", Text),  # private as the description: purged with it
    Index("ix_report_additions_report", "report_id"),
)
pattern_edits = Table(  # borderline edits aimed at a target, for repeated targeting
    "pattern_edits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("wiki", String(64), nullable=False),
    Column("author", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("rev_id", BigInteger, nullable=False),
    Column("score", Float, nullable=False),
    Column("time", BigInteger, nullable=False),
    UniqueConstraint("wiki", "rev_id", "target", name="uq_pattern_edit"),
    Index("ix_pattern_edits_pair", "wiki", "author", "target", "time"),
)
patterns = Table(  # one pattern flag per (wiki, pattern, user, target), extended by later edits
    "patterns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("flag_id", Integer, ForeignKey("flags.id"), nullable=False),
    Column("wiki", String(64), nullable=False),
    Column("pattern", String(16), nullable=False),
    Column("user", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("rev_ids", Text, nullable=False),  # the diffs involved, oldest first, ";"-joined
    Column("updated", Float, nullable=False),
    UniqueConstraint("wiki", "pattern", "user", "target", name="uq_pattern"),
)
activity = Table(  # every edit on the watched wikis, no text: what hounding is found in
    "activity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("wiki", String(64), nullable=False),
    Column("user", Text, nullable=False),
    Column("page", Text, nullable=False),
    Column("rev_id", BigInteger, nullable=False),
    Column("time", BigInteger, nullable=False),
    # whom the edit addressed (pinged, replied to, whose user talk page): ";"-joined; an
    # addressee's answer on that page is an invitation taken up, not following
    Column("invited", Text),
    UniqueConstraint("wiki", "rev_id", name="uq_activity"),
    Index("ix_activity_page", "wiki", "page", "time"),
    Index("ix_activity_user", "wiki", "user", "page", "time"),
    Index("ix_activity_time", "time"),
)
follows = Table(  # a user's first edit on a page soon after another user's: hounding's unit
    "follows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("wiki", String(64), nullable=False),
    Column("follower", Text, nullable=False),
    Column("followed", Text, nullable=False),
    Column("page", Text, nullable=False),
    Column("rev_id", BigInteger, nullable=False),  # the follower's edit
    Column("time", BigInteger, nullable=False),
    Column("followed_time", BigInteger, nullable=False),
    UniqueConstraint("wiki", "follower", "followed", "page", name="uq_follow"),
    Index("ix_follows_pair", "wiki", "follower", "followed", "time"),
    Index("ix_follows_followed", "wiki", "followed", "time"),
    Index("ix_follows_time", "time"),
)
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("flag_id", Integer),
    Column("detail", Text),
)


def _migration_1(conn: Connection) -> None:
    metadata.create_all(conn)


def _migration_2(conn: Connection) -> None:
    """Alerts: which message delivered an outbox row, sender claims; the control table."""
    columns = {c["name"] for c in inspect(conn).get_columns("outbox")}
    if "message" not in columns:  # a store made by version 1 (create_all is already current)
        conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN message VARCHAR(64)")
    if "claimed_at" not in columns:
        conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN claimed_at FLOAT")
    control.create(conn, checkfirst=True)


EDIT_KIND, NAME_KIND, REPORT_KIND, PATTERN_KIND = "edit", "name", "report", "pattern"
# the pattern names stored in patterns.pattern (flagbot.patterns: repeat, hounding)
REPEAT_PATTERN, HOUNDING_PATTERN = "repeat", "hounding"
PATTERN_KEY_BASE = 2**42  # a pattern's flag is keyed -(PATTERN_KEY_BASE + id): past reports
STATUS_ROUTE = "status:"  # + a report's new status: the route of the notice to its reporter
SECOND_REVIEW = "second_review"  # a decision waits for a second reviewer to agree
REPORT_KEY_BASE = 2**40  # a report's flag is keyed -(REPORT_KEY_BASE + id): past any log id
TEXT_COLUMNS = ("added_text", "summary")  # a flag's text: loaded only when asked for
BIG_COLUMNS = {"processed": ("rev_id",), "flags": ("rev_id", "old_rev_id", "edit_time")}


def _migration_3(conn: Connection) -> None:
    """Revision ids and edit times as 64-bit integers (SQLite's INTEGER already is)."""
    if conn.dialect.name != "postgresql":
        return
    for table, columns in BIG_COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE BIGINT" for c in columns)
        conn.exec_driver_sql(f"ALTER TABLE {table} {changes}")


def _migration_4(conn: Connection) -> None:
    """flags.kind: whether a flag's page title or user name is itself the flagged text."""
    if "kind" not in {c["name"] for c in inspect(conn).get_columns("flags")}:
        conn.exec_driver_sql(
            "ALTER TABLE flags ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'edit'"
        )


def _migration_5(conn: Connection) -> None:
    """outbox.claimed_by: the claiming sender, which outbox.message used to hold while sending."""
    if "claimed_by" not in {c["name"] for c in inspect(conn).get_columns("outbox")}:
        conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN claimed_by VARCHAR(200)")
    conn.execute(
        update(outbox)
        .where(outbox.c.status == "sending")
        .values(claimed_by=outbox.c.message, message=None)
    )


def _migration_6(conn: Connection) -> None:
    """Confidential reports."""
    reports.create(conn, checkfirst=True)


def _migration_7(conn: Connection) -> None:
    """reports.assessment (how the pipeline scores a reported diff) and reports.notify."""
    columns = {c["name"] for c in inspect(conn).get_columns("reports")}
    if "assessment" not in columns:
        conn.exec_driver_sql("ALTER TABLE reports ADD COLUMN assessment TEXT")
    if "notify" not in columns:
        conn.exec_driver_sql("ALTER TABLE reports ADD COLUMN notify INTEGER NOT NULL DEFAULT 0")


def _migration_8(conn: Connection) -> None:
    """Patterns: borderline edits per (author, target), activity for hounding, pattern flags."""
    pattern_edits.create(conn, checkfirst=True)
    patterns.create(conn, checkfirst=True)
    activity.create(conn, checkfirst=True)
    follows.create(conn, checkfirst=True)


def _migration_9(conn: Connection) -> None:
    """Activity records whom each edit addressed (hounding's invitations)."""
    if "invited" not in {c["name"] for c in inspect(conn).get_columns("activity")}:
        conn.exec_driver_sql("ALTER TABLE activity ADD COLUMN invited TEXT")


def _migration_10(conn: Connection) -> None:
    """Flags record which revision of the wiki's community settings was in force; processed
    edits keep their score and rule categories (for `flagbot settings check`)."""
    if "settings_rev" not in {c["name"] for c in inspect(conn).get_columns("flags")}:
        conn.exec_driver_sql("ALTER TABLE flags ADD COLUMN settings_rev BIGINT")
    columns = {c["name"] for c in inspect(conn).get_columns("processed")}
    if "score" not in columns:
        conn.exec_driver_sql("ALTER TABLE processed ADD COLUMN score FLOAT")
    if "rule_categories" not in columns:
        conn.exec_driver_sql("ALTER TABLE processed ADD COLUMN rule_categories TEXT")


def _migration_11(conn: Connection) -> None:
    """Reports: the date the reporter was promised, and what the reporter added later."""
    if "due" not in {c["name"] for c in inspect(conn).get_columns("reports")}:
        conn.exec_driver_sql("ALTER TABLE reports ADD COLUMN due FLOAT")
    report_additions.create(conn, checkfirst=True)


# Append-only: each entry upgrades the schema by one version. Never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _migration_1,
    _migration_2,
    _migration_3,
    _migration_4,
    _migration_5,
    _migration_6,
    _migration_7,
    _migration_8,
    _migration_9,
    _migration_10,
    _migration_11,
]
SCHEMA_VERSION = len(MIGRATIONS)
