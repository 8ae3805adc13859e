"""The ``obscat`` command line: thin commands over :class:`obscat.Catalog`.

Every error obscat knows of is printed as one line, ``Error: ...``, with exit
code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import enum
import functools
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from ..compute.feature_names import DEFAULT_FEATURES, FEATURES
from ..errors import ObscatError, one_line
from ..store.config import ENV_VAR
from ..text import plural
from .output import as_flags, table_rows
from .params import install as install_plain_params

__all__ = ["app", "main"]


class _Group(TyperGroup):
    """Turns every exception into ``Error: <one line>`` and exit code 1; converts plain
    parameter values without Pydantic (see :mod:`obscat.cli.params`)."""

    def parse_args(self, ctx, args):
        install_plain_params(self.get_params(ctx))
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            install_plain_params(command.get_params(ctx))
        return name, command, rest

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe (`obscat obs list | head`) shows here, not at exit
            return result
        except BrokenPipeError:  # the reader has gone: stop quietly with 1, as click and rich do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except Exception as exc:
            if _is_cli_control(exc) or "--debug" in sys.argv[1:] or getattr(ctx.obj, "debug", False):
                raise
            if not isinstance(exc, ObscatError):  # a bug: say so, never as a tidy user error
                typer.echo(f"Error: internal error: {type(exc).__name__}: {one_line(exc)} (rerun with --debug)",
                           err=True)  # fmt: skip
                ctx.exit(INTERNAL_ERROR_EXIT)
            typer.echo(f"Error: {as_flags(one_line(exc), self._invoked(ctx))}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            typer.echo("Error: interrupted; nothing was written", err=True)
            ctx.exit(130)


    def _invoked(self, ctx):
        """The command this group was running (None if it had not chosen one yet)."""
        name = ctx.invoked_subcommand
        return None if name is None else self.get_command(ctx, name)


def _is_cli_control(exc: Exception) -> bool:
    """Exit, usage errors and aborts belong to typer/click, which print them itself."""
    return type(exc).__module__.split(".")[0] in ("typer", "click")


#: Exit status of an unforeseen exception (a bug), apart from 1 (a user error) and 2 (usage).
INTERNAL_ERROR_EXIT = 3


app = typer.Typer(
    cls=_Group,
    rich_markup_mode=None,
    help="A database catalogue of IACT observations (GADF DL3 data stores) with grouping queries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
obs_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="List and show observations.", no_args_is_help=True)
db_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="Schema migrations (Alembic).", no_args_is_help=True)
features_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="IRF features per observation, stored as feature sets.", no_args_is_help=True)
app.add_typer(obs_app, name="obs")
app.add_typer(features_app, name="features")
group_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="Group selected observations and store the groups.", no_args_is_help=True)
groups_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="List, show, rename and delete stored groupings.", no_args_is_help=True)
app.add_typer(group_app, name="group")
app.add_typer(groups_app, name="groups")
app.add_typer(db_app, name="db")


class PsfContainment(enum.StrEnum):
    gammapy = "gammapy"
    exact = "exact"


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@dataclass
class State:
    url: str | None
    debug: bool
    _catalog: object = None

    @property
    def catalog(self):
        """The catalogue, opened (and schema-checked) on first use."""
        if self._catalog is None:
            from ..catalog import Catalog

            self._catalog = Catalog(self.url)
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()


def _print_version(value: bool) -> None:
    if value:
        from .._version import __version__

        typer.echo(f"obscat {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", envvar=ENV_VAR, help="Database URL, or a file name meaning SQLite (e.g. catalogue.db).  [default: sqlite:///obscat.db]", show_envvar=True)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print obscat's version and exit.")] = False,  # fmt: skip
) -> None:
    ctx.obj = State(url=db, debug=debug)
    ctx.call_on_close(ctx.obj.close)


_FEATURE_NAMES = ", ".join(FEATURES)
StoreOption = Annotated[str | None, typer.Option("--store", "-s", help="Only this data store.")]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
LimitOption = Annotated[int | None, typer.Option("--limit", min=0, help="Print at most this many rows.  [default: 50 for tables, all for csv/json]")]
AllOption = Annotated[bool, typer.Option("--all", help="table: print every row, not only the first 50.")]


@app.command()
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


@app.command()
def stores(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the ingested data stores with their counts."""
    from .output import render

    names = ["name", "n_obs", "n_hdu", "n_files", "n_missing_files", "telescope", "first_utc", "last_utc", "ingested_at", "root_path"]
    rows = [tuple(getattr(s, n) for n in names) for s in ctx.obj.catalog.stores()]
    render(names, rows, fmt.value)


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


_SELECTION_OPTIONS = {
    "store": (StoreOption, None), "obs_id": (ObsIdOption, None), "cone": (ConeOption, None),
    "frame": (FrameOption, "icrs"), "border": (BorderOption, 0.0), "time_start": (TimeStartOption, None),
    "time_stop": (TimeStopOption, None), "partial_overlap": (OverlapOption, False), "ranges": (RangeOption, None),
    "object_": (ObjectOption, None), "where": (WhereOption, None), "invert": (InvertOption, None),
}  # fmt: skip


def with_selection(command):
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

    wrapper.__signature__ = signature.replace(parameters=[*own, *added])
    return wrapper


class SelectFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    ids = "ids"


@app.command()
@with_selection
def select(
    ctx: typer.Context,
    selection=None,
    fmt: Annotated[SelectFormat, typer.Option("--format", "-f", help="Output format; ids prints one OBS_ID per line (STORE<tab>OBS_ID if an OBS_ID is in several stores).")] = SelectFormat.table,
    limit: LimitOption = None,
    all_rows: AllOption = False,
) -> None:
    """Select observations: criteria combine with AND."""
    from .output import render_stream

    if fmt is SelectFormat.ids:
        found = list(ctx.obj.catalog.iter_observations(selection, columns=["obs_id"]))
        repeated = len({obs_id for _, obs_id in found}) < len(found)
        for store, obs_id in found:
            typer.echo(f"{store}\t{obs_id}" if repeated else obs_id)
    else:
        columns = TABLE_COLUMNS if fmt is SelectFormat.table else None
        stream = ctx.obj.catalog.iter_observations(selection, columns=columns)
        render_stream(stream, fmt.value, limit, all_rows)
    left_out = ctx.obj.catalog.left_out(selection)
    if left_out.without_pointing:
        typer.echo(f"Warning: the cone left out {plural(left_out.without_pointing, 'observation')} without a sky "
                   "pointing (RA_PNT/DEC_PNT NULL, e.g. OBS_MODE DRIFT)", err=True)  # fmt: skip
    if left_out.without_times:
        typer.echo(f"Warning: the time range left out {plural(left_out.without_times, 'observation')} without times "
                   "(TSTART/TSTOP NULL: none in the obs index, GTI or EVENTS header)", err=True)  # fmt: skip


def _group_command(method: str):
    """A `group METHOD COLUMN` command taking the shared selection flags."""

    def command(
        ctx: typer.Context,
        column: Annotated[str, typer.Argument(metavar="COLUMN", help="Numeric observation column, e.g. zen_pnt_deg.")],
        name: Annotated[str, typer.Option("--name", help="Name of the stored grouping.")],
        at: Annotated[str, typer.Option("--at", help="split: median, median:OTHER_COLUMN, a value, or quantiles q:0.25,0.5.")] = "median",
        edges: Annotated[str | None, typer.Option("--edges", help='bins: increasing edges, e.g. "0,20,40,60".')] = None,
        replace: Annotated[bool, typer.Option("--replace", help="Overwrite a grouping of the same name.")] = False,
        selection=None,
    ) -> None:

        from .output import render_grouping

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

    command.__doc__ = {
        "split": "Split the selection at a column's median, a value or quantiles (low_/high_ labels).",
        "bins": "Group the selection into half-open bins of a column.",
        "by": "One group per distinct value of a column (e.g. n_tels, or the text column event_type).",
    }[method]
    return command


for _method in ("split", "bins", "by"):
    group_app.command(_method)(with_selection(_group_command(_method)))


@group_app.command("cluster")
@with_selection
def group_cluster(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Name of the stored grouping.")],
    feature: Annotated[list[str], typer.Option("--feature", "-F", metavar="FEATURE", help=f"Feature to cluster on (repeatable): {_FEATURE_NAMES}.")],
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
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a grouping of the same name.")] = False,
    frame: FrameOption = "icrs",
    selection=None,
) -> None:
    """Cluster the selection hierarchically on IRF features (Gammapy's recipe) and store the groups."""
    from ..errors import InputError
    from .output import progress_bar, render_grouping

    spreads = {}
    for item in max_spread or []:
        feature_name, sep, value = item.partition("=")
        if not sep or not feature_name.strip() or not value.strip():
            raise InputError(f"--max-spread takes FEATURE=VALUE, not {item!r}")
        spreads[feature_name.strip()] = value.strip()
    with progress_bar() as progress:
        result = ctx.obj.catalog.cluster(
            name, feature, feature_set=feature_set, energy_true=energy_true,
            position=_sky_position(position, frame) if position else None, fixed_offset=offset,
            containment_fraction=containment, selection=selection, n_groups=n_groups, max_distance=max_distance,
            inconsistent=inconsistent, max_spread=spreads, standardize=standardize, method=method, replace=replace,
            workers=workers, progress=progress,
        )  # fmt: skip
    render_grouping(result, ctx.command)


@groups_app.command("list")
def groups_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the stored groupings."""
    from .output import render

    names = ["name", "method", "n_groups", "n_obs", "members_removed", "created_at"]
    render(names, [tuple(getattr(g, n) for n in names) for g in ctx.obj.catalog.groupings()], fmt.value)


@groups_app.command("show")
def groups_show(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")],
                fmt: FormatOption = Format.table, limit: LimitOption = None, all_rows: AllOption = False) -> None:  # fmt: skip
    """Print a grouping's members: label, store, OBS_ID."""
    from .output import render_stream

    render_stream(ctx.obj.catalog.iter_grouping_members(name), fmt.value, limit, all_rows)


class ExportFormat(enum.StrEnum):
    gadf = "gadf"
    csv = "csv"
    ecsv = "ecsv"


@groups_app.command("export")
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


@groups_app.command("delete")
def groups_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")]) -> None:
    """Delete a stored grouping."""
    ctx.obj.catalog.delete_grouping(name)
    typer.echo(f"deleted grouping {name!r}")


@groups_app.command("rename")
def groups_rename(ctx: typer.Context, old: Annotated[str, typer.Argument(metavar="OLD", help="Current name.")],
                  new: Annotated[str, typer.Argument(metavar="NEW", help="New name.")]) -> None:  # fmt: skip
    """Rename a stored grouping."""
    ctx.obj.catalog.rename_grouping(old, new)
    typer.echo(f"renamed grouping {old!r} to {new!r}")


class PlotKind(enum.StrEnum):
    scatter = "scatter"
    sky = "sky"
    dendrogram = "dendrogram"


@app.command()
def plot(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="Grouping name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file; the extension sets the format (png, pdf, svg).")],
    kind: Annotated[PlotKind, typer.Option("--kind", help="scatter of --y against --x, sky map of pointings, or dendrogram of a clustering.")] = PlotKind.scatter,
    x: Annotated[str | None, typer.Option("--x", help="scatter: observation column or feature, e.g. zen_pnt_deg or psf-radius.")] = None,
    y: Annotated[str | None, typer.Option("--y", help="scatter: observation column or feature.")] = None,
    feature_set: Annotated[str | None, typer.Option("--feature-set", help="Feature set of --x/--y features.  [default: the clustering's]")] = None,
) -> None:
    """Plot a stored grouping, coloured by label (needs the plot extra: matplotlib)."""
    from .output import save_figure

    if kind is PlotKind.scatter and (x is None or y is None):
        raise typer.BadParameter("a scatter plot needs --x and --y", param_hint="--x/--y")
    fig = ctx.obj.catalog.plot(name, kind=kind.value, x=x, y=y, feature_set=feature_set)
    typer.echo(f"wrote {save_figure(fig, output)}")


@app.command()
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


@app.command()
@with_selection
def pointing(
    ctx: typer.Context,
    selection=None,
) -> None:
    """Compute and store the pointing zenith/alt/az at mid-time (EVENTS header, first GTI row)."""
    from .output import progress_bar

    with progress_bar() as progress:
        report = ctx.obj.catalog.compute_pointing(selection, progress=progress)
    for problem in report.problems:
        typer.echo(f"Warning: {problem}", err=True)
    typer.echo(f"pointing at mid-time stored for {plural(report.n_stored, 'observation')} "
               f"({len(report.problems)} left NULL)")  # fmt: skip


@app.command()
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


@app.command()
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Store name.")]) -> None:
    """Remove a data store and everything derived from it."""
    typer.echo(ctx.obj.catalog.remove_store(name).summary())


TABLE_COLUMNS = ("obs_id", "object", "ra_pnt_deg", "dec_pnt_deg", "zen_pnt_deg", "livetime_s", "tstart_utc", "n_tels", "quality", "muoneff")


@obs_app.command("list")
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


@obs_app.command("show")
def obs_show(ctx: typer.Context, obs_id: Annotated[int, typer.Argument(metavar="OBS_ID", help="Observation id (OBS_ID).")],
             store: StoreOption = None,
             fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format (csv: the observation's row, without its HDUs).")] = Format.table) -> None:  # fmt: skip
    """Show every column of one observation, and its HDUs."""
    from ..store.models import OBSERVATION_COLUMNS
    from .output import render_observation

    obs = ctx.obj.catalog.observation(obs_id, store)
    hdus = [{"hdu_type": h.hdu_type, "hdu_class": h.hdu_class, "hdu_name": h.hdu_name, "size_bytes": h.size_bytes,
             "exists": h.file.exists_at_ingest, "path": h.path} for h in obs.hdus]  # fmt: skip
    render_observation({"store": obs.store.name, **{c: getattr(obs, c) for c in OBSERVATION_COLUMNS}}, hdus, fmt.value)


@features_app.command("compute")
@with_selection
def features_compute(
    ctx: typer.Context,
    energy_true: Annotated[str, typer.Option("--energy-true", "-e", help='True energy with its unit, e.g. "1 TeV".')],
    store: StoreOption = None,
    obs_id: ObsIdOption = None,
    frame: FrameOption = "icrs",
    selection=None,
    position: Annotated[str | None, typer.Option("--position", help='Offsets from this position: "RA DEC" (deg) or "l b" with --frame galactic.')] = None,
    offset: Annotated[float | None, typer.Option("--offset", help="One fixed offset for all observations (deg).")] = None,
    feature: Annotated[list[str] | None, typer.Option("--feature", "-F", metavar="FEATURE", help=f"Feature (repeatable): {_FEATURE_NAMES}.  [default: {', '.join(DEFAULT_FEATURES)}]")] = None,
    containment: Annotated[float, typer.Option("--containment", help="Containment fraction of psf-radius.")] = 0.68,
    aeff_threshold: Annotated[float, typer.Option("--aeff-threshold", help="Fraction of the maximum effective area defining energy-threshold.")] = 0.1,
    psf_containment: Annotated[PsfContainment, typer.Option("--psf-containment", help="psf-radius of psf_king/psf_3gauss: Gammapy's 0.0005 deg grid, or exact.")] = PsfContainment.gammapy,
    workers: Annotated[int | None, typer.Option("--workers", "-j", min=1, help="Worker processes.  [default: CPUs, at most 4]")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (write nothing) if a feature is undefined for an observation.")] = False,
    recompute: Annotated[bool, typer.Option("--recompute", help="Recompute every value, not only missing or stale ones.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Compute IRF features of the selected observations (those missing or stale) and store them as a feature set."""
    from .output import progress_bar, render

    coord = _sky_position(position, frame) if position else None
    with progress_bar() as progress:
        table = ctx.obj.catalog.compute_features(
            energy_true, features=feature, position=coord, fixed_offset=offset, containment_fraction=containment,
            aeff_threshold_fraction=aeff_threshold, psf_containment=psf_containment.value, store=store, obs_ids=obs_id,
            selection=selection, workers=workers, strict=strict, missing_only=not recompute, progress=progress,
        )  # fmt: skip
    if table.meta["n_kept"]:
        typer.echo(f"Warning: values of {plural(table.meta['n_kept'], 'observation')} kept: files they were "
                   "computed from are missing (`obscat check` lists them; --recompute to recompute anyway)", err=True)
    typer.echo(f"feature set {table.meta['feature_set']}: {plural(len(table), 'observation')} "
               f"({table.meta['n_computed']} computed)", err=True)  # fmt: skip
    render(table.colnames, table_rows(table), fmt.value)


def _sky_position(text: str, frame: str):
    from astropy.coordinates import SkyCoord

    from ..errors import InputError

    try:
        return SkyCoord(*text.replace(",", " ").split(), unit="deg", frame=frame)
    except (ValueError, TypeError) as exc:
        raise InputError(f"bad --position {text!r}: {exc}") from None


@features_app.command("list")
def features_list(ctx: typer.Context, fmt: FormatOption = Format.table) -> None:
    """List the stored feature sets with their parameters."""
    from .output import render

    names = ["name", "energy_true_tev", "position_ra_deg", "position_dec_deg", "fixed_offset_deg",
             "containment_fraction", "n_obs", "n_null", "n_stale", "obscat_version", "created_at"]  # fmt: skip
    rows = [(s.name, s.energy_true.to_value("TeV"), *((s.position.ra.deg, s.position.dec.deg) if s.position else (None, None)),
             None if s.fixed_offset is None else s.fixed_offset.to_value("deg"), s.containment_fraction, s.n_obs, s.n_null,
             s.n_stale, s.obscat_version, s.created_at) for s in ctx.obj.catalog.feature_sets()]  # fmt: skip
    render(names, rows, fmt.value)


@features_app.command("show")
def features_show(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Feature set name (see `features list`).")],
                  fmt: FormatOption = Format.table, limit: LimitOption = None, all_rows: AllOption = False) -> None:  # fmt: skip
    """Print a feature set: obs_id and one column per feature."""
    from .output import render_stream

    render_stream(ctx.obj.catalog.iter_feature_set(name), fmt.value, limit, all_rows)


@features_app.command("delete")
def features_delete(ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Feature set name.")]) -> None:
    """Delete a feature set and its values."""
    ctx.obj.catalog.delete_feature_set(name)
    typer.echo(f"deleted feature set {name!r}")


@app.command()
def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Where the sample data store and the demo database go.")] = Path("obscat-demo"),
    n_obs: Annotated[int, typer.Option("--n-obs", min=1, help="Observations in the sample store.")] = 180,
) -> None:
    """Run obscat end to end on a built-in synthetic data store (no download)."""
    from .demo import run_demo

    run_demo(directory, n_obs=n_obs, url=ctx.obj.url)


# -- migrations --------------------------------------------------------------------------


def _alembic(ctx: typer.Context, action: str, revision: str) -> None:
    from ..store.schema import migrate

    migrate(ctx.obj.url, action, revision)


@db_app.command()
def upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head") -> None:
    """Upgrade the database schema (default: to the newest revision)."""
    _alembic(ctx, "upgrade", revision)
    typer.echo(f"database upgraded to {revision}")


@db_app.command()
def downgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision, e.g. -1 or base.")]) -> None:
    """Downgrade the database schema."""
    _alembic(ctx, "downgrade", revision)
    typer.echo(f"database downgraded to {revision}")


@db_app.command("grant-readonly")
def grant_readonly(ctx: typer.Context, role: Annotated[str, typer.Argument(metavar="ROLE", help="PostgreSQL role for analysts (created with LOGIN if missing).")]) -> None:
    """Let a PostgreSQL role read, and only read, the catalogue (tables, views, future tables)."""
    from ..store.config import resolve_url
    from ..store.engine import display_url
    from ..store.schema import grant_read_only

    created = grant_read_only(ctx.obj.url, role)
    typer.echo(f"{'created' if created else 'updated'} role {role!r}: read-only access to "
               f"{display_url(resolve_url(ctx.obj.url))}")  # fmt: skip


@db_app.command()
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision."""
    from ..store.schema import current_revision
    from ..store.models import SCHEMA_REVISION

    revision, archives = current_revision(ctx.obj.url)
    state = "head" if revision == SCHEMA_REVISION else f"obscat's head is {SCHEMA_REVISION}"
    base = f"base ({len(archives)} archived tables: `obscat db upgrade` restores them)" if archives else "base (empty database)"
    typer.echo(f"{revision or base} ({state})")


@db_app.command()
def history(ctx: typer.Context) -> None:
    """List the schema revisions."""
    from alembic import command

    from ..store.schema import alembic_config

    command.history(alembic_config())


def main() -> None:
    """Console-script entry point."""
    app()
