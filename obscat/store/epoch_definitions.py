"""Epoch definitions read from a YAML file or a mapping, checked completely before anything is
written: known keys, a scope, ranges that are not inverted, times as TT MJD.

The format (``docs/epochs.md``)::

    epochs:
      - name: V5
        telescope: VERITAS          # scope: store, or telescope (+ instrument); none: every store
        start: 2009-09-01           # ISO date/time (UTC), an MJD number (UTC) or, in Python, a Time
        stop: 2012-08-01            # half-open: [start, stop) of the observation's start time
        first_obs_id: 46642         # inclusive OBS_ID range
        last_obs_id: 63372
        description: T1 moved
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, printable
from .epoch_models import MAX_EPOCH_NAME

__all__ = ["EpochDefinition", "read_definitions", "utc_text", "KEYS"]

#: The keys an epoch entry may have.
KEYS = ("name", "store", "telescope", "instrument", "start", "stop", "first_obs_id", "last_obs_id", "description")


@dataclass(frozen=True)
class EpochDefinition:
    """One epoch as stored: its scope, its ranges (TT MJD; inclusive OBS_IDs; None: unbounded)."""

    name: str
    store: str | None = None
    telescope: str | None = None
    instrument: str | None = None
    start_mjd: float | None = None
    stop_mjd: float | None = None
    first_obs_id: int | None = None
    last_obs_id: int | None = None
    description: str | None = None
    #: Where the definition came from (not part of what it defines).
    source: str | None = field(default=None, compare=False)

    @property
    def scope(self) -> str:
        """The scope in words: ``store 'hess'``, ``telescope 'VERITAS'``, ``every store``."""
        if self.store is not None:
            return f"store {self.store!r}"
        if self.telescope is not None:
            instrument = "" if self.instrument is None else f" instrument {self.instrument!r}"
            return f"telescope {self.telescope!r}{instrument}"
        return "every store"

    def overlap(self, other: EpochDefinition) -> str | None:
        """What ``other`` (of the same scope) shares with this epoch, in words, or None."""
        if (self.store, self.telescope, self.instrument) != (other.store, other.telescope, other.instrument):
            return None
        start = max(_low(self.start_mjd), _low(other.start_mjd))
        stop = min(_high(self.stop_mjd), _high(other.stop_mjd))
        first = max(_low(self.first_obs_id), _low(other.first_obs_id))
        last = min(_high(self.last_obs_id), _high(other.last_obs_id))
        if not (start < stop and first <= last):
            return None
        parts = []
        if math.isfinite(start) or math.isfinite(stop):
            parts.append(f"starting in [{utc_text(start)}, {utc_text(stop)}) UTC")
        if math.isfinite(first) or math.isfinite(last):
            parts.append(f"with OBS_ID {_number(first)}-{_number(last)}")
        return "observations " + " ".join(parts) if parts else "every observation"


def _low(value) -> float:
    return -math.inf if value is None else value


def _high(value) -> float:
    return math.inf if value is None else value


def _number(value: float) -> str:
    return "…" if math.isinf(value) else str(int(value))


def utc_text(mjd: float) -> str:
    """A TT MJD as UTC ISO text (``…`` for an unbounded end)."""
    from astropy.time import Time

    return "…" if math.isinf(mjd) else Time(mjd, format="mjd", scale="tt").utc.isot


def read_definitions(path_or_mapping: str | os.PathLike | Mapping) -> tuple[list[EpochDefinition], str]:
    """The definitions of a YAML file (``yaml.safe_load``) or a mapping of the same shape, and what
    to call their source in messages (the file's path, or ``mapping``)."""
    if isinstance(path_or_mapping, Mapping):
        return _definitions(path_or_mapping, "mapping", None), "mapping"
    if not isinstance(path_or_mapping, (str, os.PathLike)):
        from ..errors import ParameterError

        raise ParameterError(f"`path_or_mapping` must be a YAML file's path or a mapping, not {path_or_mapping!r}")
    path = Path(os.path.expandvars(os.fspath(path_or_mapping)))
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read epochs: {exc.strerror if isinstance(exc, OSError) else exc}") from None
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: expected a mapping with an 'epochs' list, not {type(data).__name__}")
    return _definitions(data, source, source), source


def _loader():
    """``yaml.SafeLoader`` whose dates that are no dates (``2004-13-01``) stay text, so that
    :func:`_mjd` refuses them naming the epoch and key, as any other bad time."""
    import yaml

    def timestamp(loader, node):
        try:
            return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
    return Loader


def _definitions(data: Mapping, label: str, source: str | None) -> list[EpochDefinition]:
    unknown = [k for k in data if k != "epochs"]
    if unknown:
        raise InputError(f"{label}: unknown key {printable(str(unknown[0]))!r} (expected 'epochs', a list of epochs)")
    entries = data.get("epochs")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{label}: 'epochs' must be a non-empty list of epochs")
    definitions: list[EpochDefinition] = []
    for number, entry in enumerate(entries, 1):
        definition = _definition(entry, f"{label}: epoch {number}", source)
        twin = next((d for d in definitions if d.name == definition.name), None)
        if twin is not None:
            raise InputError(f"{label}: epoch {number}: name {definition.name!r} is defined twice")
        definitions.append(definition)
    return definitions


def _definition(entry: Any, where: str, source: str | None) -> EpochDefinition:
    if not isinstance(entry, Mapping):
        raise InputError(f"{where}: expected a mapping of {', '.join(KEYS)}, not {printable(repr(entry))}")
    name = entry.get("name")
    if isinstance(name, str):
        where = f"{where} ({printable(name)!r})"
    unknown = [k for k in entry if k not in KEYS]
    if unknown:
        raise InputError(f"{where}: unknown key {printable(str(unknown[0]))!r} (known: {', '.join(KEYS)})")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_EPOCH_NAME or not name.isprintable():
        raise InputError(
            f"{where}: 'name' must be 1-{MAX_EPOCH_NAME} printable characters, not {printable(repr(name))}"
        )
    text = {k: _text(entry.get(k), k, where) for k in ("store", "telescope", "instrument", "description")}
    if text["store"] is not None and (text["telescope"] is not None or text["instrument"] is not None):
        raise InputError(f"{where}: give 'store' or 'telescope' (with 'instrument'), not both")
    if text["instrument"] is not None and text["telescope"] is None:
        raise InputError(f"{where}: 'instrument' needs 'telescope'")
    start, stop = (_mjd(entry.get(k), k, where) for k in ("start", "stop"))
    first, last = (_obs_id(entry.get(k), k, where) for k in ("first_obs_id", "last_obs_id"))
    if all(v is None for v in (start, stop, first, last)):
        raise InputError(f"{where}: give a time range ('start'/'stop') and/or an OBS_ID range "
                         "('first_obs_id'/'last_obs_id')")  # fmt: skip
    if start is not None and stop is not None and not start < stop:
        raise InputError(f"{where}: 'start' {entry['start']} is not before 'stop' {entry['stop']}")
    if first is not None and last is not None and first > last:
        raise InputError(f"{where}: 'first_obs_id' {first} is after 'last_obs_id' {last}")
    return EpochDefinition(name, text["store"], text["telescope"], text["instrument"], start, stop, first, last,
                           text["description"], source)  # fmt: skip


def _text(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InputError(f"{where}: {key!r} must be a non-empty string, not {printable(repr(value))}")
    return value


def _obs_id(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise InputError(f"{where}: {key!r} must be an integer OBS_ID, not {printable(repr(value))}")
    return int(value)


def _mjd(value: Any, key: str, where: str) -> float | None:
    """TT MJD of a Time, a date or datetime (UTC), an ISO string (UTC) or an MJD number (UTC)."""
    from astropy.time import Time

    if value is None:
        return None
    try:
        if isinstance(value, Time):
            if not value.isscalar:
                raise ValueError("not one time")
            time = value
        elif isinstance(value, dt.datetime):
            time = Time(value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None), scale="utc")
        elif isinstance(value, dt.date):
            time = Time(value.isoformat(), scale="utc")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            time = Time(float(value), format="mjd", scale="utc")
        elif isinstance(value, str):
            try:
                time = Time(float(value), format="mjd", scale="utc")
            except ValueError:
                time = Time(value, scale="utc")
        else:
            raise ValueError(f"a {type(value).__name__}")
        mjd = float(time.tt.mjd)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {key!r} must be an ISO date/time or an MJD, not {printable(repr(value))}") from None  # fmt: skip
    if not math.isfinite(mjd):
        raise InputError(f"{where}: {key!r} must be a finite time, not {printable(repr(value))}")
    return mjd
