"""What several commands share: the output options, the selection flags (:func:`with_selection`),
the observation summary columns and ``--position``."""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ..compute.feature_names import FEATURES

__all__ = ["Format", "FEATURE_NAMES", "StoreOption", "FormatOption", "LimitOption", "AllOption", "FrameOption",
           "ObsIdOption", "with_selection", "TABLE_COLUMNS", "sky_position"]  # fmt: skip


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FEATURE_NAMES = ", ".join(FEATURES)
StoreOption = Annotated[str | None, typer.Option("--store", "-s", help="Only this data store.")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
LimitOption = Annotated[int | None, typer.Option("--limit", min=0, help="Print at most this many rows.  [default: 50 for tables, all for csv/json]")]
AllOption = Annotated[bool, typer.Option("--all", help="table: print every row, not only the first 50.")]

ConeOption = Annotated[str | None, typer.Option("--cone", help='"LON LAT RADIUS" in deg (strict <, as Gammapy).')]
FrameOption = Annotated[str, typer.Option("--frame", help="Frame of --cone and --position: icrs or galactic.")]
BorderOption = Annotated[float, typer.Option("--border", help="Added to the --cone radius (deg).")]
TimeStartOption = Annotated[str | None, typer.Option("--time-start", help="ISO time (UTC) or MJD.")]
TimeStopOption = Annotated[str | None, typer.Option("--time-stop", help="ISO time (UTC) or MJD.")]
OverlapOption = Annotated[bool, typer.Option("--partial-overlap", help="Keep observations overlapping the time range.")]
RangeOption = Annotated[list[str] | None, typer.Option("--range", metavar='"COLUMN LO HI"', help='LO <= COLUMN < HI (COLUMN == LO if LO == HI); units allowed (repeatable).')]
ObjectOption = Annotated[str | None, typer.Option("--object", help="OBJECT pattern, * and ? wildcards, case-insensitive.")]
WhereOption = Annotated[str | None, typer.Option("--where", help='Filter, e.g. "zen_pnt_deg < 30 and muoneff >= 0.9".')]
InvertOption = Annotated[list[str] | None, typer.Option("--invert", metavar="CRITERION", help="Negate one criterion: cone, time, range, object, obs-id, where (repeatable).")]
ObsIdOption = Annotated[list[int] | None, typer.Option("--obs-id", metavar="OBS_ID", help="Only these OBS_IDs (repeatable).")]
ExecutorOption = Annotated[str, typer.Option("--executor", metavar="process|dask[=ADDRESS]", help="Where the work runs: the local pool of --workers processes, a Dask LocalCluster of --workers processes, or the Dask scheduler at ADDRESS (e.g. dask=tcp://host:8786; needs pip install 'obscat[dask]').")]


_SELECTION_OPTIONS = {
    "store": (StoreOption, None), "obs_id": (ObsIdOption, None), "cone": (ConeOption, None),
    "frame": (FrameOption, "icrs"), "border": (BorderOption, 0.0), "time_start": (TimeStartOption, None),
    "time_stop": (TimeStopOption, None), "partial_overlap": (OverlapOption, False), "ranges": (RangeOption, None),
    "object_": (ObjectOption, None), "where": (WhereOption, None), "invert": (InvertOption, None),
}  # fmt: skip


def with_selection(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the shared selection flags; it receives their AND as ``selection``
    (and any flag it also names itself, e.g. ``store``, as that argument)."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "selection"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
             for name, (annotation, default) in _SELECTION_OPTIONS.items() if name not in signature.parameters]  # fmt: skip

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..query.options import from_options

        flags = {name: kwargs.get(name, default) for name, (_, default) in _SELECTION_OPTIONS.items()}
        for name in _SELECTION_OPTIONS:
            if name not in signature.parameters:
                kwargs.pop(name, None)
        kwargs["selection"] = from_options(
            store=flags["store"], obs_ids=flags["obs_id"], cone=flags["cone"], frame=flags["frame"],
            border=flags["border"], time_start=flags["time_start"], time_stop=flags["time_stop"],
            partial_overlap=flags["partial_overlap"], ranges=flags["ranges"], object_pattern=flags["object_"],
            where=flags["where"], invert=flags["invert"],
        )  # fmt: skip
        return command(*args, **kwargs)

    # typer reads the parameters from __signature__ (which mypy does not know functions have)
    wrapper.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    return wrapper


#: The columns of observation tables (``select``, ``obs list``).
TABLE_COLUMNS = ("obs_id", "object", "ra_pnt_deg", "dec_pnt_deg", "zen_pnt_deg", "livetime_s", "tstart_utc", "n_tels", "quality", "muoneff")


def sky_position(text: str, frame: str) -> Any:
    """``--position`` ("RA DEC", or "l b" with ``--frame galactic``; deg) as a SkyCoord."""
    from astropy.coordinates import SkyCoord

    from ..errors import InputError

    try:
        return SkyCoord(*text.replace(",", " ").split(), unit="deg", frame=frame)
    except (ValueError, TypeError) as exc:
        raise InputError(f"bad --position {text!r}: {exc}") from None
