"""OFF-run matching at archive scale: 10^4 ON runs against 10^6 OFF candidates.

    python benchmarks/bench_match.py [--n-on 10000] [--n-off 1000000] [--repeat 3] [--backend sqlite|postgresql|both]

A synthetic catalogue is written once per backend (a database ``obscat_bench_match`` on
PostgreSQL, ``match.db`` in the work directory on SQLite): its observation rows are inserted
directly (no GADF files: the benchmark measures the matching, ``bench_ingest.py`` the ingest).
ON runs are ``--n-on`` wobble runs on 20 targets (OBJECT ``TARGET nn``); OFF candidates are
``--n-off`` runs on random extragalactic fields (OBJECT ``FIELD``). Zenith, azimuth and muon
efficiency are drawn as a site at -23 deg latitude sees them; N_TELS is 3 or 4.

Each run matches, with ``--max-delta zenith=5deg azimuth=30deg muoneff=0.05 --same n_tels
-k 3 --exclusion-radius 3deg --min-abs-b 10deg``, replacing the same grouping:

* ``obscat match`` as a whole process;
* ``Catalog.match`` in process (reading both selections, matching, storing the grouping and pairs).

Medians are reported and saved to ``benchmarks/results/match.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from harness import alternate, pg_database, report, run_process, save, timed

OBSCAT = [sys.executable, "-m", "obscat"]
RULES = {"max_delta": {"zenith": "5 deg", "azimuth": "30 deg", "muoneff": 0.05}, "same": ["n_tels"], "n_off": 3,
         "exclusion_radius": "3 deg", "min_abs_b": "10 deg"}  # fmt: skip
ARGS = ["--max-delta", "zenith=5deg", "--max-delta", "azimuth=30deg", "--max-delta", "muoneff=0.05", "--same", "n_tels",
        "-k", "3", "--exclusion-radius", "3deg", "--min-abs-b", "10deg"]  # fmt: skip
ON, OFF = "object('TARGET*')", "object('FIELD')"


def _sky(rng, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zenith, azimuth (deg) of runs seen from -23 deg latitude, and muon efficiency."""
    zen = np.degrees(np.arccos(rng.uniform(np.cos(np.radians(60)), 1.0, n)))
    az = rng.uniform(0, 360, n)
    return zen, az, np.clip(rng.normal(0.9, 0.08, n), 0.5, 1.2)


def rows(n_on: int, n_off: int, seed: int = 3) -> dict[str, np.ndarray]:
    """The synthetic observation columns: ON runs first, then OFF candidates."""
    from obscat.group.match import galactic_b_deg

    rng = np.random.default_rng(seed)
    targets = np.column_stack([rng.uniform(0, 360, 20), rng.uniform(-60, 20, 20)])
    which = np.arange(n_on) % 20
    angle = rng.uniform(0, 2 * np.pi, n_on)
    ra_on = targets[which, 0] + 0.5 * np.cos(angle) / np.cos(np.radians(targets[which, 1]))
    dec_on = targets[which, 1] + 0.5 * np.sin(angle)
    ra_off, dec_off = rng.uniform(0, 360, n_off), np.degrees(np.arcsin(rng.uniform(-1, np.sin(np.radians(30)), n_off)))
    off_plane = np.abs(galactic_b_deg(ra_off, dec_off)) >= 10  # empty fields: away from the plane
    ra_off[~off_plane], dec_off[~off_plane] = 180.0 + rng.uniform(-20, 20, (~off_plane).sum()), -40.0
    zen, az, muon = _sky(rng, n_on + n_off)
    return {"obs_id": np.arange(1, n_on + n_off + 1), "ra_pnt_deg": np.concatenate([ra_on % 360, ra_off]),
            "dec_pnt_deg": np.concatenate([dec_on, dec_off]), "zen_pnt_deg": zen, "alt_pnt_deg": 90 - zen,
            "az_pnt_deg": az, "muoneff": muon, "livetime_s": rng.uniform(1200, 1750, n_on + n_off),
            "n_tels": rng.choice([3, 4], n_on + n_off, p=[0.2, 0.8]),
            "object": np.array([f"TARGET {k:02d}" for k in which] + ["FIELD"] * n_off, object)}  # fmt: skip


def build(url: str, n_on: int, n_off: int) -> None:
    """Write the synthetic catalogue at ``url`` unless it holds it already."""
    from obscat import Catalog
    from obscat._version import __version__
    from obscat.store.engine import write_transaction
    from obscat.store.models import DataStore, Observation, sky_derived
    from obscat.store.rows import bulk_insert

    with Catalog(url) as catalog:
        if catalog.stores():
            return
        print(f"writing {n_on} ON and {n_off} OFF observations to {url} ...")
        data = rows(n_on, n_off)
        ux, uy, uz, zone = sky_derived(data["ra_pnt_deg"], data["dec_pnt_deg"])
        data.update(ux=ux, uy=uy, uz=uz, sky_zone=zone)
        with write_transaction(catalog.engine, bulk=True) as conn:
            store_id = conn.execute(sa.insert(DataStore.__table__).values(
                name="synthetic", root_path="/synthetic", obs_index_path="/synthetic/obs-index.fits.gz",
                obs_index_sha256="0" * 64, hdu_index_path="/synthetic/hdu-index.fits.gz", hdu_index_sha256="0" * 64,
                header={}, ingested_at=dt.datetime.now(dt.UTC), obscat_version=__version__,
            ).returning(DataStore.__table__.c.id)).scalar_one()  # fmt: skip
            names = list(data)
            columns = [data[c].tolist() for c in names]
            bulk_insert(conn, Observation.__table__, ["store_id", "extra", *names],
                        ((store_id, "{}", *values) for values in zip(*columns)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-on", type=int, default=10_000)
    parser.add_argument("--n-off", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench-match")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)

    from obscat import Catalog

    urls = {}
    if args.backend in ("sqlite", "both"):
        urls["sqlite"] = f"sqlite:///{args.work_dir / f'match-{args.n_on}-{args.n_off}.db'}"
    if args.backend in ("postgresql", "both"):
        urls["postgresql"] = pg_database("obscat_bench_match")
    payload = {"n_on": args.n_on, "n_off": args.n_off, "rules": RULES, "backends": {}}
    for backend, url in urls.items():
        build(url, args.n_on, args.n_off)
        catalog = Catalog(url)
        argv = [*OBSCAT, "--db", url, "match", "--name", "bench", "--replace", "--on", ON, "--off-from", OFF, *ARGS]
        cases = {
            f"obscat match ({backend}, process)": lambda argv=argv: run_process(argv),
            f"Catalog.match ({backend}, in process)": timed(lambda catalog=catalog: catalog.match(
                "bench", ON, OFF, replace=True, **RULES)),
        }  # fmt: skip
        measurements = alternate(cases, args.repeat)
        rows_out = report(f"{args.n_on} ON runs against {args.n_off} OFF candidates on {backend}", measurements)
        result = catalog.match("bench", ON, OFF, replace=True, **RULES)
        groups = {label: len(ids) for label, ids in result.groups.items()}
        print(f"  {len(result.pairs)} pairs; groups {groups}; {result.pairs.meta or ''}")
        payload["backends"][backend] = {"measurements": rows_out, "n_pairs": len(result.pairs), "groups": groups}
        catalog.close()
    save("match", payload)


if __name__ == "__main__":
    main()
