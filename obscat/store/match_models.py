"""The model of OFF-run matches: ``match_pair``, one ON run's OFF run in a stored match (a
grouping of method ``match``), with its rank and distance."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base
from .orm import unit_column as _unit

__all__ = ["MatchPair"]


class MatchPair(Base):
    """An ON run and one of its OFF runs in a stored match."""

    __tablename__ = "match_pair"

    grouping_id: Mapped[int] = mapped_column(ForeignKey("grouping.id", ondelete="CASCADE"), primary_key=True)
    on_observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    off_observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: 1 for the ON run's nearest OFF run, 2 for the next ...
    rank: Mapped[int]
    #: The weighted normalised distance of the pair (0: identical; at most 1 within the tolerances).
    distance: Mapped[float] = _unit("")
