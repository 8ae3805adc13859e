"""RowStream listings: rows read in batches, the connection released, filters in SQL, memory flat.

Every test runs on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sqlalchemy as sa
from conftest import sky_cone

from obscat import Catalog
from obscat.query import parse_where
from obscat.store.models import DataStore, Observation

REPO = Path(__file__).resolve().parent.parent
PKS = sky_cone(329.71693826, -30.2255, 2.0)  # the Gammapy tutorial's 21 observations


def test_iter_observations_releases_the_connection(hess):
    pool = hess.engine.pool
    with hess.session() as session:  # the same rows through the ORM, for comparison
        expected = [tuple(r) for r in session.execute(
            sa.select(DataStore.name, Observation.obs_id, Observation.zen_pnt_deg, Observation.extra, sa.null())
            .join(Observation.store).order_by(Observation.obs_id)).all()]  # fmt: skip
    with hess.iter_observations(store="hess", columns=["obs_id", "zen_pnt_deg", "extra", "zen_tmid_deg"]) as stream:
        assert stream.names == ["store", "obs_id", "zen_pnt_deg", "extra", "zen_tmid_deg"]
        assert stream.units["zen_pnt_deg"] == "deg" and stream.units["obs_id"] is None
        assert pool.checkedout() == 1  # held while the rows are read
        first = [next(iter(stream)) for _ in range(3)]
        assert stream.count() == 105  # COUNT(*) in SQL, on another connection
        assert pool.checkedout() == 1
    assert stream.closed and pool.checkedout() == 0  # closed half-read
    assert first == expected[:3]
    assert isinstance(first[0][3], dict)  # JSON decoded as SQLAlchemy's rows decode it

    stream = hess.iter_observations(PKS, columns=["obs_id"])
    rows = list(stream)  # read to the end: released without close()
    assert stream.closed and pool.checkedout() == 0
    assert rows == [(s, int(o)) for s, o in zip(*(hess.select(PKS, columns=[])[c] for c in ("store", "obs_id")))]
    assert len(rows) == 21


def test_a_half_read_stream_dropped_releases_its_connection_at_once(hess):
    """No reference cycle leaves a dropped stream (and its connection) to the garbage collector."""
    pool = hess.engine.pool
    gc.disable()
    try:
        for read in (lambda s: next(iter(s)), lambda s: [next(iter(s)) for _ in range(3)],
                     lambda s: next(s.batches(limit=1))):  # fmt: skip
            for open_stream in (lambda: hess.iter_observations(store="hess", columns=["obs_id", "extra"]),
                                lambda: hess.iter_sql("SELECT obs_id, extra FROM observation")):  # fmt: skip
                stream = open_stream()
                read(stream)
                rows = weakref.ref(stream.rows)
                del stream
                assert rows() is None  # freed at once
                assert pool.checkedout() == 0
    finally:
        gc.enable()


def test_iter_observations_to_table_and_errors(hess):
    table = hess.iter_observations(parse_where("zen_pnt_deg < 30"), columns=["obs_id", "zen_pnt_deg"]).to_table()
    everything = hess.observations(store="hess", columns=["obs_id", "zen_pnt_deg"])
    assert table["zen_pnt_deg"].unit == u.deg
    assert list(table["obs_id"]) == list(everything["obs_id"][everything["zen_pnt_deg"] < 30])
    assert hess.engine.pool.checkedout() == 0
    with pytest.raises(Exception, match="no store 'nope'"):
        hess.iter_observations(store="nope")
    with pytest.raises(Exception, match="unknown observation column 'nope'"):
        hess.iter_observations(columns=["nope"])
    assert hess.engine.pool.checkedout() == 0


def test_iter_sql_and_grouping_members(hess):
    stream = hess.iter_sql("SELECT obs_id, zen_pnt_deg FROM observation WHERE zen_pnt_deg < :z ORDER BY obs_id",
                           {"z": 30}, limit=4)  # fmt: skip
    assert stream.names == ["obs_id", "zen_pnt_deg"]
    rows = list(stream)
    assert stream.closed
    low = hess.observations(store="hess", columns=["obs_id", "zen_pnt_deg"])
    assert [r[0] for r in rows] == list(low["obs_id"][low["zen_pnt_deg"] < 30][:4])
    assert stream.count() == 4  # the limit caps the count
    assert hess.iter_sql("SELECT obs_id FROM observation").count() == 105

    from obscat.group.grouping import grouping_rows

    hess.split("zen", "zen_pnt_deg")
    stream = hess.iter_grouping_members("zen")
    members = list(stream)
    assert stream.closed and hess.engine.pool.checkedout() == 0
    assert members == [(label, store, obs_id) for store, obs_id, label in grouping_rows(hess.engine, "zen").members]
    assert len(members) == 105 and {m[0] for m in members} == {"low_zenith", "high_zenith"}


def test_feature_set_filters_run_in_sql(hess):
    cat = hess
    name = cat.compute_features("1 TeV", features=["psf-radius", "aeff"], workers=1).meta["feature_set"]
    everything = cat.feature_set(name)
    assert len(everything) == 105 and everything["psf-radius"].unit == u.deg
    selected = cat.select(PKS, columns=[])
    keep = set(zip(selected["store"], selected["obs_id"]))
    by_hand = everything[[(s, o) in keep for s, o in zip(everything["store"], everything["obs_id"])]]
    assert len(by_hand) == 21
    filtered = cat.feature_set(name, selection=PKS)
    _assert_same(filtered, by_hand)
    filtered = cat.feature_set(name, obs_ids=[23523, 23526, 20136], store="hess")
    _assert_same(filtered, everything[np.isin(everything["obs_id"], [20136, 23523, 23526])])
    # compute_features with a selection: the rows of the selection, nothing recomputed
    again = cat.compute_features("1 TeV", features=["psf-radius", "aeff"], selection=PKS, missing_only=True)
    assert again.meta["n_computed"] == 0
    _assert_same(again, by_hand)
    rows = list(cat.iter_feature_set(name))
    assert [(r[0], r[1]) for r in rows] == list(zip(everything["store"], everything["obs_id"]))


def _assert_same(table, expected) -> None:
    assert table.colnames == expected.colnames
    for name in table.colnames:
        assert list(table[name]) == list(expected[name]), name
        assert table[name].unit == expected[name].unit


# -- the CLI at 50,000 rows: throughput and flat memory --------------------------------------------------------

N_PER_STORE = 5_000


@pytest.fixture
def big_url(db_url, tmp_path):
    """A catalogue of 10 stores of 5,000 synthetic observations (one ingested, nine copied in SQL)."""
    from obscat.gadf.synthetic import make_data_store

    store = make_data_store(tmp_path / "store", N_PER_STORE, n_files=5)
    with Catalog(db_url) as cat:
        cat.ingest(store, name="s0")
        o, s = Observation.__table__, DataStore.__table__
        columns = [c.name for c in o.columns if c.name not in ("id", "store_id")]
        store_columns = [c.name for c in s.columns if c.name not in ("id", "name")]
        with cat.engine.begin() as conn:
            for k in range(1, 10):
                new = conn.execute(sa.insert(s).from_select(
                    ["name", *store_columns], sa.select(sa.literal(f"s{k}"), *(s.c[c] for c in store_columns))
                    .where(s.c.name == "s0")).returning(s.c.id)).scalar_one()  # fmt: skip
                source = sa.select(sa.literal(new), *(o.c[c] for c in columns)).where(
                    o.c.store_id == sa.select(s.c.id).where(s.c.name == "s0").scalar_subquery())
                conn.execute(sa.insert(o).from_select(["store_id", *columns], source))
    return db_url


def _obs_list(url: str, *args: str) -> tuple[float, float, bytes]:
    """CPU seconds (user + system: the machine is shared, wall time is noise), peak RSS (MiB) and the
    first 2 kB and last 200 bytes of stdout of ``obscat obs list ARGS``."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"obs-list-{os.getpid()}.txt"
    with open(out, "wb") as stdout:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "obscat", "--db", url, "obs", "list",
                               *args], stdout=stdout, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    with open(out, "rb") as f:
        head = f.read(2000)
        f.seek(max(0, out.stat().st_size - 200))
        tail = f.read()
    out.unlink()
    rss_kib, user, system = proc.stderr.decode().split()[-3:]
    return float(user) + float(system), int(rss_kib) / 1024, head + b"\n...\n" + tail


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="needs GNU time for the peak RSS")
def test_listing_streams_at_50k_rows(big_url):
    for fmt in ("csv", "json"):
        _, rss_small, _ = _obs_list(big_url, "-f", fmt, "--store", "s3")  # 5,000 rows
        cpu, rss_big, head = _obs_list(big_url, "-f", fmt)  # 50,000 rows
        lines = head.split(b"\n")
        assert lines[0].startswith(b"store,obs_id,obs_mode" if fmt == "csv" else b'{"store": "s0", "obs_id": ')
        # memory does not grow with the rows: 45,000 more rows of 63 columns cost < 15 MiB
        assert rss_big - rss_small < 15, (fmt, rss_small, rss_big)
        # the whole process, start-up included; the old listing made ~4,000 rows/s as JSON
        print(f"{fmt}: {50_000 / cpu:,.0f} rows per CPU second, peak RSS {rss_small:.0f} -> {rss_big:.0f} MiB")
        assert 50_000 / cpu > 6_000, (fmt, cpu)
    cpu, _, head = _obs_list(big_url)  # a table: the first 50 rows and a count
    assert head.split(b"\n")[-2].decode() == "… 49,950 more rows (--limit N or --all to print them)"
    assert cpu < 5
