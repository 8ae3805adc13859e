"""A feature campaign three ways: the local process pool, Dask, and offline shards plus import.

    python benchmarks/bench_campaign.py [--n 100000] [--workers 2] [--repeat 2] [--backend sqlite|postgresql]

The campaign: ``--n`` synthetic observations (``make_data_store``, one data file per 500
observations, its IRFs shared by them), ingested once; every run computes the default features at
1 TeV for all of them (``--recompute``), as a user runs it, whole processes, alternating:

* ``pool``: ``obscat features compute -j W``;
* ``dask``: ``obscat features compute -j W --executor dask`` (a LocalCluster of W workers);
* ``shards``: ``obscat features plan --shards W``, the W ``obscat features run`` at once, then
  ``obscat features import`` (the wall time of the three steps, and each).

Reported: medians, observations per second, Dask's overhead relative to the pool (goal <= 10 %),
the peak RSS of each worker process (sampled from /proc every 0.1 s), and the time to resume: a
``pool`` run of a new feature set killed (SIGKILL) once its first batch is committed, then the
same command again, which computes only the rest.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from harness import pg_database, save

OBSCAT = [sys.executable, "-m", "obscat"]
PG_DB = "obscat_bench_campaign"


def _descendants(pid: int) -> list[int]:
    """The live descendants of ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(argv: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Run a whole process: (wall s, its own peak RSS MiB, the largest peak RSS of a descendant)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    peaks: dict[int, float] = {}

    def sample() -> None:
        while proc.poll() is None:
            for pid in [proc.pid, *_descendants(proc.pid)]:
                peaks[pid] = max(peaks.get(pid, 0.0), _rss_mib(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{stderr.decode(errors='replace')}")
    own = peaks.pop(proc.pid, 0.0)
    return wall, own, max(peaks.values(), default=0.0)


def shards_run(url: str, workers: int, out: Path, features: list[str]) -> tuple[float, dict[str, float], float]:
    """plan, the shards at once, import: (wall s, seconds of each step, largest worker peak RSS MiB)."""
    for old in out.glob("*"):
        old.unlink()
    start = time.perf_counter()
    run([*OBSCAT, "--db", url, "features", "plan", "--shards", str(workers), "--out", str(out), "--recompute", *features])
    planned = time.perf_counter()
    manifests = sorted(out.glob("shard-*.json"))
    results: list[tuple[float, float, float]] = []
    threads = [threading.Thread(target=lambda m=m: results.append(run([*OBSCAT, "features", "run", str(m), "-j", "1", "-o",
                                                                        str(m.with_suffix(".ecsv"))]))) for m in manifests]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ran = time.perf_counter()
    run([*OBSCAT, "--db", url, "features", "import", *map(str, sorted(out.glob("shard-*.ecsv")))])
    end = time.perf_counter()
    steps = {"plan": planned - start, "run": ran - planned, "import": end - ran}
    return end - start, steps, max(r[1] for r in results)


def resume(url: str, workers: int) -> dict:
    """A pool run of a new set killed once its first batch is committed, then run again."""
    argv = [*OBSCAT, "--db", url, "features", "compute", "-e", "1.5 TeV", "-j", str(workers)]
    from astropy import units as u

    from obscat import Catalog

    with Catalog(url) as catalog:  # the set of an earlier measurement: gone, so that this one is new
        for summary in catalog.feature_sets():
            if u.isclose(summary.energy_true, 1.5 * u.TeV):
                catalog.delete_feature_set(summary.name)
    engine = sa.create_engine(url)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    while not stored and proc.poll() is None:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT count(DISTINCT observation_id) FROM feature_value v JOIN feature_set s "
                                          "ON s.id = v.feature_set_id WHERE s.energy_true_tev = 1.5")).scalar()  # fmt: skip
        time.sleep(0.05)
    killed_after = time.perf_counter() - start
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(DISTINCT observation_id) FROM feature_value v JOIN feature_set s "
                                      "ON s.id = v.feature_set_id WHERE s.energy_true_tev = 1.5")).scalar()  # fmt: skip
    engine.dispose()
    wall, _, _ = run(argv)
    return {"killed_after_s": killed_after, "stored_before_kill": stored, "resume_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench-campaign")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    store = args.work_dir / f"store-{args.n}"
    if not (store / "hdu-index.fits.gz").exists():
        from obscat.gadf.synthetic import make_data_store

        make_data_store(store, args.n, n_files=max(1, args.n // 500))
    if args.backend == "sqlite":
        url = f"sqlite:///{args.work_dir / f'campaign-{args.n}.db'}"
        fresh = not (args.work_dir / f"campaign-{args.n}.db").exists()
    else:
        url, fresh = pg_database(PG_DB, fresh=True), True
    if fresh:
        run([*OBSCAT, "--db", url, "ingest", str(store), "--name", "campaign"])
    features = ["-e", "1 TeV"]
    w = str(args.workers)
    cases = {"pool": [*OBSCAT, "--db", url, "features", "compute", "-j", w, "--recompute", *features],
             "dask": [*OBSCAT, "--db", url, "features", "compute", "-j", w, "--recompute", "--executor", "dask", *features]}  # fmt: skip
    seconds: dict[str, list[float]] = {"pool": [], "dask": [], "shards": []}
    worker_rss: dict[str, list[float]] = {"pool": [], "dask": [], "shards": []}
    steps: list[dict[str, float]] = []
    shard_dir = args.work_dir / "shards"
    shard_dir.mkdir(exist_ok=True)
    for _ in range(args.repeat):
        for name, argv in cases.items():
            wall, _, rss = run(argv, env={"DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"})
            seconds[name].append(wall)
            worker_rss[name].append(rss)
        wall, parts, rss = shards_run(url, args.workers, shard_dir, features)
        seconds["shards"].append(wall)
        worker_rss["shards"].append(rss)
        steps.append(parts)
    resumed = resume(url, args.workers)
    print(f"\nfeature campaign: {args.n} observations, {args.workers} workers, {args.backend}, medians of {args.repeat}")
    print(f"  {'way':<8} {'median':>9} {'obs/s':>9} {'worker peak RSS':>16}")
    payload: dict = {"n": args.n, "workers": args.workers, "backend": args.backend, "ways": {}}
    for name in seconds:
        median = statistics.median(seconds[name])
        print(f"  {name:<8} {median:>8.1f}s {args.n / median:>9.0f} {max(worker_rss[name]):>12.0f} MiB")
        payload["ways"][name] = {"seconds": seconds[name], "median_s": median, "obs_per_s": args.n / median,
                                 "worker_peak_rss_mib": max(worker_rss[name])}  # fmt: skip
    overhead = statistics.median(seconds["dask"]) / statistics.median(seconds["pool"]) - 1
    step_medians = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    print(f"  Dask overhead relative to the pool: {overhead:+.1%} (goal <= 10 %)")
    print("  shards: " + ", ".join(f"{k} {v:.1f} s" for k, v in step_medians.items()))
    print(f"  resume: killed after {resumed['killed_after_s']:.1f} s ({resumed['stored_before_kill']} observations "
          f"stored), the rerun took {resumed['resume_s']:.1f} s")  # fmt: skip
    payload.update(dask_overhead=overhead, shard_steps_s=step_medians, resume=resumed)
    save(f"campaign-{args.backend}", payload)


if __name__ == "__main__":
    sys.exit(main())
