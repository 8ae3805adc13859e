"""The models of instrument epochs: named periods of an instrument (``epoch``) and the epoch each
observation falls in (``observation_epoch``), kept up to date on every load and ingest."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base, UtcDateTime
from .orm import unit_column as _unit

__all__ = ["Epoch", "ObservationEpoch", "MAX_EPOCH_NAME"]

#: The longest epoch name (its group label, ``epoch_<name>``, must fit a group label).
MAX_EPOCH_NAME = 64


class Epoch(Base):
    """A named epoch: a time range and/or an OBS_ID range, within a scope (one store, a telescope
    and optionally an instrument, or every observation when none is given)."""

    __tablename__ = "epoch"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(MAX_EPOCH_NAME), unique=True)
    #: Scope: a store name, or TELESCOP (and INSTRUME) of the stores; all NULL: every observation.
    store: Mapped[str | None] = mapped_column(String(200))
    telescope: Mapped[str | None]
    instrument: Mapped[str | None]
    #: Half-open time range [start, stop) of the observation's start (TT MJD); NULL: unbounded.
    start_mjd: Mapped[float | None] = _unit("d")
    stop_mjd: Mapped[float | None] = _unit("d")
    #: Inclusive OBS_ID range; NULL: unbounded.
    first_obs_id: Mapped[int | None] = mapped_column(BigInteger)
    last_obs_id: Mapped[int | None] = mapped_column(BigInteger)
    description: Mapped[str | None]
    #: The file the definition was loaded from (NULL: given in Python).
    source: Mapped[str | None]
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    obscat_version: Mapped[str] = mapped_column(String(40))


class ObservationEpoch(Base):
    """The epoch an observation falls in (observations in none have no row)."""

    __tablename__ = "observation_epoch"

    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True)
    epoch_id: Mapped[int] = mapped_column(ForeignKey("epoch.id", ondelete="CASCADE"), index=True)
