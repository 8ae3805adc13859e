"""Regenerate tests/reference/gammapy_features_hess.ecsv with Gammapy itself.

Run it in the reference environment (Gammapy stays out of obscat's dependencies):

    bash benchmarks/reference-env.sh
    .venv-gammapy/bin/python tests/reference/make_gammapy_features.py [HESS_DL3_DR1_DIR]

It computes Gammapy's ``get_irfs_features`` (edisp-res, edisp-bias, psf-radius,
containment 0.68) at 1 TeV for two cases on H.E.S.S. DL3 DR1:

* ``position``: the 21 observations within 2 deg of (329.71693826, -30.2255890)
  deg ICRS (the observation-clustering tutorial), with that point as position;
* ``offset0``: all 105 observations with ``position=None`` (offset 0).

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import sys
from pathlib import Path

import astropy.units as u
import gammapy
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table, vstack
from gammapy.data import DataStore
from gammapy.data.utils import get_irfs_features

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent.parent / "shared" / "data" / "hess-dl3-dr1"
NAMES = ["edisp-res", "edisp-bias", "psf-radius"]
POSITION = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg, frame="icrs")


def features(observations, case: str, **kwargs) -> Table:
    table = get_irfs_features(observations, energy_true="1 TeV", names=NAMES, **kwargs)
    out = Table()
    out["case"] = [case] * len(table)
    out["obs_id"] = np.asarray(table["obs_id"], dtype=np.int64)
    for name in NAMES:
        out[name] = table[name].quantity if table[name].unit else table[name]
    return out


def main() -> None:
    store = DataStore.from_dir(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
    cone = store.obs_table.select_observations(
        dict(type="sky_circle", frame="icrs", lon="329.71693826 deg", lat="-30.2255 deg", radius="2 deg")
    )
    near = store.get_observations(cone["OBS_ID"])
    every = store.get_observations()
    table = vstack([features(near, "position", position=POSITION), features(every, "offset0")])
    table.meta = {
        "gammapy_version": gammapy.__version__,
        "energy_true": "1 TeV",
        "containment_fraction": 0.68,
        "position_icrs_deg": [329.71693826, -30.2255890],
        "attribution": "HESS DL3 DR1, H.E.S.S. collaboration, 2018",
    }
    path = HERE / "gammapy_features_hess.ecsv"
    table.write(path, overwrite=True, format="ascii.ecsv")
    print(f"wrote {len(table)} rows to {path}")


if __name__ == "__main__":
    main()
