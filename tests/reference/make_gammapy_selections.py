"""Regenerate tests/reference/gammapy_selections_hess.json with Gammapy itself.

    .venv-gammapy/bin/python tests/reference/make_gammapy_selections.py [HESS_DL3_DR1_DIR]

Each case is a list of Gammapy ``select_observations`` dicts (AND-ed) and the
OBS_IDs Gammapy 2.1 keeps.  Times are written as ISO strings (UTC) and become
``astropy.time.Time`` again on both sides.

This work made use of data from the H.E.S.S. DL3 public test data release 1
(HESS DL3 DR1, H.E.S.S. collaboration, 2018).
"""

import json
import sys
from pathlib import Path

import gammapy
from astropy.time import Time
from gammapy.data import DataStore

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent.parent / "shared" / "data" / "hess-dl3-dr1"
TUTORIAL = {"type": "sky_circle", "frame": "icrs", "lon": "329.71693826 deg", "lat": "-30.2255 deg", "radius": "2 deg"}
CASES = {
    "tutorial cone": [TUTORIAL],
    "tutorial cone inverted": [{**TUTORIAL, "inverted": True}],
    "Crab cone 3 deg": [{"type": "sky_circle", "frame": "icrs", "lon": "83.633 deg", "lat": "22.0145 deg", "radius": "3 deg"}],
    "galactic cone with border": [{"type": "sky_circle", "frame": "galactic", "lon": "320 deg", "lat": "-1 deg",
                                   "radius": "1.5 deg", "border": "0.5 deg"}],
    "cone across RA 0": [{"type": "sky_circle", "frame": "icrs", "lon": "359.5 deg", "lat": "-30 deg", "radius": "31 deg"}],
    "zenith 20-40 deg": [{"type": "par_box", "variable": "ZEN_PNT", "value_range": ["20 deg", "40 deg"]}],
    "N_TELS == 4": [{"type": "par_box", "variable": "N_TELS", "value_range": [4, 4]}],
    "muon efficiency >= 1, inverted": [{"type": "par_box", "variable": "MUONEFF", "value_range": [1.0, 10.0],
                                        "inverted": True}],
    "time box 2004": [{"type": "time_box", "time_range": ["2004-01-01T00:00:00", "2005-01-01T00:00:00"]}],
    "time box, partial overlap": [{"type": "time_box", "time_range": ["2004-12-04T22:00:00", "2004-12-05T00:00:00"],
                                   "partial_overlap": True}],
    "cone and zenith": [TUTORIAL, {"type": "par_box", "variable": "ZEN_PNT", "value_range": ["0 deg", "30 deg"]}],
    "livetime in hours": [{"type": "par_box", "variable": "LIVETIME", "value_range": ["0.4 h", "0.45 h"]}],
}


def gammapy_form(selection: dict) -> dict:
    out = dict(selection)
    if out["type"] == "time_box":
        out["time_range"] = Time(out["time_range"])
    if out["type"] == "par_box" and isinstance(out["value_range"][0], str):
        from astropy import units as u

        out["value_range"] = u.Quantity([u.Quantity(v) for v in out["value_range"]])
    return out


def main() -> None:
    table = DataStore.from_dir(sys.argv[1] if len(sys.argv) > 1 else DEFAULT).obs_table
    cases = []
    for name, selections in CASES.items():
        kept = table.select_observations([gammapy_form(s) for s in selections])
        cases.append({"name": name, "selections": selections, "obs_ids": sorted(int(i) for i in kept["OBS_ID"])})
    payload = {"gammapy_version": gammapy.__version__, "cases": cases,
               "attribution": "HESS DL3 DR1, H.E.S.S. collaboration, 2018"}
    path = HERE / "gammapy_selections_hess.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {path}: " + ", ".join(f"{c['name']}={len(c['obs_ids'])}" for c in cases))


if __name__ == "__main__":
    main()
