"""Re-ingest of a changed index: only changed rows are written, derived results kept.

    python benchmarks/bench_reingest.py [N]     # N synthetic observations (default 100,000); < 1 min

Ingests a synthetic store into a new SQLite catalogue, changes one MUONEFF in
its obs index and ingests it again; prints both times and the summary.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

from astropy.io import fits

from obscat import Catalog
from obscat.gadf.synthetic import make_data_store


def main(n_obs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = make_data_store(Path(tmp) / "store", n_obs, n_files=10)
        cat = Catalog(f"sqlite:///{tmp}/catalog.db")
        start = time.perf_counter()
        cat.ingest(store, name="s")
        first = time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy's note on the non-FITS unit deg_C
            with fits.open(store / "obs-index.fits.gz") as hdus:
                hdus[1].data["MUONEFF"][0] = 0.123
                hdus.writeto(store / "obs-index.fits.gz", overwrite=True)
        start = time.perf_counter()
        report = cat.ingest(store, name="s")
        again = time.perf_counter() - start
        cat.close()
    print(f"{n_obs} observations: ingest {first:.2f} s; re-ingest with one changed row {again:.2f} s")
    print(report.summary())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
