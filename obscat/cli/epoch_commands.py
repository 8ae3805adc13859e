"""``obscat epochs`` (load, list, delete): named instrument epochs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import Format, FormatOption

__all__ = ["epochs_load", "epochs_list", "epochs_delete"]

ForceOption = Annotated[bool, typer.Option("--force", help="Also replace or delete epochs a stored grouping used.")]


def epochs_load(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="YAML file of epochs (format: docs/epochs.md).")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace stored epochs of the same names defined otherwise.")
    ] = False,
    force: ForceOption = False,
) -> None:
    """Load epochs from a YAML file and give every observation its epoch."""
    typer.echo(ctx.obj.catalog.load_epochs(path, replace=replace, force=force).summary())


def epochs_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the stored epochs (times in UTC; [start, stop) of the observations' start) and their counts."""
    import numpy as np

    from .output import render

    table = ctx.obj.catalog.epochs()
    names = ["name", "store", "telescope", "instrument", "start_utc", "stop_utc", "first_obs_id", "last_obs_id",
             "n_obs", "description"]  # fmt: skip

    def cell(row, name):
        value = row[name[:-4]] if name.endswith("_utc") else row[name]
        if np.ma.is_masked(value) or getattr(value, "masked", False) and value.mask:
            return None
        return value.utc.isot if name.endswith("_utc") else value.item() if hasattr(value, "item") else value

    render(names, [tuple(cell(row, n) for n in names) for row in table], fmt.value)


def epochs_delete(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(metavar="NAME...", help="Epochs to delete.")] = None,
    all_epochs: Annotated[bool, typer.Option("--all", help="Delete every epoch.")] = False,
    force: ForceOption = False,
) -> None:
    """Delete epochs; their observations are then in no epoch."""
    if bool(names) == all_epochs:
        raise typer.BadParameter("give epoch names or --all", param_hint="NAME...")
    typer.echo(ctx.obj.catalog.delete_epochs(None if all_epochs else names, force=force).summary())
