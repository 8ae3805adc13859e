"""Helpers of the crash and concurrency tests: ``obscat`` subprocesses, watching them
write, and integrity checks of a catalogue on either backend."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

#: Words that must never reach a user: raw driver messages about locks and conflicts.
RAW_DRIVER_TEXT = ("database is locked", "database is busy", "deadlock", "could not serialize", "UniqueViolation",
                   "IntegrityError", "OperationalError", "psycopg", "sqlite3", "Traceback", "duplicate key")  # fmt: skip


def backend(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def sqlite_path(url: str) -> str:
    return sa.make_url(url).database


def with_application_name(url: str, name: str) -> str:
    """A PostgreSQL URL whose connections carry ``application_name`` (so their
    backends can be found in ``pg_stat_activity``); SQLite URLs unchanged."""
    if backend(url) != "postgresql":
        return url
    return sa.make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


@dataclass
class Obscat:
    """One ``python -m obscat`` process in its own process group (so kill -9 reaches any
    worker it started); output goes to files, so a full pipe never blocks it. ``setup`` is
    Python run in the process first, ``env`` more environment variables."""

    args: tuple[str, ...]
    url: str
    setup: str = ""
    env: dict[str, str] = field(default_factory=dict)
    app: str = field(default_factory=lambda: f"obscat-test-{uuid.uuid4().hex[:12]}")
    started: float = 0.0
    ended: float | None = None
    stdout: str = ""  # both read when the process has ended
    stderr: str = ""

    def __post_init__(self) -> None:
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        env.pop("OBSCAT_DB_URL", None)
        command = ["-c", f"{self.setup}\nfrom obscat.cli.app import main\nmain()"] if self.setup else ["-m", "obscat"]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, *command, "--db", with_application_name(self.url, self.app), *self.args],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err, env=env, start_new_session=True,
        )  # fmt: skip

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL to the whole process group, as ``kill -9``."""
        os.killpg(self.proc.pid, signal.SIGKILL)

    def wait(self, timeout: float = 120) -> Obscat:
        self.proc.wait(timeout)
        if self.ended is None:
            self.ended = time.perf_counter()
            self.stdout, self.stderr = self._read(self._out), self._read(self._err)
            self._out.close()
            self._err.close()
        return self

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @staticmethod
    def _read(f) -> str:
        f.seek(0)
        return f.read().decode(errors="replace")

    def describe(self) -> str:
        if self.ended is None and not self.running():
            self.wait()
        return f"obscat {' '.join(self.args)} -> {self.returncode}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}"


# -- watching a process write ---------------------------------------------------------------------


class WriteProbe:
    """Tells whether a given obscat process is inside a write transaction.

    SQLite: its write lock is held (a ``BEGIN IMMEDIATE`` here fails at once; when it
    succeeds it is rolled back at once, and the writer's busy handler waits for it).
    PostgreSQL: its backend (found by ``application_name``) has a transaction id, i.e.
    an open transaction that has written; :meth:`statement` says which statement.
    """

    def __init__(self, url: str, app: str) -> None:
        self.kind, self.app = backend(url), app
        if self.kind == "sqlite":
            self.conn = sqlite3.connect(sqlite_path(url), timeout=0, isolation_level=None)
        else:
            self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            self.conn = self.engine.connect()

    def statement(self) -> str | None:
        """None outside a write transaction; inside, the statement (PostgreSQL) or "locked"."""
        if self.kind == "sqlite":
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    return "locked"
                raise
            self.conn.execute("ROLLBACK")
            return None
        row = self.conn.execute(sa.text(
            "SELECT state, query FROM pg_stat_activity WHERE application_name = :app AND backend_xid IS NOT NULL"
        ), {"app": self.app}).first()  # fmt: skip
        return None if row is None else f"{row.state}: {' '.join(row.query.split())[:60]}"

    def backends(self) -> int:
        """PostgreSQL: how many backends the process still has (0 on SQLite)."""
        if self.kind == "sqlite":
            return 0
        return self.conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"),
                                 {"app": self.app}).scalar_one()  # fmt: skip

    def close(self) -> None:
        self.conn.close()
        if self.kind != "sqlite":
            self.engine.dispose()


def wait_for_write(proc: Obscat, probe: WriteProbe, timeout: float = 90) -> tuple[float, str]:
    """Poll (every 2 ms) until ``proc`` is inside its write transaction: (time since its
    start, what the probe saw). Fails if it ends first."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        seen = probe.statement()
        if seen is not None:
            return time.perf_counter() - proc.started, seen
        assert proc.running(), f"the process ended before it started writing:\n{proc.describe()}"
        time.sleep(0.002)
    raise AssertionError(f"no write transaction within {timeout} s:\n{proc.describe()}")


def write_window(proc: Obscat, probe: WriteProbe, timeout: float = 120) -> tuple[float, float]:
    """Watch an uninterrupted run: (when its write transaction started, how long it lasted)."""
    start, _ = wait_for_write(proc, probe, timeout)
    last = start
    while proc.running():
        if probe.statement() is not None:
            last = time.perf_counter() - proc.started
        time.sleep(0.005)
    proc.wait()
    return start, last - start


def wait_backends_gone(probe: WriteProbe, timeout: float = 60) -> float:
    """After a kill: wait until PostgreSQL has ended the process's backends (it rolls their
    transactions back); the seconds it took."""
    start = time.perf_counter()
    while probe.backends():
        assert time.perf_counter() - start < timeout, "a killed process's backend is still there"
        time.sleep(0.01)
    return time.perf_counter() - start


# -- integrity ------------------------------------------------------------------------------------


def integrity_problems(url: str) -> list[str]:
    """Everything wrong with a catalogue after a crash (empty if nothing).

    SQLite: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``. Both backends: no
    row refers to a missing row through any foreign key of the schema. PostgreSQL: no
    invalid index or unvalidated constraint, no lock held on the catalogue's tables by
    another backend, no session idle in a transaction, no prepared transaction.
    """
    from obscat.store.engine import create_engine
    from obscat.store.models import Base

    problems = []
    if backend(url) == "sqlite":
        with sqlite3.connect(sqlite_path(url)) as conn:
            check = conn.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                problems.append(f"integrity_check: {check[:5]}")
            orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
            if orphans:
                problems.append(f"foreign_key_check: {orphans[:5]}")
        conn.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for fk in table.foreign_keys:
                parent = fk.column.table
                n = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                    fk.parent.is_not(None), ~sa.exists().where(fk.column == fk.parent))).scalar_one()  # fmt: skip
                if n:
                    problems.append(f"{n} rows of {table.name}.{fk.parent.name} refer to no {parent.name}")
        if backend(url) == "postgresql":
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            for sql, what in [
                ("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n "
                 "ON n.oid = c.relnamespace WHERE n.nspname = :s AND NOT (i.indisvalid AND i.indisready)", "invalid index"),
                ("SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                 "WHERE n.nspname = :s AND NOT c.convalidated", "unvalidated constraint"),
                ("SELECT c.relname || ' ' || l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s AND l.pid <> pg_backend_pid()",
                 "lock held"),
                ("SELECT application_name || ' ' || state FROM pg_stat_activity WHERE datname = current_database() "
                 "AND state LIKE 'idle in transaction%'", "idle transaction"),
                ("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()", "prepared transaction"),
            ]:  # fmt: skip
                found = conn.execute(sa.text(sql), {"s": schema}).scalars().all()
                if found:
                    problems.append(f"{what}: {found[:5]}")
    engine.dispose()
    return problems


def schema_objects(url: str) -> dict[str, list]:
    """Tables with their indexes, unique and foreign-key constraints: a crash inside a bulk
    load (which drops and rebuilds indexes and constraints) must leave them all."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        out = {}
        for table in sorted(inspector.get_table_names()):
            out[table] = sorted(
                [("index", i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)]
                + [("unique", u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)]
                + [("fk", f["name"], tuple(f["constrained_columns"])) for f in inspector.get_foreign_keys(table)]
            )  # fmt: skip
    engine.dispose()
    return out


def fingerprint(url: str) -> dict[str, tuple[int, object]]:
    """Every table's row count and an order-independent digest of all its rows: equal
    fingerprints mean equal contents (conftest's ``snapshot`` is too slow for 10⁵ rows)."""
    out = {}
    if backend(url) == "sqlite":
        conn = sqlite3.connect(sqlite_path(url))
        try:
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                n = digest = 0
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    n, digest = n + 1, (digest + hash(row)) & 0xFFFFFFFFFFFFFFFF
                out[table] = (n, digest)
        finally:
            conn.close()
        return out
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            out[table] = tuple(conn.execute(sa.text(
                f"SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0) FROM \"{table}\" t"
            )).one())  # fmt: skip
    engine.dispose()
    return out


def counts(url: str) -> dict[str, int]:
    """Rows per table."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        out = {name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in sorted(names)}
    engine.dispose()
    return out


def record(kind: str, **figures) -> None:
    """Print a test's figures; with ``$OBSCAT_TEST_FIGURES`` set, also append them (JSON lines)."""
    line = json.dumps({"kind": kind, **figures}, default=str)
    print(line)
    path = os.environ.get("OBSCAT_TEST_FIGURES")
    if path:
        with Path(path).open("a") as f:
            f.write(line + "\n")
