"""The models of ingested data stores: ``data_store``, ``observation`` (with its derived sky columns,
the pointing at mid-time, ``pointing``, and the good time intervals, ``gti_interval``), ``hdu_file``
and ``hdu``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .orm import Base, UtcDateTime
from .orm import gadf_column as _gadf
from .orm import unit_column as _unit

if TYPE_CHECKING:
    from .epoch_models import Epoch

__all__ = ["SKY_ZONE_HEIGHT_DEG", "DataStore", "Observation", "Pointing", "GtiInterval", "POINTING_COLUMNS",
           "OBSERVATION_COLUMNS", "observation_column", "observation_column_info", "HduFile", "Hdu", "sky_derived",
           "gadf_columns"]  # fmt: skip

#: Height of the declination zones of ``observation.sky_zone``.
SKY_ZONE_HEIGHT_DEG = 0.5


class DataStore(Base):
    """One ingested GADF data store (one obs index + one HDU index)."""

    __tablename__ = "data_store"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    root_path: Mapped[str]
    obs_index_path: Mapped[str]
    obs_index_sha256: Mapped[str] = mapped_column(String(64))
    hdu_index_path: Mapped[str]
    hdu_index_sha256: Mapped[str] = mapped_column(String(64))
    hduvers: Mapped[str | None]
    telescope: Mapped[str | None]
    instrument: Mapped[str | None]
    geolon_deg: Mapped[float | None] = _unit("deg")
    geolat_deg: Mapped[float | None] = _unit("deg")
    altitude_m: Mapped[float | None] = _unit("m")
    mjdrefi: Mapped[int | None] = _unit("d")
    mjdreff: Mapped[float | None] = _unit("d")
    timesys: Mapped[str | None]
    timeunit: Mapped[str | None]
    timeref: Mapped[str | None]
    #: Where the time reference and site came from: "obs-index header" or
    #: "EVENTS header of OBS_ID n" (for stores whose obs index lacks them).
    time_reference_source: Mapped[str | None]
    #: Every other header keyword of both index tables, losslessly.
    header: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ingested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))

    observations: Mapped[list[Observation]] = relationship(
        back_populates="store", cascade="all, delete-orphan", passive_deletes=True
    )
    files: Mapped[list[HduFile]] = relationship(
        back_populates="store", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"DataStore(name={self.name!r}, root_path={self.root_path!r})"


class Observation(Base):
    """One row of a store's observation index, in fixed storage units."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("store_id", "obs_id"),
        Index("ix_observation_sky_zone_ra", "sky_zone", "ra_pnt_deg"),
        Index("ix_observation_store_tstart", "store_id", "tstart_utc"),  # a store's first and last times
        Index("ix_observation_store_tstop", "store_id", "tstop_utc"),
        Index("ix_observation_obs_id", "obs_id"),  # lookups by OBS_ID alone (obs show, --obs-id)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("data_store.id", ondelete="CASCADE"))
    obs_id: Mapped[int] = mapped_column(BigInteger, info={"gadf": "OBS_ID", "unit": None})
    obs_mode: Mapped[str | None] = _gadf("OBS_MODE")
    # pointing: NULL (both) for observations without a sky pointing (OBS_MODE DRIFT ...)
    ra_pnt_deg: Mapped[float | None] = mapped_column(info={"gadf": "RA_PNT", "unit": "deg"})
    dec_pnt_deg: Mapped[float | None] = mapped_column(info={"gadf": "DEC_PNT", "unit": "deg"})
    glon_pnt_deg: Mapped[float | None] = _gadf("GLON_PNT", "deg")
    glat_pnt_deg: Mapped[float | None] = _gadf("GLAT_PNT", "deg")
    zen_pnt_deg: Mapped[float | None] = _gadf("ZEN_PNT", "deg")
    alt_pnt_deg: Mapped[float | None] = _gadf("ALT_PNT", "deg")
    az_pnt_deg: Mapped[float | None] = _gadf("AZ_PNT", "deg")
    # target
    object: Mapped[str | None] = _gadf("OBJECT")
    ra_obj_deg: Mapped[float | None] = _gadf("RA_OBJ", "deg")
    dec_obj_deg: Mapped[float | None] = _gadf("DEC_OBJ", "deg")
    # times, relative to the store's MJDREF, in seconds (from the GTI or EVENTS header when the
    # index lacks them; NULL when neither has them)
    tstart_s: Mapped[float | None] = mapped_column(info={"gadf": "TSTART", "unit": "s"})
    tstop_s: Mapped[float | None] = mapped_column(info={"gadf": "TSTOP", "unit": "s"})
    ontime_s: Mapped[float | None] = _gadf("ONTIME", "s")
    livetime_s: Mapped[float | None] = _gadf("LIVETIME", "s")
    deadc: Mapped[float | None] = _gadf("DEADC", "")
    date_obs: Mapped[str | None] = _gadf("DATE_OBS", None, "DATE-OBS")
    time_obs: Mapped[str | None] = _gadf("TIME_OBS", None, "TIME-OBS")
    date_end: Mapped[str | None] = _gadf("DATE_END", None, "DATE-END")
    time_end: Mapped[str | None] = _gadf("TIME_END", None, "TIME-END")
    tmid_index_mjd: Mapped[float | None] = _gadf("TMID", "d")
    tmid_str: Mapped[str | None] = _gadf("TMID_STR")
    # absolute times derived from TSTART/TSTOP and the store's time reference
    tstart_mjd: Mapped[float | None] = _unit("d")
    tstop_mjd: Mapped[float | None] = _unit("d")
    tmid_mjd: Mapped[float | None] = _unit("d")
    tstart_utc: Mapped[str | None] = mapped_column(String(32))
    tstop_utc: Mapped[str | None] = mapped_column(String(32))
    tmid_utc: Mapped[str | None] = mapped_column(String(32))
    # array and quality
    n_tels: Mapped[int | None] = _gadf("N_TELS")
    tellist: Mapped[str | None] = _gadf("TELLIST")
    quality: Mapped[int | None] = _gadf("QUALITY")
    event_count: Mapped[int | None] = _gadf("EVENT_COUNT", None, type_=BigInteger)
    event_ra_median_deg: Mapped[float | None] = _gadf("EVENT_RA_MEDIAN", "deg")
    event_dec_median_deg: Mapped[float | None] = _gadf("EVENT_DEC_MEDIAN", "deg")
    event_energy_median_tev: Mapped[float | None] = _gadf("EVENT_ENERGY_MEDIAN", "TeV")
    event_time_min_s: Mapped[float | None] = _gadf("EVENT_TIME_MIN", "s")
    event_time_max_s: Mapped[float | None] = _gadf("EVENT_TIME_MAX", "s")
    muoneff: Mapped[float | None] = _gadf("MUONEFF", "")
    nsblevel: Mapped[float | None] = _gadf("NSBLEVEL", "")
    bkg_scale: Mapped[float | None] = _gadf("BKG_SCALE", "")
    trgrate_hz: Mapped[float | None] = _gadf("TRGRATE", "Hz")
    ztrgrate_hz: Mapped[float | None] = _gadf("ZTRGRATE", "Hz")
    brokpix: Mapped[float | None] = _gadf("BROKPIX", "")
    airtemp_degc: Mapped[float | None] = _gadf("AIRTEMP", "deg_C")
    pressure_hpa: Mapped[float | None] = _gadf("PRESSURE", "hPa")
    relhum: Mapped[float | None] = _gadf("RELHUM", "")
    safe_energy_lo_tev: Mapped[float | None] = _gadf("SAFE_ENERGY_LO", "TeV")
    safe_energy_hi_tev: Mapped[float | None] = _gadf("SAFE_ENERGY_HI", "TeV")
    # event types and blocks (ground arrays, stores split by event type)
    event_type: Mapped[str | None] = _gadf("EVENT_TYPE")
    event_class: Mapped[str | None] = _gadf("EVENT_CLASS")
    obs_block_id: Mapped[int | None] = _gadf("OBS_BLOCK_ID", None, type_=BigInteger)
    irf_name: Mapped[str | None] = _gadf("IRF_NAME")
    #: Non-standard obs-index columns: {NAME: {"value": v, "unit": "deg"}}.
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # derived from ra/dec for sky queries (kept consistent by sky_derived; NULL without a pointing)
    ux: Mapped[float | None]
    uy: Mapped[float | None]
    uz: Mapped[float | None]
    sky_zone: Mapped[int | None]

    store: Mapped[DataStore] = relationship(back_populates="observations")
    pointing: Mapped[Pointing | None] = relationship(lazy="selectin", passive_deletes=True)
    #: The GTI rows (``obscat pointing``), in GTI order; empty until read.
    gti_intervals: Mapped[list[GtiInterval]] = relationship(order_by="GtiInterval.seq", passive_deletes=True)
    #: The epoch it falls in (``obscat epochs``), None if none.
    epoch: Mapped[Epoch | None] = relationship(secondary="observation_epoch", viewonly=True, lazy="selectin")
    hdus: Mapped[list[Hdu]] = relationship(
        back_populates="observation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Hdu.id",
    )

    def __repr__(self) -> str:
        return f"Observation(obs_id={self.obs_id}, store_id={self.store_id})"

    def __getattr__(self, name: str) -> Any:
        """The pointing at mid-time's values read as attributes (None until computed)."""
        if name in POINTING_COLUMNS:
            return getattr(self.pointing, name) if self.pointing is not None else None
        raise AttributeError(name)


class Pointing(Base):
    """The pointing at mid-time of one observation, as Gammapy's ``get_pointing_altaz(tmid)``.

    Derived from the data files by ``obscat pointing``, so kept apart from the
    index columns ingest writes: a re-ingest keeps it for every observation it keeps.
    """

    __tablename__ = "pointing"

    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True)
    #: Mid-time of the first GTI row (TT MJD).
    tmid_gti_mjd: Mapped[float | None] = _unit("d")
    #: Zenith, altitude and azimuth of the EVENTS-header pointing at tmid_gti_mjd (no refraction).
    zen_tmid_deg: Mapped[float | None] = _unit("deg")
    alt_tmid_deg: Mapped[float | None] = _unit("deg")
    az_tmid_deg: Mapped[float | None] = _unit("deg")


class GtiInterval(Base):
    """One row of an observation's GTI table (good time interval), as TT MJD.

    Read with the pointing at mid-time by ``obscat pointing`` (the same files, the same
    ``file_use`` rows); ObsCore's ``t_intervals`` lists them.
    """

    __tablename__ = "gti_interval"

    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True)
    #: The row's position in the GTI table (0 first).
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: START and STOP of the row, by the GTI header's time reference (MJDREFI/F, TIMESYS), in TT.
    start_mjd: Mapped[float] = _unit("d")
    stop_mjd: Mapped[float] = _unit("d")


#: The ``pointing`` columns users see as observation columns.
POINTING_COLUMNS = ("tmid_gti_mjd", "zen_tmid_deg", "alt_tmid_deg", "az_tmid_deg")
#: Observation columns users see: ``observation``'s (internal keys left out) in schema order,
#: then the pointing at mid-time (table ``pointing``).
OBSERVATION_COLUMNS = tuple(
    c.name for c in Observation.__table__.columns if c.name not in ("id", "store_id")
) + POINTING_COLUMNS


def observation_column(name: str) -> Any:
    """The SQL expression of an observation column users name: an ``observation`` column, or a
    ``pointing`` column as a correlated subquery (NULL until computed), labelled with its name."""
    if name in POINTING_COLUMNS:
        p = Pointing.__table__
        return (sa.select(p.c[name]).where(p.c.observation_id == Observation.__table__.c.id)
                .scalar_subquery().label(name))  # fmt: skip
    return Observation.__table__.c[name]


def observation_column_info(name: str) -> dict:
    """``info`` (unit, GADF name) of an observation column users name."""
    return (Pointing if name in POINTING_COLUMNS else Observation).__table__.c[name].info


class HduFile(Base):
    """A file referenced by a store's HDU index, resolved by the GADF rule."""

    __tablename__ = "hdu_file"
    __table_args__ = (UniqueConstraint("store_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("data_store.id", ondelete="CASCADE"))
    #: Absolute, normalised path: BASE_DIR (or the index's directory) / FILE_DIR / FILE_NAME.
    path: Mapped[str]
    exists_at_ingest: Mapped[bool] = mapped_column(Boolean)
    #: The file's version when the store was ingested (NULL: missing then); see obscat.store.file_versions.
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "byte"})
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "ns"})

    store: Mapped[DataStore] = relationship(back_populates="files")


class Hdu(Base):
    """One row of a store's HDU index.

    Rows are inserted in HDU-index order, so ``id`` order is index order (on
    duplicate HDUs of one type Gammapy takes the first).
    """

    __tablename__ = "hdu"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    file_id: Mapped[int] = mapped_column(
        ForeignKey("hdu_file.id", ondelete="CASCADE"), index=True
    )
    hdu_type: Mapped[str] = mapped_column(String(32))
    hdu_class: Mapped[str] = mapped_column(String(32))
    hdu_name: Mapped[str]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "byte"})

    observation: Mapped[Observation] = relationship(back_populates="hdus")
    file: Mapped[HduFile] = relationship(lazy="joined")

    @property
    def path(self) -> str:
        return self.file.path


def sky_derived(ra_deg, dec_deg) -> tuple[Any, Any, Any, Any]:
    """Unit vector and declination zone of ICRS positions (scalars or arrays).

    Returns ``(ux, uy, uz, sky_zone)`` with ``sky_zone = floor((dec + 90) / 0.5)``.
    Positions without a pointing (NaN) give NaN vectors and a None zone (an object array then).
    """
    import numpy as np  # imported here: the CLI's cold start must not pay for it

    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    cos_dec = np.cos(dec)
    none = np.isnan(dec)
    zone = np.floor((np.degrees(np.where(none, 0.0, dec)) + 90.0) / SKY_ZONE_HEIGHT_DEG).astype(np.int64)
    zone = np.clip(zone, 0, int(180 / SKY_ZONE_HEIGHT_DEG) - 1)
    if np.any(none):
        zone = np.where(none, np.array(None, dtype=object), zone.astype(object))
    return cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec), zone


@event.listens_for(Observation, "before_insert")
@event.listens_for(Observation, "before_update")
def _keep_sky_derived(mapper, connection, obs: Observation) -> None:
    if obs.ra_pnt_deg is None or obs.dec_pnt_deg is None:
        obs.ux = obs.uy = obs.uz = obs.sky_zone = None
        return
    ux, uy, uz, zone = sky_derived(obs.ra_pnt_deg, obs.dec_pnt_deg)
    obs.ux, obs.uy, obs.uz, obs.sky_zone = float(ux), float(uy), float(uz), int(zone)


def gadf_columns() -> dict[str, Any]:
    """Map every GADF obs-index name (and alias) to its ``observation`` column."""
    out = {}
    for column in Observation.__table__.columns:
        if "gadf" in column.info:
            out[column.info["gadf"]] = column
            for alias in column.info.get("aliases", ()):
                out[alias] = column
    return out
