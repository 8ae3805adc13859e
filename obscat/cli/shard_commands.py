"""``obscat features plan|run|import``: IRF features on batch farms without database access."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..text import plural
from .feature_commands import (
    AeffThresholdOption,
    ContainmentOption,
    EnergyTrueOption,
    FeatureOption,
    OffsetOption,
    PositionOption,
    PsfContainment,
    PsfContainmentOption,
    RecomputeOption,
    WorkersOption,
)
from .options import FrameOption, ObsIdOption, StoreOption, sky_position, with_selection

__all__ = ["features_plan", "features_run", "features_import"]


@with_selection
def features_plan(
    ctx: typer.Context,
    energy_true: EnergyTrueOption,
    shards: Annotated[int, typer.Option("--shards", "-n", min=1, help="Number of shards (batch jobs).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the manifests (new or empty of them).")],
    store: StoreOption = None,
    obs_id: ObsIdOption = None,
    frame: FrameOption = "icrs",
    selection=None,
    position: PositionOption = None,
    offset: OffsetOption = None,
    feature: FeatureOption = None,
    containment: ContainmentOption = 0.68,
    aeff_threshold: AeffThresholdOption = 0.1,
    psf_containment: PsfContainmentOption = PsfContainment.gammapy,
    recompute: RecomputeOption = False,
) -> None:
    """Write one manifest per shard for the selected observations (those missing or stale): `features run` evaluates one
    anywhere the files are, with no database; `features import` stores the results."""
    plan = ctx.obj.catalog.plan_features(
        out_dir, shards, energy_true, features=feature, position=sky_position(position, frame) if position else None,
        fixed_offset=offset, containment_fraction=containment, aeff_threshold_fraction=aeff_threshold,
        psf_containment=psf_containment.value, store=store, obs_ids=obs_id, selection=selection,
        missing_only=not recompute,
    )  # fmt: skip
    if plan.n_kept:
        typer.echo(f"Warning: {plural(plan.n_kept, 'observation')} left out: files their values were computed from "
                   "are missing (`obscat check` lists them; --recompute to plan them anyway)", err=True)  # fmt: skip
    typer.echo(f"planned {plural(plan.n_obs, 'observation')} in {plural(len(plan.paths), 'shard')} "
               f"(feature set fs-{plan.params_sha256[:8]})")  # fmt: skip
    for path in plan.paths:
        typer.echo(str(path))


def features_run(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(metavar="MANIFEST", help="A manifest written by `features plan`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The shard table to write (.ecsv).")],
    workers: WorkersOption = None,
) -> None:
    """Evaluate the features of one manifest and write them to a shard table, with no database (the catalogue is not
    opened): refused if a file changed since planning."""
    from .. import run_manifest
    from .output import progress_bar

    with progress_bar() as progress:
        path = run_manifest(manifest, output, workers=workers, progress=progress)
    typer.echo(f"wrote {path}")


def features_import(
    ctx: typer.Context,
    shards: Annotated[list[str], typer.Argument(metavar="SHARD...", help="Shard tables written by `features run`.")],
) -> None:
    """Store shard tables in their feature set, all in one transaction: importing one again changes nothing; a shard
    that is malformed, whose parameters do not match, whose files changed since or whose observations are gone is
    refused and nothing is written."""
    result = ctx.obj.catalog.import_features(shards)
    typer.echo(f"imported {plural(result.n_shards, 'shard')}: {plural(result.n_obs, 'observation')}, "
               f"{plural(result.n_values, 'value')} into feature set {', '.join(result.feature_sets)}")  # fmt: skip
