"""Grouping export and read-back at 10^5 members, in process.

    python benchmarks/bench_export.py [N] [--repeat R]

Builds (once, cached under ``$OBSCAT_BENCH_DIR``, default /tmp/obscat-listing) a SQLite catalogue
of N (default 100,000) synthetic observations (the store bench_listing.py makes), splits it into 10
zenith bins (grouping ``zen``), then times, alternating, R times (default 3) each: ``export_grouping``
as GADF (10 data stores), as CSV and as ECSV, ``Catalog.grouping`` (the stored grouping with its
members) and its ``groups``; medians and process CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import alternate, report, save  # noqa: E402

from obscat import Catalog  # noqa: E402
from obscat.gadf.synthetic import make_data_store  # noqa: E402

CACHE = Path(os.environ.get("OBSCAT_BENCH_DIR", "/tmp/obscat-listing"))
CPU_SECONDS: dict[str, list[float]] = {}


def catalogue(n_obs: int) -> Catalog:
    """A SQLite catalogue of ``n_obs`` observations with grouping ``zen`` (10 bins), built once."""
    path = CACHE / f"export-{n_obs}.db"
    cat = Catalog(f"sqlite:///{path}")
    if "zen" not in {g.name for g in cat.groupings()}:
        source = CACHE / f"store-{n_obs}"
        if not (source / "hdu-index.fits.gz").exists():
            make_data_store(source, n_obs, n_files=10)
        cat.ingest(source, name="s0", replace=True)
        cat.bins("zen", "zen_pnt_deg", np.linspace(0, 90, 11), replace=True)
    return cat


def timed(name: str, function) -> float:
    """Wall seconds of one call; its CPU seconds noted in ``CPU_SECONDS``."""
    cpu, start = time.process_time(), time.perf_counter()
    function()
    wall = time.perf_counter() - start
    CPU_SECONDS.setdefault(name, []).append(time.process_time() - cpu)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n_obs", nargs="?", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    cat = catalogue(args.n_obs)
    out = CACHE / "export-out"

    def export(fmt: str):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        target = out / ("gadf" if fmt == "gadf" else f"zen.{fmt}")
        return lambda: cat.export_grouping("zen", target, format=fmt, allow_missing=True)

    calls = {f"export_grouping {fmt}": lambda fmt=fmt: export(fmt)() for fmt in ("gadf", "csv", "ecsv")}
    calls["Catalog.grouping (members, groups)"] = lambda: cat.grouping("zen").groups
    cases = {name: lambda name=name, call=call: timed(name, call) for name, call in calls.items()}
    results = alternate(cases, args.repeat)
    rows = report(f"grouping of {args.n_obs:,} members (10 groups), in process, SQLite", results)
    for m in results:
        print(f"  {m.name:<48} CPU {statistics.median(CPU_SECONDS[m.name]):.3f} s")
    save(f"export-{args.n_obs}", {"n_obs": args.n_obs, "results": rows, "cpu_seconds": CPU_SECONDS})
    shutil.rmtree(out, ignore_errors=True)
    cat.close()


if __name__ == "__main__":
    main()
