"""Streaming listings: ``obscat obs list -f csv|json > /dev/null`` at 10^6 observations, whole process.

    python benchmarks/bench_listing.py [N] [--repeat R] [--backend sqlite|postgresql|both]

Builds (once, cached under ``$OBSCAT_BENCH_DIR``, default /tmp/obscat-listing) a catalogue of N
(default 1,000,000) observations: one synthetic store of N/10 observations is ingested, then its
observation rows are copied in SQL into nine more stores (listings read ``observation`` only, so
the copies need no HDUs). PostgreSQL uses database ``obscat_listing_N`` on
``$OBSCAT_BENCH_PG`` (default postgresql+psycopg://postgres@127.0.0.1:5432), created if missing.

Then runs each listing R times (default 3), alternating, and reports the median wall time, rows/s
and the peak RSS of the whole ``obscat`` process (GNU time), and rows per CPU second (user + system
of the obscat process; on a shared machine wall time also counts other people's work). Beside them
runs a floor: the standard library alone (sqlite3 + csv.writer) writing the same rows as csv.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import REPO, alternate, pg_database, report, save  # noqa: E402

from obscat import Catalog  # noqa: E402
from obscat.gadf.synthetic import make_data_store  # noqa: E402
from obscat.store.models import DataStore, Observation  # noqa: E402

CACHE = Path(os.environ.get("OBSCAT_BENCH_DIR", "/tmp/obscat-listing"))
N_COPIES = 10


def build(url: str, n_obs: int) -> None:
    """A catalogue of ``n_obs`` observations in ``N_COPIES`` stores (skipped if already there)."""
    cat = Catalog(url)
    try:
        o = Observation.__table__
        with cat.engine.connect() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(o)).scalar_one() == n_obs:
                return
        per_store = n_obs // N_COPIES
        source = CACHE / f"store-{per_store}"
        if not (source / "hdu-index.fits.gz").exists():
            make_data_store(source, per_store, n_files=10)
        cat.ingest(source, name="s0", replace=True)
        s = DataStore.__table__
        columns = [c.name for c in o.columns if c.name not in ("id", "store_id")]
        store_columns = [c.name for c in s.columns if c.name not in ("id", "name")]
        with cat.engine.begin() as conn:
            first = conn.execute(sa.select(s.c.id).where(s.c.name == "s0")).scalar_one()
            conn.execute(sa.delete(s).where(s.c.name != "s0"))
            for k in range(1, N_COPIES):
                new = conn.execute(
                    sa.insert(s).from_select(["name", *store_columns],
                                             sa.select(sa.literal(f"s{k}"), *(s.c[c] for c in store_columns))
                                             .where(s.c.id == first)).returning(s.c.id)
                ).scalar_one()  # fmt: skip
                copied = sa.select(sa.literal(new), *(o.c[c] for c in columns)).where(o.c.store_id == first)
                conn.execute(sa.insert(o).from_select(["store_id", *columns], copied))
    finally:
        cat.close()


CPU_SECONDS: dict[str, list[float]] = {}

#: The least any Python listing can cost: the standard library fetching every row and column and
#: writing it as csv, in batches as obscat does (no obscat, no SQLAlchemy, no NULL or unit handling).
STDLIB_CSV = """
import csv, sqlite3, sys
cursor = sqlite3.connect(sys.argv[1]).execute("SELECT * FROM observation ORDER BY id")
writer = csv.writer(sys.stdout)
writer.writerow([d[0] for d in cursor.description])
while rows := cursor.fetchmany(2000):
    writer.writerows(rows)
"""


def run_listing(name: str, argv: list[str], env: dict) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one whole process, its CPU seconds noted in ``CPU_SECONDS``."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env={**os.environ, **env})  # fmt: skip
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode())
    rss_kib, user, system = proc.stderr.decode().split()[-3:]
    CPU_SECONDS.setdefault(name, []).append(float(user) + float(system))
    return wall, int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n_obs", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    urls = {}
    if args.backend in ("sqlite", "both"):
        urls["sqlite"] = f"sqlite:///{CACHE}/catalog-{args.n_obs}.db"
    if args.backend in ("postgresql", "both"):
        urls["postgresql"] = pg_database(f"obscat_listing_{args.n_obs}")
    for url in urls.values():
        build(url, args.n_obs)
    if args.build_only:
        return
    env = {"PYTHONPATH": str(REPO)}
    cases = {}
    for backend, url in urls.items():
        for fmt in ("csv", "json"):
            argv = [sys.executable, "-m", "obscat", "--db", url, "obs", "list", "-f", fmt]
            name = f"{backend} obs list -f {fmt}"
            cases[name] = lambda name=name, argv=argv: run_listing(name, argv, env)
        argv = [sys.executable, "-m", "obscat", "--db", url, "obs", "list"]
        name = f"{backend} obs list (table, first rows)"
        cases[name] = lambda name=name, argv=argv: run_listing(name, argv, env)
        if backend == "sqlite":
            name = "floor: sqlite3 + csv.writer, no obscat"
            argv = [sys.executable, "-c", STDLIB_CSV, url.removeprefix("sqlite:///")]
            cases[name] = lambda name=name, argv=argv: run_listing(name, argv, env)
    results = alternate(cases, args.repeat)
    rows = report(f"obs list of {args.n_obs:,} observations, whole process (stdout to /dev/null)", results)
    for m in results:
        cpu = statistics.median(CPU_SECONDS[m.name])
        print(f"  {m.name:<48} {args.n_obs / m.median:>10,.0f} rows/s wall {args.n_obs / cpu:>10,.0f} rows/CPU s")
    save(f"listing-{args.n_obs}", {"n_obs": args.n_obs, "results": rows, "cpu_seconds": CPU_SECONDS})


if __name__ == "__main__":
    main()
