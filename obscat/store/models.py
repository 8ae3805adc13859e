"""SQLAlchemy 2 models: the SQL schema users query.

Every physical column stores a plain number in a fixed unit, named by the
column's suffix (``_deg``, ``_s``, ``_tev``, ``_hz``, ``_hpa``, ``_degc``,
``_m``) and recorded in ``Column.info["unit"]``.  Columns filled from the GADF
observation index carry their GADF name in ``Column.info["gadf"]`` (plus the
older spellings in ``info["aliases"]``): that mapping is what ingestion uses,
so the schema is the single place where a column, its unit and its source are
declared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "SCHEMA_REVISION",
    "SKY_ZONE_HEIGHT_DEG",
    "Base",
    "DataStore",
    "Observation",
    "HduFile",
    "Hdu",
    "FeatureSet",
    "FeatureValue",
    "Grouping",
    "GroupMember",
    "sky_derived",
    "gadf_columns",
]

#: Alembic revision the models correspond to (tests check it is the head).
SCHEMA_REVISION = "0008"

#: Height of the declination zones of ``observation.sky_zone``.
SKY_ZONE_HEIGHT_DEG = 0.5

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



class JSONDocument(TypeDecorator):
    """JSON text on SQLite, JSONB on PostgreSQL.

    The PostgreSQL dialect is imported only when it is used: the CLI's cold
    start on SQLite does not pay for it.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


class UtcDateTime(TypeDecorator):
    """A point in time: stored in UTC, returned time-zone aware (UTC) on both backends
    (SQLite keeps no time zone; PostgreSQL returns the session's).  A naive datetime
    (as SQLite gives back, e.g. to a migration copying rows) is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    __table__: ClassVar[Table]  # every model is mapped to a Table (the default annotation is FromClause)
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSONDocument(),
        float: Double(),
        int: Integer(),
        str: Text(),
    }


def _gadf(name: str, unit: str | None = None, *aliases: str, **kwargs) -> Any:
    """A nullable column filled from the obs-index column ``name``."""
    info = {"gadf": name, "unit": unit, "aliases": aliases}
    return mapped_column(nullable=True, info=info, **kwargs)


def _unit(unit: str, **kwargs) -> Any:
    return mapped_column(info={"unit": unit}, **kwargs)


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


class FeatureSet(Base):
    """One computation of IRF features: its parameters, and the version that made it.

    Identical parameters make the same set (``params_sha256`` is unique), so
    recomputing it replaces its values instead of adding a set.
    """

    __tablename__ = "feature_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: Canonical JSON of every parameter (below, plus the feature names).
    params: Mapped[dict[str, Any]]
    params_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    energy_true_tev: Mapped[float] = _unit("TeV")
    #: ICRS position the offsets were measured from (NULL: fixed offset or the pointing).
    position_ra_deg: Mapped[float | None] = _unit("deg")
    position_dec_deg: Mapped[float | None] = _unit("deg")
    fixed_offset_deg: Mapped[float | None] = _unit("deg")
    containment_fraction: Mapped[float] = _unit("")
    aeff_threshold_fraction: Mapped[float] = _unit("")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))

    values: Mapped[list[FeatureValue]] = relationship(
        back_populates="feature_set", cascade="all, delete-orphan", passive_deletes=True
    )


class FeatureValue(Base):
    """The value of one feature of one observation in one feature set (NULL with a reason)."""

    __tablename__ = "feature_value"

    feature_set_id: Mapped[int] = mapped_column(
        ForeignKey("feature_set.id", ondelete="CASCADE"), primary_key=True
    )
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    feature: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[float | None]
    unit: Mapped[str] = mapped_column(String(20))
    #: Why ``value`` is NULL (missing HDU, point-like IRF, offset outside the IRF ...).
    null_reason: Mapped[str | None]
    #: The offset from the pointing the feature was evaluated at.
    offset_deg: Mapped[float | None] = _unit("deg")

    feature_set: Mapped[FeatureSet] = relationship(back_populates="values")
    observation: Mapped[Observation] = relationship()


class Grouping(Base):
    """A labelled partition of selected observations, with how it was made."""

    __tablename__ = "grouping"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: "split", "bins", "by" or "cluster".
    method: Mapped[str] = mapped_column(String(20))
    #: Everything the method was given (column, edges, thresholds, ...).
    params: Mapped[dict[str, Any]]
    #: The selection the observations came from as a Python repr (groupings made before revision
    #: 0007; NULL since).
    selection: Mapped[str | None]
    #: The selection as canonical JSON (obscat.query.criterion_from_json reads it back); NULL
    #: for groupings made before revision 0007.
    selection_json: Mapped[str | None]
    feature_set_id: Mapped[int | None] = mapped_column(ForeignKey("feature_set.id", ondelete="SET NULL"))
    #: Per label: its size and, per grouped quantity, min/max/std.
    summary: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))
    #: Members deleted since it was made, with their observations, by a re-ingest (NULL: none).
    members_removed: Mapped[int | None]

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="grouping", cascade="all, delete-orphan", passive_deletes=True
    )


class GroupMember(Base):
    """One observation's label in one grouping."""

    __tablename__ = "group_member"

    grouping_id: Mapped[int] = mapped_column(ForeignKey("grouping.id", ondelete="CASCADE"), primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    label: Mapped[str] = mapped_column(String(100))

    grouping: Mapped[Grouping] = relationship(back_populates="members")
    observation: Mapped[Observation] = relationship()


class FileUse(Base):
    """A data file a derived result was computed from, and its version then.

    ``feature_set_id`` names the feature set; NULL means the pointing at
    mid-time (``obscat pointing``).  Paths, not ``hdu_file`` ids: a re-ingest
    rewrites ``hdu_file``, while these rows stay with their observation.
    """

    __tablename__ = "file_use"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), index=True)
    feature_set_id: Mapped[int | None] = mapped_column(ForeignKey("feature_set.id", ondelete="CASCADE"), index=True)
    path: Mapped[str]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "byte"})
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, info={"unit": "ns"})
    #: zlib CRC-32 of the file's bytes: a file whose mtime moved but whose bytes did not is not changed.
    crc32: Mapped[int | None] = mapped_column(BigInteger)


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
        zone = np.where(none, None, zone.astype(object))
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

