"""Annotation sets in the database: ingesting a file as a new version, listing, reading one back
as an astropy Table, deleting.

An ingest is one transaction: the set's row, its columns, its values table
(:mod:`.annotation_tables`) filled in bulk and indexed; a refused file writes nothing. Rows are
matched to the observations of one store by OBS_ID.
"""

from __future__ import annotations

import datetime as dt
import keyword
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import InputError, NotFoundError, ParameterError, did_you_mean
from ..results import AnnotationColumnInfo, AnnotationRemoval, AnnotationReport, AnnotationSetSummary
from .annotation_input import prepare_annotations, read_annotation_file
from .annotation_tables import copy_rows, create_indexes, create_values_table, drop_values_table, values_table_name
from .engine import reading, write_transaction
from .models import AnnotationColumn, AnnotationSet, DataStore, Grouping, GroupingAnnotation, Observation
from .rows import bulk_load, id_map

if TYPE_CHECKING:
    from astropy.table import Table

    from ..formats import RowStream

__all__ = ["annotate", "annotation_sets", "annotation_set_row", "annotation_stream", "annotation_table", "delete_annotation_set",
           "UNMATCHED_SHOWN"]  # fmt: skip

_A, _C, _GA = AnnotationSet.__table__, AnnotationColumn.__table__, GroupingAnnotation.__table__
#: How many unmatched OBS_IDs a report lists.
UNMATCHED_SHOWN = 10
_BATCH = 50_000


def annotate(engine: Engine, path: str | os.PathLike, *, name: str, key: str, store: str | None = None,
             units: dict[str, str] | None = None, categories: dict[str, list[str]] | None = None,
             masks: list[str] | None = None, on_duplicate: str | None = None, aggregate: dict[str, str] | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> AnnotationReport:  # fmt: skip
    """Ingest the annotation file ``path`` as the next version of set ``name``."""
    from ..gadf.files import file_sha256

    _check_name(name)
    source = Path(path).absolute()
    table = read_annotation_file(source)
    data = prepare_annotations(table, source, key=key, units=units, categories=categories, masks=masks,
                               on_duplicate=on_duplicate, aggregate=aggregate)  # fmt: skip
    sha256 = file_sha256(source)
    with write_transaction(engine, bulk=True) as conn:
        store_name, store_id = _store(conn, store)
        ids = _observation_ids(conn, store_id, data.keys)
        matched = ids >= 0
        unmatched = data.keys[~matched]
        version = (conn.execute(sa.select(sa.func.max(_A.c.version)).where(_A.c.name == name)).scalar() or 0) + 1
        row = dict(name=name, version=version, store=store_name, source_path=str(source), sha256=sha256,
                   n_rows=data.n_rows, n_matched=int(matched.sum()), n_unmatched=len(unmatched), key_column=key,
                   on_duplicate=on_duplicate, table_name="", ingested_at=dt.datetime.now(dt.UTC),
                   obscat_version=__version__)  # fmt: skip
        set_id = conn.execute(sa.insert(_A).values(row).returning(_A.c.id)).scalar_one()
        table_name = values_table_name(set_id)
        conn.execute(sa.update(_A).where(_A.c.id == set_id).values(table_name=table_name))
        conn.execute(sa.insert(_C), [dict(set_id=set_id, position=i, name=n, kind=k, unit=u, categories=c, aggregate=a)
                                     for i, (n, k, u, c, a) in enumerate(zip(data.names, data.kinds, data.units,
                                                                             data.categories, data.aggregates))])  # fmt: skip
        values_table = create_values_table(conn, table_name, data.kinds)
        kept = np.flatnonzero(matched)
        values = data.values if len(kept) == len(ids) else [[v[j] for j in kept] for v in data.values]
        observation_ids = ids[kept].tolist()
        with bulk_load(conn, values_table, len(kept)):  # PostgreSQL: the foreign key checked once, after
            for lo in range(0, len(kept), _BATCH):
                hi = min(lo + _BATCH, len(kept))
                copy_rows(conn, values_table, zip(observation_ids[lo:hi], *(v[lo:hi] for v in values)))
                if progress is not None:
                    progress("annotations", hi, len(kept))
        create_indexes(conn, values_table, data.kinds)
        summary = _summary(conn, set_id)
    return AnnotationReport(summary, tuple(int(k) for k in unmatched[:UNMATCHED_SHOWN]))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or len(name) > 200:
        raise ParameterError(f"`name={name!r}` must be a Python identifier (letters, digits, _), as --where "
                             "names it: dq.column")  # fmt: skip


def _store(conn: Connection, store: str | None) -> tuple[str, int]:
    from .rows import store_id

    if store is not None:
        return store, store_id(conn, store)
    s = DataStore.__table__
    stores = conn.execute(sa.select(s.c.name, s.c.id).order_by(s.c.name)).all()
    if len(stores) == 1:
        return stores[0].name, stores[0].id
    if not stores:
        store_id(conn, "")  # the empty catalogue's error
    raise ParameterError(f"give `store`: the catalogue holds stores {', '.join(s.name for s in stores)}")


def _observation_ids(conn: Connection, store_id: int, keys: np.ndarray) -> np.ndarray:
    """The observation id of each key (sorted OBS_IDs) in the store, -1 where none."""
    obs_ids, ids = id_map(conn, Observation.__table__, "obs_id", store_id)
    at = np.clip(np.searchsorted(obs_ids, keys), 0, max(len(obs_ids) - 1, 0))
    found = (obs_ids[at] == keys) if len(obs_ids) else np.zeros(len(keys), bool)
    return np.where(found, ids[at] if len(ids) else -1, -1)


def _summary(conn: Connection, set_id: int) -> AnnotationSetSummary:
    row = conn.execute(sa.select(_A).where(_A.c.id == set_id)).one()
    columns = tuple(AnnotationColumnInfo(c.name, c.kind, c.unit, None if c.categories is None else tuple(c.categories),
                                         c.aggregate)
                    for c in conn.execute(sa.select(_C).where(_C.c.set_id == set_id).order_by(_C.c.position)))  # fmt: skip
    return AnnotationSetSummary(row.name, row.version, row.store, row.source_path, row.sha256, row.key_column,
                                row.on_duplicate, row.n_rows, row.n_matched, row.n_unmatched, columns,
                                row.ingested_at, row.obscat_version)  # fmt: skip


def annotation_sets(engine: Engine) -> list[AnnotationSetSummary]:
    """Every version of every annotation set, by name and version."""
    with reading(engine) as conn:
        ids = conn.execute(sa.select(_A.c.id).order_by(_A.c.name, _A.c.version)).scalars().all()
        return [_summary(conn, i) for i in ids]


def annotation_set_row(conn: Connection, name: str, version: int | None = None):
    """The ``annotation_set`` row of ``name`` (its latest version unless ``version``); a
    :class:`NotFoundError` naming the known sets (or versions) if none."""
    versions = conn.execute(sa.select(_A).where(_A.c.name == name).order_by(_A.c.version.desc())).all()
    if not versions:
        known = conn.execute(sa.select(_A.c.name).distinct().order_by(_A.c.name)).scalars().all()
        listing = f" (annotation sets: {', '.join(known)})" if known else " (no annotation set is stored)"
        raise NotFoundError(f"no annotation set named {name!r}{did_you_mean(name, known) or listing}")
    if version is None:
        return versions[0]
    for row in versions:
        if row.version == version:
            return row
    raise NotFoundError(f"annotation set {name!r} has no version {version} (versions: "
                        f"{', '.join(str(r.version) for r in reversed(versions))})")  # fmt: skip


def annotation_stream(engine: Engine, name: str, version: int | None = None) -> RowStream:
    """``store``, ``obs_id`` and the columns of set ``name`` (its latest version unless ``version``),
    categories as their labels, by OBS_ID, as a :class:`~obscat.formats.RowStream`."""
    from ..formats import RowStream
    from .stream import count_rows, open_rows

    with reading(engine) as conn:
        row = annotation_set_row(conn, name, version)
        summary = _summary(conn, row.id)
    t = sa.table(row.table_name, sa.column("observation_id"), *(sa.column(f"c{i}") for i in range(len(summary.columns))))
    o, s = Observation.__table__, DataStore.__table__
    values = []
    for i, column in enumerate(summary.columns):
        value: sa.ColumnElement = t.c[f"c{i}"]
        if column.kind == "category":
            assert column.categories is not None
            value = sa.case({rank: sa.literal(label) for rank, label in enumerate(column.categories)}, value=value)
        values.append(value.label(column.name))
    query = (sa.select(s.c.name.label("store"), o.c.obs_id, *values).join_from(t, o, o.c.id == t.c.observation_id)
             .join(s, s.c.id == o.c.store_id).order_by(o.c.obs_id))  # fmt: skip
    names = ["store", "obs_id", *(c.name for c in summary.columns)]
    units = {"store": None, "obs_id": None, **{c.name: c.unit for c in summary.columns}}
    return RowStream(names, units, open_rows(engine, query), lambda: count_rows(engine, query))


def annotation_table(engine: Engine, name: str, version: int | None = None) -> Table:
    """As :func:`annotation_stream`, as an astropy Table with units (missing values masked);
    ``meta`` names the set, its version and source file."""
    with reading(engine) as conn:
        row = annotation_set_row(conn, name, version)
    table = annotation_stream(engine, name, row.version).to_table()
    table.meta.update(annotation_set=row.name, version=row.version, source_path=row.source_path)
    return table


def delete_annotation_set(engine: Engine, name: str, version: int | None = None, *,
                          force: bool = False) -> AnnotationRemoval:  # fmt: skip
    """Delete every version of ``name`` (or only ``version``); refuse, unless ``force``, when a
    grouping's provenance names one, saying which."""
    g = Grouping.__table__
    with write_transaction(engine) as conn:
        annotation_set_row(conn, name, version)  # not found: the error
        chosen = _A.c.name == name if version is None else sa.and_(_A.c.name == name, _A.c.version == version)
        rows = conn.execute(sa.select(_A).where(chosen).order_by(_A.c.version)).all()
        ids = [r.id for r in rows]
        users = conn.execute(sa.select(g.c.name, _GA.c.version).join_from(_GA, g, g.c.id == _GA.c.grouping_id)
                             .where(_GA.c.set_id.in_(ids)).order_by(g.c.name)).all()  # fmt: skip
        groupings = tuple(dict.fromkeys(u.name for u in users))
        if users and not force:
            used = ", ".join(f"{u.name!r} (version {u.version})" for u in users)
            raise InputError(f"annotation set {name!r} is used by groupings {used}: delete with `force=True` to "
                             "delete it anyway (their provenance keeps its name and version)")  # fmt: skip
        n_rows = sum(r.n_matched for r in rows)
        for row in rows:
            drop_values_table(conn, row.table_name)
        conn.execute(sa.delete(_A).where(_A.c.id.in_(ids)))
    return AnnotationRemoval(name, tuple(r.version for r in rows), n_rows, groupings)
