"""Epochs on 1,000,000 synthetic observations (SQLite; PostgreSQL with --postgres): loading epochs
(every observation's epoch assigned), ``--where "epoch == 'X'"`` beside the same selection by
``tstart_mjd``, and ``group by epoch`` beside ``group by n_tels`` (storing 10^6 members costs both).

    python benchmarks/bench_epochs.py [--n 1000000] [--repeat 5] [--postgres]

The synthetic store spans ten years; four epochs of 2.5 years each split it by start time. Each
case runs ``--repeat`` times through the Python API (the CLI adds its start-up); medians are reported.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from harness import pg_database, save, synthetic_store


def _timed(function, *args) -> tuple[float, object]:
    """Seconds ``function(*args)`` took, and what it returned."""
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def _measure(catalog, epochs: dict, edges: list[float], repeat: int) -> dict:
    """Median seconds of each case over ``repeat`` runs, and the observations of epoch E2."""
    import sqlalchemy as sa

    from obscat.query import Where
    from obscat.store.engine import write_transaction
    from obscat.store.epochs import assign_epochs

    def count(text: str) -> int:
        return len(catalog.observations(Where(text), columns=["obs_id"]))

    cases: dict[str, list[float]] = {}
    found = set()
    for name in {"by-epoch", "by-n_tels"} & {g.name for g in catalog.groupings()}:  # left by an interrupted run
        catalog.delete_grouping(name)
    for _ in range(repeat):
        if len(catalog.epochs()):
            catalog.delete_epochs(force=True)
        runs = [("load (assign every observation)", catalog.load_epochs, epochs),
                ("where epoch == 'E2' (obs_id)", count, "epoch == 'E2'"),
                ("where tstart_mjd in E2's range (reference)", count,
                 f"tstart_mjd >= {edges[2]!r} and tstart_mjd < {edges[3]!r}"),
                ("group by epoch", catalog.group_by, "by-epoch", "epoch"),
                ("group by n_tels (reference)", catalog.group_by, "by-n_tels", "n_tels")]  # fmt: skip
        for case, function, *args in runs:
            seconds, result = _timed(function, *args)
            cases.setdefault(case, []).append(seconds)
            if isinstance(result, int):
                found.add(result)
        for name in ("by-epoch", "by-n_tels"):
            catalog.delete_grouping(name)
        with write_transaction(catalog.engine) as conn:
            store_id = conn.execute(sa.text("SELECT id FROM data_store WHERE name = 'synthetic'")).scalar_one()
            seconds, _ = _timed(assign_epochs, conn, store_id)
            cases.setdefault("re-assign one store (as on ingest)", []).append(seconds)
    assert len(found) == 1, found  # the epoch and its time range select the same observations
    return {**{name: statistics.median(times) for name, times in cases.items()}, "observations in E2": found.pop()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()

    from astropy.time import Time

    from obscat import Catalog

    store = args.work_dir / f"synthetic-{args.n}"
    synthetic_store(store, args.n)
    urls = {"SQLite": f"sqlite:///{args.work_dir / f'epochs-{args.n}.db'}"}
    if args.postgres:
        urls["PostgreSQL"] = pg_database("obscat_bench_epochs")
    results = {}
    for label, url in urls.items():
        catalog = Catalog(url)
        if not catalog.stores():
            print(f"ingesting {args.n} observations into {label} ...", flush=True)
            catalog.ingest(store, name="synthetic")
        span = catalog.sql("SELECT min(tstart_mjd) AS lo, max(tstart_mjd) AS hi FROM observation")
        lo, hi = float(span["lo"][0]), float(span["hi"][0]) + 1
        edges = [lo + (hi - lo) * k / 4 for k in range(5)]
        epochs = {"epochs": [{"name": f"E{k}", "store": "synthetic", "start": Time(a, format="mjd", scale="tt"),
                              "stop": Time(b, format="mjd", scale="tt")} for k, (a, b) in enumerate(zip(edges, edges[1:]))]}  # fmt: skip
        results[label] = _measure(catalog, epochs, edges, args.repeat)
        catalog.close()
        for name, value in results[label].items():
            print(f"{label:10} {name:40} {value:.3f}" if isinstance(value, float) else f"{label:10} {name:40} {value}")
    save("epochs", {"n": args.n, "repeat": args.repeat, "medians_s": results})


if __name__ == "__main__":
    main()
