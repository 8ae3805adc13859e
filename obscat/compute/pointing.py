"""The pointing's zenith at mid-time, computed once from the data files and stored (table ``pointing``).

As Gammapy's ``obs.get_pointing_altaz(obs.tmid)``: the ICRS pointing of the
EVENTS header, the mid-time of the first GTI row (GTI header time
reference), the site of the EVENTS header, astropy's AltAz without refraction.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError
from ..gadf._gzip import GZIP_ERRORS
from ..gadf.fits import FitsError, read_tables
from ..query.criteria import Criterion
from ..query.explain import no_observation_error
from ..results import PointingReport
from ..store.engine import connect, write_transaction
from ..store.file_versions import read_versions, record_uses
from ..store.models import POINTING_COLUMNS, Hdu, HduFile, Observation, Pointing
from ..store.rows import bulk_insert, check_observations_unchanged

__all__ = ["compute_pointing"]

def compute_pointing(engine: Engine, selection: Criterion, progress=None) -> PointingReport:
    """Store ``zen/alt/az_tmid_deg`` and ``tmid_gti_mjd`` of the selection in ``pointing``.

    Reports the number of observations done and, for the others, why not
    (no EVENTS or GTI HDU, unreadable file, missing keywords); their rows
    are removed (their values read as NULL).  The version (size, mtime) of every file read is stored with them.
    """
    from astropy import units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time

    from .iers_cache import earth_orientation

    o, h, f = Observation.__table__, Hdu.__table__, HduFile.__table__
    query = (
        sa.select(o.c.id, o.c.obs_id, h.c.hdu_type, h.c.hdu_name, f.c.path)
        .join(h, h.c.observation_id == o.c.id).join(f, f.c.id == h.c.file_id)
        .where(selection.clause(), h.c.hdu_type.in_(["events", "gti"])).order_by(o.c.id, h.c.id)
    )  # fmt: skip
    hdus: dict[int, dict] = {}
    with connect(engine) as conn:
        for observation_id, obs_id, hdu_type, name, path in conn.execute(query):
            hdus.setdefault(observation_id, {"obs_id": obs_id}).setdefault(hdu_type, (path, name))
        obs_ids = dict(conn.execute(sa.select(o.c.id, o.c.obs_id).where(selection.clause())).all())
        if not obs_ids:
            raise no_observation_error(conn, selection)
    everything = sorted(obs_ids)
    uses = {i: [where[0] for key, where in hdus.get(i, {}).items() if key != "obs_id"] for i in everything}
    versions = read_versions(uses)  # before the files are read
    rows, problems = [], []
    for n, observation_id in enumerate(everything, 1):
        found = hdus.get(observation_id, {})
        try:
            rows.append((observation_id, *_read(found)))
        except InputError as exc:
            problems.append(f"OBS_ID {found.get('obs_id', observation_id)}: {exc}")
            rows.append((observation_id, None))
        if progress is not None and (n % 50 == 0 or n == len(everything)):
            progress("pointing", n, len(everything))
    done = [r for r in rows if r[1] is not None]
    values = {}
    if done:
        ids, ra, dec, lon, lat, height, ref, scale, start, stop = (list(c) for c in zip(*done))
        starts = Time([Time(r, format="mjd", scale=s) + a * u.s for r, s, a in zip(ref, scale, start)])
        stops = Time([Time(r, format="mjd", scale=s) + b * u.s for r, s, b in zip(ref, scale, stop)])
        tmid = starts + 0.5 * (stops - starts)
        site = EarthLocation(lon=np.array(lon) * u.deg, lat=np.array(lat) * u.deg, height=np.array(height) * u.m)
        with earth_orientation():  # no network: astropy's bundled tables
            altaz = SkyCoord(np.array(ra) * u.deg, np.array(dec) * u.deg, frame="icrs").transform_to(
                AltAz(obstime=tmid, location=site))
        alt, az = altaz.alt.deg, altaz.az.deg
        values = {i: (float(m), float(90 - a_), float(a_), float(z)) for i, m, a_, z in zip(ids, tmid.tt.mjd, alt, az)}
    p = Pointing.__table__
    with write_transaction(engine) as conn:
        check_observations_unchanged(conn, obs_ids.items())
        for lo in range(0, len(everything), 10_000):
            conn.execute(sa.delete(p).where(p.c.observation_id.in_(everything[lo:lo + 10_000])))
        bulk_insert(conn, p, ["observation_id", *POINTING_COLUMNS],
                    ((i, *v) for i, v in sorted(values.items())))  # fmt: skip
        record_uses(conn, None, uses, versions)
    return PointingReport(len(values), problems)


def _read(found: dict) -> tuple:
    """(ra, dec, geolon, geolat, altitude, mjdref, scale, gti start, gti stop) of one observation."""
    if "events" not in found or "gti" not in found:
        raise InputError(f"no {'events' if 'events' not in found else 'gti'} HDU in the HDU index")
    (events_path, events_name), (gti_path, gti_name) = found["events"], found["gti"]
    try:
        if events_path == gti_path:  # the EVENTS data is skipped, unless it is also the GTI
            header_only = {events_name} if events_name.upper() != gti_name.upper() else set()
            tables = read_tables(events_path, {events_name, gti_name}, headers_only=header_only)
            events, gti = tables.get(events_name.upper()), tables.get(gti_name.upper())
        else:
            events = read_tables(events_path, {events_name}, headers_only={events_name}).get(events_name.upper())
            gti = read_tables(gti_path, {gti_name}).get(gti_name.upper())
    except (OSError, FitsError) + GZIP_ERRORS as exc:
        raise InputError(f"cannot read {events_path} ({exc})") from None
    if events is None or gti is None:
        raise InputError(f"{events_path}: no {events_name if events is None else gti_name} table")
    if isinstance(events, FitsError):
        raise InputError(f"{events_path} [{events_name}]: {events}")
    if isinstance(gti, FitsError):
        raise InputError(f"{gti_path} [{gti_name}]: {gti}")
    header = events.header
    try:
        values = [float(header[k]) for k in ("RA_PNT", "DEC_PNT", "GEOLON", "GEOLAT", "ALTITUDE")]
        ref = float(gti.header["MJDREFI"]) + float(gti.header.get("MJDREFF", 0.0))
        scale = str(gti.header.get("TIMESYS", "TT")).strip().lower() or "tt"
        start, stop = float(gti.rows["START"][0]), float(gti.rows["STOP"][0])
    except (KeyError, ValueError, IndexError) as exc:
        raise InputError(f"{events_path}: missing or bad keyword/column {exc}") from None
    return (*values, ref, scale, start, stop)
