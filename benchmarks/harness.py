"""Shared benchmark machinery: alternating runs, medians, whole-process timing with RSS.

Benchmarks compare obscat with a reference (Gammapy, astropy) in the same
run, alternating the two so that machine noise hits both alike, and report
medians and ratios.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
GAMMAPY_PYTHON = Path(os.environ.get("OBSCAT_GAMMAPY_PYTHON", REPO / ".venv-gammapy" / "bin" / "python"))
DATA = Path(os.environ.get("OBSCAT_TEST_DATA", REPO.parent / "shared" / "data"))


@dataclass
class Measurement:
    """Timings (s) and peak RSS (MiB) of one named case."""

    name: str
    seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_rss(self) -> float | None:
        return max(self.rss_mib) if self.rss_mib else None


#: The PostgreSQL server the benchmarks' databases live on.
PG_SERVER = os.environ.get("OBSCAT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
TIME = Path("/usr/bin/time")  # GNU time: the child's own peak RSS


def run_process(argv: Sequence[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float | None]:
    """Run a whole process; return (wall seconds, peak RSS MiB or None). Fails loudly on error.

    The RSS comes from GNU time when installed (a fork's own ru_maxrss would
    include the benchmark's memory at fork time); the wall time is measured here.
    """
    wrapped = [str(TIME), "-f", "%M", *argv] if TIME.exists() else list(argv)
    start = time.perf_counter()
    proc = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip
    wall = time.perf_counter() - start
    stderr = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed:\n{stderr}")
    rss = int(stderr.strip().splitlines()[-1]) / 1024 if TIME.exists() else None
    return wall, rss


def alternate(cases: dict[str, Callable[[], float | tuple[float, float]]], repeat: int) -> list[Measurement]:
    """Run every case ``repeat`` times, interleaved (A B C A B C ...)."""
    results = {name: Measurement(name) for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            value = case()
            seconds, rss = value if isinstance(value, tuple) else (value, None)
            results[name].seconds.append(seconds)
            if rss is not None:
                results[name].rss_mib.append(rss)
    return list(results.values())


def timed(function: Callable[[], object]) -> Callable[[], float]:
    """An in-process case: the wall time of one call."""

    def case() -> float:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start

    return case


def report(title: str, measurements: list[Measurement], baseline: str | None = None) -> list[dict]:
    """Print an aligned table of medians (and ratios to ``baseline``); return it as dicts."""
    base = next((m.median for m in measurements if m.name == baseline), None)
    rows = []
    print(f"\n{title}")
    print(f"  {'case':<48} {'median':>10} {'min':>10} {'n':>3} {'peak RSS':>10} {'ratio':>8}")
    for m in measurements:
        ratio = (m.median / base) if base else None
        rss = f"{m.peak_rss:.0f} MiB" if m.peak_rss else ""
        print(f"  {m.name:<48} {m.median:>9.3f}s {min(m.seconds):>9.3f}s {len(m.seconds):>3} {rss:>10} "
              f"{(f'{ratio:.2f}x' if ratio else ''):>8}")  # fmt: skip
        rows.append({**asdict(m), "median": m.median, "peak_rss_mib": m.peak_rss, "ratio_to_baseline": ratio})
    return rows


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                           "cpus": os.cpu_count()}, **payload}  # fmt: skip
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nresults written to {path}")
    return path


@functools.cache
def have_gammapy() -> bool:
    """Whether the reference venv exists and imports Gammapy."""
    if not GAMMAPY_PYTHON.exists():
        print(f"(no Gammapy reference at {GAMMAPY_PYTHON}: run benchmarks/reference-env.sh)")
        return False
    return subprocess.run([str(GAMMAPY_PYTHON), "-c", "import gammapy"], capture_output=True).returncode == 0


def pg_database(name: str, *, fresh: bool = False) -> str:
    """The URL of benchmark database ``name`` on :data:`PG_SERVER`, created if missing (dropped and
    created again with ``fresh``)."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # an autovacuum worker may be in it
        if fresh or not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def synthetic_store(directory: Path, n_obs: int) -> tuple[float, float | None] | None:
    """Write a synthetic data store of ``n_obs`` observations (10 data files) into ``directory`` unless
    one is there, in a process of its own; its (wall s, peak RSS MiB), or None if it was there."""
    if (directory / "hdu-index.fits.gz").exists():
        return None
    return run_process([sys.executable, "-c", "from obscat.gadf.synthetic import make_data_store; "
                        f"make_data_store({str(directory)!r}, {n_obs}, n_files=10)"])  # fmt: skip
