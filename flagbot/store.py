"""SQLAlchemy Core store: source positions, processed revisions, flags, outbox, audit log.

SQLite by default, PostgreSQL by URL. `record_batch` writes a batch of outcomes and the source
position in one transaction, so the saved position never passes an event that is not stored,
and the unique (wiki, rev_id) key makes a replayed overlap harmless. Schema changes are numbered
migrations applied in order inside a transaction; a database newer than the code is refused.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    distinct,
    event,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)

from flagbot.errors import StoreError, StoreUnavailable
from flagbot.events import RecentChange
from flagbot.files import private_file
from flagbot.patterns import (
    HOUNDING_PATTERN,
    MAX_LEADERS,
    REPEAT_PATTERN,
    HoundingRule,
    PatternRules,
    RepeatRule,
    chance,
    expected_follows,
)
from flagbot.scoring import Verdict


class RowRejected(StoreError):
    """The database refused a row for its content (not for a lost connection)."""

    def __init__(self, error: BaseException):
        self.error = error
        super().__init__(f"the store refused a row: {type(error).__name__}")


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
    Index("ix_reports_reporter", "reporter"),
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
]
SCHEMA_VERSION = len(MIGRATIONS)


def _split(joined: str | None) -> tuple[str, ...]:
    return tuple(filter(None, (joined or "").split(";")))


@dataclass(frozen=True, slots=True)
class Flag:
    """A flag as the store keeps it: what was flagged, why, and where it stands. Only the store
    makes them; `text` and `summary` are loaded only when asked for (review page, labels)."""

    id: int
    kind: str  # EDIT_KIND: the edit's text is flagged; NAME_KIND: its title or user name is
    wiki: str
    rev_id: int  # a log entry (a move, a new account): -log_id
    old_rev_id: int | None
    title: str
    namespace: int
    user: str
    edit_time: int
    diff_url: str
    categories: tuple[str, ...]
    score: float
    rule_ids: tuple[str, ...]
    severity: str | None
    routes: tuple[str, ...]
    status: str
    created: float
    purged_at: float | None = None
    text: str | None = None
    summary: str | None = None

    @property
    def names_flagged(self) -> bool:
        return self.kind == NAME_KIND

    @classmethod
    def from_row(cls, row: Any) -> Flag:
        row = row._mapping if hasattr(row, "_mapping") else row
        return cls(
            id=row["id"],
            kind=row["kind"],
            wiki=row["wiki"],
            rev_id=row["rev_id"],
            old_rev_id=row["old_rev_id"],
            title=row["title"],
            namespace=row["namespace"],
            user=row["user"],
            edit_time=row["edit_time"],
            diff_url=row["diff_url"],
            categories=_split(row["categories"]),
            score=row["score"],
            rule_ids=_split(row["rules"]),
            severity=row["severity"],
            routes=_split(row["route"]),
            status=row["status"],
            created=row["created"],
            purged_at=row["purged_at"],
            text=row.get("added_text"),
            summary=row.get("summary"),
        )


@dataclass(frozen=True, slots=True)
class Due:
    """An outbox row that is due: one delivery of one flag on one route to one recipient."""

    id: int
    route: str
    recipient: str  # channel:address
    channel: str
    attempts: int
    flag: Flag  # without its text: an alert never carries it


@dataclass(frozen=True, slots=True)
class Decided:
    """A flag with its latest review decision (for the labels export)."""

    decision: str
    reviewer: str
    flag: Flag


@dataclass(frozen=True)
class Outcome:
    """What became of one event: a skip reason, or a verdict with the text that earned it."""

    change: RecentChange
    outcome: str
    verdict: Verdict | None = None
    added_text: str | None = None
    targets: tuple[str, ...] = ()  # whom the edit is aimed at (flagbot.patterns.targets)


def _unavailable(context: Any) -> None:
    """SQLAlchemy's error hook: a database that cannot be reached (refused, dropped connection,
    locked SQLite file) becomes StoreUnavailable, which the pipeline and the sender wait out.
    Errors about the rows themselves stay as they are (RowRejected, or a bug to see)."""
    error = context.sqlalchemy_exception
    if context.is_disconnect or isinstance(error, OperationalError | InterfaceError):
        original = context.original_exception
        raise StoreUnavailable(
            f"the database is unavailable: {type(original).__name__}: "
            f"{str(original).strip().splitlines()[0] if str(original).strip() else ''}"
        ) from original


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The database. Nothing connects until `open()`."""

    def __init__(self, url: str):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self.url = url
        self._engine: Engine | None = None
        # (wiki, pages or edits) → (window start, count): see _window_count
        self._window_counts: dict[tuple[str, bool], tuple[float, int]] = {}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("store is not open; call open() first")
        return self._engine

    def open(self) -> Store:
        try:
            self._engine = create_engine(self.url, future=True, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot use store {self.url!r}: {exc}") from None
        database = self._engine.url.database
        if self._engine.dialect.name == "sqlite" and database and database != ":memory:":
            try:  # flagged text and personal information: the owner's only (SQLite's -wal and
                os.close(private_file(database, exclusive=True))  # -shm files follow its mode)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError(f"cannot create store {database}: {exc.strerror}") from None
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _sqlite_pragmas)
        event.listen(self._engine, "handle_error", _unavailable)
        self.migrate()
        return self

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; returns the version found before."""
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":  # two bot processes may start at once
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(726175)")
                schema_version.create(conn, checkfirst=True)
                found = conn.execute(select(func.max(schema_version.c.version))).scalar() or 0
                if found > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store has schema version {found}, newer than this flagbot "
                        f"({SCHEMA_VERSION}); upgrade flagbot rather than downgrade the store"
                    )
                for version in range(found + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[version - 1](conn)
                    conn.execute(schema_version.delete())
                    conn.execute(schema_version.insert().values(version=version))
                return found
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot prepare store {self.url!r}: {exc}") from None

    # --- source positions ---------------------------------------------------------------
    def load_position(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(positions.c.position).where(positions.c.source == source)
            ).scalar()

    def position_updated(self, source: str) -> float | None:
        """When the source's position was last saved (for health checks)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(positions.c.updated).where(positions.c.source == source)
            ).scalar()
            return float(value) if value is not None else None

    def failing_alerts(self, attempts: int) -> int:
        """Alert rows that failed for good, or are pending after `attempts` failed tries."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(
                    (outbox.c.status == "failed")
                    | ((outbox.c.status == "pending") & (outbox.c.attempts >= attempts))
                )
            ).scalar()
            return int(count or 0)

    def save_position(self, source: str, position: str, conn: Connection | None = None) -> None:
        if conn is None:
            with self.engine.begin() as own:
                self.save_position(source, position, own)
            return
        values = {"source": source, "position": position, "updated": time.time()}
        insert = self._insert(positions).values(**values)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["source"], set_={"position": position, "updated": values["updated"]}
            )
        )

    def _insert(self, table: Table) -> Any:
        dialect = self.engine.dialect.name
        return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)

    # --- outcomes -------------------------------------------------------------------------
    def record_batch(
        self,
        source: str,
        outcomes: Sequence[Outcome],
        position: str | None,
        on_flag: Callable[[Connection, int, Outcome], None] | None = None,
        rules: PatternRules | None = None,
        edits: Sequence[RecentChange] = (),
    ) -> int:
        """Store a batch and the position after it in one transaction; returns new flags.

        A revision already processed (the overlap after a restart) is skipped silently.
        `on_flag` runs inside the same transaction for each new flag (the alerts outbox), and
        so do the pattern detectors (`rules`; `edits`: every edit of the batch that counts as
        activity, any namespace): a restart neither loses nor repeats what an edit adds.
        """
        try:
            return self._record_batch(source, outcomes, position, on_flag, rules, edits)
        except (DataError, IntegrityError, StatementError) as exc:
            raise RowRejected(exc) from exc

    def _record_batch(
        self,
        source: str,
        outcomes: Sequence[Outcome],
        position: str | None,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        rules: PatternRules | None = None,
        edits: Sequence[RecentChange] = (),
    ) -> int:
        repeat = rules.repeat if rules else None
        new_flags = 0
        now = time.time()
        aimed: list[Outcome] = []
        with self.engine.begin() as conn:
            inserted: set[tuple[str, int]] = set()
            rows = [
                {"wiki": o.change.wiki, "rev_id": o.change.key, "outcome": o.outcome}
                for o in outcomes
                if o.change.key
            ]
            for start in range(0, len(rows), 500):  # one statement per 500 rows
                returned = conn.execute(
                    self._insert(processed)
                    .values([{**row, "processed_at": now} for row in rows[start : start + 500]])
                    .on_conflict_do_nothing()
                    .returning(processed.c.wiki, processed.c.rev_id)  # rowcount lies on psycopg
                )
                inserted.update((wiki, rev_id) for wiki, rev_id in returned)
            for item in outcomes:
                change = item.change
                if (change.wiki, change.key) not in inserted:
                    continue  # processed before: the overlap after a restart
                inserted.discard((change.wiki, change.key))  # once, even if listed twice
                if (
                    repeat
                    and item.targets
                    and item.verdict
                    and item.verdict.score >= repeat.borderline
                ):
                    aimed.append(item)
                if item.verdict is None or not item.verdict.flagged:
                    continue
                verdict = item.verdict
                result = conn.execute(
                    flags.insert().values(
                        wiki=change.wiki,
                        rev_id=change.key,
                        kind=NAME_KIND if verdict.on_names else EDIT_KIND,
                        old_rev_id=change.old_rev,
                        title=change.title,
                        namespace=change.namespace,
                        user=change.user,
                        edit_time=change.timestamp,
                        diff_url=change.diff_url,
                        categories=";".join(verdict.categories),
                        score=verdict.score,
                        rules=";".join(verdict.rule_ids),
                        severity=verdict.severity,
                        route=";".join(verdict.routes),
                        status="new",
                        added_text=item.added_text,
                        summary=change.comment,
                        created=now,
                    )
                )
                flag_id = result.inserted_primary_key[0]  # type: ignore[index]
                new_flags += 1
                if on_flag is not None:
                    on_flag(conn, flag_id, item)
            if repeat is not None and aimed:
                new_flags += self._repeated_targeting(conn, aimed, repeat, on_flag, now)
            if rules is not None and edits:
                new_flags += self._hounding(conn, edits, rules, on_flag, now)
            if position is not None:
                self.save_position(source, position, conn)
        return new_flags

    def _repeated_targeting(
        self,
        conn: Connection,
        aimed: list[Outcome],
        repeat: RepeatRule,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
    ) -> int:
        """Record borderline edits per (author, target); a pair with `repeat.count` of them
        within `repeat.days` gets one pattern flag, which later edits extend. Returns new flags."""
        conn.execute(
            self._insert(pattern_edits).on_conflict_do_nothing(),
            [
                {
                    "wiki": item.change.wiki,
                    "author": item.change.user,
                    "target": target,
                    "rev_id": item.change.key,
                    "score": item.verdict.score if item.verdict else 0.0,
                    "time": item.change.timestamp,
                }
                for item in aimed
                for target in item.targets
            ],
        )
        new_flags = 0
        # each edit in time order, with the window that ends at it: a batch may span weeks
        for item in sorted(aimed, key=lambda o: o.change.timestamp):
            change = item.change
            for target in item.targets:
                edits = conn.execute(
                    select(pattern_edits.c.rev_id, pattern_edits.c.score)
                    .where(
                        pattern_edits.c.wiki == change.wiki,
                        pattern_edits.c.author == change.user,
                        pattern_edits.c.target == target,
                        pattern_edits.c.time >= change.timestamp - repeat.days * 86400,
                        pattern_edits.c.time <= change.timestamp,
                    )
                    .order_by(pattern_edits.c.time, pattern_edits.c.rev_id)
                ).all()
                # under the count, an edit only extends a pair's flag that already exists
                new_flags += self._pattern_flag(
                    conn,
                    REPEAT_PATTERN,
                    change,
                    target,
                    [r for r, _ in edits],
                    max(s for _, s in edits),
                    repeat,
                    on_flag,
                    now,
                    create=len(edits) >= repeat.count,
                )
        return new_flags

    def _hounding(
        self,
        conn: Connection,
        edits: Sequence[RecentChange],
        rules: PatternRules,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
    ) -> int:
        """Record the batch's activity; each new edit that is its user's first on a page within
        `hours` after others edited it is a follow of each of them; a pair with `pages` follows
        within `days` is tested against chance and flagged, or its flag extended. A handful of
        queries per batch, not per edit (Wikimedia's full rate is ~90 edits/s at peak)."""
        rule = rules.hounding
        rows = [
            {"wiki": c.wiki, "user": c.user, "page": c.title, "rev_id": c.key, "time": c.timestamp}
            for c in edits
        ]
        # one cached statement, many parameter sets (a VALUES list is compiled anew each time)
        added = set(
            conn.execute(
                self._insert(activity)
                .on_conflict_do_nothing()
                .returning(activity.c.wiki, activity.c.rev_id),
                rows,
            )
        )
        new = sorted((c for c in edits if (c.wiki, c.key) in added), key=lambda c: c.timestamp)
        if not new:
            return 0
        history = self._page_history(conn, new, rule)
        found: list[dict[str, Any]] = []
        for change in new:
            seen = history.get((change.wiki, change.title), [])
            if any(
                u == change.user and (t, r) < (change.timestamp, change.key) for t, r, u in seen
            ):
                continue  # not the user's first edit on the page: re-edits are no following
            leaders: dict[str, int] = {}
            for when, rev_id, user in seen:
                recent = change.timestamp - rule.hours * 3600 <= when <= change.timestamp
                if recent and user != change.user and rev_id != change.key:
                    leaders[user] = max(leaders.get(user, when), when)
            if len(leaders) > MAX_LEADERS:
                continue  # a busy page: everyone there overlaps, nobody is followed
            found += [
                {
                    "wiki": change.wiki,
                    "follower": change.user,
                    "followed": leader,
                    "page": change.title,
                    "rev_id": change.key,
                    "time": change.timestamp,
                    "followed_time": led,
                }
                for leader, led in leaders.items()
            ]
        if found:
            conn.execute(self._insert(follows).on_conflict_do_nothing(), found)
        latest = {(f["wiki"], f["follower"], f["followed"]): f for f in found}
        by_key = {(c.wiki, c.key): c for c in new}  # a flag links the follower's latest edit
        return sum(
            self._test_pair(
                conn, follow, by_key[(follow["wiki"], follow["rev_id"])], count, rules, on_flag, now
            )
            for follow, count in self._pairs_over(conn, latest, rule)
        )

    @staticmethod
    def _page_history(
        conn: Connection, new: list[RecentChange], rule: HoundingRule
    ) -> dict[tuple[str, str], list[tuple[int, int, str]]]:
        """(time, rev_id, user) on the batch's quiet pages: every edit from `rule.hours` before
        the batch to its end (who came just before), and the batch's own users' edits on them
        over the whole window (who was there first). A busy page — more than MAX_LEADERS others
        in the hours before every edit of the batch on it — yields no follows: one grouped count
        finds it, and its edits are not read (on a popular page, thousands a day)."""
        history: dict[tuple[str, str], set[tuple[int, int, str]]] = {}
        by_wiki: dict[str, tuple[set[str], set[str]]] = {}
        for change in new:
            pages, users = by_wiki.setdefault(change.wiki, (set(), set()))
            pages.add(change.title)
            users.add(change.user)
        since, first, last = (
            new[0].timestamp - rule.days * 86400,
            new[0].timestamp - rule.hours * 3600,
            new[-1].timestamp,
        )
        columns = (activity.c.page, activity.c.time, activity.c.rev_id, activity.c.user)
        for wiki, (pages, users) in by_wiki.items():
            # users in [last - hours, first] are in every batch edit's hours before: with
            # MAX_LEADERS + 2 of them, even the editor aside, each edit has too many leaders
            candidates = sorted(pages)
            for start in range(0, len(candidates), 400):
                pages -= set(
                    conn.execute(
                        select(activity.c.page)
                        .where(
                            activity.c.wiki == wiki,
                            activity.c.page.in_(candidates[start : start + 400]),
                            activity.c.time >= last - rule.hours * 3600,
                            activity.c.time <= new[0].timestamp,
                        )
                        .group_by(activity.c.page)
                        .having(func.count(distinct(activity.c.user)) >= MAX_LEADERS + 2)
                    ).scalars()
                )
            titles, names = sorted(pages), sorted(users)
            for start in range(0, len(titles), 400):
                chunk = titles[start : start + 400]
                recent = select(*columns).where(
                    activity.c.wiki == wiki,
                    activity.c.page.in_(chunk),
                    activity.c.time >= first,
                    activity.c.time <= last,
                )
                own = [  # only whether they were there first: each one's earliest edit
                    select(
                        activity.c.page,
                        func.min(activity.c.time),
                        func.min(activity.c.rev_id),
                        activity.c.user,
                    )
                    .where(
                        activity.c.wiki == wiki,
                        activity.c.user.in_(names[at : at + 400]),
                        activity.c.page.in_(chunk),
                        activity.c.time >= since,
                        activity.c.time <= last,
                    )
                    .group_by(activity.c.page, activity.c.user)
                    for at in range(0, len(names), 400)
                ]
                for query in (recent, *own):
                    for page, when, rev_id, user in conn.execute(query):
                        history.setdefault((wiki, page), set()).add((when, rev_id, user))
        return {key: sorted(rows) for key, rows in history.items()}

    @staticmethod
    def _pairs_over(
        conn: Connection, latest: dict[tuple[str, str, str], dict[str, Any]], rule: HoundingRule
    ) -> list[tuple[dict[str, Any], int]]:
        """The latest follow of each pair of the batch that has `rule.pages` follows or more
        within `rule.days`, with that count: one grouped query per wiki and follower set."""
        if not latest:
            return []
        over = []
        by_wiki: dict[str, set[str]] = {}
        for wiki, follower, _followed in latest:
            by_wiki.setdefault(wiki, set()).add(follower)
        since = min(f["time"] for f in latest.values()) - rule.days * 86400
        for wiki, followers in by_wiki.items():
            names = sorted(followers)
            for start in range(0, len(names), 500):
                for follower, followed, count in conn.execute(
                    select(follows.c.follower, follows.c.followed, func.count())
                    .where(
                        follows.c.wiki == wiki, follows.c.follower.in_(names[start : start + 500])
                    )
                    .where(follows.c.time >= since)
                    .group_by(follows.c.follower, follows.c.followed)
                    .having(func.count() >= rule.pages)
                ):
                    if (wiki, follower, followed) in latest:
                        over.append((latest[(wiki, follower, followed)], int(count)))
        return over

    def _test_pair(
        self,
        conn: Connection,
        follow: dict[str, Any],
        change: RecentChange,
        count: int,
        rules: PatternRules,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
    ) -> int:
        """Extend the pair's hounding flag, or flag it if its follows are unlikely by chance.
        A pair explained by chance is tested again at `pages` more follows, not at each one
        (patrollers follow hundreds of people)."""
        rule = rules.hounding
        wiki, follower, followed = follow["wiki"], follow["follower"], follow["followed"]
        flagged = self._pattern_id(conn, HOUNDING_PATTERN, wiki, follower, followed)
        if not flagged and count >= 2 * rule.pages and count % rule.pages:
            return 0
        since = follow["time"] - rule.days * 86400
        rev_ids = list(
            conn.execute(
                select(follows.c.rev_id)
                .where(follows.c.wiki == wiki, follows.c.follower == follower)
                .where(follows.c.followed == followed, follows.c.time >= since)
                .order_by(follows.c.time)
            ).scalars()
        )
        odds = 0.0
        if not flagged:
            odds = chance(
                len(rev_ids),
                self._expected_follows(conn, wiki, follower, followed, since, rule.days * 86400),
            )
            if odds > rule.max_chance or (rule.exempt and rule.exempt(wiki, follower)):
                return 0  # chance explains it, or following is their job (exempt groups)
        return self._pattern_flag(
            conn,
            HOUNDING_PATTERN,
            change,
            followed,
            rev_ids,
            1.0 - odds,
            rule,
            on_flag,
            now,
        )

    def _expected_follows(
        self, conn: Connection, wiki: str, follower: str, followed: str, since: float, span: float
    ) -> float:
        """The follows of this pair that chance explains (flagbot.patterns.expected_follows)."""

        def count(query: Any) -> int:
            return int(conn.execute(query).scalar() or 0)

        in_window = (follows.c.wiki == wiki, follows.c.time >= since)
        return expected_follows(
            followed_pages=count(
                select(func.count(distinct(activity.c.page))).where(
                    activity.c.wiki == wiki, activity.c.user == followed, activity.c.time >= since
                )
            ),
            follower_pages=count(
                select(func.count(distinct(activity.c.page))).where(
                    activity.c.wiki == wiki, activity.c.user == follower, activity.c.time >= since
                )
            ),
            follower_follows=count(
                select(func.count(distinct(follows.c.page))).where(
                    *in_window, follows.c.follower == follower
                )
            ),
            followed_followed=count(
                select(func.count()).where(*in_window, follows.c.followed == followed)
            ),
            wiki_pages=self._window_count(conn, wiki, since, span, pages=True),
            wiki_edits=self._window_count(conn, wiki, since, span, pages=False),
        )

    def _window_count(
        self, conn: Connection, wiki: str, since: float, span: float, pages: bool
    ) -> int:
        """Distinct pages (or edits) kept on a wiki since a time; counted again once the window
        has moved an hour or 1 % of its length, whichever is more (at Wikimedia's rate the table
        holds tens of millions of rows, and two weeks' totals hardly move in hours)."""
        cached = self._window_counts.get((wiki, pages))
        if cached is not None and abs(since - cached[0]) < max(3600.0, span / 100):
            return cached[1]
        counted = func.count(distinct(activity.c.page)) if pages else func.count()
        count = conn.execute(
            select(counted).where(activity.c.wiki == wiki, activity.c.time >= since)
        ).scalar()
        self._window_counts[(wiki, pages)] = (since, int(count or 0))
        return int(count or 0)

    def prune_activity(self, before: float) -> int:
        """Forget activity and follows older than the hounding window: both stay bounded."""
        with self.engine.begin() as conn:
            conn.execute(follows.delete().where(follows.c.time < before))
            return conn.execute(activity.delete().where(activity.c.time < before)).rowcount

    @staticmethod
    def _pattern_id(conn: Connection, pattern: str, wiki: str, user: str, target: str) -> int:
        found = conn.execute(
            select(patterns.c.id).where(
                patterns.c.wiki == wiki,
                patterns.c.pattern == pattern,
                patterns.c.user == user,
                patterns.c.target == target,
            )
        ).scalar()
        return int(found or 0)

    def _pattern_flag(
        self,
        conn: Connection,
        pattern: str,
        change: RecentChange,
        target: str,
        rev_ids: list[int],
        score: float,
        rule: RepeatRule | HoundingRule,
        on_flag: Callable[[Connection, int, Outcome], None] | None,
        now: float,
        create: bool = True,
    ) -> int:
        """Extend the pattern flag of (the change's user, target), or raise it (unless not
        `create`); returns 1 if new. `rule` says how it is categorised and routed."""
        found = conn.execute(
            select(patterns.c.id, patterns.c.flag_id, patterns.c.rev_ids, flags.c.score)
            .join(flags, flags.c.id == patterns.c.flag_id)
            .where(
                patterns.c.wiki == change.wiki,
                patterns.c.pattern == pattern,
                patterns.c.user == change.user,
                patterns.c.target == target,
            )
        ).first()
        if found is not None:
            known = [int(r) for r in found.rev_ids.split(";") if r]
            merged = known + [r for r in rev_ids if r not in set(known)]
            conn.execute(
                update(patterns)
                .where(patterns.c.id == found.id)
                .values(rev_ids=";".join(map(str, merged)), updated=now)
            )
            conn.execute(
                update(flags)
                .where(flags.c.id == found.flag_id)
                .values(
                    edit_time=change.timestamp,
                    diff_url=change.diff_url,
                    score=max(score, found.score),
                )
            )
            return 0
        if not create:
            return 0
        verdict = rule.verdict
        flag_id, _owner = self._flag_with_owner(
            conn,
            {
                "wiki": change.wiki,
                "kind": PATTERN_KIND,
                "old_rev_id": None,
                "title": f"User talk:{target}",
                "namespace": 3,
                "user": change.user,
                "edit_time": change.timestamp,
                "diff_url": change.diff_url,
                "categories": ";".join(verdict.categories),
                "score": score,
                "rules": ";".join(verdict.rule_ids),
                "severity": verdict.severity,
                "route": ";".join(verdict.routes),
                "status": "new",
                "added_text": None,
                "summary": None,
                "created": now,
            },
            PATTERN_KEY_BASE,
            patterns,
            {
                "wiki": change.wiki,
                "pattern": pattern,
                "user": change.user,
                "target": target,
                "rev_ids": ";".join(map(str, rev_ids)),
                "updated": now,
            },
        )
        if on_flag is not None:
            on_flag(conn, flag_id, Outcome(change, "flagged", verdict))
        return 1

    def is_processed(self, wiki: str, rev_id: int) -> bool:
        return (wiki, rev_id) in self.processed_among([(wiki, rev_id)])

    def processed_among(self, keys: list[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which (wiki, rev_id) pairs are already processed: one query per wiki per batch."""
        found: set[tuple[str, int]] = set()
        by_wiki: dict[str, list[int]] = {}
        for wiki, rev_id in keys:
            by_wiki.setdefault(wiki, []).append(rev_id)
        with self.engine.connect() as conn:
            for wiki, rev_ids in by_wiki.items():
                for start in range(0, len(rev_ids), 500):  # stay under SQLite's variable limit
                    rows = conn.execute(
                        select(processed.c.rev_id).where(
                            processed.c.wiki == wiki,
                            processed.c.rev_id.in_(rev_ids[start : start + 500]),
                        )
                    )
                    found.update((wiki, rev_id) for (rev_id,) in rows)
        return found

    def outcome_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(processed.c.outcome, func.count()).group_by(processed.c.outcome)
            )
            return {outcome: count for outcome, count in rows}

    def outbox_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
            return {status: count for status, count in rows}

    def pending_alerts(self, routes: Iterable[str]) -> int:
        """Alerts on these routes not sent yet (pending or being sent)."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(
                    outbox.c.route.in_(list(routes)), outbox.c.status.in_(("pending", "sending"))
                )
            ).scalar()
            return int(count or 0)

    def outbox_errors(self, limit: int = 10) -> list[str]:
        """The latest delivery errors of alerts not yet sent: failed, or pending a retry."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.recipient, outbox.c.status, outbox.c.attempts, outbox.c.error)
                .where(outbox.c.error.is_not(None), outbox.c.status.in_(("pending", "failed")))
                .order_by(outbox.c.id.desc())
                .limit(limit)
            )
            return [f"{r} ({s}, {a} attempts): {e}" for r, s, a, e in rows]

    def category_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (cats,) in conn.execute(select(flags.c.categories)):
                for category in _split(cats):
                    counts[category] = counts.get(category, 0) + 1
        return counts

    def iter_flags(self, with_text: bool = False) -> Iterator[Flag]:
        columns = [c for c in flags.c if with_text or c.name not in TEXT_COLUMNS]
        with self.engine.connect() as conn:
            for row in conn.execute(select(*columns).order_by(flags.c.id)):
                yield Flag.from_row(row)

    def pattern_details(self, flag_id: int | None = None) -> dict[int, dict[str, Any]]:
        """For pattern flags (all, or one): pattern, user, target and the diffs involved, each
        with its score and time where the detector recorded them."""
        query = select(patterns)
        if flag_id is not None:
            query = query.where(patterns.c.flag_id == flag_id)
        details: dict[int, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                rev_ids = [int(r) for r in row.rev_ids.split(";") if r]
                details[row.flag_id] = {
                    "pattern": row.pattern,
                    "user": row.user,
                    "target": row.target,
                    "rev_ids": rev_ids,
                    "edits": (
                        self._follow_timeline(conn, row.wiki, row.target, rev_ids)
                        if row.pattern == HOUNDING_PATTERN
                        else self._aimed_edits(conn, row, rev_ids)
                    ),
                }
        return details

    @staticmethod
    def _aimed_edits(conn: Connection, row: Any, rev_ids: list[int]) -> list[dict[str, Any]]:
        """A repeated-targeting flag's diffs with their scores and times."""
        edits = {
            r.rev_id: {"rev_id": r.rev_id, "score": r.score, "time": r.time}
            for r in conn.execute(
                select(pattern_edits).where(
                    pattern_edits.c.wiki == row.wiki,
                    pattern_edits.c.author == row.user,
                    pattern_edits.c.target == row.target,
                )
            )
        }
        return [edits.get(r, {"rev_id": r}) for r in rev_ids]

    @staticmethod
    def _follow_timeline(
        conn: Connection, wiki: str, followed: str, rev_ids: list[int]
    ) -> list[dict[str, Any]]:
        """A hounding flag's interaction timeline: each page, when the followed user edited it,
        when the follower did, and the gap (while the follows are kept)."""
        rows = conn.execute(
            select(follows)
            .where(
                follows.c.wiki == wiki,
                follows.c.followed == followed,
                follows.c.rev_id.in_(rev_ids),
            )
            .order_by(follows.c.time)
        )
        return [
            {
                "rev_id": r.rev_id,
                "page": r.page,
                "time": r.time,
                "followed_time": r.followed_time,
                "gap_hours": round((r.time - r.followed_time) / 3600, 1),
            }
            for r in rows
        ]

    def case_flags(self, wiki: str, names: Sequence[str]) -> list[tuple[Flag, str]]:
        """Flags on `wiki` that may concern any of `names` (by them, on a page whose title holds
        the name, or reports whose targets do), each with its report's targets ("" for other
        flags), oldest first, without text; the caller decides exactly who is concerned."""
        columns = [c for c in flags.c if c.name not in TEXT_COLUMNS]
        mentioned: list[Any] = [flags.c.user.in_(list(names))]
        for name in names:
            # any case and either spelling: "User_talk:stalker" in a report names "Stalker"
            for spelling in {name.lower(), name.lower().replace(" ", "_")}:
                mentioned.append(func.lower(flags.c.title).contains(spelling, autoescape=True))
                mentioned.append(func.lower(reports.c.targets).contains(spelling, autoescape=True))
        query = (
            select(*columns, reports.c.targets)
            .outerjoin(reports, reports.c.flag_id == flags.c.id)
            .where(flags.c.wiki == wiki, or_(*mentioned))
            .order_by(flags.c.edit_time, flags.c.id)
        )
        with self.engine.connect() as conn:
            return [(Flag.from_row(r), r.targets or "") for r in conn.execute(query)]

    def unpurged_flags(self) -> list[tuple[str, int]]:
        """(wiki, rev_id) of every flag that still holds text (for the purge check)."""
        with self.engine.connect() as conn:
            return [
                (wiki, rev_id)
                for wiki, rev_id in conn.execute(
                    select(flags.c.wiki, flags.c.rev_id).where(
                        flags.c.added_text.is_not(None), flags.c.purged_at.is_(None)
                    )
                )
            ]

    def purge_text(self, wiki: str, rev_id: int, actor: str, reason: str) -> bool:
        """Forget the stored text of a revision the wiki has hidden or deleted."""
        with self.engine.begin() as conn:
            flag_id = conn.execute(
                select(flags.c.id).where(flags.c.wiki == wiki, flags.c.rev_id == rev_id)
            ).scalar()
            if flag_id is None:
                return False
            conn.execute(
                update(flags)
                .where(flags.c.id == flag_id)
                .values(added_text=None, summary=None, purged_at=time.time())
            )
            self.write_audit(conn, actor, "purge_text", flag_id, reason)
            return True

    def purge_older_than(self, cutoff: float, actor: str = "flagbot") -> int:
        """Forget the text of flags and reports made before `cutoff` (retention); decisions,
        categories and counts stay. Returns how many."""
        with self.engine.begin() as conn:
            ids = [
                flag_id
                for (flag_id,) in conn.execute(
                    select(flags.c.id).where(
                        flags.c.created < cutoff,
                        flags.c.purged_at.is_(None),
                        flags.c.added_text.is_not(None) | flags.c.summary.is_not(None),
                    )
                )
            ]
            if ids:
                conn.execute(
                    update(flags)
                    .where(flags.c.id.in_(ids))
                    .values(added_text=None, summary=None, purged_at=time.time())
                )
                self.write_audit(conn, actor, "retention_purge", None, f"{len(ids)} flag(s)")
            return len(ids)

    def get_control(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            value: str | None = conn.execute(
                select(control.c.value).where(control.c.key == key)
            ).scalar()
            return value

    def set_control(self, key: str, value: str | None) -> None:
        """Set (or with None, clear) one piece of operator state."""
        with self.engine.begin() as conn:
            conn.execute(control.delete().where(control.c.key == key))
            if value is not None:
                conn.execute(control.insert().values(key=key, value=value, updated=time.time()))

    def write_audit(
        self, conn: Connection, actor: str, action: str, flag_id: int | None, detail: str = ""
    ) -> None:
        conn.execute(
            audit.insert().values(
                at=time.time(), actor=actor, action=action, flag_id=flag_id, detail=detail
            )
        )

    def record_decision(
        self, flag_id: int, reviewer: str, decision: str, note: str = "", second: bool = False
    ) -> str:
        """A reviewer's decision; returns the flag's status after it.

        The two-person rule: a decision marked `second` leaves the flag in SECOND_REVIEW until
        another reviewer makes the same decision. A different decision, or the same reviewer
        again, replaces the proposal and still waits.
        """
        with self.engine.begin() as conn:
            status = conn.execute(select(flags.c.status).where(flags.c.id == flag_id)).scalar()
            proposal = conn.execute(
                select(decisions.c.reviewer, decisions.c.decision)
                .where(decisions.c.flag_id == flag_id)
                .order_by(decisions.c.id.desc())
                .limit(1)
            ).first()
            agreed = (
                status == SECOND_REVIEW
                and proposal is not None
                and proposal.reviewer != reviewer
                and proposal.decision == decision
            )
            waits = not agreed and (second or status == SECOND_REVIEW)
            new_status = SECOND_REVIEW if waits else decision
            conn.execute(
                decisions.insert().values(
                    flag_id=flag_id,
                    reviewer=reviewer,
                    decision=decision,
                    note=note,
                    decided_at=time.time(),
                )
            )
            conn.execute(update(flags).where(flags.c.id == flag_id).values(status=new_status))
            action = f"decide:{decision}" + (":awaiting-second" if waits else "")
            self.write_audit(conn, reviewer, action, flag_id, note)
            return new_status

    # --- the review queue -------------------------------------------------------------------
    def flag(self, flag_id: int) -> Flag | None:
        if not 0 < flag_id < 2**63:  # a huge id from a URL: no such flag, not a database error
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(flags).where(flags.c.id == flag_id)).first()
            return Flag.from_row(row) if row else None

    def find_flags(
        self,
        wiki: str = "",
        status: str = "",
        min_score: float = 0.0,
        max_score: float = 1.0,
        since: float = 0.0,
        order: str = "newest",
        kind: str = "",
    ) -> list[Flag]:
        """Flags by the queue's filters, without their text; category and access filtering
        happen in the caller, which knows who is asking."""
        columns = [c for c in flags.c if c.name not in TEXT_COLUMNS]
        query = select(*columns).where(
            flags.c.score >= min_score, flags.c.score <= max_score, flags.c.created >= since
        )
        if wiki:
            query = query.where(flags.c.wiki == wiki)
        if status:
            query = query.where(flags.c.status == status)
        if kind:
            query = query.where(flags.c.kind == kind)
        ordering = flags.c.score.desc() if order == "score" else flags.c.created.desc()
        with self.engine.connect() as conn:
            return [Flag.from_row(r) for r in conn.execute(query.order_by(ordering, flags.c.id))]

    def decisions_for(self, flag_id: int) -> list[dict[str, Any]]:
        """Decisions and notes without a decision, oldest first, as {reviewer, decision, note}."""
        with self.engine.connect() as conn:
            decided = [
                {"at": r.decided_at, "reviewer": r.reviewer, "decision": r.decision, "note": r.note}
                for r in conn.execute(select(decisions).where(decisions.c.flag_id == flag_id))
            ]
            notes = [
                {"at": r.at, "reviewer": r.actor, "decision": "note", "note": r.detail}
                for r in conn.execute(
                    select(audit).where(audit.c.flag_id == flag_id, audit.c.action == "note")
                )
            ]
        return sorted(decided + notes, key=lambda d: d["at"])

    def audit_entries(self, limit: int = 200) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit).order_by(audit.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def audit(self, actor: str, action: str, flag_id: int | None, detail: str = "") -> None:
        with self.engine.begin() as conn:
            self.write_audit(conn, actor, action, flag_id, detail)

    def iter_decisions(self) -> list[Decided]:
        """Latest decision per flag, with the flag and its stored text (for label export)."""
        with self.engine.connect() as conn:
            latest = (
                select(decisions.c.flag_id, func.max(decisions.c.id).label("id"))
                .group_by(decisions.c.flag_id)
                .subquery()
            )
            query = (
                select(decisions.c.decision, decisions.c.reviewer, flags)
                .join(latest, latest.c.id == decisions.c.id)
                .join(flags, flags.c.id == decisions.c.flag_id)
                .where(flags.c.status != SECOND_REVIEW)  # a proposal is not a label yet
                .order_by(decisions.c.id)
            )
            return [Decided(r.decision, r.reviewer, Flag.from_row(r)) for r in conn.execute(query)]

    # --- the alerts outbox: every query on it is here; the sender decides, this stores ------
    @staticmethod
    def queue_alerts(conn: Connection, flag_id: int, deliveries: Iterable[tuple[str, str]]) -> None:
        """One pending outbox row per (route, recipient) of a flag, in the caller's
        transaction (the pipeline's: a flag and its alerts are stored together)."""
        now = time.time()
        for route, recipient in deliveries:
            conn.execute(
                outbox.insert().values(
                    flag_id=flag_id,
                    route=route,
                    recipient=recipient,
                    channel=recipient.partition(":")[0],
                    status="pending",
                    attempts=0,
                    next_attempt=0,
                    created=now,
                )
            )

    def queue_route_once(self, flag_id: int, route: str, recipients: Iterable[str]) -> bool:
        """Queue `route` for a flag unless it already was; returns whether it was queued now."""
        with self.engine.begin() as conn:
            already = conn.execute(
                select(outbox.c.id).where(outbox.c.flag_id == flag_id, outbox.c.route == route)
            ).first()
            if already is not None:
                return False
            self.queue_alerts(conn, flag_id, [(route, r) for r in recipients])
            return True

    def due_alerts(self, now: float) -> list[Due]:
        """Pending rows whose time has come, oldest first, with their flags (without text)."""
        columns = [c for c in flags.c if c.name not in TEXT_COLUMNS]
        query = (
            select(
                outbox.c.id.label("outbox_id"),
                outbox.c.route.label("outbox_route"),
                outbox.c.recipient,
                outbox.c.channel,
                outbox.c.attempts,
                *columns,
            )
            .join(flags, flags.c.id == outbox.c.flag_id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt <= now)
            .order_by(outbox.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Due(
                    id=r.outbox_id,
                    route=r.outbox_route,
                    recipient=r.recipient,
                    channel=r.channel,
                    attempts=r.attempts,
                    flag=Flag.from_row(r),
                )
                for r in conn.execute(query)
            ]

    def claims(self) -> list[tuple[int, str | None, float | None]]:
        """(outbox id, claimed_by, claimed_at) of every row a sender has taken."""
        with self.engine.connect() as conn:
            return [
                (row_id, owner, at)
                for row_id, owner, at in conn.execute(
                    select(outbox.c.id, outbox.c.claimed_by, outbox.c.claimed_at).where(
                        outbox.c.status == "sending"
                    )
                )
            ]

    def claim_alerts(self, ids: Iterable[int], now: float, owner: str) -> set[int]:
        """Take pending rows for `owner`; a sender sharing the store gets none of them."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.status == "pending")
                .values(status="sending", claimed_at=now, claimed_by=owner)
                .returning(outbox.c.id)
            )
            return {row_id for (row_id,) in taken}

    def unclaim_alerts(self, ids: Iterable[int]) -> None:
        """Rows a dead sender had taken go back to pending."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.status == "sending")
                .values(status="pending", claimed_at=None, claimed_by=None)
            )

    def defer_alerts(self, until: dict[int, float]) -> None:
        """Pending rows that wait (a burst window) until the given times."""
        with self.engine.begin() as conn:
            for row_id, when in until.items():
                conn.execute(update(outbox).where(outbox.c.id == row_id).values(next_attempt=when))

    def mark_alerts(self, ids: Iterable[int], status: str, **values: Any) -> None:
        """Record what became of rows: sent (with message, sent_at), pending a retry (with
        error, attempts, next_attempt), failed, or handled_before_alert."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(status=status, claimed_by=None, **values)
            )

    def flags_alerted(self, since: float, until: float | None = None) -> tuple[int, float | None]:
        """How many flags were queued for alerts in [since, until), and the first one's time."""
        query = select(func.count(distinct(outbox.c.flag_id)), func.min(outbox.c.created)).where(
            outbox.c.created >= since
        )
        if until is not None:
            query = query.where(outbox.c.created < until)
        with self.engine.connect() as conn:
            count, first = conn.execute(query).one()
            return int(count or 0), first

    def sent_about(self, recipient: str, since: float) -> list[tuple[str, str, str, float]]:
        """(wiki, user, title, sent_at) of what a recipient was sent since a time."""
        with self.engine.connect() as conn:
            return [
                (wiki, user, title, sent_at)
                for wiki, user, title, sent_at in conn.execute(
                    select(flags.c.wiki, flags.c.user, flags.c.title, outbox.c.sent_at)
                    .join(flags, flags.c.id == outbox.c.flag_id)
                    .where(outbox.c.recipient == recipient, outbox.c.sent_at >= since)
                )
            ]

    def messages_sent(self, recipient: str, since: float) -> int:
        """Messages (not rows: a digest is one) a recipient was sent since a time."""
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count(distinct(outbox.c.message))).where(
                    outbox.c.recipient == recipient, outbox.c.sent_at >= since
                )
            ).scalar()
            return int(count or 0)

    @staticmethod
    def _flag_with_owner(
        conn: Connection, flag: dict[str, Any], base: int, owner: Table, row: dict[str, Any]
    ) -> tuple[int, int]:
        """A flag that belongs to a report or a pattern, and its owner's row. The flag is keyed
        -(base + owner id), known only once the owner row exists: it starts with a random
        placeholder key (two writers may insert at once). Returns (flag id, owner id)."""
        flag_id = conn.execute(
            flags.insert().values(**flag, rev_id=-(2 * base + secrets.randbelow(base)))
        ).inserted_primary_key[0]  # type: ignore[index]
        owned = conn.execute(owner.insert().values(**row, flag_id=flag_id))
        owner_id = owned.inserted_primary_key[0]  # type: ignore[index]
        conn.execute(update(flags).where(flags.c.id == flag_id).values(rev_id=-(base + owner_id)))
        return int(flag_id), int(owner_id)

    # --- confidential reports ------------------------------------------------------------
    def record_report(
        self,
        report: dict[str, Any],
        flag: dict[str, Any],
        on_flag: Callable[[Connection, int], None] | None = None,
    ) -> int:
        """A report and its flag (kind "report", the description as its text) and, through
        `on_flag`, its alerts, in one transaction; returns the report id."""
        now = time.time()
        with self.engine.begin() as conn:
            flag_id, report_id = self._flag_with_owner(
                conn,
                {**flag, "kind": REPORT_KIND, "status": "new", "created": now},
                REPORT_KEY_BASE,
                reports,
                {**report, "status": "received", "created": now, "updated": now},
            )
            if on_flag is not None:
                on_flag(conn, flag_id)
            return int(report_id)

    def reports_today(self, reporter: str, since: float) -> int:
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(
                    reports.c.reporter == reporter, reports.c.created >= since
                )
            ).scalar()
            return int(count or 0)

    def reports_by(self, reporter: str) -> list[dict[str, Any]]:
        """A reporter's own reports: reference, wiki, category, status, dates; nothing else."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    reports.c.id,
                    reports.c.wiki,
                    reports.c.category,
                    reports.c.status,
                    reports.c.created,
                    reports.c.updated,
                )
                .where(reports.c.reporter == reporter)
                .order_by(reports.c.id.desc())
            )
            return [dict(r._mapping) for r in rows]

    def report_counts(self) -> dict[tuple[str, str], int]:
        """Reports per (month "YYYY-MM", category): counts only."""
        counts: dict[tuple[str, str], int] = {}
        with self.engine.connect() as conn:
            for created, category in conn.execute(select(reports.c.created, reports.c.category)):
                key = (time.strftime("%Y-%m", time.gmtime(created)), category)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def report_flag_id(self, report_id: int) -> int | None:
        """The flag a report is in the queue as."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(reports.c.flag_id).where(reports.c.id == report_id)
            ).scalar()
            return int(found) if found is not None else None

    def report_for_flag(self, flag_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reports).where(reports.c.flag_id == flag_id)).first()
            return dict(row._mapping) if row else None

    def set_report_assessment(self, flag_id: int, assessment: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(reports).where(reports.c.flag_id == flag_id).values(assessment=assessment)
            )

    def set_report_status(self, flag_id: int, status: str) -> None:
        """The status the reporter sees; a reporter who asked is sent a wiki email the first
        time the report reaches each status (an outbox row on the route "status:<status>")."""
        with self.engine.begin() as conn:
            row = conn.execute(select(reports).where(reports.c.flag_id == flag_id)).first()
            if row is None or row.status == status:
                return
            conn.execute(
                update(reports)
                .where(reports.c.flag_id == flag_id)
                .values(status=status, updated=time.time())
            )
            route = f"{STATUS_ROUTE}{status}"
            already = conn.execute(
                select(outbox.c.id).where(outbox.c.flag_id == flag_id, outbox.c.route == route)
            ).first()
            if row.notify and already is None:
                self.queue_alerts(conn, flag_id, [(route, f"wikimail:{row.reporter}")])
