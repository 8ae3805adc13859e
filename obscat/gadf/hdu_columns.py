"""A GADF HDU index → whole columns, with its file paths resolved by the GADF rule.

Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import index as gadf
from .files import is_regular_file
from .text_codes import dtype_text, text_codes

__all__ = ["HduColumns", "check_hdu_observations", "hdu_columns", "read_hdu_index"]


@dataclass
class HduColumns:
    """The HDU index as whole columns; text columns as (distinct values, codes)."""

    obs_id: np.ndarray
    hdu_type: np.ndarray
    hdu_class: np.ndarray
    hdu_name: tuple[np.ndarray, np.ndarray]
    size: np.ma.MaskedArray | None
    file_index: np.ndarray
    paths: list[str]
    exists: list[bool]


def read_hdu_index(path: Path) -> tuple[gadf.IndexTable, HduColumns]:
    index = gadf.read_index(path, "HDU_INDEX")
    return index, hdu_columns(index)


def check_hdu_observations(index: gadf.IndexTable, hdus: HduColumns, obs_ids: np.ndarray) -> None:
    unknown = ~np.isin(hdus.obs_id, obs_ids)
    if np.any(unknown):
        row = int(np.flatnonzero(unknown)[0])
        raise InputError(f"{index.path}: row {row + 1}: OBS_ID {hdus.obs_id[row]} is not in the observation index")


def hdu_columns(index: gadf.IndexTable) -> HduColumns:
    hdu_type, hdu_class = gadf.check_hdu_index(index)
    source_ids = index.data["OBS_ID"]
    if source_ids.dtype.kind not in "iu":
        raise InputError(f"{index.path}: column OBS_ID holds {dtype_text(source_ids.dtype)}, expected integers")
    hdu_obs = np.asarray(source_ids, dtype=np.int64)
    names, name_codes = text_codes(index, "HDU_NAME")
    size = None
    if "SIZE" in index.data.colnames:
        column = index.data["SIZE"]
        if column.dtype.kind not in "iu" or column.ndim != 1:
            raise InputError(f"{index.path}: column SIZE holds {dtype_text(column.dtype)}, expected integers")
        raw = np.asarray(column)
        mask = np.asarray(getattr(column, "mask", np.zeros(len(raw), bool)))
        bad = ~mask & ((raw < 0) | (raw > np.iinfo(np.int64).max))
        if np.any(bad):
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{index.path}: row {row + 1} (OBS_ID {hdu_obs[row]}): SIZE {raw[row]} is not a "
                             "byte count (0 to 2^63 - 1)")  # fmt: skip
        size = np.ma.MaskedArray(raw.astype(np.int64), mask=mask)
    file_index, paths = gadf.resolve_file_paths(index)
    return HduColumns(
        obs_id=hdu_obs,
        hdu_type=hdu_type,
        hdu_class=hdu_class,
        hdu_name=(np.array([v.strip() for v in names], dtype=object), name_codes),
        size=size,
        file_index=file_index,
        paths=paths,
        exists=[is_regular_file(p) for p in paths],  # a FIFO or device is never opened
    )
