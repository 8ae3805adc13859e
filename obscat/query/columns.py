"""The observation columns selections may name, and the errors about them."""

from __future__ import annotations

from ..errors import InputError, did_you_mean
from ..store.models import POINTING_COLUMNS, Observation
from ..text import plural

__all__ = ["NUMERIC_COLUMNS", "TEXT_COLUMNS", "EPOCH", "POINTING_COLUMNS", "unknown_column", "pointing_not_computed"]

#: Columns selections and --where may name: the numeric observation columns.
NUMERIC_COLUMNS = tuple(
    c.name for c in Observation.__table__.columns
    if c.type.python_type in (int, float) and c.name not in ("id", "store_id", "sky_zone")
) + POINTING_COLUMNS  # fmt: skip
#: Text columns --where compares with ``==``/``!=`` and a quoted string, and ``group by`` takes.
TEXT_COLUMNS = ("obs_mode", "event_type", "event_class", "irf_name")
#: The observation's epoch (``obscat epochs``): --where compares it as text, ``group by`` takes it.
EPOCH = "epoch"


def pointing_not_computed(column: str, n: int) -> InputError:
    """The error for pointing ``column`` being NULL for ``n`` observations."""
    return InputError(f"{column} is not computed for {plural(n, 'observation')}: "
                      "run `obscat pointing` (obscat.compute.pointing.compute_pointing) first")  # fmt: skip


def unknown_column(column: str, where: str = "", *, text: bool = False) -> InputError:
    """The error for a name that is not a numeric observation column (nor, with ``text``, a
    text one), with a did-you-mean."""
    known = NUMERIC_COLUMNS + (TEXT_COLUMNS if text else ())
    also = f"; text: {', '.join(TEXT_COLUMNS)}" if text else ""
    return InputError(f"unknown column {column!r}{where}{did_you_mean(column, known)} "
                      f"(numeric observation columns: {', '.join(NUMERIC_COLUMNS)}{also})")  # fmt: skip
