"""What recording a data file's version costs: stat alone, reading it, and four digests.

    python benchmarks/bench_digest.py     # HESS DL3 DR1 (105 files, 60 MB) + a synthetic store; < 1 min

Digests run over the file's bytes as stored (the gzip stream, not the FITS
content), read in 1 MiB blocks; each figure is the median of 3 warm-cache runs.
The synthetic store is written as the 10^6-row benchmark writes it (n_files=10):
its distinct data files are the same 10 whatever n_obs is, so they are digested once.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DATA  # noqa: E402

BLOCK = 1 << 20


def _read(path: Path, update) -> None:
    with open(path, "rb") as stream:
        while block := stream.read(BLOCK):
            update(block)


def _checksum(function):
    def run(path: Path) -> None:
        value = 0

        def update(block: bytes) -> None:
            nonlocal value
            value = function(block, value)

        _read(path, update)
    return run


CANDIDATES = {
    "stat (size + mtime)": lambda p: os.stat(p),
    "read only": lambda p: _read(p, lambda b: None),
    "zlib.adler32": _checksum(zlib.adler32),
    "zlib.crc32": _checksum(zlib.crc32),
    "blake2b": lambda p: _read(p, hashlib.blake2b().update),
    "sha256": lambda p: _read(p, hashlib.sha256().update),
}


def measure(files: list[Path]) -> None:
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB")
    for name, digest in CANDIDATES.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for f in files:
                digest(f)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"  {name:22s} {median * 1e3:8.1f} ms  ({size / 1e6 / median:7.0f} MB/s)")


def main() -> None:
    measure(sorted((DATA / "hess-dl3-dr1" / "data").glob("*.fits.gz")))
    from obscat.gadf.synthetic import make_data_store

    with tempfile.TemporaryDirectory() as tmp:
        store = make_data_store(Path(tmp) / "synthetic", 2000, n_files=10)
        measure(sorted((store / "data").glob("*.fits.gz")))


if __name__ == "__main__":
    main()
