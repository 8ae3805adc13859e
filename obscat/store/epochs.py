"""Epochs in the database: loading definitions (overlaps refused, changes only with ``replace``),
listing and deleting them, and assigning each observation its epoch.

The assignment is stored (``observation_epoch``), not computed per query: ``--where "epoch ==
'V6'"`` and ``group by epoch`` then read an indexed table (docs/epochs.md has the figures). It is
rewritten whenever epochs change and for every store ingested, in the same transaction.

An observation's epoch is the one whose scope and ranges hold its store, start time (TT MJD) and
OBS_ID; epochs of one scope never overlap, and when epochs of several scopes hold it the most
specific scope wins: store, then telescope and instrument, then telescope, then every store.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .._version import __version__
from ..errors import InputError, NotFoundError, ParameterError, did_you_mean
from ..text import plural
from .engine import reading, write_transaction
from .epoch_definitions import EpochDefinition, utc_text
from .models import DataStore, Epoch, Grouping, Observation, ObservationEpoch

__all__ = ["EpochChange", "load_epochs", "delete_epochs", "stored_epochs", "assign_epochs", "epoch_name",
           "epoch_members", "epoch_id", "groupings_using", "known_epoch"]  # fmt: skip

_E, _OE, _O, _S, _G = (t.__table__ for t in (Epoch, ObservationEpoch, Observation, DataStore, Grouping))
_DEFINED = ("store", "telescope", "instrument", "start_mjd", "stop_mjd", "first_obs_id", "last_obs_id", "description")


@dataclass
class EpochChange:
    """What loading or deleting epochs did."""

    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    #: Observations per epoch after the change, and those in none.
    n_obs: dict[str, int] = field(default_factory=dict)
    n_without: int = 0

    def summary(self) -> str:
        parts = [f"{what} {', '.join(names)}" for what, names in
                 (("loaded", self.loaded), ("replaced", self.replaced), ("unchanged", self.unchanged),
                  ("deleted", self.deleted)) if names]  # fmt: skip
        counts = ", ".join(f"{name} {n}" for name, n in self.n_obs.items())
        return (f"epochs {'; '.join(parts)}; observations per epoch: {counts or 'none'}; "
                f"{plural(self.n_without, 'observation')} in no epoch")  # fmt: skip


def _stored(conn: Connection) -> dict[str, EpochDefinition]:
    rows = conn.execute(sa.select(_E.c.name, *(_E.c[k] for k in _DEFINED), _E.c.source).order_by(_E.c.id))
    return {r.name: EpochDefinition(**r._mapping) for r in rows}


def load_epochs(engine: Engine, definitions: Sequence[EpochDefinition], source: str, *, replace: bool = False,
                force: bool = False) -> EpochChange:  # fmt: skip
    """Store ``definitions`` (read from ``source``) and reassign every observation, in one transaction.

    An epoch stored under the same name with the same definition stays; with another definition it
    is replaced only with ``replace`` (and, if a grouping used it, ``force``). An overlap with
    another epoch of the same scope (in the file or stored) is refused.
    """
    change = EpochChange()
    with write_transaction(engine) as conn:
        stored = _stored(conn)
        for new in definitions:
            old = stored.get(new.name)
            (change.loaded if old is None else change.unchanged if old == new else change.replaced).append(new.name)
        if change.replaced and not replace:
            old, new = stored[change.replaced[0]], next(d for d in definitions if d.name == change.replaced[0])
            raise ParameterError(f"{source}: epoch {new.name!r} exists with another definition ({_differences(old, new)}): "
                                 f"pass `replace=True` to replace {', '.join(map(repr, change.replaced))}")  # fmt: skip
        _refuse_used(conn, change.replaced, force, "replace")
        kept = [d for name, d in stored.items() if name not in {d.name for d in definitions}]
        _refuse_overlaps(definitions, kept, source)
        conn.execute(sa.delete(_E).where(_E.c.name.in_(change.replaced)))
        now = dt.datetime.now(dt.UTC)
        for new in definitions:
            if new.name in change.loaded or new.name in change.replaced:
                conn.execute(sa.insert(_E).values(name=new.name, **{k: getattr(new, k) for k in _DEFINED},
                                                  source=new.source, created_at=now, obscat_version=__version__))  # fmt: skip
        assign_epochs(conn)
        _count(conn, change)
    return change


def _differences(old: EpochDefinition, new: EpochDefinition) -> str:
    def shown(key: str, value) -> str:
        if key.endswith("_mjd"):
            return "…" if value is None else f"{utc_text(value)} UTC"
        return repr(value)

    return ", ".join(f"{k.removesuffix('_mjd')} {shown(k, getattr(old, k))} -> {shown(k, getattr(new, k))}"
                     for k in _DEFINED if getattr(old, k) != getattr(new, k))  # fmt: skip


def _refuse_overlaps(new: Sequence[EpochDefinition], kept: Iterable[EpochDefinition], source: str) -> None:
    others = list(kept)
    for i, a in enumerate(new):
        for b in [*new[:i], *others]:
            shared = a.overlap(b)
            if shared is not None:
                stored = "" if b in new else " (stored)"
                raise InputError(f"{source}: epochs {b.name!r}{stored} and {a.name!r} overlap in {a.scope}: "
                                 f"{shared} would be in both")  # fmt: skip


def groupings_using(conn: Connection, names: Iterable[str]) -> dict[str, list[str]]:
    """epoch name -> the groupings that used it: grouped by epoch with it as a group, or
    selected with ``epoch == / != name``."""
    wanted = set(names)
    used: dict[str, list[str]] = {}
    if not wanted:
        return used
    for name, method, params, summary, selection in conn.execute(
        sa.select(_G.c.name, _G.c.method, _G.c.params, _G.c.summary, _G.c.selection_json).order_by(_G.c.name)
    ):  # fmt: skip
        found = set()
        if method == "by" and isinstance(params, dict) and params.get("column") == "epoch":
            found |= {label.removeprefix("epoch_") for label in (summary or {})} & wanted
        if selection and "epoch" in selection:
            found |= set(_epochs_named(json.loads(selection))) & wanted
        for epoch in found:
            used.setdefault(epoch, []).append(name)
    return used


def _epochs_named(node) -> Iterable[str]:
    """The epoch names a stored selection (its JSON) compares with, --where texts included."""
    if isinstance(node, dict):
        if node.get("type") == "epoch" and isinstance(node.get("name"), str):
            yield node["name"]
        if node.get("type") == "where" and isinstance(node.get("text"), str):
            yield from _where_epochs(node["text"])
        for value in node.values():
            yield from _epochs_named(value)
    elif isinstance(node, list):
        for value in node:
            yield from _epochs_named(value)


def _where_epochs(text: str) -> Iterable[str]:
    """The strings a --where text compares ``epoch`` with (its grammar is Python's expressions)."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):  # stored texts parsed once already: never met
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Name) and o.id == "epoch" for o in operands):
                yield from (o.value for o in operands if isinstance(o, ast.Constant) and isinstance(o.value, str))


def _refuse_used(conn: Connection, names: Sequence[str], force: bool, verb: str) -> None:
    used = groupings_using(conn, names)
    if used and not force:
        epoch, groupings = next(iter(used.items()))
        raise ParameterError(f"epoch {epoch!r} was used by grouping {', '.join(map(repr, groupings))}: pass "
                             f"`force=True` to {verb} it anyway (the grouping keeps its members)")  # fmt: skip


def delete_epochs(engine: Engine, names: Sequence[str] | None = None, *, force: bool = False) -> EpochChange:
    """Delete the epochs named (None: every epoch); their observations are then in no epoch.
    An epoch a grouping used is deleted only with ``force``."""
    change = EpochChange()
    with write_transaction(engine) as conn:
        stored = _stored(conn)
        wanted = list(stored) if names is None else list(dict.fromkeys(names))
        missing = [n for n in wanted if n not in stored]
        if missing:
            raise NotFoundError(
                f"no epoch named {missing[0]!r}" + (f" (epochs: {', '.join(stored)})" if stored else "")
            )
        _refuse_used(conn, wanted, force, "delete")
        conn.execute(sa.delete(_OE).where(_OE.c.epoch_id.in_(sa.select(_E.c.id).where(_E.c.name.in_(wanted)))))
        conn.execute(sa.delete(_E).where(_E.c.name.in_(wanted)))
        assign_epochs(conn)
        change.deleted = wanted
        _count(conn, change)
    return change


def _count(conn: Connection, change: EpochChange) -> None:
    counts = conn.execute(sa.select(_E.c.name, sa.func.count(_OE.c.observation_id))
                          .outerjoin(_OE, _OE.c.epoch_id == _E.c.id).group_by(_E.c.id, _E.c.name)
                          .order_by(_E.c.id)).all()  # fmt: skip
    change.n_obs = {name: n for name, n in counts}
    total = conn.execute(sa.select(sa.func.count()).select_from(_O)).scalar_one()
    change.n_without = total - sum(change.n_obs.values())


def stored_epochs(bind: Engine | Connection) -> list[tuple]:
    """Every epoch's name, definition, source, observation count and creation time, oldest first."""
    n_obs = sa.select(sa.func.count()).where(_OE.c.epoch_id == _E.c.id).scalar_subquery()
    with reading(bind) as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(_E.c.name, *(_E.c[k] for k in _DEFINED), _E.c.source, n_obs, _E.c.created_at).order_by(_E.c.id))]  # fmt: skip


def _specificity(epoch: EpochDefinition) -> int:
    """How specific an epoch's scope is: store 3, telescope and instrument 2, telescope 1, none 0."""
    return 3 if epoch.store is not None else 2 if epoch.instrument is not None else 1 if epoch.telescope is not None else 0


def _holds(conn: Connection, epoch: EpochDefinition) -> sa.ColumnElement[bool] | None:
    """The observations ``epoch`` holds (None: none, as no ingested store is in its scope)."""
    conditions: list[sa.ColumnElement[bool]] = []
    scope = [_S.c[k] == getattr(epoch, k) for k in ("telescope", "instrument") if getattr(epoch, k) is not None]
    if epoch.store is not None:
        scope.append(_S.c.name == epoch.store)
    if scope:
        stores = conn.execute(sa.select(_S.c.id).where(*scope)).scalars().all()
        if not stores:
            return None
        conditions.append(_O.c.store_id.in_(stores))
    for column, value, compare in ((_O.c.tstart_mjd, epoch.start_mjd, "__ge__"), (_O.c.tstart_mjd, epoch.stop_mjd, "__lt__"),
                                   (_O.c.obs_id, epoch.first_obs_id, "__ge__"), (_O.c.obs_id, epoch.last_obs_id, "__le__")):  # fmt: skip
        if value is not None:
            conditions.append(getattr(column, compare)(value))
    return sa.and_(*conditions)


def assign_epochs(conn: Connection, store_id: int | None = None) -> None:
    """Rewrite the epoch of every observation (of store ``store_id`` only, if given): one
    ``INSERT ... SELECT`` per epoch, the most specific scopes first, each skipping the observations
    a more specific epoch already holds."""
    epochs = sorted(_stored(conn).values(), key=_specificity, reverse=True)
    if not epochs:  # nothing to assign, and nothing assigned: the rows go with their epoch
        return
    mine = sa.true() if store_id is None else _O.c.store_id == store_id
    if store_id is None:
        conn.execute(sa.delete(_OE))
    else:
        conn.execute(sa.delete(_OE).where(_OE.c.observation_id.in_(sa.select(_O.c.id).where(mine))))
    ids = dict(conn.execute(sa.select(_E.c.name, _E.c.id)).all())
    for epoch in epochs:
        holds = _holds(conn, epoch)
        if holds is None:
            continue
        rows = sa.select(_O.c.id, sa.literal(ids[epoch.name])).where(mine, holds)
        if _specificity(epochs[0]) != _specificity(epoch):  # a more specific epoch may hold it
            rows = rows.where(~sa.exists().where(_OE.c.observation_id == _O.c.id))
        conn.execute(sa.insert(_OE).from_select(["observation_id", "epoch_id"], rows))


def epoch_name() -> sa.ScalarSelect:
    """The epoch name of the observation of the enclosing query (NULL: in no epoch)."""
    return (sa.select(_E.c.name).join_from(_OE, _E, _E.c.id == _OE.c.epoch_id)
            .where(_OE.c.observation_id == _O.c.id).scalar_subquery())  # fmt: skip


def epoch_id() -> sa.ScalarSelect:
    """The epoch id of the observation of the enclosing query (NULL: in no epoch)."""
    return sa.select(_OE.c.epoch_id).where(_OE.c.observation_id == _O.c.id).scalar_subquery()


def known_epoch(conn: Connection, name: str) -> None:
    """Raise if no epoch is named ``name``, with the names there are."""
    names = list(conn.execute(sa.select(_E.c.name).order_by(_E.c.name)).scalars())
    if name not in names:
        known = f" (epochs: {', '.join(names)})" if names else " (no epoch is loaded: obscat epochs load FILE)"
        raise NotFoundError(f"no epoch named {name!r}{did_you_mean(name, names) or known}")


def epoch_members(name: str, equal: bool = True) -> sa.Select:
    """The ids of the observations in epoch ``name`` (``equal=False``: in another epoch)."""
    named = _E.c.name == sa.literal(name) if equal else _E.c.name != sa.literal(name)
    return sa.select(_OE.c.observation_id).join_from(_OE, _E, _E.c.id == _OE.c.epoch_id).where(named)
