"""The store's connection: engine, migrations, and the few writes every part shares."""

from __future__ import annotations

import os
import secrets
from typing import Any, Self

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from flagbot.errors import StoreError, StoreUnavailable
from flagbot.files import private_file
from flagbot.store.schema import MIGRATIONS, SCHEMA_VERSION, flags, schema_version


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


class StoreBase:
    """The database. Nothing connects until `open()`."""

    def __init__(self, url: str):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        self.url = url
        self._engine: Engine | None = None
        # (wiki, pages or edits) → (window start, count): see _window_count
        self._window_counts: dict[tuple[str, bool], tuple[float, int]] = {}
        self._mention_key: bytes | None = None  # see activity.PatternTx.mention_key

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StoreError("store is not open; call open() first")
        return self._engine

    def open(self) -> Self:
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

    def _insert(self, table: Table) -> Any:
        dialect = self.engine.dialect.name
        return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)

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
