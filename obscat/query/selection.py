"""The selection API under its name before :mod:`obscat.query` was split into modules; new code
imports from :mod:`obscat.query` (or its modules)."""

from . import *  # noqa: F403
from . import __all__  # noqa: F401
from .columns import NUMERIC_COLUMNS, TEXT_COLUMNS, pointing_not_computed, unknown_column  # noqa: F401
from .explain import explain_empty, no_observation_error, without  # noqa: F401
