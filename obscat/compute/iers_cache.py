"""astropy's Earth-orientation (IERS) table, parsed once per installation.

Every AltAz transform needs the IERS-A/B tables; astropy parses their bundled
ASCII files anew in each process (about 1 s). The parsed table is pickled into
the user cache directory, keyed by the astropy and astropy-iers-data versions,
and handed to astropy through ``iers.earth_orientation_table`` on later runs:
the same numbers, without the parse. No network access is attempted (obscat
uses the tables bundled with astropy).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["earth_orientation", "cache_dir"]


def cache_dir() -> Path:
    """``$OBSCAT_CACHE_DIR``, else ``$XDG_CACHE_HOME/obscat``, else ``~/.cache/obscat``."""
    if "OBSCAT_CACHE_DIR" in os.environ:
        return Path(os.environ["OBSCAT_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "obscat"


@contextlib.contextmanager
def earth_orientation() -> Iterator[None]:
    """Within the block, astropy uses the bundled IERS tables, read from the cache when there."""
    import astropy
    import astropy_iers_data
    from astropy.utils import iers

    path = cache_dir() / f"iers-astropy{astropy.__version__}-data{astropy_iers_data.__version__}.pickle"
    with iers.conf.set_temp("auto_download", False):
        table = _load(path)
        if table is None:
            table = iers.IERS_Auto.open()  # with auto_download off: the bundled IERS-A, B substituted
            _store(path, table)
        with iers.earth_orientation_table.set(table):
            yield


def _load(path: Path):
    try:
        with path.open("rb") as file:
            return pickle.load(file)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None  # absent or unreadable: parse anew


def _store(path: Path, table) -> None:
    """Write atomically; a read-only or full cache directory only costs the speed-up."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as file:
            pickle.dump(table, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(file.name, path)
    except OSError:
        with contextlib.suppress(OSError, NameError):
            os.unlink(file.name)
