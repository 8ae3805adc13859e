"""Hierarchical clustering at archive scale: obscat against Gammapy's recipe.

    python benchmarks/bench_cluster.py [--sizes 5000 20000 100000] [--repeat 3]

A synthetic store of ``max(sizes)`` observations is ingested once into a
SQLite catalogue in the work directory. Its feature set (edisp-res,
psf-radius) is not computed from IRFs but synthesized from each
observation's zenith and muon efficiency plus noise and inserted directly, so
that the benchmark measures the clustering and not the IRF reading
(``bench_features.py`` does that). For each size, the first N observations
are clustered into 10 groups (z-scores, Ward):

* obscat: ``obscat group cluster`` as a whole process, and ``Catalog.cluster``
  in process (reading the features from the database, clustering, storing the
  groups);
* reference: Gammapy 2.1's ``standard_scaler`` + ``hierarchical_clustering``
  on the same numbers in an astropy Table, in the reference venv
  (``benchmarks/reference-env.sh``), in process and as a whole process.
  Gammapy builds the O(N²) pairwise distances, 8·N²/2 bytes (40 GB at
  100,000): it is skipped where that exceeds ``--reference-max-gib``.

Runs alternate between the two; the labels are compared.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from harness import GAMMAPY_PYTHON, Measurement, alternate, have_gammapy, report, run_process, save, timed

OBSCAT = str(Path(sys.executable).parent / "obscat")
FEATURES = ("edisp-res", "psf-radius")
K = 10

REFERENCE = """
import sys, time, numpy as np
from astropy.table import Table
from gammapy.utils.cluster import hierarchical_clustering, standard_scaler
data = np.load(sys.argv[1])
table = Table({"obs_id": data[:, 0].astype(int), "edisp-res": data[:, 1], "psf-radius": data[:, 2]})
start = time.perf_counter()
labels = hierarchical_clustering(standard_scaler(table), fcluster_kwargs={"t": int(sys.argv[4])})["labels"]
open(sys.argv[3], "w").write(str(time.perf_counter() - start))
np.save(sys.argv[2], np.asarray(labels))
"""


def build(work: Path, n: int, url: str | None = None) -> str:
    """A catalogue of ``n`` synthetic observations with a synthesized feature set (in the database
    ``url``, by default a SQLite file in ``work``); its URL."""
    import sqlalchemy as sa

    from obscat import Catalog
    from obscat.compute.feature_params import FeatureParams
    from obscat.compute.feature_store import feature_set_row
    from obscat.gadf.synthetic import make_data_store
    from obscat.store.engine import write_transaction
    from obscat.store.models import FeatureValue, Observation
    from obscat.store.rows import bulk_insert

    url = url or f"sqlite:///{work / f'cluster-{n}.db'}"
    with Catalog(url) as catalog:
        if catalog.stores():
            return url
        store = work / f"synthetic-{n}"
        if not (store / "hdu-index.fits.gz").exists():
            make_data_store(store, n, n_files=10)
        print(f"ingesting {n} observations ...")
        catalog.ingest(store, name="synthetic")
        o = Observation.__table__
        with write_transaction(catalog.engine) as conn:
            rows = conn.execute(sa.select(o.c.id, o.c.zen_pnt_deg, o.c.muoneff).order_by(o.c.obs_id)).all()
            ids, zen, muon = (np.array(c) for c in zip(*rows))
            rng = np.random.default_rng(7)
            cos = np.cos(np.radians(zen))
            res = 0.08 + 0.05 * (1 / cos - 1) + 0.03 * (1 - muon) + rng.normal(0, 0.003, n)
            psf = 0.05 + 0.04 * (1 / cos - 1) + 0.05 * (1 - muon) + rng.normal(0, 0.002, n)
            params = FeatureParams(energy_true_tev=1.0, features=FEATURES, fixed_offset_deg=0.0)
            set_id, _ = feature_set_row(conn, params)
            values = [(set_id, int(i), "edisp-res", float(r), "") for i, r in zip(ids, res)]
            values += [(set_id, int(i), "psf-radius", float(p), "deg") for i, p in zip(ids, psf)]
            bulk_insert(conn, FeatureValue.__table__, ["feature_set_id", "observation_id", "feature", "value", "unit"],
                        values)  # fmt: skip
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-max-gib", type=float, default=4.0)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)

    from obscat import Catalog
    from obscat.query import ValueRange

    url = build(args.work_dir, max(args.sizes))
    catalog = Catalog(url)
    feature_set = catalog.feature_sets()[0].name
    table = catalog.feature_set(feature_set)
    everything = np.array([table[c] for c in table.colnames[1:]], dtype=float).T  # obs_id, edisp-res, psf-radius by obs_id
    reference = have_gammapy()
    script = args.work_dir / "gammapy_cluster.py"
    script.write_text(REFERENCE)
    payload = {"k": K, "features": FEATURES, "sizes": {}}
    for n in sorted(args.sizes):
        data = everything[:n]
        lo, hi = int(data[0, 0]), int(data[-1, 0]) + 1
        selection = ValueRange("obs_id", lo, hi)
        npy, labels_npy = args.work_dir / f"features-{n}.npy", args.work_dir / f"gammapy-labels-{n}.npy"
        np.save(npy, data)
        name = f"bench-{n}"
        argv = [OBSCAT, "--db", url, "group", "cluster", "--name", name, "--replace", "--feature-set", feature_set,
                "-F", FEATURES[0], "-F", FEATURES[1], "-k", str(K), "--range", f"obs_id {lo} {hi}"]  # fmt: skip
        cases = {
            f"obscat group cluster (process, N={n})": lambda argv=argv: run_process(argv),
            f"Catalog.cluster (in process, N={n})": timed(lambda n=n, sel=selection: catalog.cluster(
                f"bench-{n}", list(FEATURES), feature_set=feature_set, selection=sel, n_groups=K, replace=True)),
        }  # fmt: skip
        gib = 8 * n * (n - 1) / 2 / 2**30
        inner = Measurement(f"Gammapy hierarchical_clustering (in process, N={n})")
        run_reference = reference and gib <= args.reference_max_gib
        if run_reference:
            timing = args.work_dir / "gammapy-seconds.txt"

            def gammapy_process(npy=npy, labels_npy=labels_npy, timing=timing, inner=inner) -> tuple[float, float | None]:
                argv = [str(GAMMAPY_PYTHON), str(script), str(npy), str(labels_npy), str(timing), str(K)]
                seconds, rss = run_process(argv)
                inner.seconds.append(float(timing.read_text()))
                return seconds, rss

            cases[f"Gammapy hierarchical_clustering (process, N={n})"] = gammapy_process
        measurements = alternate(cases, args.repeat) + ([inner] if run_reference else [])
        rows_out = report(f"N = {n} ({gib:.1f} GiB of pairwise distances for Gammapy)", measurements,
                          baseline=next(iter(cases)))  # fmt: skip
        ours = np.array([int(label.split("_")[1]) for label in catalog.cluster(
            f"bench-{n}", list(FEATURES), feature_set=feature_set, selection=selection, n_groups=K,
            replace=True).labels])  # fmt: skip
        same = None
        if run_reference:
            same = bool(np.array_equal(ours, np.load(labels_npy)))
            print(f"  labels identical to Gammapy's: {same}")
        payload["sizes"][n] = {"measurements": rows_out, "labels_identical_to_gammapy": same,
                               "gammapy_pairwise_gib": gib}  # fmt: skip
    save("cluster", payload)


if __name__ == "__main__":
    main()
