"""The files of offline feature shards, with no database: manifests (JSON: what one shard job
evaluates) and shard tables (ECSV: its ``feature_value`` rows), written and read back checked.

Formats and field meanings: docs/shards.md. A file's version is ``(size, mtime_ns, crc32)`` as
:func:`obscat.store.file_versions.read_versions` takes it; a file has changed when
:func:`obscat.store.file_versions.changed_uses` says so (size or mtime moved and, if only the
mtime, the CRC-32 too), or has appeared or gone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InputError, one_line
from ..gadf.files import replacing
from ..store.file_versions import changed_uses, file_version
from .feature_eval import FeatureRow
from .feature_names import FEATURES
from .feature_params import FeatureParams
from .feature_tasks import Task

__all__ = ["Shard", "Manifest", "manifest_name", "write_manifest", "read_manifest", "write_shard", "read_shard",
           "changed_files", "now_utc"]

MANIFEST_FORMAT, SHARD_FORMAT, VERSION = "obscat feature manifest", "obscat feature shard", 1
#: The columns of a shard table.
COLUMNS = ("observation_id", "obs_id", "feature", "value", "unit", "null_reason", "offset_deg")
#: A file version: (size in bytes, mtime in ns, CRC-32), all None for a missing file.
Versions = dict[str, tuple[int | None, int | None, int | None]]


@dataclass(frozen=True)
class Manifest:
    """One shard's work: its observations (as tasks, with their stores), parameters and file versions."""

    path: Path
    sha256: str  # of the manifest file's bytes
    params: FeatureParams
    tasks: list[Task]
    stores: dict[int, str]  # observation id -> store name
    versions: Versions


@dataclass(frozen=True)
class Shard:
    """A shard table read back: its manifest's observations and parameters, the file versions
    its values were computed from, and the rows."""

    path: Path
    manifest: Manifest
    rows: list[FeatureRow]


def manifest_name(shard: int, n_shards: int) -> str:
    """``shard-0001-of-0004.json``: shard numbers start at 1, as Slurm and HTCondor array indices may."""
    return f"shard-{shard:04d}-of-{n_shards:04d}.json"


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _observations(tasks: Sequence[Task], stores: dict[int, str]) -> list[dict]:
    return [{"observation_id": t.observation_id, "store": stores[t.observation_id], "obs_id": t.obs_id,
             "hdus": {kind: {"class": c, "path": p, "hdu": n} for kind, (c, p, n) in t.hdus.items()}}
            for t in tasks]  # fmt: skip


def _files(versions: Versions) -> dict[str, dict]:
    return {path: dict(zip(("size", "mtime_ns", "crc32"), versions[path], strict=True)) for path in sorted(versions)}


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def write_manifest(path: Path, params: FeatureParams, tasks: Sequence[Task], stores: dict[int, str],
                   versions: Versions, shard: int, n_shards: int, planned_at: str) -> None:  # fmt: skip
    """Write one manifest (atomically: a temporary file renamed)."""
    document = {
        "format": MANIFEST_FORMAT, "version": VERSION, "shard": shard, "n_shards": n_shards,
        "planned_at": planned_at, "obscat_version": __version__,
        "params": params.canonical(), "params_sha256": params.sha256,
        "files": _files({p: versions[p] for t in tasks for _, p, _ in t.hdus.values()}),
        "observations": _observations(tasks, stores),
    }  # fmt: skip
    _write_atomically(path, (json.dumps(document, indent=1) + "\n").encode())


def read_manifest(path: str | os.PathLike) -> Manifest:
    """A manifest, checked field by field; an error names the file and the field."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON manifest ({exc})") from None
    where = str(path)
    if _get(document, "format", str, where) != MANIFEST_FORMAT or _get(document, "version", int, where) != VERSION:
        raise InputError(f"{where}: not an obscat feature manifest of version {VERSION} "
                         f"(format {document.get('format')!r}, version {document.get('version')!r})")  # fmt: skip
    manifest = _manifest(document, where)
    return Manifest(path, hashlib.sha256(data).hexdigest(), *manifest)


def _manifest(document: dict, where: str) -> tuple[FeatureParams, list[Task], dict[int, str], Versions]:
    """The parameters, tasks, stores and file versions of a manifest (or of a shard's meta)."""
    params = _params(_get(document, "params", dict, where), _get(document, "params_sha256", str, where), where)
    versions: Versions = {}
    for file, version in _get(document, "files", dict, where).items():
        at = f"{where}: files[{file!r}]"
        versions[file] = tuple(_get(version, key, int, at, none=True) for key in ("size", "mtime_ns", "crc32"))
    tasks, stores = [], {}
    for i, item in enumerate(_get(document, "observations", list, where)):
        at = f"{where}: observations[{i}]"
        task = Task(_get(item, "observation_id", int, at), _get(item, "obs_id", int, at))
        stores[task.observation_id] = _get(item, "store", str, at)
        for kind, hdu in _get(item, "hdus", dict, at).items():
            task.hdus[kind] = tuple(_get(hdu, key, str, f"{at}.hdus.{kind}") for key in ("class", "path", "hdu"))
            if task.hdus[kind][1] not in versions:
                raise InputError(f"{at}.hdus.{kind}: file {task.hdus[kind][1]} is not in `files`")
        tasks.append(task)
    if len(stores) != len(tasks):
        raise InputError(f"{where}: an observation_id appears twice in `observations`")
    return params, tasks, stores, versions


def _params(canonical: dict, sha256: str, where: str) -> FeatureParams:
    """The parameters of a canonical dict, whose sha256 must be ``sha256``."""
    try:
        params = FeatureParams(**{**canonical, "features": tuple(canonical["features"]),
                                  "position": None if canonical["position"] is None else tuple(canonical["position"])})  # fmt: skip
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise InputError(f"{where}: `params` are not feature parameters ({exc})") from None
    if params.sha256 != sha256:
        raise InputError(f"{where}: `params_sha256` {sha256} is not the sha256 of `params` ({params.sha256}): "
                         "the parameters were changed")  # fmt: skip
    return params


def _get(obj: Any, key: str, kind: type, where: str, none: bool = False) -> Any:
    """``obj[key]`` of type ``kind`` (None too if ``none``), or an error naming the field."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object, not {type(obj).__name__}")
    if key not in obj:
        raise InputError(f"{where}: field `{key}` is missing")
    value = obj[key]
    if (value is None and none) or (isinstance(value, kind) and not (kind is int and isinstance(value, bool))):
        return value
    raise InputError(f"{where}: field `{key}` must be {'null or ' if none else ''}{kind.__name__}, not {value!r}")


def changed_files(versions: Versions) -> list[str]:
    """The files of ``versions`` that changed since (those missing then and still missing have not)."""
    uses = [(path, *version) for path, version in versions.items()]
    return sorted(path for path, size, _, _ in changed_uses(uses) if size is not None or file_version(path)[0] is not None)


def write_shard(path: Path, manifest: Manifest, rows: Sequence[FeatureRow], versions: Versions) -> None:
    """Write a shard table (atomically): ``rows`` evaluated from files at ``versions`` for ``manifest``."""
    from astropy.table import MaskedColumn, Table

    obs_ids = {t.observation_id: t.obs_id for t in manifest.tasks}
    table = Table(meta={
        "format": SHARD_FORMAT, "version": VERSION, "obscat_version": __version__, "computed_at": now_utc(),
        "manifest": {"name": manifest.path.name, "sha256": manifest.sha256},
        "params": manifest.params.canonical(), "params_sha256": manifest.params.sha256,
        # JSON text, not YAML: astropy parses the ECSV header with PyYAML in pure Python, 26 s for the
        # structures of 10^4 observations, 1.3 s as one JSON string
        "files": _compact(_files(versions)), "observations": _compact(_observations(manifest.tasks, manifest.stores)),
    })  # fmt: skip
    table["observation_id"] = [r[0] for r in rows]
    table["obs_id"] = [obs_ids[r[0]] for r in rows]
    table["feature"] = [r[1] for r in rows]
    for i, name in ((2, "value"), (5, "offset_deg")):
        table[name] = MaskedColumn([0.0 if r[i] is None else r[i] for r in rows], mask=[r[i] is None for r in rows],
                                   dtype="float64")  # fmt: skip
    table["unit"] = [r[3] for r in rows]
    table["null_reason"] = MaskedColumn(["" if r[4] is None else r[4] for r in rows], mask=[r[4] is None for r in rows],
                                        dtype=str)  # fmt: skip
    if not rows:  # typed empty columns
        for name, dtype in (("observation_id", "int64"), ("obs_id", "int64"), ("feature", str), ("unit", str)):
            table[name] = table[name].astype(dtype)
    text = io.StringIO()
    table[list(COLUMNS)].write(text, format="ascii.ecsv")
    _write_atomically(path, text.getvalue().encode())


def read_shard(path: str | os.PathLike) -> Shard:
    """A shard table, checked: its meta as a manifest, every row against it (each observation has
    each feature once); an error names the file and the row (1 = the first data row) or column."""
    from astropy.table import Table

    path = Path(path)
    where = str(path)
    try:
        table = _read_ecsv(path) or Table.read(path, format="ascii.ecsv")
    except OSError as exc:
        raise InputError(f"{where}: cannot read the shard ({exc.strerror or exc})") from None
    except Exception as exc:  # astropy's readers raise many kinds: a malformed file, said in one line
        raise InputError(f"{where}: not a readable ECSV shard ({_read_error(path, exc)})") from None
    meta = dict(table.meta)
    if meta.get("format") != SHARD_FORMAT or meta.get("version") != VERSION:
        raise InputError(f"{where}: not an obscat feature shard of version {VERSION} "
                         f"(format {meta.get('format')!r}, version {meta.get('version')!r})")  # fmt: skip
    about = _get(meta, "manifest", dict, where)
    for key in ("files", "observations"):
        try:
            meta[key] = json.loads(_get(meta, key, str, where))
        except ValueError as exc:
            raise InputError(f"{where}: meta `{key}` is not JSON text ({exc})") from None
    params, tasks, stores, versions = _manifest(meta, where)
    manifest = Manifest(Path(_get(about, "name", str, f"{where}: manifest")), _get(about, "sha256", str, f"{where}: manifest"),
                        params, tasks, stores, versions)  # fmt: skip
    if table.colnames != list(COLUMNS):
        raise InputError(f"{where}: columns {', '.join(table.colnames)}; a shard has {', '.join(COLUMNS)}")
    for name, kind in (("observation_id", "i"), ("obs_id", "i"), ("value", "f"), ("offset_deg", "f")):
        if table[name].dtype.kind != kind:
            raise InputError(f"{where}: column {name} has type {table[name].dtype}; a shard's is "
                             f"{'int64' if kind == 'i' else 'float64'}")  # fmt: skip
    return Shard(path, manifest, _rows(table, manifest, where))


def _read_ecsv(path: Path):
    """The ECSV table at ``path``, its header read with libyaml; None if the header is not one
    (astropy then reads the file, and says what is wrong). Astropy reads the header with PyYAML's
    pure-Python scanner: 7.1 s for the 6.3 MB of JSON text a shard of 50,000 observations holds
    in its meta, 0.1 s with libyaml; the data rows (1.5 s for 150,000 values) are astropy's."""
    import yaml
    from astropy.table import Table

    with open(path, encoding="utf-8") as file:
        text = file.read()
    end = 0
    while text.startswith("#", end):
        end = text.find("\n", end) + 1 or len(text)
    lines = text[:end].splitlines()
    if lines[:2] != ["# %ECSV 1.0", "# ---"] or not all(line.startswith("# ") for line in lines[2:]):
        return None
    try:
        header = yaml.load("\n".join(line[2:] for line in lines[2:]), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if not isinstance(header, dict) or not isinstance(header.get("meta", {}), list | dict):
        return None
    meta = header.pop("meta", {})
    rest = "".join(f"# {line}\n" for line in yaml.safe_dump(header, sort_keys=False).splitlines())
    table = Table.read("# %ECSV 1.0\n# ---\n" + rest + text[end:], format="ascii.ecsv")
    # the meta is an ordered mapping (``!!omap``: a list of pairs as read here)
    table.meta = dict(meta)
    return table


def _rows(table, manifest: Manifest, where: str) -> list[FeatureRow]:
    """The rows of a shard table, each checked against its manifest."""
    import numpy as np

    obs_ids = {t.observation_id: t.obs_id for t in manifest.tasks}
    features = set(manifest.params.features)
    columns = {name: np.ma.filled(table[name], fill).tolist()
               for name, fill in (("observation_id", 0), ("obs_id", 0), ("feature", ""), ("value", 0.0),
                                  ("unit", ""), ("null_reason", ""), ("offset_deg", 0.0))}  # fmt: skip
    mask = {name: np.ma.getmaskarray(table[name]).tolist() for name in ("value", "null_reason", "offset_deg")}
    seen: set[tuple[int, str]] = set()
    rows: list[FeatureRow] = []
    for i, (observation_id, obs_id, feature, value, unit, reason, offset) in enumerate(zip(*columns.values(), strict=True)):
        at = f"{where}: row {i + 1}"
        if observation_id not in obs_ids:
            raise InputError(f"{at}: observation_id {observation_id} is not one of the shard's observations")
        if obs_id != obs_ids[observation_id]:
            raise InputError(f"{at}: obs_id {obs_id} is not observation {observation_id}'s ({obs_ids[observation_id]})")
        if feature not in features:
            raise InputError(f"{at}: feature {feature!r} is not one of the parameters' ({', '.join(sorted(features))})")
        if (observation_id, feature) in seen:
            raise InputError(f"{at}: a second row of observation {observation_id}, feature {feature}")
        seen.add((observation_id, feature))
        if unit != FEATURES[feature][0]:
            raise InputError(f"{at}: unit {unit!r} of {feature} is not {FEATURES[feature][0]!r}")
        value, reason, offset = (None if mask[name][i] else v for name, v in
                                 (("value", value), ("null_reason", reason), ("offset_deg", offset)))  # fmt: skip
        if (value is None) == (reason is None):
            raise InputError(f"{at}: a row has a value or a null_reason, not {'neither' if value is None else 'both'}")
        for name, number in (("value", value), ("offset_deg", offset)):
            if number is not None and not math.isfinite(number):
                raise InputError(f"{at}, column {name}: {number} is not a finite number")
        rows.append((observation_id, feature, value, unit, reason, offset))
    missing = len(obs_ids) * len(features) - len(seen)
    if missing:
        first = next((i, f) for i in obs_ids for f in sorted(features) if (i, f) not in seen)
        raise InputError(f"{where}: {missing} rows are missing (first: observation {first[0]}, feature {first[1]})")
    return rows


def _read_error(path: Path, exc: Exception) -> str:
    """What astropy said, with the data row of a value that does not convert when that is the trouble."""
    message = one_line(exc)
    column = re.match(r"column '(\w+)' failed to convert", message)
    if column is None:
        return message
    import numpy as np
    from astropy.io import ascii

    raw = ascii.read(path, format="basic", delimiter=" ", comment="#", guess=False, fast_reader=False,
                     converters={"*": [ascii.convert_numpy(str)]})  # fmt: skip
    convert = int if column.group(1) in ("observation_id", "obs_id") else float
    cells = raw[column.group(1)]
    for i, text in enumerate(cells):
        if np.ma.is_masked(text) or text == "":
            continue
        try:
            convert(text)
        except ValueError:
            return f"row {i + 1}, column {column.group(1)}: {str(text)!r} is not {'an integer' if convert is int else 'a number'}"
    return message


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        with replacing(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
