"""Commands reading observations: ``select``, ``obs list``, ``obs show``, ``obs gti`` and ``sql``."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from .options import TABLE_COLUMNS, AllOption, Format, FormatOption, LimitOption, StoreOption, with_selection

__all__ = ["select", "obs_list", "obs_show", "obs_gti", "sql"]


class SelectFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    ids = "ids"


@with_selection
def select(
    ctx: typer.Context,
    selection=None,
    fmt: Annotated[SelectFormat, typer.Option("--format", "-f", help="Output format; ids prints one OBS_ID per line (STORE<tab>OBS_ID if an OBS_ID is in several stores).")] = SelectFormat.table,
    limit: LimitOption = None,
    all_rows: AllOption = False,
    explain: Annotated[int | None, typer.Option("--explain", metavar="OBS_ID", help="Instead of listing, show whether the selection keeps this observation: each criterion with its values, pass or fail.")] = None,
    store: StoreOption = None,
) -> None:
    """Select observations: criteria combine with AND."""
    from .output import render_explanation, render_stream, warn_left_out

    if explain is not None:
        render_explanation(ctx.obj.catalog.explain(explain, selection, store=store))
        return
    if fmt is SelectFormat.ids:
        found = list(ctx.obj.catalog.iter_observations(selection, columns=["obs_id"]))
        repeated = len({obs_id for _, obs_id in found}) < len(found)
        for store, obs_id in found:
            typer.echo(f"{store}\t{obs_id}" if repeated else obs_id)
    else:
        columns = TABLE_COLUMNS if fmt is SelectFormat.table else None
        stream = ctx.obj.catalog.iter_observations(selection, columns=columns)
        render_stream(stream, fmt.value, limit, all_rows)
    warn_left_out(ctx.obj.catalog, selection)


def obs_list(
    ctx: typer.Context,
    store: StoreOption = None,
    fmt: FormatOption = Format.table,
    columns: Annotated[str | None, typer.Option("--columns", "-c", help="Comma-separated columns.  [default: a summary for tables, all for csv/json]")] = None,
    limit: LimitOption = None,
    all_rows: AllOption = False,
) -> None:
    """List observations (by store, then OBS_ID)."""
    from .output import render_stream

    chosen = columns.split(",") if columns else (TABLE_COLUMNS if fmt is Format.table else None)
    stream = ctx.obj.catalog.iter_observations(store=store, columns=[c.strip() for c in chosen] if chosen else None)
    render_stream(stream, fmt.value, limit, all_rows)


@with_selection
def obs_gti(ctx: typer.Context, selection=None, fmt: FormatOption = Format.table) -> None:
    """List the stored good time intervals (GTI rows, TT MJD) of the selected observations; `obscat pointing` reads them."""
    from .output import render

    table = ctx.obj.catalog.gti(selection)
    if not len(table):
        typer.echo("no GTI stored for these observations: run `obscat pointing` first", err=True)
    start, stop = table["start"].mjd, table["stop"].mjd
    rows = zip(table["store"].tolist(), table["obs_id"].tolist(), start.tolist(), stop.tolist(),
               ((stop - start) * 86400).round(3).tolist(), strict=True)  # fmt: skip
    render(["store", "obs_id", "start_mjd", "stop_mjd", "duration_s"], list(rows), fmt.value)


def obs_show(ctx: typer.Context, obs_id: Annotated[int, typer.Argument(metavar="OBS_ID", help="Observation id (OBS_ID).")],
             store: StoreOption = None,
             fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format (csv: the observation's row, without its HDUs).")] = Format.table) -> None:  # fmt: skip
    """Show every column of one observation, its epoch and its HDUs."""
    from ..store.models import OBSERVATION_COLUMNS
    from .output import render_observation

    obs = ctx.obj.catalog.observation(obs_id, store)
    hdus = [{"hdu_type": h.hdu_type, "hdu_class": h.hdu_class, "hdu_name": h.hdu_name, "size_bytes": h.size_bytes,
             "exists": h.file.exists_at_ingest, "path": h.path} for h in obs.hdus]  # fmt: skip
    # its epoch too, but not in csv: the same row as `obs list`
    epoch = {} if fmt is Format.csv else {"epoch": None if obs.epoch is None else obs.epoch.name}
    render_observation({"store": obs.store.name, **epoch, **{c: getattr(obs, c) for c in OBSERVATION_COLUMNS}}, hdus,
                       fmt.value)  # fmt: skip


def sql(
    ctx: typer.Context,
    statement: Annotated[str, typer.Argument(metavar="STATEMENT", help='One query, e.g. "SELECT obs_id FROM observation WHERE zen_pnt_deg < :z".')],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="NAME=VALUE", help="NAME=VALUE bound to :NAME (repeatable; numbers stay numbers).")] = None,
    limit: LimitOption = None,
    all_rows: AllOption = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Run one read-only SQL query (SELECT/WITH/VALUES/TABLE/EXPLAIN) over the catalogue."""
    from ..errors import InputError
    from .output import render_stream

    params = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise InputError(f"--param takes NAME=VALUE with NAME a plain name, not {item!r}")
        params[key] = _typed(value)
    render_stream(ctx.obj.catalog.iter_sql(statement, params), fmt.value, limit, all_rows)


def _typed(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
