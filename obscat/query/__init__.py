"""Observation selections: typed criteria (:mod:`.criteria`, :mod:`.annotations`), the --where language (:mod:`.where`),
command-line flags (:mod:`.options`), Gammapy dicts (:mod:`.gammapy`), canonical JSON."""

from .annotations import Annotation
from .cone import Cone
from .criteria import (
           And,
           Criterion,
           EpochName,
           Ids,
           Not,
           ObjectName,
           Or,
           Store,
           TimeRange,
           ValueRange,
           criterion_from_json,
)
from .gammapy import as_criterion, from_gammapy
from .where import Where, parse_where

__all__ = ["Criterion", "Annotation", "Cone", "TimeRange", "ValueRange", "ObjectName", "EpochName", "Ids", "Store", "Where", "And", "Or", "Not",
           "criterion_from_json", "as_criterion", "from_gammapy", "parse_where"]  # fmt: skip
