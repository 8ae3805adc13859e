"""``obscat match``: OFF runs for ON runs, stored as a grouping."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["match"]


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` items as a dict (``KEY=none`` drops a preset's value)."""
    from ..errors import InputError

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"{option} takes KEY=VALUE, not {item!r}")
        out[key.strip()] = value.strip()
    return out


def match(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Name of the stored match (a grouping).")],
    on: Annotated[
        str,
        typer.Option(
            "--on",
            metavar="SELECTION",
            help="The ON runs: a --where expression, e.g. \"object('PKS 2155*')\" or \"cone(329.7, -30.2, 2) and zen_pnt_deg < 40\".",
        ),
    ],
    off_from: Annotated[
        str, typer.Option("--off-from", metavar="SELECTION", help="Where OFF runs may come from: a --where expression.")
    ],
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="Rules to start from: veritas-mimic or hess-runmatch (see docs/matching.md)."),
    ] = None,
    max_delta: Annotated[
        list[str] | None,
        typer.Option(
            "--max-delta",
            metavar="QUANTITY=VALUE",
            help="Tolerance: zenith, azimuth (wraps at 360 deg), airmass (1/sin el) or a numeric column, e.g. zenith=5deg, muoneff=0.05; =none drops a preset's (repeatable).",
        ),
    ] = None,
    same: Annotated[
        list[str] | None,
        typer.Option("--same", metavar="COLUMN", help="A column whose values must be equal, e.g. n_tels, or epoch (the instrument epoch; runs in none match none) (repeatable)."),
    ] = None,
    weights: Annotated[
        list[str] | None,
        typer.Option(
            "--weight",
            metavar="QUANTITY=W",
            help="Weight of a tolerance's normalised difference in the ranking (default 1; repeatable).",
        ),
    ] = None,
    n_off: Annotated[int | None, typer.Option("--n-off", "-k", help="OFF runs per ON run.  [default: 1]")] = None,
    livetime_ratio: Annotated[
        float | None,
        typer.Option("--livetime-ratio", help="Or: OFF runs until their livetime is this many times the ON run's."),
    ] = None,
    unique: Annotated[
        bool | None,
        typer.Option(
            "--unique/--no-unique",
            help="Use each OFF run for one ON run at most (ON runs served by store and OBS_ID).  [default: the preset's, else no]",
        ),
    ] = None,
    exclusion_radius: Annotated[
        str | None,
        typer.Option(
            "--exclusion-radius", help="Leave out OFF runs pointing this close to an ON run or a --source, e.g. 3deg."
        ),
    ] = None,
    sources: Annotated[
        list[str] | None,
        typer.Option(
            "--source", metavar='"RA DEC"', help="A known source (ICRS deg) for --exclusion-radius (repeatable)."
        ),
    ] = None,
    min_abs_b: Annotated[
        str | None, typer.Option("--min-abs-b", help="Leave out OFF runs at |b| below this, e.g. 10deg.")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a grouping of the same name.")] = False,
) -> None:
    """Find OFF runs matching each ON run (zenith, azimuth, airmass, any column) and store the pairs."""
    from ..errors import InputError
    from .options import sky_position
    from .output import render_grouping

    deltas: dict[str, str | None] = {
        k: None if v.lower() == "none" else v for k, v in _pairs(max_delta, "--max-delta").items()
    }
    weight_values = {}
    for key, value in _pairs(weights, "--weight").items():
        try:
            weight_values[key] = float(value)
        except ValueError:
            raise InputError(f"--weight {key}={value}: not a number") from None
    coords = None
    if sources:
        from astropy.coordinates import concatenate

        coords = concatenate([sky_position(text, "icrs") for text in sources])
    result = ctx.obj.catalog.match(
        name, on, off_from, preset=preset, max_delta=deltas, same=same or None, weights=weight_values, n_off=n_off,
        livetime_ratio=livetime_ratio, unique=unique, exclusion_radius=exclusion_radius, sources=coords,
        min_abs_b=min_abs_b, replace=replace,
    )  # fmt: skip
    render_grouping(result, ctx.command)
