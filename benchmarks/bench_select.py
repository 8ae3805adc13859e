"""2-degree cone searches on 1,000,000 observations: obscat (SQLite, PostgreSQL) against astropy.

    python benchmarks/bench_select.py [--n 1000000] [--queries 60]

The reference is what Gammapy's ``select_observations(sky_circle)`` does: an
astropy separation over the whole obs-index table in memory (the table read
beforehand, not timed).  obscat answers from the catalogue through the
(sky_zone, ra_pnt_deg) index.  Queries alternate between the three; the
catalogues are built once into the work directory and kept.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import pg_database, save, synthetic_store

OBSCAT = str(Path(sys.executable).parent / "obscat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()

    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from obscat import Catalog
    from obscat.query import Cone

    store = args.work_dir / f"synthetic-{args.n}"
    synthetic_store(store, args.n)
    sqlite_url = f"sqlite:///{args.work_dir / f'select-{args.n}.db'}"
    catalogs = {}
    for label, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_database("obscat_bench_select"))):
        catalog = Catalog(url)
        if not catalog.stores():
            print(f"ingesting {args.n} observations into {label} ...")
            catalog.ingest(store, name="synthetic")
        catalogs[label] = catalog

    table = Table.read(store / "obs-index.fits.gz")
    pointings = SkyCoord(table["RA_PNT"], table["DEC_PNT"], unit="deg")
    rng = np.random.default_rng(1)
    picks = rng.integers(0, len(table), args.queries)  # cone centres where observations are
    centres = [(float(table["RA_PNT"][i]) + 0.7, float(table["DEC_PNT"][i]) - 0.4) for i in picks]

    times: dict[str, list[float]] = {"astropy separation over the table (Gammapy's way)": []}
    times.update({f"obscat cone, {label}": [] for label in catalogs})
    counts = []
    for ra, dec in centres:
        start = time.perf_counter()
        reference = np.flatnonzero(SkyCoord(ra, dec, unit="deg").separation(pointings) < 2 * u.deg)
        times["astropy separation over the table (Gammapy's way)"].append(time.perf_counter() - start)
        for label, catalog in catalogs.items():
            start = time.perf_counter()
            found = catalog.select(Cone(SkyCoord(ra * u.deg, dec * u.deg), 2 * u.deg), columns=[])
            times[f"obscat cone, {label}"].append(time.perf_counter() - start)
            assert sorted(int(o) for o in found["obs_id"]) == sorted(int(i) for i in table["OBS_ID"][reference]), (label, ra, dec)
        counts.append(len(reference))

    print(f"\n2-deg cones on {args.n} observations ({args.queries} queries, median {statistics.median(counts):.0f} "
          "observations found, identical ids on all three)")  # fmt: skip
    print(f"  {'case':<52} {'p50':>9} {'p95':>9}")
    rows = []
    for name, values in times.items():
        p50, p95 = np.percentile(values, 50) * 1e3, np.percentile(values, 95) * 1e3
        print(f"  {name:<52} {p50:>7.2f}ms {p95:>7.2f}ms")
        rows.append({"case": name, "p50_ms": p50, "p95_ms": p95})
    for catalog in catalogs.values():
        catalog.close()
    save("select", {"n": args.n, "queries": args.queries, "results": rows})


if __name__ == "__main__":
    main()
