"""IRF features per observation, computed once and stored as a feature set.

The flow: select observations and their IRF HDUs from the catalogue (:mod:`.feature_tasks`), read
every needed FITS file once (an HDU shared by many observations is read once
per worker), evaluate the features (:mod:`obscat.compute.irf_features`) and store
them with their parameters in one transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import InputError, ObscatError
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.fits import FitsError, read_tables
from ..query.criteria import Criterion
from ..query.sky import separation_deg
from ..store.engine import write_transaction
from ..store.file_versions import read_versions, record_uses
from ..store.models import FeatureSet, FeatureValue
from ..store.rows import bulk_insert, check_observations_unchanged
from .feature_names import DEFAULT_FEATURES, FEATURES
from .feature_params import FeatureParams, feature_params
from .feature_tasks import MAP_HDU_CLASSES, Task, computed, select_tasks
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

__all__ = ["FEATURES", "DEFAULT_FEATURES", "FeatureParams", "feature_params", "compute_features"]  # fmt: skip

Progress = Callable[[str, int, int], None]
#: ``(observation_id, feature, value, unit, null_reason, offset_deg)``: one ``feature_value`` row.
FeatureRow = tuple[int, str, float | None, str, str | None, float | None]
#: What reading a damaged map HDU raises, and opening a damaged or unreadable file.
_MAP_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, TypeError, *GZIP_ERRORS)
_FILE_ERRORS: tuple[type[Exception], ...] = (OSError, *GZIP_ERRORS, FitsError)

T = TypeVar("T")


def compute_features(
    engine: Engine,
    params: FeatureParams,
    *,
    store: str | None = None,
    obs_ids: Sequence[int] | None = None,
    selection: Criterion | None = None,
    workers: int | None = None,
    strict: bool = False,
    missing_only: bool = False,
    then: Callable[[Connection, str], T] | None = None,
    progress: Progress | None = None,
) -> tuple[str, int, int, T | None]:
    """Compute and store a feature set for the selected observations.

    Returns ``(set name, number of observations computed, number kept, then's result)``.  A
    feature that cannot be computed for an observation (no such HDU, offset
    outside the IRF, a damaged HDU ...) is stored as NULL with the reason; with
    ``strict`` it is an error and nothing is written.  ``missing_only`` leaves
    observations the set already holds as they are, unless their values are
    stale (a file they were computed from has changed since); values computed from a
    file that has gone since are kept (counted as kept: recomputing would make them
    NULL).  The version
    (size, mtime) of every file read is stored with the values.  ``then(conn, set name)``
    runs inside the transaction that stores the values, after them: if it
    fails, nothing is written (the files are read before, outside it).
    """
    workers = workers or default_workers()
    tasks = select_tasks(engine, params, store, obs_ids, selection)
    kept: set[int] = set()
    if missing_only:
        done, kept = computed(engine, params)
        kept &= {t.observation_id for t in tasks}
        tasks = [t for t in tasks if t.observation_id not in done]
    uses: dict[int, Iterable[str]] = {t.observation_id: [p for _, p, _ in t.hdus.values()] for t in tasks}
    versions = read_versions(uses)  # before the files are read
    rows = _evaluate_all(tasks, params, workers, progress) if tasks else []
    if strict:
        bad = next((r for r in rows if r[4] is not None), None)
        if bad is not None:
            obs = next(t.obs_id for t in tasks if t.observation_id == bad[0])
            raise InputError(f"OBS_ID {obs}: {bad[1]}: {bad[4]}")
    with write_transaction(engine) as conn:
        check_observations_unchanged(conn, ((t.observation_id, t.obs_id) for t in tasks))
        if tasks:
            set_id, name = _feature_set_row(conn, params)
            ids = [t.observation_id for t in tasks]
            values = FeatureValue.__table__
            for lo in range(0, len(ids), 10_000):
                conn.execute(sa.delete(values).where(values.c.feature_set_id == set_id,
                                                     values.c.observation_id.in_(ids[lo:lo + 10_000])))  # fmt: skip
            bulk_insert(conn, values, ["feature_set_id", "observation_id", "feature", "value", "unit", "null_reason",
                                       "offset_deg"], ((set_id, *row) for row in rows))  # fmt: skip
            record_uses(conn, set_id, uses, versions)
        else:  # every observation already computed: the set exists
            name = conn.execute(sa.select(FeatureSet.__table__.c.name).where(
                FeatureSet.__table__.c.params_sha256 == params.sha256)).scalar_one()  # fmt: skip
        result = then(conn, name) if then is not None else None
    return name, len(tasks), len(kept), result



#: Below this many observations a process pool costs more (about 0.2 s to start) than it saves.
MIN_TASKS_PER_POOL = 48


def _evaluate_all(tasks: list[Task], params: FeatureParams, workers: int,
                  progress: Progress | None) -> list[FeatureRow]:  # fmt: skip
    """Evaluate every task, in ``workers`` processes; tasks sharing files stay together."""
    tasks = sorted(tasks, key=lambda t: sorted(p for _, p, _ in t.hdus.values()))
    if workers <= 1 or len(tasks) < MIN_TASKS_PER_POOL:
        return _evaluate(tasks, params, progress)
    chunks = [tasks[i::workers * 4] for i in range(workers * 4)]
    chunks = [sorted(c, key=lambda t: sorted(p for _, p, _ in t.hdus.values())) for c in chunks if c]
    rows, done = [], 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part, chunk in zip(pool.map(_evaluate, chunks, [params] * len(chunks)), chunks):
            rows.extend(part)
            done += len(chunk)
            if progress is not None:
                progress("features", done, len(tasks))
    return rows


def _evaluate(tasks: list[Task], params: FeatureParams, progress: Progress | None = None) -> list[FeatureRow]:
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


def _feature_set_row(conn, params: FeatureParams) -> tuple[int, str]:
    table = FeatureSet.__table__
    digest = params.sha256
    row = conn.execute(sa.select(table.c.id, table.c.name).where(table.c.params_sha256 == digest)).first()
    values = {
        "params": params.canonical(),
        "energy_true_tev": params.energy_true_tev,
        "position_ra_deg": params.position[0] if params.position else None,
        "position_dec_deg": params.position[1] if params.position else None,
        "fixed_offset_deg": params.fixed_offset_deg,
        "containment_fraction": params.containment_fraction,
        "aeff_threshold_fraction": params.aeff_threshold_fraction,
        "created_at": dt.datetime.now(dt.UTC),
        "obscat_version": __version__,
    }
    if row is not None:
        conn.execute(sa.update(table).where(table.c.id == row.id).values(**values))
        return row.id, row.name
    name = f"fs-{digest[:8]}"
    set_id = conn.execute(sa.insert(table).values(name=name, params_sha256=digest, **values).returning(table.c.id)).scalar_one()
    return set_id, name


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))
