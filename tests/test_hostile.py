"""The hostile-input corpus (``tests/hostile_corpus.py``) through the CLI, on SQLite and PostgreSQL.

A rejection is exactly one ``Error: ...`` line naming the file (and the HDU, column and
row where they apply), exit code 1, and the database unchanged: the full snapshot, and on
PostgreSQL also every table's row count and md5 of its rows in primary-key order.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import hostile_corpus as hc
import pytest
import sqlalchemy as sa
from conftest import snapshot
from typer.testing import CliRunner

from obscat.cli.app import app

TIMEOUT_S = 60  # a case that hangs (a FIFO opened, /dev/zero read) fails instead of blocking the run


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, hess_dir) -> Path:
    """The corpus directory of this test session; each case is written there on first use."""
    return tmp_path_factory.mktemp("hostile")


def run(url: str, *args: str):
    return CliRunner().invoke(app, ["--db", url, *args])


def checksums(url: str) -> dict[str, tuple]:
    """PostgreSQL: per table, its row count and the md5 of its rows ordered by primary key."""
    from obscat.store.engine import create_engine

    engine = create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for table in inspector.get_table_names():
                key = inspector.get_pk_constraint(table)["constrained_columns"]
                order = ", ".join(f't."{c}"' for c in key) or "t::text"
                out[table] = tuple(conn.execute(sa.text(
                    f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY {order})) FROM \"{table}\" t")).one())  # fmt: skip
    finally:
        engine.dispose()
    return out


def state(url: str):
    return snapshot(url), (checksums(url) if url.startswith("postgresql") else None)


def assert_rejected(result, step: hc.Step, ctx: dict, url: str, before) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    line = result.stderr
    assert line.startswith("Error: ") and line.endswith("\n") and line.count("\n") == 1, line
    assert hc.render(step.message, ctx) in line, line
    assert_names(line, step, ctx)
    assert state(url) == before, "a rejected command changed the database"
    return line


def assert_names(line: str, step: hc.Step, ctx: dict) -> None:
    """The line names the file, HDU, column and row the step says it must."""
    for what in ("file", "hdu", "column"):
        if getattr(step, what) is not None:
            assert hc.render(getattr(step, what), ctx) in line, (what, line)
    if step.row is not None:
        assert re.search(rf"\brows? (\d+ and )?{step.row}\b", line), ("row", line)


def warnings_of(result) -> list[str]:
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("Error")], result.stderr
    return [line for line in lines if line.startswith("Warning: ")]


def assert_succeeded(result, step: hc.Step, ctx: dict, url: str) -> None:
    assert result.exit_code == 0, (result.exit_code, result.output)
    warnings = warnings_of(result)
    if step.outcome == "accepted":
        assert not warnings, warnings
    elif step.outcome == "warning":
        message = hc.render(step.message, ctx)
        matching = [w for w in warnings if message in w]
        assert matching, (message, warnings)
        assert_names(matching[0], step, ctx)
    if step.check is not None:
        from obscat.store.engine import create_engine

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                step.check(conn, ctx)
        finally:
            engine.dispose()


def null_reason(url: str, obs_id: int, feature: str) -> str | None:
    from obscat.store.engine import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT v.null_reason FROM feature_value v JOIN observation o ON o.id = v.observation_id "
                "WHERE o.obs_id = :obs AND v.feature = :feature AND v.value IS NULL"),
                {"obs": obs_id, "feature": feature}).scalar_one()  # fmt: skip
    finally:
        engine.dispose()


def _timeout(signum, frame):
    raise TimeoutError(f"a command ran for more than {TIMEOUT_S} s (a hang?)")


@pytest.mark.parametrize("case", hc.CASES, ids=[c.name for c in hc.CASES])
def test_hostile_case(case: hc.Case, corpus: Path, db_url: str):
    store, ctx = hc.build(case, corpus)
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(TIMEOUT_S)
    try:
        feature_set = None
        for step in case.steps:
            if step.command == "ingest":
                args = ["ingest", str(store), "--name", hc.STORE, *step.args]
            elif step.command == "features":
                args = ["features", "compute", "-e", "1 TeV", "--store", hc.STORE, "-j", "1", *step.args]
            elif step.command == "cluster":
                args = ["group", "cluster", "--name", "g", "--feature-set", feature_set, "-k", "2", "--store",
                        hc.STORE, *step.args]  # fmt: skip
            else:
                args = ["group", "split", "zen_pnt_deg", "--name", "g", "--store", hc.STORE, *step.args]
            if step.outcome == "rejected":
                assert_rejected(run(db_url, *args), step, ctx, db_url, state(db_url))
            elif step.outcome == "null":
                # --strict: one error naming observation, file, HDU and column; nothing written
                assert_rejected(run(db_url, *args, "--strict"), step, ctx, db_url, state(db_url))
                # without it: the feature is stored as NULL with that reason
                result = run(db_url, *args)
                assert result.exit_code == 0 and not warnings_of(result), result.output
                feature_set = re.search(r"feature set (fs-[0-9a-f]+)", result.stderr).group(1)
                obs_id, feature, reason = hc.render(step.message, ctx).split(": ", 2)
                stored = null_reason(db_url, int(obs_id.removeprefix("OBS_ID ")), feature)
                assert stored is not None and reason in stored, (reason, stored)
            else:
                result = run(db_url, *args)
                assert_succeeded(result, step, ctx, db_url)
                if step.command == "features":
                    feature_set = re.search(r"feature set (fs-[0-9a-f]+)", result.stderr).group(1)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_corpus_covers_the_issue(corpus: Path):
    """At least 30 cases over every category and command, each with an outcome and a message."""
    assert len(hc.CASES) >= 30
    assert len({c.name for c in hc.CASES}) == len(hc.CASES)
    assert {c.category for c in hc.CASES} == {"file", "column", "value", "reference", "string"}
    assert {c.source for c in hc.CASES} == {"hess", "synthetic"}
    steps = [s for c in hc.CASES for s in c.steps]
    assert {s.command for s in steps} == {"ingest", "features", "cluster", "split"}
    assert {s.outcome for s in steps} == {"rejected", "warning", "accepted", "ingested", "null"}
    assert all(s.message for s in steps if s.outcome in ("rejected", "warning", "null"))
    assert all(s.file for s in steps if s.outcome in ("rejected", "warning", "null"))  # every message names its file


def test_script_writes_the_corpus_and_a_manifest(corpus: Path):
    """``python3 tests/hostile_corpus.py OUTDIR`` (cases already written are reused)."""
    done = subprocess.run([sys.executable, str(Path(hc.__file__)), str(corpus)], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert [c["case"] for c in manifest] == [c.name for c in hc.CASES]
    assert all(Path(c["store"]).parent.is_dir() for c in manifest)
    first = manifest[0]["steps"][0]
    assert first["outcome"] == "rejected" and first["message"].startswith(str(corpus))
