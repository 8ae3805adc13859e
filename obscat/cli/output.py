"""Printing results: aligned tables for people, exact CSV/JSON for pipes, progress bars."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, printable
from ..formats import column_unit, to_csv, to_ndjson
from ..text import plural

if TYPE_CHECKING:
    from ..formats import RowStream

__all__ = ["render", "render_stream", "render_record", "render_observation", "render_grouping", "progress_bar", "executor_progress",
           "save_figure", "as_flags", "table_rows", "TABLE_ROWS"]  # fmt: skip

#: Rows a table shows unless told otherwise (``--limit N``, ``--all``).
TABLE_ROWS = 50

#: Library parameters whose command-line flag has another name (the others: the option of the same name).
FLAG_NAMES = {"fixed_offset": "--offset", "containment_fraction": "--containment", "energy_true": "--energy-true",
              "features": "--feature", "aeff_threshold_fraction": "--aeff-threshold", "obs_ids": "--obs-id",
              "format": "--format", "units": "--unit", "masks": "--mask"}  # fmt: skip
_QUOTE = re.compile(r"`([A-Za-z_]\w*)(?:=([^`]*))?`")


def as_flags(message: str, command=None) -> str:
    """``message`` with each backticked Python parameter (:class:`~obscat.errors.ParameterError`)
    in the words of ``command`` (a click command): ```n_groups=0``` → ``--n-groups 0``,
    ```replace=True``` → ``--replace``, ```store``` → ``--store``; a parameter the command does
    not have keeps its quote."""
    options = {p.name: p.opts[0] if p.param_type_name == "option" else p.metavar or p.name.upper()
               for p in getattr(command, "params", ())}  # fmt: skip

    def flag(found: re.Match) -> str:
        name, value = found.groups()
        word = FLAG_NAMES.get(name) or options.get(name)
        if word is None:
            return found.group(0)
        if value is None or value == "True":
            return word
        return f"{word} {value.strip(chr(39))}"

    return _QUOTE.sub(flag, message)


def render(names: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> None:
    """Print rows as an aligned table, CSV or NDJSON (one object per row and line) on standard output."""
    if fmt == "csv":
        sys.stdout.write(to_csv(names, rows))
    elif fmt == "json":
        sys.stdout.write(to_ndjson(names, rows))
    else:
        _print_table(names, rows)


def render_stream(stream: RowStream, fmt: str = "table", limit: int | None = None, all_rows: bool = False) -> None:
    """Print a :class:`~obscat.formats.RowStream` as it is read: CSV, NDJSON (one JSON object per line)
    or, for people, a table of its first ``limit`` rows (default ``TABLE_ROWS``; every row with
    ``all_rows``) followed by how many more there are (counted in SQL).  CSV and NDJSON print every
    row unless ``limit`` is given.  Closes the stream."""
    with stream:
        if fmt == "table":
            shown = None if all_rows else TABLE_ROWS if limit is None else limit
            rows = list(itertools.islice(stream, None if shown is None else shown + 1))
            _print_table(stream.names, rows[:shown])
            if shown is not None and len(rows) > shown:
                total = stream.count()
                count = f"{total - shown:,} more rows" if total is not None else "more rows"
                print(f"… {count} (--limit N or --all to print them)")
            return
        (_write_csv if fmt == "csv" else _write_ndjson)(stream, limit)


def _write_csv(stream: RowStream, limit: int | None) -> None:
    """CSV as :func:`obscat.formats.to_csv` writes it, a batch of rows at a time: ``csv.writer.writerows``
    on the driver's rows, only the columns that need it converted (JSON objects as JSON text, each
    distinct driver value converted once)."""
    cells = {i: _csv_cell(process) for i, process in stream.converters.items()}
    cells.update((i, _csv_cell(None)) for i in stream.json_columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(stream.names)
    for rows in stream.batches(limit, convert=False):
        if cells:
            columns = list(zip(*rows))
            for i, cell in cells.items():
                columns[i] = tuple(map(cell, columns[i]))
            rows = list(zip(*columns))
        writer.writerows(rows)
        sys.stdout.write(out.getvalue())
        out.seek(0)
        out.truncate()
    sys.stdout.write(out.getvalue())


def _csv_cell(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """A column's value → the value csv writes: ``process``-ed (a driver value), a JSON object as
    JSON text; each distinct driver value converted once (a few thousand remembered)."""
    memo: dict[Any, Any] = {}

    def cell(value: Any) -> Any:
        if type(value) is dict:
            return json.dumps(value)
        if process is None or value is None:
            return value
        found = memo.get(value, memo)
        if found is memo:
            if len(memo) >= 4096:
                memo.clear()
            found = memo[value] = cell(process(value))
        return found

    return cell


def _write_ndjson(stream: RowStream, limit: int | None) -> None:
    """One JSON object per line (NULL as null), written a batch of lines at a time."""
    for rows in stream.batches(limit):
        sys.stdout.write(to_ndjson(stream.names, rows))


def render_record(record: dict[str, Any]) -> None:
    """Print one record vertically: column, value, unit."""
    rows = [(k, _cell(v, _is_time(k)), column_unit(k) or "") for k, v in record.items()]
    _print_table(["column", "value", "unit"], rows)


def render_observation(record: dict[str, Any], hdus: list[dict[str, Any]], fmt: str = "table") -> None:
    """One observation: a vertical record then its HDUs (table), one CSV row (no HDUs), or
    one JSON object (one line, as every ``json`` output) with an ``hdus`` array."""
    if fmt == "csv":
        sys.stdout.write(to_csv(list(record), [tuple(record.values())]))
    elif fmt == "json":
        sys.stdout.write(to_ndjson([*record, "hdus"], [(*record.values(), hdus)]))
    else:
        render_record(record)
        print()
        render(list(hdus[0]) if hdus else [], [tuple(h.values()) for h in hdus])


def _is_time(name: str) -> bool:
    """MJD (``d``) and second columns: shown at full precision, where 6 digits lose the second."""
    return column_unit(name) in ("d", "s")


def _print_table(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    times = [_is_time(name) for name in names]
    for i, name in enumerate(names):
        numeric = any(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in rows)
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:  # Text: "[red]" in a value is data, not rich markup
        table.add_row(*(Text(_cell(v, time)) for v, time in zip(row, times)))
    Console(width=max(_terminal_width(), 80), soft_wrap=True, highlight=False).print(table)
    if not rows:
        print("(no rows)")


def _cell(value: Any, full_precision: bool = False) -> str:
    """A value as a table shows it: floats to 6 digits (all of them with ``full_precision``),
    control characters (a terminal escape in an OBJECT name) escaped, so that what is
    printed is what is stored."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if full_precision else f"{value:.6g}"
    return printable(str(value))


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((200, 24)).columns if sys.stdout.isatty() else 10_000


def warn_left_out(catalog, selection) -> None:
    """Warn on stderr of the observations ``selection`` left out only for lack of a pointing, of
    times, or of a row in an annotation set it names (they may be what was meant)."""
    import typer

    left_out = catalog.left_out(selection)
    if left_out.without_pointing:
        typer.echo(f"Warning: the cone left out {plural(left_out.without_pointing, 'observation')} without a sky "
                   "pointing (RA_PNT/DEC_PNT NULL, e.g. OBS_MODE DRIFT)", err=True)  # fmt: skip
    if left_out.without_times:
        typer.echo(f"Warning: the time range left out {plural(left_out.without_times, 'observation')} without times "
                   "(TSTART/TSTOP NULL: none in the obs index, GTI or EVENTS header)", err=True)  # fmt: skip
    for annotation_set, n in left_out.without_annotation:
        if n:
            typer.echo(f"Warning: {plural(n, 'observation')} without a row in annotation set {annotation_set} "
                       "failed its criteria", err=True)  # fmt: skip


def render_explanation(explanation) -> None:
    """``select --explain``: the criteria table, then whether the observation is kept."""
    steps = explanation.steps
    _print_table(["criterion", "value", "result"], [(r["criterion"], r["value"], r["result"]) for r in steps])
    verdict = "kept" if explanation.kept else "left out"
    print(f"observation {explanation.obs_id} of store {explanation.store}: {verdict} by the selection")


def render_grouping(result, command=None) -> None:
    """Each group: its size, the spread (min, max, std) of every grouped quantity, its first OBS_IDs;
    notes in the words of the click ``command`` that made it (see :func:`as_flags`)."""
    import typer

    n_obs, n_groups = plural(len(result.members), "observation"), plural(len(result.groups), "group")
    typer.echo(f"grouping {result.name!r}: {n_obs} in {n_groups}", err=True)
    for note in result.notes:
        typer.echo(f"Note: {as_flags(note, command)}", err=True)
    quantities = [q for q in next(iter(result.summary.values())) if q != "n"] if result.summary else []
    names = ["label", "n_obs"] + [f"{q} {stat}" for q in quantities for stat in ("min", "max", "std")] + ["obs_ids"]
    rows = []
    for label, obs_ids in result.groups.items():
        stats = result.summary.get(label, {})
        spread = [stats[q][stat] for q in quantities for stat in ("min", "max", "std")]
        shown = " ".join(map(str, obs_ids[:8])) + (" …" if len(obs_ids) > 8 else "")
        rows.append((label, len(obs_ids), *spread, shown))
    render(names, rows)


@contextlib.contextmanager
def progress_bar() -> Iterator[Any]:
    """A ``progress(phase, done, total)`` callback drawing a bar on a terminal (else None)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        yield update


@contextlib.contextmanager
def executor_progress(catalog, executor: str, workers: int | None) -> Iterator[tuple[Any, Any]]:
    """``(the executor --executor names, a progress_bar callback)``; a Dask executor's dashboard
    address is printed first, on stderr."""
    import typer

    with catalog.executor(executor, workers) as pool, progress_bar() as progress:
        dashboard = getattr(pool, "dashboard", None)
        if dashboard:
            typer.echo(f"Dask dashboard: {dashboard}", err=True)
        yield pool, progress


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure; the format follows the file extension (png, pdf, svg ...)."""
    path = Path(path)
    try:
        fig.savefig(path, dpi=120)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot write the plot to {path}: {exc}") from None
    return path


def table_rows(table) -> list[tuple]:
    """Rows of an astropy Table as Python values, masked cells as None."""
    columns = [table[name] for name in table.colnames]
    out = []
    for i in range(len(table)):
        row = []
        for column in columns:
            masked = getattr(column, "mask", None) is not None and bool(column.mask[i])
            row.append(None if masked else column[i].item() if hasattr(column[i], "item") else column[i])
        out.append(tuple(row))
    return out
