"""The IVOA ObsCore table of the catalogue: the views of revision 0014 plus the publisher's settings.

The views ``obscore``, ``obscore_hea`` and ``obscore_feature_set`` hold what SQL computes; this
module joins them in one query (the feature set a bound parameter), puts in the authority, base
URL, collection and field of view, computes em_min/em_max from the energies with astropy's h c,
and labels every column with its ObsCore 1.1 (or High-Energy extension) unit and UCD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import sqlalchemy as sa

from ..errors import InputError, ParameterError
from ..gadf.files import replacing
from .engine import reading
from .models import DataStore, GtiInterval, Observation

if TYPE_CHECKING:
    from astropy.table import Table
    from sqlalchemy.engine import Engine

__all__ = ["OBSCORE_COLUMNS", "OBSCORE_HEA_COLUMNS", "GADF_COLUMNS", "DEFAULT_AUTHORITY", "FORMATS", "obscore_table",
           "check_output", "write_obscore"]

#: ObsCore 1.1 (REC 2017-05-09, table 6, the mandatory columns): name -> (unit, UCD).
OBSCORE_COLUMNS = {
    "dataproduct_type": (None, "meta.code.class"),
    "calib_level": (None, "meta.code;obs.calib"),
    "obs_collection": (None, "meta.id"),
    "obs_id": (None, "meta.id"),
    "obs_publisher_did": (None, "meta.ref.ivoid"),
    "access_url": (None, "meta.ref.url"),
    "access_format": (None, "meta.code.mime"),
    "access_estsize": ("kbyte", "phys.size;meta.file"),
    "target_name": (None, "meta.id;src"),
    "s_ra": ("deg", "pos.eq.ra"),
    "s_dec": ("deg", "pos.eq.dec"),
    "s_fov": ("deg", "phys.angSize;instr.fov"),
    "s_region": ("deg", "pos.outline;obs.field"),
    "s_resolution": ("arcsec", "pos.angResolution"),
    "s_xel1": (None, "meta.number"),
    "s_xel2": (None, "meta.number"),
    "t_min": ("d", "time.start;obs.exposure"),
    "t_max": ("d", "time.end;obs.exposure"),
    "t_exptime": ("s", "time.duration;obs.exposure"),
    "t_resolution": ("s", "time.resolution"),
    "t_xel": (None, "meta.number"),
    "em_min": ("m", "em.wl;stat.min"),
    "em_max": ("m", "em.wl;stat.max"),
    "em_res_power": (None, "spect.resolution"),
    "em_xel": (None, "meta.number"),
    "o_ucd": (None, "meta.ucd"),
    "pol_states": (None, "meta.code;phys.polarization"),
    "pol_xel": (None, "meta.number"),
    "facility_name": (None, "meta.id;instr.tel"),
    "instrument_name": (None, "meta.id;instr"),
}
#: The High-Energy extension (IVOA Note; its UCDs are still "TBD" there: these are obscat's
#: choice of existing UCD1+ words), joined on obs_publisher_did: name -> (unit, UCD).
OBSCORE_HEA_COLUMNS = {
    "ev_xel": (None, "meta.number"),
    "energy_min": ("eV", "em.energy;stat.min"),
    "energy_max": ("eV", "em.energy;stat.max"),
    "s_ref_energy": ("eV", "em.energy"),
    "em_ref_energy": ("eV", "em.energy"),
    "s_ref_oaa": ("deg", "pos.angDistance;instr.fov"),
    "em_ref_oaa": ("deg", "pos.angDistance;instr.fov"),
    "t_intervals": ("d", "time.interval"),
    "tracking_mode": (None, "meta.code;instr.setup"),
    "pointing_mode": (None, "meta.code;instr.setup"),
    "obs_mode": (None, "meta.code;instr.setup"),
    "event_type": (None, "meta.code.class"),
    "messenger_name": (None, "meta.id;phys.particle"),
    "messenger_pdgid": (None, "meta.code;phys.particle"),
}
#: The GADF obs-index columns beside them, lower case, for Gammapy (obs_id is ObsCore's): name -> (unit, UCD).
GADF_COLUMNS = {
    "ra_pnt": ("deg", "pos.eq.ra;instr.pointing"),
    "dec_pnt": ("deg", "pos.eq.dec;instr.pointing"),
    "tstart": ("s", "time.start;obs.exposure"),
    "tstop": ("s", "time.end;obs.exposure"),
}
#: The authority of the views' publisher DIDs (``.invalid`` is reserved: replace it to publish).
DEFAULT_AUTHORITY = "obscat.invalid"
#: An IVOA authority ID (IVOA Identifiers 2.0): a letter or digit, then at least two more characters.
_AUTHORITY = re.compile(r"[\w\d][\w\d\-._~*'()+=]{2,}")
#: Columns the feature set fills (NULL in the views without one).
_FEATURE_COLUMNS = ("s_resolution", "em_res_power", "s_ref_energy", "em_ref_energy", "s_ref_oaa", "em_ref_oaa")


def _selected(store: str | None, where: sa.ColumnElement[bool] | None) -> sa.Select | None:
    """The ids of the observations of ``store`` that ``where`` selects (None: every observation)."""
    if store is None and where is None:
        return None
    o, s = Observation.__table__, DataStore.__table__
    ids = sa.select(o.c.id)
    if store is not None:
        ids = ids.join(s, s.c.id == o.c.store_id).where(s.c.name == store)
    return ids if where is None else ids.where(where)


def _query(feature_set: str | None, selected: sa.Select | None) -> sa.Select:
    """One statement: the obscore view, its HEA row and the chosen feature set's values, of the
    ``selected`` observations (all if None). The views join on observation_id here (an integer
    key) rather than on the DID they share; t_intervals is read from gti_interval apart (doubles,
    not the view's text)."""
    hea = [n for n in OBSCORE_HEA_COLUMNS if n not in _FEATURE_COLUMNS and n != "t_intervals"]
    columns = ([f"f.{n}" if n in _FEATURE_COLUMNS else f"c.{n}" for n in OBSCORE_COLUMNS]
               + [f"h.{n}" for n in hea] + [f"f.{n}" for n in _FEATURE_COLUMNS[2:]]
               + [f"c.{n}" for n in GADF_COLUMNS]
               + ["f.energy_threshold", "c.store", "c.access_path", "c.observation_id"])  # fmt: skip
    joined = sa.text("obscore c JOIN obscore_hea h ON h.observation_id = c.observation_id LEFT JOIN "
                     "obscore_feature_set f ON f.observation_id = c.observation_id AND f.feature_set = :feature_set")
    query: sa.Select = (sa.select(*map(sa.literal_column, columns))
                        .select_from(joined.bindparams(feature_set=feature_set))
                        .order_by(sa.literal_column("c.store"), sa.literal_column("CAST(c.obs_id AS BIGINT)")))  # fmt: skip
    return query if selected is None else query.where(sa.literal_column("c.observation_id").in_(selected))


def _check(engine: Engine, feature_set: str | None, store: str | None, authority: str, access_url, fov,
           ) -> tuple[dict[str | None, str], dict[str | None, float]]:  # fmt: skip
    """Refuse bad parameters with one line naming them; the base URLs and fields of view (deg) by
    store name (None: for the stores not named)."""
    if not _AUTHORITY.fullmatch(authority):
        raise ParameterError(f"`authority={authority!r}` is not an IVOA authority ID (e.g. 'example.org', "
                             "no 'ivo://')")  # fmt: skip
    urls, fovs = _by_store("access_url", access_url, _base_url), _by_store("fov", fov, _fov_deg)
    with reading(engine) as conn:
        for name, value, table in (("feature_set", feature_set, "feature_set"), ("store", store, "data_store")):
            if value is not None and conn.execute(sa.text(f"SELECT 1 FROM {table} WHERE name = :n"),
                                                  {"n": value}).first() is None:  # fmt: skip
                raise ParameterError(f"`{name}={value!r}`: no such {name.replace('_', ' ')} in the catalogue")
        stores = set(conn.execute(sa.text("SELECT name FROM data_store")).scalars())
    for name, values in (("access_url", urls), ("fov", fovs)):
        unknown = sorted(s for s in values if s is not None and s not in stores)
        if unknown:
            raise ParameterError(f"`{name}` names {unknown[0]!r}: no such store in the catalogue")
    return urls, fovs


def _by_store(name: str, value, convert) -> dict:
    """``value`` (one for every store, or a mapping store name → value whose None entry is for the
    stores it does not name) as {store name or None: ``convert``ed value}."""
    if value is None:
        return {}
    items = value.items() if isinstance(value, Mapping) else [(None, value)]
    return {store: convert(v, f"`{name}={v!r}`" if store is None else f"`{name}` of store {store!r}: {v!r}")
            for store, v in items}  # fmt: skip


def _base_url(value, where: str) -> str:
    if not isinstance(value, str) or not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        raise ParameterError(f"{where} is not a base URL (e.g. 'https://example.org/data/')")
    return value


def _fov_deg(value, where: str) -> float:
    import astropy.units as u

    try:
        degrees = float(u.Quantity(value).to_value(u.deg))
    except (TypeError, ValueError, u.UnitsError):
        raise ParameterError(f"{where} is not an angle (e.g. '5 deg')") from None
    if not 0 < degrees <= 360:
        raise ParameterError(f"{where} must be an angle in (0, 360] deg")
    return degrees


def obscore_table(engine: Engine, *, feature_set: str | None = None, store: str | None = None,
                  where: sa.ColumnElement[bool] | None = None, authority: str | None = None,
                  access_url: str | None = None, collection: str | None = None, fov=None) -> Table:  # fmt: skip
    """The ObsCore 1.1 rows of every observation (of ``store``, and of those ``where``, a condition on
    ``observation``, selects), with the High-Energy extension's columns and the lowercase GADF ones;
    see :meth:`obscat.Catalog.obscore`."""
    import astropy.constants as const
    import astropy.units as u
    import numpy as np
    from astropy.table import Column, Table

    authority = DEFAULT_AUTHORITY if authority is None else authority
    urls, fovs = _check(engine, feature_set, store, authority, access_url, fov)
    with reading(engine) as conn:
        selected = _selected(store, where)
        result = conn.execute(_query(feature_set, selected))
        names = [name.split(".")[-1] for name in result.keys()]
        rows = result.all()
        data = {name: [row[i] for row in rows] for i, name in enumerate(names)}
        data["t_intervals"] = _intervals(conn, data.pop("observation_id"), selected)
    stores, obs_ids = data.pop("store"), data["obs_id"]
    data["obs_publisher_did"] = [f"ivo://{authority}/{s}?{o}" for s, o in zip(stores, obs_ids, strict=True)]
    if collection is not None:
        data["obs_collection"] = [collection] * len(rows)
    paths = data.pop("access_path")
    files = [None if url is None else url.removeprefix("file://") for url in data["access_url"]]
    bases = [urls.get(s, urls.get(None)) for s in stores]
    data["access_url"] = [None if f is None else Path(f).as_uri() if b is None or p.startswith("/")
                          else b.rstrip("/") + "/" + quote(p) for f, p, b in zip(files, paths, bases, strict=True)]  # fmt: skip
    threshold = data.pop("energy_threshold")  # the feature set's, where the obs index has no SAFE_ENERGY_LO
    data["energy_min"] = [e if e is not None else t for e, t in zip(data["energy_min"], threshold, strict=True)]
    hc = (const.h * const.c).to_value(u.eV * u.m)
    data["em_min"] = [None if e is None else hc / e for e in data["energy_max"]]
    data["em_max"] = [None if e is None else hc / e for e in data["energy_min"]]
    data["s_fov"] = [None if ra is None else fovs.get(s, fovs.get(None)) for ra, s in zip(data["s_ra"], stores, strict=True)]
    table = Table()
    units = {**OBSCORE_COLUMNS, **OBSCORE_HEA_COLUMNS, **GADF_COLUMNS}
    for name, (unit, ucd) in units.items():
        if name == "s_region":
            column = _circles(data["s_ra"], data["s_dec"], data["s_fov"])
        elif name == "t_intervals":
            column = Column(data[name])
        else:
            kind = _KINDS.get(name, float)
            values = data[name]
            column = _column(np.array([_FILL[kind] if v is None else v for v in values], dtype=kind),
                             np.array([v is None for v in values], dtype=bool))  # fmt: skip
        column.name, column.unit = name, unit
        column.meta["ucd"] = ucd
        if name == "s_region":
            column.meta["xtype"] = "circle"
        table.add_column(column)
    return table


def _intervals(conn, observation_ids: list[int], selected: sa.Select | None):
    """t_intervals of each observation (of the ``selected`` ones): its GTI rows' MJD, start stop start
    stop ... (an object array of float arrays, empty where no GTI was read)."""
    import numpy as np

    g = GtiInterval.__table__
    query = sa.select(g.c.observation_id, g.c.start_mjd, g.c.stop_mjd).order_by(g.c.observation_id, g.c.seq)
    if selected is not None:
        query = query.where(g.c.observation_id.in_(selected))
    found: dict[int, list[float]] = {}
    for observation_id, start, stop in conn.execute(query):
        found.setdefault(observation_id, []).extend((start, stop))
    column = np.empty(len(observation_ids), dtype=object)
    column[:] = [np.array(found.get(i, ()), dtype=float) for i in observation_ids]
    return column


#: Column kinds other than float.
_KINDS: dict[str, type] = {
    **dict.fromkeys(["dataproduct_type", "obs_collection", "obs_publisher_did", "access_url", "access_format",
                     "target_name", "o_ucd", "pol_states", "facility_name", "instrument_name", "obs_id",
                     "tracking_mode", "pointing_mode", "obs_mode", "event_type", "messenger_name"], str),
    **dict.fromkeys(["calib_level", "access_estsize", "s_xel1", "s_xel2", "t_xel", "em_xel", "pol_xel",
                     "ev_xel", "messenger_pdgid"], int),
}  # fmt: skip
_FILL: dict[type, object] = {str: "", int: 0, float: float("nan")}


def _column(values, mask):
    """A column masked where ``mask`` is set; a plain one (written twice as fast) where nothing is NULL."""
    from astropy.table import Column, MaskedColumn

    return MaskedColumn(values, mask=mask) if mask.any() else Column(values)


def _circles(ra: list, dec: list, fov: list):
    """s_region: a DALI circle (ra, dec, radius in deg: three doubles) where the field of view is known."""
    import numpy as np

    known = [r is not None and d is not None and f is not None for r, d, f in zip(ra, dec, fov, strict=True)]
    values = np.array([(r, d, f / 2) if k else (0.0, 0.0, 0.0) for r, d, f, k in zip(ra, dec, fov, known, strict=True)],
                      dtype=float).reshape(len(ra), 3)  # fmt: skip
    return _column(values, np.repeat(~np.array(known, dtype=bool), 3).reshape(len(ra), 3))


#: ``export_obscore`` formats: name -> astropy's.
FORMATS = {"votable": "votable", "csv": "ascii.csv", "ecsv": "ascii.ecsv", "fits": "fits"}


def check_output(path: Path, fmt: str) -> None:
    """Refuse a format :func:`write_obscore` does not write, an existing file or a missing directory
    (before the table is built)."""
    if fmt not in FORMATS:
        raise ParameterError(f"`format={fmt!r}` must be one of {', '.join(map(repr, FORMATS))}")
    if path.exists():
        raise InputError(f"{path}: exists, not overwritten")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: no such directory")


def write_obscore(table: Table, path: Path, fmt: str) -> Path:
    """Write an :func:`obscore_table` to the new file ``path`` (checked by :func:`check_output`):
    VOTable and ECSV keep units and UCDs, FITS units (and the UCDs as TUCDn cards), CSV neither; in
    CSV, s_region and t_intervals are DALI text (``ra dec radius``, ``start stop start stop ...``)."""
    import numpy as np
    from astropy.io import fits

    if fmt == "csv":
        table = table.copy(copy_data=False)
        region = table["s_region"]
        masked = np.asarray(np.ma.getmaskarray(region).any(axis=1))
        text = ["" if m else " ".join(map(repr, row)) for row, m in zip(np.asarray(region).tolist(), masked.tolist(), strict=True)]
        table.replace_column("s_region", _column(np.array(text), masked))
        intervals = [" ".join(map(repr, row.tolist())) for row in table["t_intervals"]]
        table.replace_column("t_intervals", _column(np.array(intervals), np.array([not t for t in intervals])))
    with replacing(path) as tmp:
        table.write(tmp, format=FORMATS[fmt])
        if fmt == "fits":
            with fits.open(tmp, mode="update") as hdus:
                for i, column in enumerate(table.itercols(), 1):
                    hdus[1].header[f"TUCD{i}"] = column.meta["ucd"]
    return path
