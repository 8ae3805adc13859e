"""``obscat features``: compute, list, show and delete feature sets."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from ..compute.feature_names import DEFAULT_FEATURES
from ..text import plural
from .options import (
    FEATURE_NAMES,
    AllOption,
    ExecutorOption,
    Format,
    FormatOption,
    FrameOption,
    LimitOption,
    ObsIdOption,
    StoreOption,
    sky_position,
    with_selection,
)
from .output import table_rows

__all__ = ["features_compute", "features_list", "features_show", "features_delete"]


class PsfContainment(enum.StrEnum):
    gammapy = "gammapy"
    exact = "exact"


EnergyTrueOption = Annotated[str, typer.Option("--energy-true", "-e", help='True energy with its unit, e.g. "1 TeV".')]
PositionOption = Annotated[str | None, typer.Option("--position", help='Offsets from this position: "RA DEC" (deg) or "l b" with --frame galactic.')]
OffsetOption = Annotated[float | None, typer.Option("--offset", help="One fixed offset for all observations (deg).")]
FeatureOption = Annotated[list[str] | None, typer.Option("--feature", "-F", metavar="FEATURE", help=f"Feature (repeatable): {FEATURE_NAMES}.  [default: {', '.join(DEFAULT_FEATURES)}]")]
ContainmentOption = Annotated[float, typer.Option("--containment", help="Containment fraction of psf-radius.")]
AeffThresholdOption = Annotated[float, typer.Option("--aeff-threshold", help="Fraction of the maximum effective area defining energy-threshold.")]
PsfContainmentOption = Annotated[PsfContainment, typer.Option("--psf-containment", help="psf-radius of psf_king/psf_3gauss: Gammapy's 0.0005 deg grid, or exact.")]
RecomputeOption = Annotated[bool, typer.Option("--recompute", help="Recompute every value, not only missing or stale ones.")]
WorkersOption = Annotated[int | None, typer.Option("--workers", "-j", min=1, help="Worker processes.  [default: CPUs, at most 4]")]


@with_selection
def features_compute(
    ctx: typer.Context,
    energy_true: EnergyTrueOption,
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
    workers: WorkersOption = None,
    executor: ExecutorOption = "process",
    strict: Annotated[bool, typer.Option("--strict", help="Fail (write nothing) if a feature is undefined for an observation.")] = False,
    recompute: RecomputeOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Compute IRF features of the selected observations (those missing or stale) and store them as a feature set."""
    from .output import executor_progress, render

    coord = sky_position(position, frame) if position else None
    with executor_progress(ctx.obj.catalog, executor, workers) as (pool, progress):
        table = ctx.obj.catalog.compute_features(
            energy_true, features=feature, position=coord, fixed_offset=offset, containment_fraction=containment,
            aeff_threshold_fraction=aeff_threshold, psf_containment=psf_containment.value, store=store, obs_ids=obs_id,
            selection=selection, workers=workers, executor=pool, strict=strict, missing_only=not recompute,
            progress=progress,
        )  # fmt: skip
    for crash in table.meta["crashed"]:
        typer.echo(f"Warning: {crash}", err=True)
    if table.meta["n_kept"]:
        typer.echo(f"Warning: values of {plural(table.meta['n_kept'], 'observation')} kept: files they were "
                   "computed from are missing (`obscat check` lists them; --recompute to recompute anyway)", err=True)
    typer.echo(f"feature set {table.meta['feature_set']}: {plural(len(table), 'observation')} "
               f"({table.meta['n_computed']} computed)", err=True)  # fmt: skip
    render(table.colnames, table_rows(table), fmt.value)


def features_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the stored feature sets with their parameters."""
    from .output import render

    names = ["name", "energy_true_tev", "position_ra_deg", "position_dec_deg", "fixed_offset_deg",
             "containment_fraction", "n_obs", "n_null", "n_stale", "obscat_version", "created_at"]  # fmt: skip
    rows = [(s.name, s.energy_true.to_value("TeV"), *((s.position.ra.deg, s.position.dec.deg) if s.position else (None, None)),
             None if s.fixed_offset is None else s.fixed_offset.to_value("deg"), s.containment_fraction, s.n_obs, s.n_null,
             s.n_stale, s.obscat_version, s.created_at) for s in ctx.obj.catalog.feature_sets()]  # fmt: skip
    render(names, rows, fmt.value)


def features_show(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Feature set name (see `features list`).")],
                  fmt: FormatOption = Format.table, limit: LimitOption = None, all_rows: AllOption = False) -> None:  # fmt: skip
    """Print a feature set: obs_id and one column per feature."""
    from .output import render_stream

    render_stream(ctx.obj.catalog.iter_feature_set(name), fmt.value, limit, all_rows)


def features_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Feature set name.")]) -> None:
    """Delete a feature set and its values."""
    ctx.obj.catalog.delete_feature_set(name)
    typer.echo(f"deleted feature set {name!r}")
