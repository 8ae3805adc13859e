"""The parity matrix: every feature of every IRF class against Gammapy 2.1, computed live.

IRF classes come from the real H.E.S.S. (aeff_2d, edisp_2d, psf_table, bkg_3d)
and MAGIC (aeff_2d, edisp_2d, rad_max_2d) files and from a synthetic file in
the GADF formats Gammapy reads (psf_king, psf_3gauss, bkg_2d, bkg_3d with a
CTA 1DC ``BGD`` column).  Energies: 0.1, 0.3, 1, 3.16, 10 and 30 TeV, every bin
edge of the file's energy axis (its float32 value), and a point 1e-6 relative
either side of each edge, all inside the axis.  Offsets: 0, 0.5, 1.0 deg and
the offset of a source position (the Crab) from the run's pointing.

Where obscat has no value (NaN, stored as NULL with a reason), Gammapy must
give its own "no value": NaN, 0 (its fill value outside the IRF's bounds) or
-1 (edisp-bias of an empty kernel).  Everywhere else the two agree to 1e-9
relative.  (H.E.S.S. DL3 DR1, H.E.S.S. collaboration, 2018.)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import gammapy.irf as gammapy_irf
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits

from obscat.compute.irf import read_irf
from obscat.compute.irf_features import (
    aeff_at_edges,
    analytic_psf_radius,
    background_rate,
    edisp_moments,
    energy_threshold,
    psf_containment_radius,
    value_at,
)
from obscat.errors import InputError
from obscat.gadf.fits import read_tables

RTOL = 1e-9
CRAB = SkyCoord(83.6331 * u.deg, 22.0145 * u.deg)
ENERGIES = [0.1, 0.3, 1.0, 3.16, 10.0, 30.0]
OFFSETS = [0.0, 0.5, 1.0]
FRACTIONS = (0.68, 0.95)
AEFF_FRACTION = 0.1
GAMMAPY_CLASS = {
    "aeff_2d": "EffectiveAreaTable2D", "edisp_2d": "EnergyDispersion2D", "psf_table": "PSF3D",
    "psf_king": "PSFKing", "psf_3gauss": "EnergyDependentMultiGaussPSF", "bkg_2d": "Background2D",
    "bkg_3d": "Background3D", "rad_max_2d": "RadMax2D",
}  # fmt: skip
FEATURES_OF = {
    "aeff_2d": ["aeff", "aeff-max", "energy-threshold"],
    "edisp_2d": ["edisp-res", "edisp-bias"],
    "psf_table": ["psf-radius-0.68", "psf-radius-0.95"],
    "psf_king": ["psf-radius-0.68", "psf-radius-0.95"],
    "psf_3gauss": ["psf-radius-0.68", "psf-radius-0.95"],
    "bkg_2d": ["bkg-rate"],
    "bkg_3d": ["bkg-rate"],
    "rad_max_2d": ["rad-max"],
}
#: (source, HDU class, file, HDU name); the synthetic file is written by ``_synthetic``
SOURCES = [
    ("hess", "aeff_2d", "AEFF"), ("hess", "edisp_2d", "EDISP"), ("hess", "psf_table", "PSF"), ("hess", "bkg_3d", "BKG"),
    ("magic", "aeff_2d", "EFFECTIVE AREA"), ("magic", "edisp_2d", "ENERGY DISPERSION"), ("magic", "rad_max_2d", "RAD_MAX"),
    ("synthetic", "psf_king", "PSF_KING"), ("synthetic", "psf_3gauss", "PSF_3GAUSS"), ("synthetic", "bkg_2d", "BKG_2D"),
    ("synthetic", "bkg_3d", "BKG_3D_BGD"),
]  # fmt: skip
SYNTHETIC_POINTING = SkyCoord(84.5 * u.deg, 22.5 * u.deg)
CASES = [(source, cls, feature) for source, cls, _ in SOURCES for feature in FEATURES_OF[cls]]


def _synthetic(path: Path) -> Path:
    """The classes the shared data lacks, in the GADF layouts Gammapy reads (float32 columns)."""
    energy = np.logspace(-1.5, 2, 15).astype(np.float32)  # edges at 0.1, 1, 10, 100 TeV (float32)
    theta = np.arange(0.0, 3.0, 0.5).astype(np.float32)  # edges at 0, 0.5, 1.0 deg
    e_c, t_c = np.sqrt(energy[:-1] * energy[1:]), 0.5 * (theta[:-1] + theta[1:])
    ee, tt = np.meshgrid(e_c, t_c)  # FITS order (THETA, ENERG): C arrays of shape (n_theta, n_energy)

    def axes(*pairs):
        return [fits.Column(f"{name}_{side}", f"{len(edges) - 1}E", unit=unit, array=[edges[:-1] if side == "LO" else edges[1:]])
                for name, edges, unit in pairs for side in ("LO", "HI")]  # fmt: skip

    def column(name, values, unit):
        return fits.Column(name, f"{values.size}E", unit=unit, dim="(" + ",".join(map(str, values.shape[::-1])) + ")",
                           array=[values.astype(np.float32)])  # fmt: skip

    def hdu(name, hdu_class, cols):
        table = fits.BinTableHDU.from_columns(cols, name=name)
        table.header.update(HDUCLASS="GADF", HDUDOC="gadf", HDUVERS="0.2", HDUCLAS1="RESPONSE",
                            HDUCLAS2=hdu_class.split("_")[0].upper().replace("PSF", "PSF"), HDUCLAS3="FULL-ENCLOSURE",
                            HDUCLAS4=hdu_class.upper())  # fmt: skip
        return table

    et = [("ENERG", energy, "TeV"), ("THETA", theta, "deg")]
    king = [column("GAMMA", 1.6 + 0.3 * np.log10(ee) ** 2 + 0.2 * tt, ""),
            column("SIGMA", 0.08 * ee**-0.3 * (1 + 0.15 * tt), "deg")]  # fmt: skip
    gauss = [column("SCALE", 30 + 0 * ee, "sr-1"), column("SIGMA_1", 0.05 * ee**-0.25 * (1 + 0.1 * tt), "deg"),
             column("AMPL_2", 0.3 + 0.05 * tt + 0 * ee, ""), column("SIGMA_2", 0.12 * ee**-0.2 + 0 * tt, "deg"),
             column("AMPL_3", 0.02 * (1 + np.log10(ee) ** 2), ""), column("SIGMA_3", 0.3 + 0.05 * tt + 0 * ee, "deg")]  # fmt: skip
    rate_2d = 1e-4 * ee**-2.7 * np.exp(-0.5 * tt**2)
    rate_2d[:, -1] = 0.0  # a zero bin: log-scale interpolation must handle it as Gammapy does
    det = np.arange(-3.0, 3.01, 0.5).astype(np.float32)  # 12 bins, edges at 0, 0.5, 1.0 deg
    d_c = 0.5 * (det[:-1] + det[1:])
    e3, y3, x3 = np.meshgrid(e_c, d_c, d_c, indexing="ij")  # C order (ENERG, DETY, DETX), as H.E.S.S. and CTA
    rate_3d = 2e-4 * e3**-2.6 * np.exp(-0.5 * ((x3 - 0.2) ** 2 + 1.5 * y3**2) / (1 + 0.2 * np.log10(e3)) ** 2)
    hdus = [
        hdu("PSF_KING", "psf_king", axes(*et) + king),
        hdu("PSF_3GAUSS", "psf_3gauss", axes(*et) + gauss),
        hdu("BKG_2D", "bkg_2d", axes(*et) + [column("BKG", rate_2d, "s-1 MeV-1 sr-1")]),
        hdu("BKG_3D_BGD", "bkg_3d", axes(("DETX", det, "deg"), ("DETY", det, "deg"), ("ENERG", energy, "TeV"))
            + [column("BGD", rate_3d.transpose(2, 1, 0), "s-1 MeV-1 sr-1")]),
    ]  # fmt: skip
    fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(path / "synthetic.fits")
    return path / "synthetic.fits"


def _energies(irf) -> np.ndarray:
    """The matrix energies inside the IRF's energy axis: fixed points, every edge, and either side of each."""
    edges = irf.axis("energy_true").edges
    stored = np.unique(np.asarray(edges, np.float32).astype(np.float64))  # the file's float32 values
    points = np.concatenate([ENERGIES, stored, stored * (1 - 1e-6), stored * (1 + 1e-6)])
    return np.unique(points[(points >= edges[0]) & (points < edges[-1])])


def _offsets(source: str, header) -> dict[str, float]:
    """Offsets by label: the fixed ones and Gammapy's offset of the Crab from the pointing."""
    pointing = SYNTHETIC_POINTING if header is None else SkyCoord(header["RA_PNT"] * u.deg, header["DEC_PNT"] * u.deg)
    return {**{f"{o:g}deg": o for o in OFFSETS}, "crab": float(CRAB.separation(pointing).deg)}


def _gammapy(cls: str, obj, feature: str, energies: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Gammapy 2.1's value of ``feature`` at each energy (or, energy-independent, once), and
    where that value is Gammapy's "no value" (NaN, 0 fill, or a made-up value: see the module docstring)."""
    values = _gammapy_values(cls, obj, feature, energies, offset)
    e, off = energies * u.TeV, offset * u.deg
    none = np.isnan(values) | (values == 0)  # 0: Gammapy's fill value outside the IRF
    if feature in ("edisp-res", "edisp-bias"):  # no migration density at this true energy and offset (or an
        # empty kernel row): Gammapy's kernel row is an artefact of 0/0, its bias and resolution made up
        kernel = obj.to_edisp_kernel(off)
        idx = kernel.axes["energy_true"].coord_to_idx(e)
        centres = kernel.axes["energy_true"].center[idx]
        density = obj.evaluate(energy_true=centres[:, None], migra=obj.axes["migra"].center[None, :], offset=off)
        none |= (kernel.data[idx].sum(axis=-1) == 0) | (np.asarray(density).sum(axis=-1) == 0)
    if feature.startswith("psf-radius"):  # the fraction is never reached: Gammapy gives the radius of the peak
        from gammapy.datasets.map import RAD_AXIS_DEFAULT

        grid = (obj.axes["rad"] if "rad" in obj.axes.names else RAD_AXIS_DEFAULT).upsample(20).center
        peak = obj.containment(rad=grid[:, None], energy_true=e, offset=off).max(axis=0)
        none |= np.asarray(peak) < float(feature[-4:])
    return values, none


def _gammapy_values(cls: str, obj, feature: str, energies: np.ndarray, offset: float) -> np.ndarray:
    e, off = energies * u.TeV, offset * u.deg
    if feature in ("edisp-res", "edisp-bias"):
        kernel = obj.to_edisp_kernel(off)
        return (kernel.get_resolution(e) if feature == "edisp-res" else kernel.get_bias(e)).value
    if feature.startswith("psf-radius"):
        return obj.containment_radius(fraction=float(feature[-4:]), energy_true=e, offset=off).to_value("deg")
    if feature == "aeff":
        return obj.evaluate(energy_true=e, offset=off).to_value("m2")
    if feature in ("aeff-max", "energy-threshold"):  # SafeMaskMaker.make_mask_energy_aeff_max, DL3 branch
        axis = obj.axes["energy_true"]
        values = obj.evaluate(offset=off, energy_true=axis.edges)
        if feature == "aeff-max":
            return np.array([np.max(values).to_value("m2")])
        valid = axis.edges[values > AEFF_FRACTION * np.max(values)]
        return np.array([np.min(valid).to_value("TeV") if len(valid) else np.nan])  # np.min raises: no value
    if feature == "bkg-rate" and cls == "bkg_3d":
        return obj.evaluate(energy=e, fov_lon=off, fov_lat=0 * u.deg).to_value("s-1 MeV-1 sr-1")
    if feature == "bkg-rate":
        return obj.evaluate(energy=e, offset=off).to_value("s-1 MeV-1 sr-1")
    return obj.evaluate(energy=e, offset=off).to_value("deg")  # rad-max


def _obscat(irf, feature: str, energies: np.ndarray, offset: float) -> np.ndarray:
    """obscat's value at each energy; NaN where it stores NULL (a NaN result or an error with its reason)."""
    out = []
    for energy in energies if feature not in ("aeff-max", "energy-threshold") else energies[:1]:
        try:
            out.append(_obscat_one(irf, feature, energy, offset))
        except InputError:
            out.append(np.nan)
    return np.array(out)


def _obscat_one(irf, feature: str, energy: float, offset: float) -> float:
    if feature == "aeff-max":
        return float(np.max(aeff_at_edges(irf, offset)))
    if feature == "energy-threshold":
        return energy_threshold(irf, offset, AEFF_FRACTION)
    if feature in ("edisp-res", "edisp-bias"):
        return edisp_moments(irf, energy, offset)[feature == "edisp-bias"]
    if feature.startswith("psf-radius") and irf.hdu_class == "psf_table":
        return psf_containment_radius(irf, energy, offset, float(feature[-4:]))
    if feature.startswith("psf-radius"):
        return analytic_psf_radius(irf, energy, offset, float(feature[-4:]))
    if feature == "bkg-rate":
        return background_rate(irf, energy, offset)
    return value_at(irf, energy, offset)


@pytest.fixture(scope="module")
def matrix(hess_dir, magic_dir, tmp_path_factory) -> dict:
    """Every (source, class, feature) -> list of (offset label, energies, obscat, gammapy)."""
    files = {
        "hess": hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz",
        "magic": magic_dir / "20131004_05029747_DL3_CrabNebula-W0.40+035.fits",
        "synthetic": _synthetic(tmp_path_factory.mktemp("parity")),
    }
    out = {}
    for source, path in files.items():
        wanted = {(name, cls) for s, cls, name in SOURCES if s == source}
        tables = read_tables(str(path), {n for n, _ in wanted} | ({"EVENTS"} if source != "synthetic" else set()),
                             headers_only={"EVENTS"})  # fmt: skip
        header = tables["EVENTS"].header if source != "synthetic" else None
        for name, cls in wanted:
            irf = read_irf(tables[name], cls, f"{path.name} [{name}]")
            with warnings.catch_warnings():  # Gammapy's own warnings (0/0 in an empty kernel ...)
                warnings.simplefilter("ignore")
                obj = getattr(gammapy_irf, GAMMAPY_CLASS[cls]).read(path, hdu=name)
            energies = _energies(irf)
            for feature in FEATURES_OF[cls]:
                rows = []
                for label, offset in _offsets(source, header).items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        gp = _gammapy(cls, obj, feature, energies, offset)
                    rows.append((label, energies, _obscat(irf, feature, energies, offset), *gp))
                out[(source, cls, feature)] = rows
    return out


@pytest.mark.parametrize(("source", "cls", "feature"), CASES, ids=["/".join(c) for c in CASES])
def test_parity_matrix(matrix, source, cls, feature):
    n_compared = 0
    for label, energies, ours, theirs, no_value in matrix[(source, cls, feature)]:
        where = energies if len(ours) == len(energies) else ["(energy-independent)"]
        missing = np.isnan(ours)
        bad_null = missing & ~no_value
        assert not bad_null.any(), f"{source} {cls} {feature} offset {label}: obscat NULL where Gammapy gives " + \
            ", ".join(f"{theirs[i]!r} at {where[i]} TeV" for i in np.flatnonzero(bad_null)[:5])  # fmt: skip
        rel = np.abs(ours[~missing] - theirs[~missing]) / np.where(theirs[~missing] == 0, 1, np.abs(theirs[~missing]))
        if rel.size and rel.max() > RTOL:
            i = np.flatnonzero(~missing)[np.argmax(rel)]
            pytest.fail(f"{source} {cls} {feature} offset {label} energy {where[i]} TeV: obscat {ours[i]!r}, "
                        f"Gammapy {theirs[i]!r} (relative {rel.max():.2e})")  # fmt: skip
        n_compared += int((~missing).sum())
    assert n_compared > 0


def test_stored_features_on_a_bin_edge_equal_gammapy(hess, hess_dir):
    """Through the catalogue (both backends): H.E.S.S. run 20136 at its float32 energy edge 46.4159 TeV,
    where the edge read back as Gammapy does decides the bin (edisp-bias was 1.4 relative off before)."""
    from gammapy.data import DataStore

    energy = float(np.float32(46.415897))
    names = ["edisp-bias", "edisp-res", "psf-radius", "aeff", "bkg-rate"]
    table = hess.compute_features(energy * u.TeV, obs_ids=[20136], features=names, fixed_offset=0.5 * u.deg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs = DataStore.from_dir(hess_dir).obs(20136)
        e, off = energy * u.TeV, 0.5 * u.deg
        kernel = obs.edisp.to_edisp_kernel(off)
        expected = {"edisp-bias": kernel.get_bias(e)[0], "edisp-res": kernel.get_resolution(e)[0],
                    "psf-radius": obs.psf.containment_radius(0.68, energy_true=e, offset=off).to_value("deg"),
                    "aeff": obs.aeff.evaluate(energy_true=e, offset=off).to_value("m2"),
                    "bkg-rate": obs.bkg.evaluate(energy=e, fov_lon=off, fov_lat=0 * u.deg).to_value("s-1 MeV-1 sr-1")}
    for name, value in expected.items():
        assert table[name][0] == pytest.approx(float(value), rel=RTOL, abs=0), name


def test_stored_features_of_the_synthetic_classes_equal_gammapy(catalog, tmp_path):
    """Through the catalogue (both backends): psf_king, psf_3gauss, bkg_2d and a bkg_3d with a BGD column."""
    from astropy.table import Table

    path = _synthetic(tmp_path)
    pairs = {1: ("PSF_KING", "psf_king", "BKG_2D", "bkg_2d"), 2: ("PSF_3GAUSS", "psf_3gauss", "BKG_3D_BGD", "bkg_3d")}
    Table({"OBS_ID": [1, 2], "RA_PNT": [84.5, 84.5], "DEC_PNT": [22.5, 22.5], "TSTART": [0.0, 2000.0],
           "TSTOP": [1800.0, 3800.0]}, meta={"MJDREFI": 51910, "MJDREFF": 0.0, "TIMESYS": "TT"}).write(tmp_path / "obs-index.fits")
    rows = [(obs, t, c, ".", path.name, name) for obs, (p, pc, b, bc) in pairs.items() for t, c, name in (("psf", pc, p), ("bkg", bc, b))]
    Table(rows=rows, names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]).write(tmp_path / "hdu-index.fits")
    catalog.ingest(tmp_path, name="syn")
    energy = float(np.float32(10.0))  # a float32 edge of the synthetic energy axis
    table = catalog.compute_features(energy * u.TeV, features=["psf-radius", "bkg-rate"], fixed_offset=0.5 * u.deg)
    e, off = energy * u.TeV, 0.5 * u.deg
    for row, (psf_name, psf_class, bkg_name, bkg_class) in zip(table, pairs.values()):
        psf = getattr(gammapy_irf, GAMMAPY_CLASS[psf_class]).read(path, hdu=psf_name)
        bkg = getattr(gammapy_irf, GAMMAPY_CLASS[bkg_class]).read(path, hdu=bkg_name)
        rate = bkg.evaluate(energy=e, offset=off) if bkg_class == "bkg_2d" else bkg.evaluate(energy=e, fov_lon=off, fov_lat=0 * u.deg)
        assert row["psf-radius"] == pytest.approx(psf.containment_radius(0.68, energy_true=e, offset=off).to_value("deg"), rel=RTOL)
        assert row["bkg-rate"] == pytest.approx(rate.to_value("s-1 MeV-1 sr-1"), rel=RTOL) and row["bkg-rate"] > 0
