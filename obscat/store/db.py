"""The database layer at one import, for code written against it before it was split by concept.

New code imports from the module that holds the concept: :mod:`obscat.store.engine`
(engines, connections, transactions, backend differences), :mod:`obscat.store.rows`
(bulk writes, cascading deletes, lookups by name) and :mod:`obscat.store.schema`
(revision check, migrations, read-only roles).
"""

from .engine import (
    BUSY_TIMEOUT_S,
    _WRITER_LOCK,
    conflict_error,
    connect,
    create_engine,
    display_url,
    driver_error,
    reading,
    write_transaction,
    writing,
)
from .rows import (
    bulk_insert,
    bulk_load,
    bulk_update,
    check_observations_unchanged,
    delete_cascade,
    empty_catalog_error,
    id_by_name,
    store_id,
)
from .schema import (
    ARCHIVE_PREFIX,
    alembic_config,
    archived_tables,
    ensure_schema,
    grant_read_only,
    migrate,
    migrations_dir,
    schema_revision,
)

__all__ = [
    "ARCHIVE_PREFIX",
    "BUSY_TIMEOUT_S",
    "alembic_config",
    "archived_tables",
    "bulk_insert",
    "bulk_load",
    "bulk_update",
    "check_observations_unchanged",
    "conflict_error",
    "connect",
    "create_engine",
    "delete_cascade",
    "display_url",
    "driver_error",
    "empty_catalog_error",
    "ensure_schema",
    "grant_read_only",
    "id_by_name",
    "migrate",
    "migrations_dir",
    "reading",
    "schema_revision",
    "store_id",
    "write_transaction",
    "writing",
]
