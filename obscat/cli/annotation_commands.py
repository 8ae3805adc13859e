"""``obscat annotate``: per-run quality tables as annotation sets (ingest, list, show, delete)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .options import AllOption, Format, FormatOption, LimitOption

__all__ = ["ingest", "annotate_list", "annotate_show", "annotate_delete"]


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """``COL=VALUE`` options as a dict."""
    out = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(f"{flag} {item!r} must be COLUMN=VALUE")
        out[name] = value
    return out


def ingest(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="ECSV, CSV, FITS (or pandas HDF5 with obscat[hdf5]) table.")],
    name: Annotated[str, typer.Option("--name", help="Annotation set name (--where names it: NAME.column); a new ingest of a name makes its next version.")],
    key: Annotated[str, typer.Option("--key", help="Column of OBS_IDs.")],
    store: Annotated[str | None, typer.Option("--store", "-s", help="Store whose observations the rows annotate.  [default: the only one]")] = None,
    unit: Annotated[list[str] | None, typer.Option("--unit", metavar="COL=UNIT", help="Unit of a number column the file gives none (CSV); repeatable.")] = None,
    categories: Annotated[list[str] | None, typer.Option("--categories", metavar="COL=A,B,..", help="An ordered category column, best first (e.g. weather=A+,A,B,C,D,F); repeatable.")] = None,
    mask: Annotated[list[str] | None, typer.Option("--mask", metavar="COL", help="An integer bit-mask column; repeatable.")] = None,
    on_duplicate: Annotated[str | None, typer.Option("--on-duplicate", metavar="RULE", help="Keep one row per OBS_ID: first, last or max:COLUMN.  [default: refuse duplicates]")] = None,
    aggregate: Annotated[list[str] | None, typer.Option("--aggregate", metavar="COL=HOW", help="Combine the rows of one OBS_ID (per-subrun tables): mean, min, max or frac (fraction of true/non-zero); every column needs one.")] = None,
) -> None:  # fmt: skip
    """Ingest a per-run quality table as an annotation set."""
    from .output import progress_bar

    cats = {k: v.split(",") for k, v in _pairs(categories, "--categories").items()}
    with progress_bar() as progress:
        report = ctx.obj.catalog.annotate(path, name=name, key=key, store=store, units=_pairs(unit, "--unit") or None,
                                          categories=cats or None, masks=mask or None, on_duplicate=on_duplicate,
                                          aggregate=_pairs(aggregate, "--aggregate") or None, progress=progress)  # fmt: skip
    typer.echo(report.summary())


def annotate_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the annotation sets, every version."""
    from .output import render

    names = ["name", "version", "store", "n_rows", "n_matched", "n_unmatched", "columns", "source_path", "ingested_at"]
    rows = [(s.name, s.version, s.store, s.n_rows, s.n_matched, s.n_unmatched, ", ".join(c.name for c in s.columns),
             s.source_path, s.ingested_at) for s in ctx.obj.catalog.annotation_sets()]  # fmt: skip
    render(names, rows, fmt.value)


def annotate_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Annotation set name.")],
    version: Annotated[int | None, typer.Option("--version", min=1, help="Version.  [default: the latest]")] = None,
    columns: Annotated[bool, typer.Option("--columns", help="Describe the columns (kind, unit, categories, aggregation) instead of the values.")] = False,
    fmt: FormatOption = Format.table,
    limit: LimitOption = None,
    all_rows: AllOption = False,
) -> None:  # fmt: skip
    """Print an annotation set's values (store, obs_id, its columns), or its columns."""
    from .output import render, render_stream

    if columns:
        found = {s.version: s for s in ctx.obj.catalog.annotation_sets() if s.name == name}
        chosen = version if version is not None else max(found, default=None)
        if chosen not in found:
            ctx.obj.catalog.annotation_set(name, version)  # raises: no such set, or version
        rows = [(c.name, c.kind, c.unit, None if c.categories is None else ",".join(c.categories), c.aggregate)
                for c in found[chosen].columns]  # fmt: skip
        render(["column", "kind", "unit", "categories", "aggregate"], rows, fmt.value)
        return
    render_stream(ctx.obj.catalog.iter_annotation_set(name, version), fmt.value, limit, all_rows)


def annotate_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Annotation set name.")],
    version: Annotated[int | None, typer.Option("--version", min=1, help="Only this version.  [default: every version]")] = None,
    force: Annotated[bool, typer.Option("--force", help="Delete it even if stored groupings were selected with it.")] = False,
) -> None:  # fmt: skip
    """Delete an annotation set (every version, or one)."""
    removal = ctx.obj.catalog.delete_annotation_set(name, version, force=force)
    versions = ", ".join(map(str, removal.versions))
    text = f"deleted annotation set {name!r} (version{'s' if len(removal.versions) > 1 else ''} {versions}, {removal.n_rows} rows)"
    if removal.groupings:
        text += f"; groupings {', '.join(removal.groupings)} keep its name and version in their provenance"
    typer.echo(text)
