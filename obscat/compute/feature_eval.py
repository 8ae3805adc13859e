"""Evaluating IRF features, with no database: a task list in, ``feature_value`` rows out.

Each file is read once per call; an HDU shared by many observations is read once and an IRF
evaluated once per (feature, offset). This is what a worker runs, on any executor.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from ..errors import InputError, ObscatError
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.fits import FitsError, read_tables
from ..query.sky import separation_deg
from .feature_names import FEATURES
from .feature_params import FeatureParams
from .feature_tasks import MAP_HDU_CLASSES, Task
from .irf import Irf, read_irf
from .irf_features import (
    aeff_at_edges,
    analytic_psf_radius,
    background_rate,
    edisp_moments,
    energy_threshold,
    psf_containment_radius,
    value_at,
)
from .irf_maps import EdispKernelMap, PsfMap, read_edisp_kernel_map, read_map_centre, read_psf_map

__all__ = ["FeatureRow", "evaluate"]

Progress = Callable[[str, int, int], None]
#: ``(observation_id, feature, value, unit, null_reason, offset_deg)``: one ``feature_value`` row.
FeatureRow = tuple[int, str, float | None, str, str | None, float | None]
#: What reading a damaged map HDU raises, and opening a damaged or unreadable file.
_MAP_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, TypeError, *GZIP_ERRORS)
_FILE_ERRORS: tuple[type[Exception], ...] = (OSError, *GZIP_ERRORS, FitsError)


def evaluate(tasks: list[Task], params: FeatureParams, progress: Progress | None = None) -> list[FeatureRow]:
    """Feature rows ``(observation_id, feature, value, unit, null_reason, offset_deg)``.

    Each file is opened once per call and every HDU any task needs from it
    is read then; an IRF stays cached while a later task still uses it.
    """
    uses: dict[str, int] = defaultdict(int)
    for task in tasks:
        for path in {p for _, p, _ in task.hdus.values()}:
            uses[path] += 1
    wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for task in tasks:
        for hdu_class, path, name in task.hdus.values():
            wanted[path].add((name, hdu_class))
    cache: dict[tuple[str, str], object] = {}
    evaluated: dict[tuple, tuple[float | None, str | None]] = {}
    rows = []
    for n, task in enumerate(tasks, 1):
        for path in {p for _, p, _ in task.hdus.values()}:
            if not any(key[0] == path for key in cache):
                cache.update(_load(path, wanted[path], psf_centre_only="psf-radius" not in params.features))
        rows.extend(_observation_features(task, params, cache, evaluated))
        for path in {p for _, p, _ in task.hdus.values()}:
            uses[path] -= 1
            if uses[path] == 0:
                for key in [k for k in cache if k[0] == path]:
                    del cache[key]
        if progress is not None and (n % 10 == 0 or n == len(tasks)):
            progress("features", n, len(tasks))
    return rows


_MAP_READERS = {"psf_map": (read_psf_map, "PSF map"),
                "edisp_kernel_map": (read_edisp_kernel_map, "energy dispersion kernel map")}  # fmt: skip
#: Why a map class has no features where the reason is more than "not computed".
_NOT_EVALUATED = {"edisp_map": "Gammapy 2.1's get_irfs_features cannot evaluate it (EDispMap has no reco-energy "
                               "axis nor to_edisp_kernel), so neither does obscat"}  # fmt: skip


def _load(path: str, hdus: set[tuple[str, str]], psf_centre_only: bool = False) -> dict[tuple[str, str], object]:
    """Read the wanted HDUs of one file: ``(Irf, header)``, a header (events), or the error.
    With ``psf_centre_only`` a PSF map is read as its centre (the default position of edisp maps)."""
    out: dict[tuple[str, str], object] = {}
    maps = {(name, hdu_class) for name, hdu_class in hdus if hdu_class in MAP_HDU_CLASSES}
    for name, hdu_class in maps:  # image HDUs (ground arrays): see docs/ground-arrays.md
        where = f"{path} [{name}]"
        if hdu_class not in _MAP_READERS:
            why = _NOT_EVALUATED.get(hdu_class, "obscat does not compute its features")
            out[(path, name)] = InputError(f"{where}: map IRF (HDU class {hdu_class}): {why}")
            continue
        reader, what = (read_map_centre, "map") if psf_centre_only and hdu_class == "psf_map" else _MAP_READERS[hdu_class]
        try:
            out[(path, name)] = (reader(path, name, where), None)
        except ObscatError as exc:
            out[(path, name)] = exc
        except _MAP_ERRORS as exc:
            out[(path, name)] = InputError(f"{where}: unreadable {what} ({exc})")
    hdus = hdus - maps
    if not hdus:
        return out
    try:
        tables = read_tables(path, {name for name, _ in hdus}, headers_only={n for n, c in hdus if c == "events"})
    except _FILE_ERRORS as exc:
        error = InputError(f"{path}: cannot read the file ({exc})")
        return {(path, name): error for name, _ in hdus}
    for name, hdu_class in hdus:
        where = f"{path} [{name}]"
        table = tables.get(name.upper())
        if table is None:
            out[(path, name)] = InputError(f"{where}: no such binary table HDU in the file")
        elif isinstance(table, FitsError):
            out[(path, name)] = InputError(f"{where}: {table}")
        elif hdu_class == "events":
            out[(path, name)] = table.header
        else:
            try:
                out[(path, name)] = (read_irf(table, hdu_class, where), table.header)
            except ObscatError as exc:
                out[(path, name)] = exc
            except (ValueError, KeyError, IndexError) as exc:  # a damaged HDU: stored as the reason
                out[(path, name)] = InputError(f"{where}: unreadable HDU ({exc})")
    return out


def _observation_features(task: Task, params: FeatureParams, cache: dict, evaluated: dict) -> list[FeatureRow]:
    """One task's feature rows; ``evaluated`` memoises features of IRFs shared by many
    observations (same HDUs, same offset: evaluated once)."""
    def irf(hdu_type: str) -> tuple[Irf | None, object | None, str | None]:
        """The task's IRF of a type, its header, and why it is missing."""
        if hdu_type not in task.hdus:
            return None, None, f"no {hdu_type} HDU in the HDU index"
        hdu_class, path, name = task.hdus[hdu_type]
        item = cache[(path, name)]
        if isinstance(item, Exception):
            return None, None, str(item)
        if not isinstance(item, tuple):
            return None, None, f"{path} [{name}] is not an IRF"
        return item[0], item[1], None

    loaded = {t: irf(t) for t in ("aeff", "edisp", "psf", "bkg", "rad_max")}
    # map IRFs are evaluated at a sky position (the map centre by default), never at an offset
    maps = {t for t, (hdu_class, _, _) in task.hdus.items() if hdu_class in MAP_HDU_CLASSES}
    offset, reason = _offset(task, params, cache, {t: (None, None, None) if t in maps else v for t, v in loaded.items()})
    irfs = frozenset((t, location) for t, location in task.hdus.items() if t != "events")
    rows: list[FeatureRow] = []
    for name in params.features:
        unit, hdu_type = FEATURES[name]
        value, why = None, reason
        if hdu_type in maps:
            value, why = _map_feature(name, loaded, params)
            rows.append((task.observation_id, name, value if why is None else None, unit, why, None))
            continue
        if offset is not None:  # else ``reason`` says why there is none
            key = (name, offset, irfs)
            if key not in evaluated:
                try:
                    evaluated[key] = _feature(name, hdu_type, loaded, params, offset)
                except ObscatError as exc:
                    evaluated[key] = (None, str(exc))
            value, why = evaluated[key]
        if value is not None and not np.isfinite(value):
            value, why = None, why or f"{name} is undefined at offset {offset:g} deg (outside the IRF)"
        rows.append((task.observation_id, name, value, unit, why if value is None else None, offset))
    return rows


def _map_feature(name: str, loaded: dict, params: FeatureParams) -> tuple[float | None, str | None]:
    """A feature of a map IRF at ``params.position``, by default the PSF map's centre as in Gammapy
    (else the map's own centre); the reason when it has none."""
    irf_map, _, why = loaded[FEATURES[name][1]]
    if irf_map is None:
        return None, why
    try:
        if isinstance(irf_map, PsfMap):
            value = irf_map.containment_radius(params.energy_true_tev, params.position, params.containment_fraction)
            return (value, None) if np.isfinite(value) else (None, f"{irf_map.where}: the position is outside the PSF map")
        if isinstance(irf_map, EdispKernelMap):
            from astropy.coordinates import SkyCoord

            psf = loaded["psf"][0]  # a PsfMap, its centre (a SkyCoord), or None
            if params.position is not None:
                position = SkyCoord(*params.position, unit="deg", frame="icrs")
            elif isinstance(psf, SkyCoord):
                position = psf
            else:
                position = (psf if isinstance(psf, PsfMap) else irf_map).centre()
            res, bias = irf_map.moments(params.energy_true_tev, position)
            return (res if name == "edisp-res" else bias), None
    except ObscatError as exc:
        return None, str(exc)
    return None, f"{irf_map.where} is not a map IRF"


def _offset(task: Task, params: FeatureParams, cache: dict, loaded: dict) -> tuple[float, None] | tuple[None, str]:
    if params.fixed_offset_deg is not None:
        return params.fixed_offset_deg, None
    if params.position is None:
        return 0.0, None
    if "events" not in task.hdus:
        return None, "no events HDU to take the pointing from"
    _, path, name = task.hdus["events"]
    header = cache[(path, name)]
    if isinstance(header, Exception):
        return None, str(header)
    try:
        ra, dec = float(header["RA_PNT"]), float(header["DEC_PNT"])
    except (KeyError, ValueError, TypeError):
        return None, f"{path} [{name}]: no RA_PNT/DEC_PNT in the header"
    if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
        return None, f"{path} [{name}]: header RA_PNT/DEC_PNT = {ra:g}, {dec:g} is not a sky position"
    offset = separation_deg(*params.position, ra, dec, math)
    limits = [loaded[t][0].axis("offset").nodes[-1] for t in ("psf", "edisp") if loaded[t][0] is not None]
    return (min(offset, *limits) if limits else offset), None


def _feature(name: str, hdu_type: str, loaded: dict, params: FeatureParams, offset: float) -> tuple[float | None, str | None]:
    energy = params.energy_true_tev
    if name == "rad-max" and loaded["rad_max"][0] is None:
        for t in ("aeff", "edisp"):  # point-like IRFs with one global cut give it as a header constant
            header = loaded[t][1]
            if header is not None and "RAD_MAX" in header:
                return float(header["RAD_MAX"]), None
    value_irf, _, why = loaded[hdu_type]
    if value_irf is None:
        if name == "psf-radius" and loaded["psf"][2].startswith("no psf"):
            why = "no PSF HDU (point-like IRF?)"
        return None, why
    if name in ("edisp-res", "edisp-bias"):
        res, bias = edisp_moments(value_irf, energy, offset)
        return (res if name == "edisp-res" else bias), None
    if name == "psf-radius":
        if value_irf.hdu_class == "psf_table":
            return psf_containment_radius(value_irf, energy, offset, params.containment_fraction), None
        exact = params.psf_containment == "exact"
        return analytic_psf_radius(value_irf, energy, offset, params.containment_fraction, exact), None
    if name == "aeff":
        return value_at(value_irf, energy, offset), None
    if name == "aeff-max":
        return float(np.max(aeff_at_edges(value_irf, offset))), None
    if name == "energy-threshold":
        return energy_threshold(value_irf, offset, params.aeff_threshold_fraction), None
    if name == "bkg-rate":
        return background_rate(value_irf, energy, offset), None
    return value_at(value_irf, energy, offset), None  # rad-max from rad_max_2d
