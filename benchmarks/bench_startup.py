"""Cold start of the read commands on a 10^6-observation SQLite catalogue, whole processes.

    python benchmarks/bench_startup.py [--n-obs 1000000] [--repeat 5] [--dir /tmp/obscat-bench-startup]

Builds (once; later runs reuse it) a synthetic data store of N observations
(10 data files), ingests it into a SQLite catalogue, stores a split of the
first 10,000 observations and a feature set of the first 20, then times each
read command as a user runs it (``obscat --db URL ...``), commands alternating,
and reports every command's median.  Target: < 0.3 s each.  Two floors run beside them: the bare
interpreter, and an interpreter that imports only SQLAlchemy and typer (no obscat).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from harness import alternate, report, run_process, save

OBSCAT = str(Path(sys.executable).parent / "obscat")
TARGET_S = 0.3
#: What any command pays before its own work: the interpreter, then the libraries every command needs.
FLOORS = {
    "python -c pass (interpreter alone)": "pass",
    "python -c 'import sqlalchemy, typer' (floor)": "import sqlalchemy, typer",
}


def build(directory: Path, n_obs: int) -> str:
    """The catalogue's URL, built unless a finished one is there (its marker file written last)."""
    url = f"sqlite:///{directory}/catalog.db"
    marker = directory / f"ready-{n_obs}"
    if marker.exists():
        return url
    from obscat import Catalog
    from obscat.gadf.synthetic import make_data_store

    ingested = directory / "ingested"
    if not ingested.exists():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "catalog.db").unlink(missing_ok=True)
        store = make_data_store(directory / "store", n_obs, n_files=10)
        with Catalog(url) as cat:
            cat.ingest(store, name="synth")
        ingested.write_text("")
    first = int(_ids(url, 1)[0])
    for argv in (["group", "split", "zen_pnt_deg", "--name", "zenith", "--where", f"obs_id < {first + 10_000}",
                  "--replace"],
                 ["features", "compute", "-e", "1 TeV", "-j", "1", "--where", f"obs_id < {first + 20}"]):  # fmt: skip
        subprocess.run([OBSCAT, "--db", url, *argv], check=True, capture_output=True)
    marker.write_text("")
    return url


def _ids(url: str, n: int) -> list[str]:
    out = subprocess.run([OBSCAT, "--db", url, "sql", f"SELECT obs_id FROM observation ORDER BY obs_id LIMIT {n}",
                          "-f", "csv"], check=True, capture_output=True, text=True).stdout  # fmt: skip
    return out.split()[1:]


def commands(url: str) -> dict[str, list[str]]:
    """Each read command with arguments that make it do its real work on the big catalogue."""
    obs_id = _ids(url, 1)[0]
    feature_set = subprocess.run([OBSCAT, "--db", url, "features", "list", "-f", "csv"], check=True,
                                 capture_output=True, text=True).stdout.splitlines()[1].split(",")[0]  # fmt: skip
    return {
        "stores": ["stores"],
        "select --cone (small)": ["select", "--cone", "83.63 22.01 0.3", "--format", "ids"],
        "obs show": ["obs", "show", obs_id],
        "groups show": ["groups", "show", "zenith", "-f", "csv"],
        "features show": ["features", "show", feature_set],
        "sql count": ["sql", "SELECT count(*) AS n FROM observation"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-obs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/obscat-bench-startup"))
    args = parser.parse_args()
    url = build(args.dir / str(args.n_obs), args.n_obs)
    cases = {name: (lambda argv=argv: run_process([OBSCAT, "--db", url, *argv])) for name, argv in commands(url).items()}
    for floor, code in FLOORS.items():
        cases[floor] = lambda code=code: run_process([sys.executable, "-c", code])
    rows = report(f"Read commands on {args.n_obs:,} observations (SQLite), whole processes",
                  alternate(cases, args.repeat))  # fmt: skip
    missed = [r["name"] for r in rows if not r["name"].startswith("python") and r["median"] >= TARGET_S]
    print(f"\ntarget < {TARGET_S} s: {'all met' if not missed else 'MISSED by ' + ', '.join(missed)}")
    save("startup", {"n_obs": args.n_obs, "url": url, "commands": json.loads(json.dumps(commands(url))),
                     "results": rows, "missed": missed})  # fmt: skip


if __name__ == "__main__":
    main()
