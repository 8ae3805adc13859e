"""``obscat group`` (split, bins, by, cluster), ``obscat groups`` (list, show, export, delete, rename)
and ``obscat plot``."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from .options import (
    FEATURE_NAMES,
    AllOption,
    ExecutorOption,
    Format,
    FormatOption,
    FrameOption,
    LimitOption,
    sky_position,
    with_selection,
)

__all__ = ["group_command", "group_cluster", "groups_list", "groups_show", "groups_export", "groups_delete",
           "groups_rename", "plot"]  # fmt: skip


def group_command(method: str) -> Callable[..., None]:
    """The `group METHOD COLUMN` command of ``method`` (split, bins or by), taking the shared selection flags."""

    def command(
        ctx: typer.Context,
        column: Annotated[str, typer.Argument(metavar="COLUMN", help="Numeric observation column, e.g. zen_pnt_deg.")],
        name: Annotated[str, typer.Option("--name", help="Name of the stored grouping.")],
        at: Annotated[str, typer.Option("--at", help="split: median, median:OTHER_COLUMN, a value, or quantiles q:0.25,0.5.")] = "median",
        edges: Annotated[str | None, typer.Option("--edges", help='bins: increasing edges, e.g. "0,20,40,60".')] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Overwrite a grouping of the same name.")] = False,
        selection=None,
    ) -> None:
        from .output import render_grouping, warn_left_out

        edge_values = None
        if method == "bins":
            if edges is None:
                raise typer.BadParameter("bins needs --edges", param_hint="--edges")
            try:
                edge_values = [float(e) for e in edges.replace(",", " ").split()]
            except ValueError:
                raise typer.BadParameter(f"not numbers: {edges!r}", param_hint="--edges") from None
        catalog = ctx.obj.catalog
        if method == "split":
            from ..group.points import parse_at

            result = catalog.split(name, column, at=parse_at(at), selection=selection, replace=replace)
        elif method == "bins":
            result = catalog.bins(name, column, edge_values, selection=selection, replace=replace)
        else:
            result = catalog.group_by(name, column, selection=selection, replace=replace)
        render_grouping(result, ctx.command)
        warn_left_out(catalog, selection)

    command.__doc__ = {
        "split": "Split the selection at a column's median, a value or quantiles (low_/high_ labels).",
        "bins": "Group the selection into half-open bins of a column.",
        "by": "One group per distinct value of a column (e.g. n_tels, or the text column event_type).",
    }[method]
    return with_selection(command)


@with_selection
def group_cluster(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Name of the stored grouping.")],
    feature: Annotated[list[str], typer.Option("--feature", "-F", metavar="FEATURE", help=f"Feature to cluster on (repeatable): {FEATURE_NAMES}.")],
    feature_set: Annotated[str | None, typer.Option("--feature-set", help="Stored feature set (see `features list`).")] = None,
    energy_true: Annotated[str | None, typer.Option("--energy-true", "-e", help='Or compute (once) the features at this true energy, e.g. "1 TeV".')] = None,
    position: Annotated[str | None, typer.Option("--position", help='With -e: offsets from "RA DEC" (deg; "l b" with --frame galactic).')] = None,
    offset: Annotated[float | None, typer.Option("--offset", help="With -e: one fixed offset for all observations (deg).")] = None,
    containment: Annotated[float, typer.Option("--containment", help="With -e: containment fraction of psf-radius.")] = 0.68,
    n_groups: Annotated[int | None, typer.Option("--n-groups", "-k", help="Number of groups (fcluster maxclust).")] = None,
    max_distance: Annotated[float | None, typer.Option("--max-distance", help="Cut the tree at this distance (fcluster distance).")] = None,
    inconsistent: Annotated[float | None, typer.Option("--inconsistent", help="Cut links more inconsistent than this (fcluster inconsistent).")] = None,
    max_spread: Annotated[list[str] | None, typer.Option("--max-spread", metavar="FEATURE=VALUE", help='FEATURE=VALUE: fewest groups keeping max-min of FEATURE within VALUE (unit optional, e.g. "psf-radius=0.01 deg"; repeatable).')] = None,
    standardize: Annotated[str, typer.Option("--standardize", help="zscore (as Gammapy), robust or none.")] = "zscore",
    method: Annotated[str, typer.Option("--method", help="Linkage: ward, single, complete or average.")] = "ward",
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, help="With -e: worker processes.")] = None,
    executor: ExecutorOption = "process",
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a grouping of the same name.")] = False,
    frame: FrameOption = "icrs",
    selection=None,
) -> None:
    """Cluster the selection hierarchically on IRF features (Gammapy's recipe) and store the groups."""
    from ..errors import InputError
    from .output import executor_progress, render_grouping, warn_left_out

    spreads = {}
    for item in max_spread or []:
        feature_name, sep, value = item.partition("=")
        if not sep or not feature_name.strip() or not value.strip():
            raise InputError(f"--max-spread takes FEATURE=VALUE, not {item!r}")
        spreads[feature_name.strip()] = value.strip()
    with executor_progress(ctx.obj.catalog, executor, workers) as (pool, progress):
        result = ctx.obj.catalog.cluster(
            name, feature, feature_set=feature_set, energy_true=energy_true,
            position=sky_position(position, frame) if position else None, fixed_offset=offset,
            containment_fraction=containment, selection=selection, n_groups=n_groups, max_distance=max_distance,
            inconsistent=inconsistent, max_spread=spreads, standardize=standardize, method=method, replace=replace,
            workers=workers, executor=pool, progress=progress,
        )  # fmt: skip
    render_grouping(result, ctx.command)
    warn_left_out(ctx.obj.catalog, selection)


def groups_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the stored groupings."""
    from .output import render

    names = ["name", "method", "n_groups", "n_obs", "members_removed", "created_at"]
    render(names, [tuple(getattr(g, n) for n in names) for g in ctx.obj.catalog.groupings()], fmt.value)


def groups_show(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")],
                fmt: FormatOption = Format.table, limit: LimitOption = None, all_rows: AllOption = False) -> None:  # fmt: skip
    """Print a grouping's members (label, store, OBS_ID), a match's pairs (ON run, OFF run, rank, distance);
    on stderr the annotation sets its selection used."""
    from .output import render_stream

    catalog = ctx.obj.catalog
    used = catalog.grouping_annotation_sets(name)
    if used:
        typer.echo("selected with annotation sets " + ", ".join(f"{n!r} (version {v})" for n, v in used), err=True)
    match = catalog.grouping_method(name) == "match"
    render_stream(catalog.iter_match_pairs(name) if match else catalog.iter_grouping_members(name), fmt.value, limit,
                  all_rows)  # fmt: skip


class ExportFormat(enum.StrEnum):
    gadf = "gadf"
    csv = "csv"
    ecsv = "ecsv"


def groups_export(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")],
    target: Annotated[Path, typer.Argument(metavar="TARGET", help="gadf: a new (or empty) directory; csv/ecsv: a new file.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="gadf: a GADF data store per group (obs and HDU index pointing at the original files); csv/ecsv: one table of members.")] = ExportFormat.gadf,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="gadf: export even if data files are missing (with a warning).")] = False,
) -> None:
    """Export a grouping: a GADF data store per group for Gammapy, or a member table."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        written = ctx.obj.catalog.export_grouping(name, target, format=fmt.value, allow_missing=allow_missing)
    for warning in caught:
        typer.echo(f"Warning: {warning.message}", err=True)
    for path in written if isinstance(written, list) else [written]:
        typer.echo(path)


def groups_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")]) -> None:
    """Delete a stored grouping."""
    ctx.obj.catalog.delete_grouping(name)
    typer.echo(f"deleted grouping {name!r}")


def groups_rename(ctx: typer.Context, old: Annotated[str, typer.Argument(metavar="OLD", help="Current name.")],
                  new: Annotated[str, typer.Argument(metavar="NEW", help="New name.")]) -> None:  # fmt: skip
    """Rename a stored grouping."""
    ctx.obj.catalog.rename_grouping(old, new)
    typer.echo(f"renamed grouping {old!r} to {new!r}")


class PlotKind(enum.StrEnum):
    scatter = "scatter"
    sky = "sky"
    dendrogram = "dendrogram"
    pairs = "pairs"


def plot(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file; the extension sets the format (png, pdf, svg).")],
    kind: Annotated[PlotKind | None, typer.Option("--kind", help="scatter of --y against --x, sky map of pointings, dendrogram of a clustering, or pairs of a match (zenith-azimuth).  [default: pairs for a match, else scatter]")] = None,
    x: Annotated[str | None, typer.Option("--x", help="scatter: observation column or feature, e.g. zen_pnt_deg or psf-radius.")] = None,
    y: Annotated[str | None, typer.Option("--y", help="scatter: observation column or feature.")] = None,
    feature_set: Annotated[str | None, typer.Option("--feature-set", help="Feature set of --x/--y features.  [default: the clustering's]")] = None,
) -> None:
    """Plot a stored grouping, coloured by label (needs the plot extra: matplotlib)."""
    from .output import save_figure

    if kind is PlotKind.scatter and (x is None or y is None):
        raise typer.BadParameter("a scatter plot needs --x and --y", param_hint="--x/--y")
    fig = ctx.obj.catalog.plot(name, kind=None if kind is None else kind.value, x=x, y=y, feature_set=feature_set)
    typer.echo(f"wrote {save_figure(fig, output)}")
