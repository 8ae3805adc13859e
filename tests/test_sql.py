"""`obscat sql` (read-only, bound values) and `obscat db grant-readonly`, on both backends."""

from __future__ import annotations

import csv
import io
import uuid

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.table import Table
from conftest import snapshot
from typer.testing import CliRunner

from obscat import InputError
from obscat.cli.app import app
from obscat.store.engine import create_engine


@pytest.fixture
def hess(catalog, hess_dir):
    catalog.ingest(hess_dir, name="hess")
    catalog.split("zenith", "zen_pnt_deg")
    return catalog


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_queries_with_bound_values(hess, db_url, hess_dir):
    index = Table.read(hess_dir / "obs-index.fits.gz")
    result = run("--db", db_url, "sql", "SELECT obs_id, zen_pnt_deg FROM observation WHERE zen_pnt_deg < :z "
                 "AND object = :name ORDER BY obs_id", "-p", "z=30", "-p", "name=PKS 2155-304", "-f", "csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    expected = index[(index["ZEN_PNT"] < 30) & (index["OBJECT"] == "PKS 2155-304")]
    assert rows[0] == ["obs_id", "zen_pnt_deg"] and [int(r[0]) for r in rows[1:]] == sorted(expected["OBS_ID"])
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], expected[np.argsort(expected["OBS_ID"])]["ZEN_PNT"])
    joined = run("--db", db_url, "sql", "SELECT m.label, count(*) AS n FROM group_member m JOIN grouping g ON "
                 "g.id = m.grouping_id WHERE g.name = :g GROUP BY m.label ORDER BY m.label", "-p", "g=zenith")  # fmt: skip
    assert joined.exit_code == 0 and "high_zenith" in joined.stdout and "low_zenith" in joined.stdout
    hostile = run("--db", db_url, "sql", "SELECT count(*) AS n FROM observation WHERE object = :o", "-p",
                  "o=x' OR '1'='1", "-f", "csv")  # fmt: skip
    assert hostile.stdout == "n\n0\n"  # a value, never SQL
    limited = run("--db", db_url, "sql", "SELECT obs_id FROM observation ORDER BY obs_id", "--limit", "3", "-f", "csv")
    assert limited.stdout.splitlines() == ["obs_id", "20136", "20137", "20151"]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("DELETE FROM observation", "obscat sql is read-only: DELETE statements are refused"),
        ("update observation set zen_pnt_deg = 0", "obscat sql is read-only: UPDATE statements are refused"),
        ("INSERT INTO data_store (name) VALUES ('x')", "obscat sql is read-only: INSERT statements are refused"),
        ("DROP TABLE observation", "obscat sql is read-only: DROP statements are refused"),
        ("CREATE TABLE x (a int)", "obscat sql is read-only: CREATE statements are refused"),
        ("ATTACH DATABASE 'x.db' AS x", "obscat sql is read-only: ATTACH statements are refused"),
        ("PRAGMA writable_schema = 1", "obscat sql is read-only: PRAGMA statements are refused"),
        ("SELECT 1; DROP TABLE observation", "obscat sql runs one statement at a time"),
        ("/* SELECT */ DELETE FROM observation", "obscat sql is read-only: DELETE statements are refused"),
        ("SELECT 'x", "the SQL statement has an unterminated string"),
        ("", "empty SQL statement"),
        ("SELECT * FROM no_such_table", "SQL error: "),
        ("SELECT :missing", "SQL error: A value is required for bind parameter 'missing'"),
    ],
)
def test_writes_and_bad_statements_are_refused(hess, db_url, statement, message):
    before = snapshot(db_url)
    result = run("--db", db_url, "sql", statement)
    assert (result.exit_code, result.stderr.count("\n")) == (1, 1), result.output
    assert result.stderr.startswith(f"Error: {message}")
    assert snapshot(db_url) == before


def test_the_connection_itself_cannot_write(hess, db_url):
    """Even a statement that passed the text check (a data-modifying CTE, a DELETE sent
    straight to the read-only engine) cannot write."""
    before = snapshot(db_url)
    engine = create_engine(db_url, read_only=True)
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only|readonly|query_only"):
        conn.execute(sa.text("DELETE FROM group_member"))
    engine.dispose()
    result = run("--db", db_url, "sql", "WITH d AS (DELETE FROM group_member RETURNING label) SELECT count(*) FROM d")
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")  # PostgreSQL: read-only; SQLite: syntax
    assert snapshot(db_url) == before


def test_grant_readonly_role_reads_but_cannot_write(hess, db_url, hess_dir):
    if db_url.startswith("sqlite"):
        result = run("--db", db_url, "db", "grant-readonly", "analyst")
        assert result.stderr.startswith("Error: grant-readonly needs PostgreSQL") and result.exit_code == 1
        return
    role = f"analyst_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(db_url)
    try:
        assert run("--db", db_url, "db", "grant-readonly", role).stdout.startswith(f"created role {role!r}")
        assert run("--db", db_url, "db", "grant-readonly", role).stdout.startswith(f"updated role {role!r}")
        as_role = sa.make_url(db_url).set(username=role).render_as_string(hide_password=False)
        count = run("--db", as_role, "sql", "SELECT count(*) AS n FROM observation", "-f", "csv")
        assert count.stdout == "n\n105\n"
        assert run("--db", as_role, "groups", "list", "-f", "csv").stdout.startswith("name,method")
        before = snapshot(db_url)
        write = run("--db", as_role, "groups", "delete", "zenith")
        assert write.exit_code == 1 and write.stderr.startswith("Error: database write refused: ")
        reader = sa.create_engine(as_role)
        with reader.connect() as conn:  # neither after switching read-only transactions off
            conn.exec_driver_sql("SET default_transaction_read_only = off")
            conn.commit()
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text("DELETE FROM group_member"))
        reader.dispose()
        assert snapshot(db_url) == before
        for name, message in [("postgres", "role 'postgres' exists and is a superuser"),
                              ("x; DROP TABLE observation", "role name 'x; DROP TABLE observation': use 1-63")]:  # fmt: skip
            refused = run("--db", db_url, "db", "grant-readonly", name)
            assert refused.exit_code == 1 and refused.stderr.startswith(f"Error: {message}")
    finally:
        with admin.begin() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
                conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def test_check_query_keeps_strings_and_comments_opaque():
    from obscat.store.sql import check_query

    check_query("SELECT ';' AS a, \"x;y\" FROM t -- ; DROP TABLE t\n")
    check_query("WITH a AS (SELECT 1) SELECT * FROM a;")
    check_query("SELECT $tag$ ; DELETE $tag$")
    with pytest.raises(InputError, match="one statement at a time"):
        check_query("SELECT ';'; DELETE FROM t")
