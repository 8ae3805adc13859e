"""Engines, connections and transactions: every SQLite/PostgreSQL difference lives here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from ..errors import DatabaseError, InputError, ObscatError, one_line
from .config import resolve_url

__all__ = [
    "BUSY_TIMEOUT_S",
    "create_engine",
    "display_url",
    "connect",
    "reading",
    "writing",
    "write_transaction",
    "conflict_error",
    "driver_error",
    "dbapi_connection",
]

#: How long a writer waits for another writer's lock before failing (SQLite's busy
#: timeout; PostgreSQL's lock_timeout in write transactions).
BUSY_TIMEOUT_S = 60.0

#: Key of the PostgreSQL advisory lock obscat's writers queue on (with the schema's hash).
_WRITER_LOCK = 742002

_SUPPORTED = ("sqlite", "postgresql")


def display_url(url: str | URL) -> str:
    """The URL as it may be shown to a user: password hidden."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return str(url)


def create_engine(url: str | None = None, *, read_only: bool = False) -> Engine:
    """Create an engine for ``url`` (see :func:`obscat.store.config.resolve_url`).

    SQLite connections enforce foreign keys, use WAL and wait up to
    ``BUSY_TIMEOUT_S`` for locks; transactions that write take the lock at
    ``BEGIN IMMEDIATE`` (see :func:`write_transaction`).

    ``read_only`` connections cannot write whatever they run: SQLite opens the
    (existing) file read-only with ``query_only`` on; PostgreSQL sessions start
    every transaction ``READ ONLY``.
    """
    text = resolve_url(url)
    try:
        sa_url = sa.make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise DatabaseError(f"cannot parse database URL {text!r}") from None
    backend = sa_url.get_backend_name()
    if backend not in _SUPPORTED:
        raise DatabaseError(
            f"unsupported database URL {display_url(sa_url)!r}: "
            "use sqlite:///FILE or postgresql://USER@HOST/DB"
        )
    try:
        if backend == "sqlite" and read_only:
            engine = _read_only_sqlite(sa_url)
        elif backend == "sqlite":
            engine = sa.create_engine(sa_url, connect_args={"timeout": BUSY_TIMEOUT_S})
            _configure_sqlite(engine)
        elif read_only:  # added to any options the URL carries (e.g. -csearch_path=...)
            options = f"{sa_url.query.get('options', '')} -c default_transaction_read_only=on".strip()
            engine = sa.create_engine(sa_url.update_query_dict({"options": options}), pool_pre_ping=True)
        else:
            engine = sa.create_engine(sa_url, pool_pre_ping=True)
        if backend == "postgresql":
            _configure_postgresql(engine)
    except (NoSuchModuleError, ImportError) as exc:
        hint = ": pip install 'obscat[postgres]'" if sa_url.get_backend_name() == "postgresql" else ""
        raise DatabaseError(f"no driver for {display_url(sa_url)!r}: {exc}{hint}") from None

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context) -> None:
        error = driver_error(context.original_exception)
        if error is not None:
            raise error

    return engine


def driver_error(exc: BaseException) -> ObscatError | None:
    """The one-line error a driver exception means for the user (a conflict to retry, a text
    value PostgreSQL cannot hold), or None for one that is a bug."""
    orig = getattr(exc, "orig", None) or exc
    if type(orig).__name__ == "DataError" and "NUL (0x00)" in str(orig):  # psycopg, before sending
        return InputError("a text value holds a NUL character, which the catalogue cannot hold")
    return conflict_error(exc)


def conflict_error(exc: BaseException) -> DatabaseError | None:
    """The retryable error a conflict with another process means, or None.

    SQLite's "database is locked" (its busy timeout ran out), PostgreSQL's lock
    timeouts, deadlocks and serialization failures, and foreign-key violations
    (a write referring to observations another process removed after they were
    read) become one line that says to retry, whether they come as the driver's
    exception or SQLAlchemy's wrapping of it: no raw driver text reaches the user.
    """
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    state = getattr(orig, "sqlstate", None)
    if (code is not None and code & 0xFF in (5, 6)) or state == "55P03":  # SQLITE_BUSY/LOCKED, lock_not_available
        return DatabaseError(f"the catalogue is busy: another obscat process is writing (waited "
                             f"{BUSY_TIMEOUT_S:g} s); retry")  # fmt: skip
    if state in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        return DatabaseError("the write conflicted with another obscat process writing at the same time and was "
                             "rolled back; retry")  # fmt: skip
    if code == 787 or state == "23503":  # SQLITE_CONSTRAINT_FOREIGNKEY, foreign_key_violation
        return DatabaseError("nothing was written: the write refers to rows that no longer exist (another obscat "
                             "process updated or removed a store meanwhile?); retry")  # fmt: skip
    return None


def _read_only_sqlite(sa_url: URL) -> Engine:
    """The database file opened with ``mode=ro``: no write, and no new file, can happen."""
    import sqlite3

    path = sa_url.database or ""
    if not path or path == ":memory:" or not Path(path).is_file():
        raise DatabaseError(f"no SQLite catalogue at {path or '(no file)'!r}")
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"

    def connect_read_only():
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        _math_functions(conn)
        return conn

    return sa.create_engine("sqlite://", creator=connect_read_only)


def _configure_postgresql(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # The server's default cost of a random page read (4) is for spinning disks: with it, a
        # selection keeping 0.5 % of 10^6 observations through an index scans every observation
        # instead (150 ms, not 25 ms). 1.1 is the usual setting for SSDs and cached catalogues;
        # a value the server or database sets is left alone.
        with dbapi_conn.cursor() as cursor:
            cursor.execute("SELECT set_config('random_page_cost', '1.1', false) FROM pg_settings "
                           "WHERE name = 'random_page_cost' AND source = 'default'")  # fmt: skip
        dbapi_conn.commit()


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # obscat emits BEGIN itself, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA cache_size = -131072")  # 128 MiB: bulk ingest rewrites large indexes
        cursor.close()
        _math_functions(dbapi_conn)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("obscat_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _math_functions(dbapi_conn) -> None:
    """SQLite built without its math functions gets Python's: selections use them."""
    import math

    try:
        dbapi_conn.execute("SELECT sin(0), atan2(0, 1), radians(0)").fetchall()
    except Exception:  # sqlite3.OperationalError: no such function
        for name, function, n in (("sin", math.sin, 1), ("cos", math.cos, 1), ("atan2", math.atan2, 2),
                                  ("sqrt", math.sqrt, 1), ("radians", math.radians, 1),
                                  ("degrees", math.degrees, 1)):  # fmt: skip
            dbapi_conn.create_function(name, n, function, deterministic=True)


@contextlib.contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection, with connection failures reported as :class:`DatabaseError`."""
    try:
        conn = engine.connect()
    except DBAPIError as exc:  # unreachable server, missing directory, a file that is not a database
        raise DatabaseError(
            f"cannot open database {display_url(engine.url)!r}: {one_line(exc.orig)}"
        ) from None
    with conn:
        try:
            yield conn
        except Exception as exc:  # the driver's own errors too (bulk_insert uses its cursor)
            error = driver_error(exc)
            if error is None:
                raise
            raise error from None


@contextlib.contextmanager
def _joined(bind: Engine | Connection, open_new) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
    else:
        with open_new(bind) as conn:
            yield conn


def reading(bind: Engine | Connection):
    """``bind`` itself if it is a connection (a caller's transaction), else a new connection."""
    return _joined(bind, connect)


def writing(bind: Engine | Connection):
    """``bind`` itself if it is a connection (a caller's write transaction, which commits
    or rolls back everything together), else a new :func:`write_transaction`."""
    return _joined(bind, write_transaction)


@contextlib.contextmanager
def write_transaction(engine: Engine, *, bulk: bool = False) -> Iterator[Connection]:
    """One transaction that writes: all of it is committed, or none of it.

    Writers queue instead of failing halfway: on SQLite the write lock is
    taken at the start (``BEGIN IMMEDIATE``); on PostgreSQL every write
    transaction first takes an advisory lock of its schema, so what a
    transaction reads before it writes ("is this name taken?") holds until
    its commit.  Waiting longer than ``BUSY_TIMEOUT_S`` is a
    :class:`DatabaseError` saying to retry.  ``bulk=True`` turns SQLite's
    per-row foreign-key checks off for the transaction: the caller
    guarantees every reference, and deletes with :func:`delete_cascade`.
    """
    with connect(engine) as conn:
        conn.execution_options(obscat_write=True)
        unchecked = bulk and conn.dialect.name == "sqlite"
        if unchecked:  # only takes effect outside a transaction, so on the raw connection
            dbapi_connection(conn).execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITER_LOCK}, "
                                         "hashtext(coalesce(current_schema(), '')))")  # fmt: skip
                yield conn
        except DBAPIError as exc:
            if conflict_error(exc) is not None:
                raise  # connect() says to retry
            if isinstance(exc, OperationalError):
                raise DatabaseError(f"database write failed: {one_line(exc.orig)}") from None
            if not _is_refused_write(exc):
                raise
            raise DatabaseError(f"database write refused: {one_line(exc.orig)} (is this a read-only role "
                                "or a read-only database?)") from None  # fmt: skip
        finally:
            if unchecked:
                dbapi_connection(conn).execute("PRAGMA foreign_keys = ON")


def dbapi_connection(conn: Connection) -> Any:
    """The driver's own connection (sqlite3 or psycopg) under ``conn``."""
    driver_conn = conn.connection.driver_connection
    if driver_conn is None:  # an invalidated connection
        raise DatabaseError("the database connection was lost")
    return driver_conn


def _is_refused_write(exc: DBAPIError) -> bool:
    """A write the server refused: read-only transaction (25006) or no privilege (42501)."""
    return getattr(exc.orig, "sqlstate", None) in ("25006", "42501")
