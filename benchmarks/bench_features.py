"""IRF features of all 105 HESS DL3 DR1 observations: obscat against Gammapy's get_irfs_features.

    bash benchmarks/reference-env.sh              # Gammapy 2.1 in .venv-gammapy
    python benchmarks/bench_features.py [--repeat 5]

Both compute edisp-bias, edisp-res and psf-radius at 1 TeV at offset 0
(Gammapy: ``position=None``).  Whole processes as a user runs them (obscat
against an already ingested catalogue), alternating, plus the computation
alone (each tool times itself, imports excluded).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import DATA, GAMMAPY_PYTHON, Measurement, have_gammapy, report, run_process, save

OBSCAT = str(Path(sys.executable).parent / "obscat")
GAMMAPY_CODE = """
import time, json, sys
from gammapy.data import DataStore
from gammapy.data.utils import get_irfs_features
start = time.perf_counter()
store = DataStore.from_dir(sys.argv[1])
observations = store.get_observations()
table = get_irfs_features(observations, energy_true="1 TeV")
print(json.dumps({"seconds": time.perf_counter() - start, "n": len(table)}))
"""
OBSCAT_CODE = """
import time, json, sys
import astropy.table, astropy.units  # imported before the clock, as Gammapy's script imports gammapy.data
from obscat import Catalog
from obscat.compute import features
cat = Catalog(sys.argv[1])
start = time.perf_counter()
table = cat.compute_features("1 TeV", store="hess", workers=int(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - start, "n": len(table)}))
"""


def timed_inside(argv: list[str]) -> float:
    """Run a script that prints its own JSON timing; return its seconds."""
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not have_gammapy():
        sys.exit("the Gammapy reference environment is needed: bash benchmarks/reference-env.sh")
    hess = str(DATA / "hess-dl3-dr1")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/features.db"
        run_process([OBSCAT, "--db", url, "ingest", hess, "--name", "hess"])
        cases = {
            "gammapy: get_irfs_features (105 obs), process": lambda: run_process(
                [str(GAMMAPY_PYTHON), "-c", GAMMAPY_CODE, hess]),
            f"obscat features compute -j {args.workers}, process": lambda: run_process(
                [OBSCAT, "--db", url, "features", "compute", "-e", "1 TeV", "--store", "hess", "-j", str(args.workers)]),
        }
        inside = {
            "gammapy: get_irfs_features, in process": lambda: timed_inside(
                [str(GAMMAPY_PYTHON), "-c", GAMMAPY_CODE, hess]),
            f"obscat: Catalog.compute_features (-j {args.workers}), in process": lambda: timed_inside(
                [sys.executable, "-c", OBSCAT_CODE, url, str(args.workers)]),
            "obscat: Catalog.compute_features (-j 1), in process": lambda: timed_inside(
                [sys.executable, "-c", OBSCAT_CODE, url, "1"]),
        }
        results = {name: Measurement(name) for name in [*cases, *inside]}
        for _ in range(args.repeat):
            for name, case in cases.items():
                seconds, rss = case()
                results[name].seconds.append(seconds)
                results[name].rss_mib.append(rss)
            for name, case in inside.items():
                start = time.perf_counter()
                results[name].seconds.append(case())
                assert time.perf_counter() - start > 0
    whole = report("IRF features of 105 HESS observations, whole processes",
                   [results[n] for n in cases], baseline=next(iter(cases)))  # fmt: skip
    alone = report("The computation alone (imports excluded)",
                   [results[n] for n in inside], baseline=next(iter(inside)))  # fmt: skip
    speedups = {n: statistics.median(results[next(iter(inside))].seconds) / results[n].median for n in inside}
    print("\nspeed-up over Gammapy (in process):", {n: round(v, 1) for n, v in speedups.items()})
    save("features", {"whole_processes": whole, "in_process": alone, "speedup_in_process": speedups})


if __name__ == "__main__":
    main()
