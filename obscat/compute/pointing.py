"""The pointing's zenith at mid-time and the good time intervals, read once from the data files and
stored (tables ``pointing`` and ``gti_interval``).

The pointing as Gammapy's ``obs.get_pointing_altaz(obs.tmid)``: the ICRS pointing of the EVENTS
header, the mid-time of the first GTI row (GTI header time reference), the site of the EVENTS
header, astropy's AltAz without refraction. The GTIs as Gammapy's ``obs.gti.time_start`` and
``time_stop``, in TT.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from astropy.time import Time
from sqlalchemy.engine import Engine

from ..errors import InputError
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.fits import FitsError, read_tables
from ..query.criteria import Criterion
from ..query.explain import no_observation_error
from ..results import PointingReport
from ..store.engine import connect, write_transaction
from ..store.file_versions import read_versions, record_uses
from ..store.models import POINTING_COLUMNS, GtiInterval, Hdu, HduFile, Observation, Pointing
from ..store.rows import bulk_insert, check_observations_unchanged

__all__ = ["compute_pointing"]

def compute_pointing(engine: Engine, selection: Criterion, progress=None) -> PointingReport:
    """Store ``zen/alt/az_tmid_deg`` and ``tmid_gti_mjd`` of the selection in ``pointing``, and
    every row of each observation's GTI table in ``gti_interval``.

    Reports the number of observations done and, for the others, why not (no EVENTS or GTI HDU,
    unreadable file, missing keywords); their rows are removed (their values read as NULL). An
    observation whose GTI was read but not its pointing keeps its GTIs. The version (size, mtime)
    of every file read is stored with them.
    """
    o, h, f = Observation.__table__, Hdu.__table__, HduFile.__table__
    query = (
        sa.select(o.c.id, h.c.hdu_type, h.c.hdu_name, f.c.path)
        .join(h, h.c.observation_id == o.c.id).join(f, f.c.id == h.c.file_id)
        .where(selection.clause(), h.c.hdu_type.in_(["events", "gti"])).order_by(o.c.id, h.c.id)
    )  # fmt: skip
    hdus: dict[int, dict] = {}
    with connect(engine) as conn:
        for observation_id, hdu_type, name, path in conn.execute(query):
            hdus.setdefault(observation_id, {}).setdefault(hdu_type, (path, name))
        obs_ids = dict(conn.execute(sa.select(o.c.id, o.c.obs_id).where(selection.clause())).all())
        if not obs_ids:
            raise no_observation_error(conn, selection)
    everything = sorted(obs_ids)
    uses = {i: [path for path, _ in hdus.get(i, {}).values()] for i in everything}
    versions = read_versions(uses)  # before the files are read
    pointings, gtis, problems = {}, {}, []
    for n, observation_id in enumerate(everything, 1):
        found = hdus.get(observation_id, {})
        try:
            gtis[observation_id], pointing, problem = _read(found)
        except InputError as unreadable:
            problems.append(f"OBS_ID {obs_ids[observation_id]}: {unreadable}")
        else:
            if pointing is not None:
                pointings[observation_id] = pointing
            else:
                problems.append(f"OBS_ID {obs_ids[observation_id]}: {problem}")
        if progress is not None and (n % 50 == 0 or n == len(everything)):
            progress("pointing", n, len(everything))
    ids, bounds, start, stop = _gti_rows(gtis)
    intervals = {i: list(zip(start.mjd[lo:hi].tolist(), stop.mjd[lo:hi].tolist()))
                 for i, lo, hi in zip(ids, bounds[:-1], bounds[1:])}  # fmt: skip
    values = _pointing_at_mid_time(pointings, dict(zip(ids, bounds[:-1].tolist())), start, stop)
    p, g = Pointing.__table__, GtiInterval.__table__
    with write_transaction(engine) as conn:
        check_observations_unchanged(conn, obs_ids.items())
        for lo in range(0, len(everything), 10_000):
            for table in (p, g):
                conn.execute(sa.delete(table).where(table.c.observation_id.in_(everything[lo:lo + 10_000])))
        bulk_insert(conn, p, ["observation_id", *POINTING_COLUMNS],
                    ((i, *v) for i, v in sorted(values.items())))  # fmt: skip
        bulk_insert(conn, g, ["observation_id", "seq", "start_mjd", "stop_mjd"],
                    ((i, k, *row) for i, rows in sorted(intervals.items()) for k, row in enumerate(rows)))  # fmt: skip
        record_uses(conn, None, uses, versions)
    return PointingReport(len(values), problems, len(intervals), sum(map(len, intervals.values())))


def _gti_rows(gtis: dict[int, tuple]) -> tuple[list[int], np.ndarray, Time, Time]:
    """The observations of ``gtis`` (id -> mjdref, scale, starts in s, stops in s) in id order, where
    each one's rows begin (and the last ends), and every row's start and stop as TT Times."""
    from astropy import units as u

    ids = sorted(gtis)
    counts = [len(gtis[i][2]) for i in ids]
    ref = np.repeat([gtis[i][0] for i in ids], counts)
    scales = np.repeat([gtis[i][1] for i in ids], counts)
    seconds = np.concatenate([np.column_stack(gtis[i][2:]) for i in ids]) if ids else np.empty((0, 2))
    jd1, jd2 = np.empty_like(seconds), np.empty_like(seconds)
    for scale in np.unique(scales):
        rows = scales == scale
        tt = (Time(ref[rows], format="mjd", scale=scale)[:, None] + seconds[rows] * u.s).tt
        jd1[rows], jd2[rows] = tt.jd1, tt.jd2
    times = Time(jd1, jd2, format="jd", scale="tt")
    return ids, np.cumsum([0, *counts]), times[:, 0], times[:, 1]


def _pointing_at_mid_time(pointings: dict[int, tuple], first: dict[int, int], start: Time, stop: Time,
                          ) -> dict[int, tuple]:  # fmt: skip
    """(tmid, zenith, altitude, azimuth) of each observation from its EVENTS-header pointing and site
    (ra, dec, geolon, geolat, altitude) at the mid-time of its first GTI row (row ``first[id]`` of
    ``start`` and ``stop``)."""
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord

    from .iers_cache import earth_orientation

    ids = sorted(pointings)
    if not ids:
        return {}
    ra, dec, lon, lat, height = (np.array(c, dtype=float) for c in zip(*(pointings[i] for i in ids)))
    rows = [first[i] for i in ids]
    tmid = start[rows] + 0.5 * (stop[rows] - start[rows])
    site = EarthLocation(lon=lon * u.deg, lat=lat * u.deg, height=height * u.m)
    with earth_orientation():  # no network: astropy's bundled tables
        altaz = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs").transform_to(AltAz(obstime=tmid, location=site))
    alt, az = altaz.alt.deg, altaz.az.deg
    return {i: (float(m), float(90 - a_), float(a_), float(z)) for i, m, a_, z in zip(ids, tmid.tt.mjd, alt, az)}


def _read(found: dict) -> tuple[tuple, tuple | None, str | None]:
    """Of one observation: its GTI (mjdref, scale, starts in s, stops in s); its EVENTS-header
    pointing (ra, dec, geolon, geolat, altitude), or None and why not. InputError if the GTI
    cannot be read."""
    if "gti" not in found:
        raise InputError("no gti HDU in the HDU index")
    gti_path, gti_name = found["gti"]
    events_path, events_name = found.get("events", (None, None))
    wanted: dict[str, set[str]] = {gti_path: {gti_name}}
    if events_path is not None:
        wanted.setdefault(events_path, set()).add(events_name)
    tables = {}
    for path, names in wanted.items():
        # the EVENTS data is skipped, unless it is also the GTI
        header_only = {events_name} if path == events_path and events_name.upper() != gti_name.upper() else set()
        try:
            read = read_tables(path, names, headers_only=header_only)
        except (OSError, FitsError) + GZIP_ERRORS as exc:
            raise InputError(f"cannot read {path} ({exc})") from None
        tables.update({(path, name.upper()): table for name, table in read.items()})
    gti = tables.get((gti_path, gti_name.upper()))
    if gti is None:
        raise InputError(f"{gti_path}: no {gti_name} table")
    if isinstance(gti, FitsError):
        raise InputError(f"{gti_path} [{gti_name}]: {gti}")
    try:
        ref = float(gti.header["MJDREFI"]) + float(gti.header.get("MJDREFF", 0.0))
        scale = str(gti.header.get("TIMESYS", "TT")).strip().lower() or "tt"
        start, stop = (np.asarray(gti.rows[c], dtype=float).ravel() for c in ("START", "STOP"))
    except (KeyError, ValueError) as exc:
        raise InputError(f"{gti_path}: missing or bad keyword/column {exc}") from None
    if not len(start) or len(start) != len(stop) or not (np.isfinite(start).all() and np.isfinite(stop).all()):
        raise InputError(f"{gti_path} [{gti_name}]: no rows, or START/STOP not finite")
    if scale not in Time.SCALES:
        raise InputError(f"{gti_path} [{gti_name}]: TIMESYS {scale.upper()!r} is not a time scale astropy knows")
    gti_values = (ref, scale, start, stop)
    if events_path is None:
        return gti_values, None, "no events HDU in the HDU index"
    events = tables.get((events_path, events_name.upper()))
    if events is None:
        return gti_values, None, f"{events_path}: no {events_name} table"
    if isinstance(events, FitsError):
        return gti_values, None, f"{events_path} [{events_name}]: {events}"
    try:
        return gti_values, tuple(float(events.header[k]) for k in ("RA_PNT", "DEC_PNT", "GEOLON", "GEOLAT", "ALTITUDE")), None
    except (KeyError, ValueError) as exc:
        return gti_values, None, f"{events_path}: missing or bad keyword {exc}"
