"""Engines, transactions and schema checks: every SQLite/PostgreSQL difference lives here."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from .config import resolve_url
from ..errors import DatabaseError, InputError, ObscatError, SchemaVersionError, one_line
from .models import SCHEMA_REVISION

__all__ = [
    "BUSY_TIMEOUT_S",
    "create_engine",
    "display_url",
    "write_transaction",
    "conflict_error",
    "driver_error",
    "delete_cascade",
    "check_observations_unchanged",
    "id_by_name",
    "bulk_insert",
    "bulk_update",
    "bulk_load",
    "schema_revision",
    "ensure_schema",
    "alembic_config",
    "migrations_dir",
    "grant_read_only",
    "ARCHIVE_PREFIX",
    "archived_tables",
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
            conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
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
                conn.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


def _is_refused_write(exc: DBAPIError) -> bool:
    """A write the server refused: read-only transaction (25006) or no privilege (42501)."""
    return getattr(exc.orig, "sqlstate", None) in ("25006", "42501")


def check_observations_unchanged(conn: Connection, observations: Iterable[tuple[int, int]]) -> None:
    """Inside a write transaction: every ``(observation.id, OBS_ID)`` read before it still
    names the same observation. (SQLite reuses the ids of deleted rows: a store removed
    and another ingested meanwhile must not receive rows meant for the first.)"""
    from .models import Observation

    table = Observation.__table__
    expected = dict(observations)
    ids = sorted(expected)
    for lo in range(0, len(ids), 10_000):
        found = dict(conn.execute(sa.select(table.c.id, table.c.obs_id).where(table.c.id.in_(ids[lo:lo + 10_000]))).all())
        changed = [i for i in ids[lo:lo + 10_000] if found.get(i) != expected[i]]
        if changed:
            raise DatabaseError(f"{len(changed)} of the selected observations were removed or replaced by another "
                                "obscat process meanwhile; nothing was written: retry")  # fmt: skip


def delete_cascade(conn: Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> None:
    """Delete ``table``'s rows matching ``where`` and, first, every row that refers to
    them through an ``ON DELETE CASCADE`` foreign key, recursively: what the
    database does itself when its foreign keys are enforced."""
    for child in table.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is table and fk.ondelete == "CASCADE":
                delete_cascade(conn, child, fk.parent.in_(sa.select(fk.column).where(where)))
    conn.execute(sa.delete(table).where(where))


def id_by_name(conn: Connection, table: sa.Table, name: str, kind: str) -> int:
    """The id of ``table``'s row named ``name``; ``NotFoundError("no {kind} named ...")`` if none."""
    from ..errors import NotFoundError

    # no row holds a NUL (PostgreSQL text cannot): not found, rather than the driver's refusal
    found = None if "\x00" in name else conn.execute(sa.select(table.c.id).where(table.c.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"no {kind} named {name!r}")
    return found


def store_id(conn: Connection, name: str) -> int:
    """The id of the store named ``name``; else :class:`NotFoundError` listing the stores
    (:class:`EmptyCatalogError` if the catalogue holds none)."""
    from ..errors import NotFoundError
    from .models import DataStore

    s = DataStore.__table__
    names = {n: i for i, n in conn.execute(sa.select(s.c.id, s.c.name).order_by(s.c.name))}
    if name in names:
        return names[name]
    raise empty_catalog_error(conn) or NotFoundError(f"no store {name!r} (stores: {', '.join(names)})")


def empty_catalog_error(conn: Connection):
    """An :class:`EmptyCatalogError` naming the database if it holds no observation, else None."""
    from ..errors import EmptyCatalogError
    from .models import Observation

    if conn.execute(sa.select(Observation.__table__.c.id).limit(1)).first() is not None:
        return None
    return EmptyCatalogError(f"the catalogue is empty: run `obscat ingest` (database {display_url(conn.engine.url)})")


def bulk_insert(conn: Connection, table: sa.Table, columns: list[str], rows: Iterable[tuple]) -> None:
    """Insert many rows fast: ``COPY`` on PostgreSQL, ``executemany`` on SQLite.

    Table and column names come from obscat's models, never from users; the
    values travel as parameters (or COPY data), never as SQL text.
    """
    names = ", ".join(columns)
    driver_conn = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with driver_conn.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        marks = ", ".join("?" * len(columns))
        cursor = driver_conn.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()


@contextlib.contextmanager
def bulk_load(conn: Connection, table: sa.Table, n_new: int) -> Iterator[None]:
    """Defer ``table``'s non-unique indexes (and, on PostgreSQL, its foreign keys)
    while a large batch is inserted.

    When the batch outnumbers the rows already there, rebuilding an index
    (or validating a foreign key with one join) afterwards is much faster than
    maintaining it row by row.  It all happens inside the caller's
    transaction, so nobody ever sees the table without them; on PostgreSQL
    the table is locked against readers until the commit.  (SQLite's foreign
    keys are left unchecked by ``write_transaction(bulk=True)`` instead.)
    """
    indexes, foreign_keys = [], []
    if n_new > 10_000:
        existing = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        if n_new > existing:
            indexes = [index for index in table.indexes if not index.unique]
            if conn.dialect.name == "postgresql":
                foreign_keys = list(table.foreign_key_constraints)
    for constraint in foreign_keys:
        conn.execute(sa.schema.DropConstraint(constraint))
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)
    for constraint in foreign_keys:
        conn.execute(sa.schema.AddConstraint(constraint))


def bulk_update(conn: Connection, table: sa.Table, columns: list[str], key: str, rows: Iterable[tuple]) -> None:
    """Update many rows by ``key``: each row holds the ``columns`` values, then the key."""
    style = "%s" if conn.dialect.name == "postgresql" else "?"
    assignments = ", ".join(f"{name} = {style}" for name in columns)
    driver_conn = conn.connection.driver_connection
    cursor = driver_conn.cursor()
    try:
        cursor.executemany(f"UPDATE {table.name} SET {assignments} WHERE {key} = {style}", rows)
    finally:
        cursor.close()


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision stamped in the database, or None if there is none."""
    tables = [t for t in sa.inspect(conn).get_table_names() if not t.startswith(ARCHIVE_PREFIX)]
    if "alembic_version" not in tables:
        if tables:
            raise DatabaseError(
                f"database {display_url(conn.engine.url)!r} has tables but no obscat "
                "schema version: it is not an obscat catalogue"
            )
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


#: Tables where a downgrade keeps the rows it drops (see migrations/migration_archive.py).
ARCHIVE_PREFIX = "obscat_archive_"


def archived_tables(conn: Connection) -> list[str]:
    """The archive tables a downgrade left, waiting for the upgrade that restores them."""
    return [t for t in sa.inspect(conn).get_table_names() if t.startswith(ARCHIVE_PREFIX)]


def ensure_schema(engine: Engine) -> None:
    """Create an empty database at the head revision, or check it is at head.

    A database at another revision is never migrated silently: the error asks
    the user to run ``obscat db upgrade`` (or to upgrade obscat).
    """
    with connect(engine) as conn:
        try:
            revision = schema_revision(conn)
            archives = archived_tables(conn) if revision is None else []
        except SQLAlchemyError as exc:
            raise DatabaseError(
                f"cannot read database {display_url(engine.url)!r}: {one_line(exc)}"
            ) from None
        conn.rollback()
        if revision == SCHEMA_REVISION:
            return
        if revision is None:
            if archives:
                raise SchemaVersionError("database was downgraded to base and keeps its data in obscat_archive_* "
                                         "tables: run `obscat db upgrade` to restore it")  # fmt: skip
            _create_at_head(conn)
            return
    known = {script.revision for script in _script_directory().walk_revisions()}
    if revision in known:
        raise SchemaVersionError(
            f"database schema is at revision {revision}, this obscat needs "
            f"{SCHEMA_REVISION}: run `obscat db upgrade`"
        )
    raise SchemaVersionError(
        f"database schema revision {revision!r} is newer than this obscat knows "
        f"(its newest is {SCHEMA_REVISION}): upgrade obscat"
    )


#: PostgreSQL role names grant_read_only accepts (an identifier is SQL text, never a bound value).
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def current_revision(url: str | URL | None) -> tuple[str | None, list[str]]:
    """The schema revision of the database at ``url`` (None: none) and the archive tables a
    downgrade to base left; creates and migrates nothing."""
    engine = create_engine(url)
    try:
        with connect(engine) as conn:
            return schema_revision(conn), archived_tables(conn)
    finally:
        engine.dispose()


def grant_read_only(url: str | URL | None, role: str) -> bool:
    """Make ``role`` (created with LOGIN if missing) able to read, and only read, the
    catalogue's schema on PostgreSQL; returns whether the role was created.

    The role gets CONNECT on the database, USAGE on the schema, SELECT on its tables
    and views (now and, by default privileges, later ones) and read-only transactions
    by default. An existing role with more than that (superuser, role/database creation,
    or any write privilege on the schema's tables) is refused rather than left half-read-only.
    """
    engine = create_engine(url)
    try:
        ensure_schema(engine)
        return _grant_read_only(engine, role)
    finally:
        engine.dispose()


def _grant_read_only(engine: Engine, role: str) -> bool:
    from ..errors import InputError

    if engine.dialect.name != "postgresql":
        raise DatabaseError("grant-readonly needs PostgreSQL; a SQLite catalogue is protected by its file "
                            "permissions (and `obscat sql` always opens it read-only)")  # fmt: skip
    if not _ROLE_NAME.fullmatch(role):
        raise InputError(f"role name {role!r}: use 1-63 lower-case letters, digits and _, not starting with a digit")
    with write_transaction(engine) as conn:
        quote = conn.dialect.identifier_preparer.quote_identifier
        schema, database = conn.execute(sa.text("SELECT current_schema(), current_database()")).one()
        found = conn.execute(sa.text("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                                     "WHERE rolname = :role"), {"role": role}).first()  # fmt: skip
        if found is not None:
            writable = conn.execute(sa.text(
                "SELECT string_agg(DISTINCT tablename, ', ') FROM pg_tables WHERE schemaname = :schema AND "
                "(has_table_privilege(:role, format('%I.%I', schemaname, tablename), 'INSERT,UPDATE,DELETE,TRUNCATE'))"
            ), {"role": role, "schema": schema}).scalar()  # fmt: skip
            if found[0] or writable:
                what = "is a superuser or may create roles/databases" if found[0] else f"may write to {writable}"
                raise InputError(f"role {role!r} exists and {what}: choose a new role name for read-only access")
        else:
            conn.exec_driver_sql(f"CREATE ROLE {quote(role)} LOGIN")
        for statement in (
            f"GRANT CONNECT ON DATABASE {quote(database)} TO {quote(role)}",
            f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(role)}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote(schema)} TO {quote(role)}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quote(schema)} GRANT SELECT ON TABLES TO {quote(role)}",
            f"ALTER ROLE {quote(role)} SET default_transaction_read_only = on",
        ):
            conn.exec_driver_sql(statement)
    return found is None


def migrations_dir() -> Path:
    """The directory of obscat's Alembic migrations: ``obscat/_migrations`` in an installed
    wheel (pyproject maps the source tree's top-level ``migrations/`` there), else the
    source tree's ``migrations/`` (a checkout, or an editable install)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "_migrations"
    return installed if installed.is_dir() else package.parent / "migrations"


def alembic_config(conn: Connection | None = None):
    """An Alembic ``Config`` for obscat's migrations, optionally bound to ``conn``.

    Built in code: no alembic.ini is needed (the source tree's alembic.ini is for
    developers' ``alembic`` command). The revisions' frozen helper module,
    ``migration_archive`` beside them, is made importable under that name.
    """
    import importlib.util
    import sys

    from alembic.config import Config

    directory = migrations_dir()
    if "migration_archive" not in sys.modules:
        spec = importlib.util.spec_from_file_location("migration_archive", directory / "migration_archive.py")
        sys.modules["migration_archive"] = helper = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(helper)
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(directory).replace("%", "%%"))  # a ConfigParser value
    config.set_main_option("path_separator", "os")
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def migrate(url: str | URL | None, action: str, revision: str) -> None:
    """``upgrade`` or ``downgrade`` the schema at ``url`` to ``revision`` in one write
    transaction (SQLite's foreign keys off, so a table a revision rebuilds keeps its
    children); a revision's refusal to lose data is an :class:`InputError`."""
    from alembic import command

    from ..errors import InputError

    engine = create_engine(url)
    try:
        with write_transaction(engine, bulk=True) as conn:
            config = alembic_config(conn)
            try:
                getattr(command, action)(config, revision)
            except sys.modules["migration_archive"].MigrationRefused as exc:
                raise InputError(str(exc)) from None
    finally:
        engine.dispose()


def _script_directory():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def _create_at_head(conn: Connection) -> None:
    """Create the schema in an empty database (unless a concurrent process just did)."""
    from alembic import command

    conn.execution_options(obscat_write=True)
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(742001)"))
        if schema_revision(conn) is None:
            command.upgrade(alembic_config(conn), "head")
