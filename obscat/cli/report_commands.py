"""``obscat report``: the catalogue as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .options import with_selection

__all__ = ["report"]


@with_selection
def report(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    grouping: Annotated[list[str] | None, typer.Option("--grouping", "-g", metavar="NAME", help="Show this grouping (repeatable).  [default: every stored grouping]")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the file if it exists.")] = False,
    selection=None,
) -> None:
    """Write one self-contained HTML page: stores, targets, sky map, time coverage, zenith, muon efficiency,
    feature distributions and groupings with their figures, members and provenance (needs the plot extra)."""
    path = ctx.obj.catalog.report(output, groupings=grouping, selection=selection, overwrite=overwrite)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
