"""The schema's revision: checked cheaply on every open, created or migrated with Alembic
(imported only then); archived tables of a downgrade; read-only roles."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DatabaseError, SchemaVersionError, one_line
from .engine import connect, create_engine, display_url, write_transaction

__all__ = [
    "ARCHIVE_PREFIX",
    "current_revision",
    "alembic_config",
    "archived_tables",
    "ensure_schema",
    "grant_read_only",
    "migrate",
    "migrations_dir",
    "model_objects",
    "model_differences",
    "schema_revision",
]

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


def _stamped_revision(conn: Connection) -> str | None:
    """The revision in ``alembic_version`` read directly, or None if that fails (no such
    table, not a database: :func:`schema_revision` says which), rolled back either way."""
    try:
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None
    finally:
        conn.rollback()


def archived_tables(conn: Connection) -> list[str]:
    """The archive tables a downgrade left, waiting for the upgrade that restores them."""
    return [t for t in sa.inspect(conn).get_table_names() if t.startswith(ARCHIVE_PREFIX)]


def ensure_schema(engine: Engine) -> None:
    """Create an empty database at the head revision, or check it is at head.

    A database at head costs one ``SELECT`` (no inspection, no Alembic import);
    anything else takes the full check. A database at another revision is never
    migrated silently: the error asks the user to run ``obscat db upgrade`` (or
    to upgrade obscat).
    """
    from .models import SCHEMA_REVISION

    with connect(engine) as conn:
        if _stamped_revision(conn) == SCHEMA_REVISION:
            return
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


def current_revision(url: str | None) -> tuple[str | None, list[str]]:
    """The schema revision of the database at ``url`` (None: none) and the archive tables a
    downgrade to base left; creates and migrates nothing."""
    engine = create_engine(url)
    try:
        with connect(engine) as conn:
            return schema_revision(conn), archived_tables(conn)
    finally:
        engine.dispose()


def grant_read_only(url: str | None, role: str) -> bool:
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
        path = directory / "migration_archive.py"
        spec = importlib.util.spec_from_file_location("migration_archive", path)
        if spec is None or spec.loader is None:  # only for a path no loader knows (not a .py file)
            raise ImportError(f"cannot load {path}")
        sys.modules["migration_archive"] = helper = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(helper)
    config = Config(stdout=sys.stdout)
    config.set_main_option("script_location", str(directory).replace("%", "%%"))  # a ConfigParser value
    config.set_main_option("path_separator", "os")
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def migrate(url: str | None, action: str, revision: str) -> None:
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


def model_objects(dialect: str):
    """Alembic's ``include_object`` for a ``dialect`` database: the models' objects, less the
    values tables of annotation sets (created at ingest, declared by no model) and, on PostgreSQL,
    the foreign keys that triggers check per statement there (``STATEMENT_CHECKED``)."""
    from .annotation_tables import is_values_table
    from .derived_models import STATEMENT_CHECKED

    def include(obj, name, type_, reflected, compare_to) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        if is_values_table(table or ""):
            return False
        if type_ == "foreign_key_constraint" and dialect == "postgresql" and not reflected:
            return not any(element.info == STATEMENT_CHECKED for element in obj.elements)
        return True

    return include


def model_differences(conn: Connection) -> list:
    """Alembic's differences between the models and the database of ``conn`` (``[]``: the
    schema is exactly what the models and migrations make)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from .models import Base

    opts = {"compare_type": True, "include_object": model_objects(conn.dialect.name)}
    return compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)


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
