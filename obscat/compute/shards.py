"""Running one offline feature shard, with no database: a manifest in, a shard table out.

This is what a batch-farm job runs (``obscat features run MANIFEST -o SHARD.ecsv``): it needs the
data files and obscat, never the catalogue. The catalogue side is :mod:`.shard_plan` and
:mod:`.shard_import`; the file formats :mod:`.shard_files` (docs/shards.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError, ParameterError
from ..store.file_versions import file_version
from .executors import run_chunks
from .shard_files import Versions, changed_files, read_manifest, write_shard

__all__ = ["run_manifest"]


def run_manifest(manifest: str | os.PathLike, output: str | os.PathLike, *, workers: int | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> Path:  # fmt: skip
    """Evaluate the observations of ``manifest`` and write their feature rows to the ECSV ``output``;
    return its path. Refused (nothing written) if a file changed since planning; runs in
    ``workers`` local processes (as :meth:`obscat.Catalog.compute_features`)."""
    output = Path(output)
    if output.suffix.lower() != ".ecsv":
        raise ParameterError(f"`output` {output} must be an .ecsv file")
    plan = read_manifest(manifest)
    changed = changed_files(plan.versions)
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise InputError(f"{plan.path}: {changed[0]}{more} changed since planning: plan the shard again; "
                         "nothing was computed")  # fmt: skip
    versions = _current(plan.versions)  # before the files are read
    rows = [row for _, part in run_chunks(plan.tasks, plan.params, workers=workers, progress=progress) for row in part]
    order = {t.observation_id: i for i, t in enumerate(plan.tasks)}
    rows.sort(key=lambda row: (order[row[0]], plan.params.features.index(row[1])))
    write_shard(output, plan, rows, versions)
    return output


def _current(recorded: Versions) -> Versions:
    """The versions of unchanged files now: their size and mtime (a touched file's is new) with the
    recorded CRC-32, so that no file is read twice."""
    return {path: (*file_version(path), crc) for path, (_, _, crc) in recorded.items()}
