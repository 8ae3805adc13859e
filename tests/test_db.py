"""Database connections: SQLite pragmas, URL resolution, and the CI guard of the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from obscat.store.config import resolve_url
from obscat.store.engine import BUSY_TIMEOUT_S, create_engine


def test_sqlite_connections_enforce_foreign_keys_with_wal_and_busy_timeout(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(BUSY_TIMEOUT_S * 1000)
    engine.dispose()


def test_url_resolution(monkeypatch):
    monkeypatch.delenv("OBSCAT_DB_URL", raising=False)
    assert resolve_url() == "sqlite:///obscat.db"
    monkeypatch.setenv("OBSCAT_DB_URL", "postgresql://u@h/db")
    assert resolve_url() == "postgresql+psycopg://u@h/db"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"  # an explicit URL wins


def test_writes_are_serialised_not_failed(tmp_path):
    """A second SQLite writer waits for the first instead of failing."""
    from obscat.store.engine import write_transaction

    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    other = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with other.connect() as reader:  # readers are never blocked under WAL
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    with write_transaction(other) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()
    other.dispose()


@pytest.mark.parametrize(("ci", "outcome"), [("true", "error"), ("", "skipped")])
def test_missing_shared_data_fails_under_ci_and_skips_otherwise(ci, outcome, tmp_path):
    env = {**os.environ, "CI": ci, "OBSCAT_TEST_DATA": str(tmp_path / "nowhere")}
    test = f"{Path(__file__).parent / 'test_ingest.py'}::test_magic_minimal_index"
    result = subprocess.run([sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider", "-k", "sqlite"],
                            env=env, capture_output=True, text=True)  # fmt: skip
    assert f"1 {outcome}" in result.stdout, result.stdout
    assert (result.returncode != 0) == (outcome == "error")
    if outcome == "error":
        assert "shared data not found" in result.stdout and "CI=true: required" in result.stdout


def test_a_missing_postgresql_driver_says_which_extra_to_install(monkeypatch):
    """A wheel installed without the postgres extra: one line that says how to get the driver."""
    from obscat.errors import DatabaseError

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(DatabaseError) as refused:
        create_engine("postgresql://postgres@127.0.0.1:5432/x")
    assert str(refused.value) == ("no driver for 'postgresql+psycopg://postgres@127.0.0.1:5432/x': import of psycopg "
                                  "halted; None in sys.modules: pip install 'obscat[postgres]'")  # fmt: skip


@pytest.mark.parametrize("client_setting, expected", [(None, "1.1"), ("-c random_page_cost=3", "3")])
def test_postgresql_random_page_cost_is_set_unless_the_server_or_client_sets_it(pg_database, client_setting, expected):
    """obscat plans for a catalogue on SSD or in memory (index lookups cheap) unless told otherwise."""
    url = pg_database if client_setting is None else pg_database.update_query_dict({"options": client_setting})
    engine = create_engine(url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW random_page_cost").scalar() == expected
    engine.dispose()
