"""SQLAlchemy 2 models: the SQL schema users query.

Every physical column stores a plain number in a fixed unit, named by the
column's suffix (``_deg``, ``_s``, ``_tev``, ``_hz``, ``_hpa``, ``_degc``,
``_m``) and recorded in ``Column.info["unit"]``.  Columns filled from the GADF
observation index carry their GADF name in ``Column.info["gadf"]`` (plus the
older spellings in ``info["aliases"]``): that mapping is what ingestion uses,
so the schema is the single place where a column, its unit and its source are
declared.

The models are declared by table family in :mod:`.observation_models`, :mod:`.derived_models`,
:mod:`.epoch_models`, :mod:`.match_models` and :mod:`.annotation_models` on the base of :mod:`.orm`; this
module is where the rest of obscat takes them from.
"""

from __future__ import annotations

from .annotation_models import ANNOTATION_KINDS, AnnotationColumn, AnnotationSet, GroupingAnnotation
from .derived_models import FeatureSet, FeatureValue, FileUse, Grouping, GroupMember
from .epoch_models import MAX_EPOCH_NAME, Epoch, ObservationEpoch
from .match_models import MatchPair
from .observation_models import (
    OBSERVATION_COLUMNS,
    POINTING_COLUMNS,
    SKY_ZONE_HEIGHT_DEG,
    DataStore,
    GtiInterval,
    Hdu,
    HduFile,
    Observation,
    Pointing,
    gadf_columns,
    observation_column,
    observation_column_info,
    sky_derived,
)
from .orm import Base, JSONDocument

__all__ = [
    "SCHEMA_REVISION",
    "SKY_ZONE_HEIGHT_DEG",
    "Base",
    "JSONDocument",
    "DataStore",
    "Observation",
    "Pointing",
    "GtiInterval",
    "POINTING_COLUMNS",
    "OBSERVATION_COLUMNS",
    "observation_column",
    "observation_column_info",
    "HduFile",
    "Hdu",
    "FeatureSet",
    "FeatureValue",
    "Grouping",
    "GroupMember",
    "MatchPair",
    "FileUse",
    "Epoch",
    "ObservationEpoch",
    "MAX_EPOCH_NAME",
    "AnnotationSet",
    "AnnotationColumn",
    "GroupingAnnotation",
    "ANNOTATION_KINDS",
    "sky_derived",
    "gadf_columns",
]

#: Alembic revision the models correspond to (tests check it is the head).
SCHEMA_REVISION = "0015"
