"""ORM sessions for users of :class:`obscat.Catalog`: read-only by default, or one write transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from ..errors import DatabaseError, NotFoundError, ParameterError, one_line
from .engine import connect, dbapi_connection, write_transaction
from .models import DataStore, Observation
from .rows import empty_catalog_error, store_id

__all__ = ["orm_session", "observation"]

_READ_ONLY = "the session is read-only: pass `write=True` to write"


@contextlib.contextmanager
def orm_session(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """A session in one transaction. ``write``: committed at the end (rolled back on an error),
    SQLite's write lock taken at the start. Otherwise read-only and without the writer lock:
    SQLite's ``query_only`` on the connection, PostgreSQL's ``SET TRANSACTION READ ONLY``; a
    write, or objects changed but not flushed at the end, raise :class:`DatabaseError`."""
    if write:
        with write_transaction(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.flush()
        return
    with connect(engine) as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, on the driver's connection; undone before it goes back to the pool
            dbapi_connection(conn).execute("PRAGMA query_only = ON")
        else:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            with Session(bind=conn, autoflush=True) as session:
                yield session
                if session.new or session.dirty or session.deleted:
                    raise DatabaseError(f"{_READ_ONLY} (objects were added, changed or deleted)")
        except DBAPIError as exc:
            if _refused_write(exc):
                raise DatabaseError(f"{_READ_ONLY} ({one_line(exc.orig)})") from None
            raise
        finally:
            conn.rollback()
            if sqlite:
                dbapi_connection(conn).execute("PRAGMA query_only = OFF")


def _refused_write(exc: DBAPIError) -> bool:
    """A write refused by a read-only transaction (PostgreSQL 25006) or SQLite's query_only."""
    return getattr(exc.orig, "sqlstate", None) == "25006" or "readonly database" in str(exc.orig)


def observation(engine: Engine, obs_id: int, store: str | None = None) -> Observation:
    """One observation (detached, with its store and HDUs loaded) by OBS_ID; ``store`` is needed
    only when the OBS_ID exists in several stores."""
    with Session(engine) as session:
        if store is not None:
            store_id(session.connection(), store)
        query = (
            sa.select(Observation).join(Observation.store).where(Observation.obs_id == obs_id)
            .options(selectinload(Observation.hdus), selectinload(Observation.store))
        )  # fmt: skip
        if store is not None:
            query = query.where(DataStore.name == store)
        found = session.scalars(query).all()
        if not found and (error := empty_catalog_error(session.connection())):
            raise error
    if not found:
        where = f" in store {store!r}" if store is not None else ""
        raise NotFoundError(f"no observation with OBS_ID {obs_id}{where}")
    if len(found) > 1:
        names = ", ".join(sorted(o.store.name for o in found))
        raise ParameterError(f"OBS_ID {obs_id} exists in stores {names}: pass `store`")
    return found[0]
