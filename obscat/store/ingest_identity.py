"""Which store an ingest is about, and how it relates to the stored one: the index files and the
store's name, and the rules of re-ingesting (unchanged: nothing to do; from other index files:
refused, saying what replacing would delete, unless replacing)."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from ..errors import InputError, ParameterError
from ..gadf import index as gadf
from .derived import count_derived
from .models import DataStore, Observation

__all__ = ["locate_index_files", "default_name", "check_name", "store_named", "n_observations", "other_source",
           "refuse_other_source", "is_unchanged"]  # fmt: skip


def locate_index_files(path: str | os.PathLike | None, obs_index: str | os.PathLike | None,
                       hdu_index: str | os.PathLike | None) -> tuple[Path, Path]:  # fmt: skip
    """The obs and HDU index files: the two given (relative to ``path`` if they are there), or those
    of the data store directory ``path``."""
    if obs_index is not None or hdu_index is not None:
        if obs_index is None or hdu_index is None:
            raise ParameterError("give both `obs_index` and `hdu_index`, or a directory")
        base = Path(path) if path is not None else Path(".")
        obs, hdu = (p if p.is_absolute() or not (base / p).exists() else base / p
                    for p in (Path(obs_index), Path(hdu_index)))  # fmt: skip
        return obs, hdu
    if path is None:
        raise ParameterError("give a data store directory (`path`), or `obs_index` and `hdu_index`")
    return gadf.find_index_files(Path(path))


def default_name(path: str | os.PathLike | None, obs_path: Path) -> str:
    """The store's name when none is given: its directory's."""
    return Path(os.path.abspath(path if path is not None else obs_path.parent)).name


def check_name(name: str) -> str:
    """``name``, if it can name a store."""
    if not name or not name.strip():
        raise InputError("store name must not be empty")
    if len(name) > 200:
        raise InputError(f"store name is {len(name)} characters long; at most 200 are allowed")
    if not name.isprintable():
        raise InputError(f"store name {name!r} contains control characters")
    return name


def store_named(conn: Connection, name: str) -> RowMapping | None:
    """The ``data_store`` row named ``name`` (a mapping), or None."""
    return conn.execute(sa.select(DataStore.__table__).where(DataStore.name == name)).mappings().first()


def n_observations(conn: Connection, store_id: int) -> int:
    """How many observations the store holds."""
    return conn.execute(sa.select(sa.func.count()).where(Observation.store_id == store_id)).scalar_one()


def other_source(existing: RowMapping, paths: tuple[Path, Path]) -> bool:
    """Whether the store was ingested from other index files than ``paths``."""
    return (existing["obs_index_path"], existing["hdu_index_path"]) != tuple(str(p.resolve()) for p in paths)


def refuse_other_source(conn: Connection, existing: RowMapping, paths: tuple[Path, Path]) -> None:
    """Raise if ``paths`` are not the index files the store was ingested from: say what replacing would delete."""
    if not other_source(existing, paths):
        return
    where = Observation.__table__.c.store_id == existing["id"]
    counts = count_derived(conn, where)
    raise ParameterError(
        f"store {existing['name']!r} was ingested from {existing['obs_index_path']} and "
        f"{existing['hdu_index_path']}: ingesting {paths[0].resolve()} under its name would delete its "
        f"{n_observations(conn, existing['id'])} observations, {counts}; give another `name`, or pass "
        "`replace=True` to replace it"
    )


def is_unchanged(existing: RowMapping, paths: tuple[Path, Path], digests: tuple[str, str]) -> bool:
    """Whether the store was ingested from these very index files, byte for byte."""
    return (
        (existing["obs_index_sha256"], existing["hdu_index_sha256"]) == digests
        and existing["obs_index_path"] == str(paths[0].resolve())
        and existing["hdu_index_path"] == str(paths[1].resolve())
    )
