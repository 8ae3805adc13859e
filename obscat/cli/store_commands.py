"""Commands on data stores: ``ingest``, ``stores``, ``pointing``, ``check``, ``remove``, and ``demo``
(a synthetic store, end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..text import plural
from .options import Format, FormatOption, StoreOption, with_selection

__all__ = ["ingest", "stores", "pointing", "check", "remove", "demo"]


def ingest(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(metavar="PATH", help="Data store directory holding obs-index.fits[.gz] and hdu-index.fits[.gz].")] = None,
    obs_index: Annotated[Path | None, typer.Option("--obs-index", help="Explicit observation index file.")] = None,
    hdu_index: Annotated[Path | None, typer.Option("--hdu-index", help="Explicit HDU index file.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Store name.  [default: the directory name]")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a store of this name ingested from other index files (deleting its observations, features and group memberships).")] = False,
) -> None:
    """Ingest (or update) a GADF data store's observation and HDU index."""
    from .output import progress_bar

    with progress_bar() as progress:
        report = ctx.obj.catalog.ingest(path, obs_index=obs_index, hdu_index=hdu_index, name=name, replace=replace,
                                        progress=progress)  # fmt: skip
    for warning in report.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    typer.echo(report.summary())


def stores(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the ingested data stores with their counts."""
    from .output import render

    names = ["name", "n_obs", "n_hdu", "n_files", "n_missing_files", "telescope", "first_utc", "last_utc", "ingested_at", "root_path"]
    rows = [tuple(getattr(s, n) for n in names) for s in ctx.obj.catalog.stores()]
    render(names, rows, fmt.value)


@with_selection
def pointing(
    ctx: typer.Context,
    selection=None,
) -> None:
    """Read and store the pointing zenith/alt/az at mid-time (EVENTS header, first GTI row) and the GTIs."""
    from .output import progress_bar

    with progress_bar() as progress:
        report = ctx.obj.catalog.compute_pointing(selection, progress=progress)
    for problem in report.problems:
        typer.echo(f"Warning: {problem}", err=True)
    typer.echo(f"pointing at mid-time stored for {plural(report.n_stored, 'observation')} "
               f"({len(report.problems)} left NULL); GTIs for {plural(report.n_gti_observations, 'observation')} "
               f"({plural(report.n_gti_intervals, 'interval')})")  # fmt: skip


def check(ctx: typer.Context, store: StoreOption = None, fmt: FormatOption = Format.table) -> None:
    """Report missing, changed and unreadable files and stale derived results (writes nothing; exit 1 if any)."""
    from .output import render

    report = ctx.obj.catalog.check(store)
    if report.problems:
        render(["store", "path", "state", "detail"], [(p.store, p.path, p.state, p.detail) for p in report.problems],
               fmt.value)  # fmt: skip
    typer.echo(report.summary(), err=True)
    if report.problems or report.stale_feature_values or report.stale_pointings:
        raise typer.Exit(1)


def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Store name.")]) -> None:
    """Remove a data store and everything derived from it."""
    typer.echo(ctx.obj.catalog.remove_store(name).summary())


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Where the sample data store and the demo database go.")] = Path("obscat-demo"),
    n_obs: Annotated[int, typer.Option("--n-obs", min=1, help="Observations in the sample store.")] = 180,
) -> None:
    """Run obscat end to end on a built-in synthetic data store (no download)."""
    from .demo import run_demo

    run_demo(directory, n_obs=n_obs, url=ctx.obj.url)
