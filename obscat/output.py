"""Printing results: aligned tables for people, exact CSV/JSON for pipes, progress bars."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from .errors import printable
from .export import column_unit, to_csv, to_json

__all__ = ["render", "render_record", "render_grouping", "progress_bar"]


def render(names: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> None:
    """Print rows as an aligned table, CSV or JSON on standard output."""
    if fmt == "csv":
        sys.stdout.write(to_csv(names, rows))
    elif fmt == "json":
        sys.stdout.write(to_json(names, rows) + "\n")
    else:
        _print_table(names, rows)


def render_record(record: dict[str, Any]) -> None:
    """Print one record vertically: column, value, unit."""
    _print_table(["column", "value", "unit"], [(k, _cell(v), column_unit(k) or "") for k, v in record.items()])


def _print_table(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, name in enumerate(names):
        numeric = any(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in rows)
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(_cell(v)) for v in row))  # Text: "[red]" in a value is data, not rich markup
    Console(width=max(_terminal_width(), 80), soft_wrap=True, highlight=False).print(table)
    if not rows:
        print("(no rows)")


def _cell(value: Any) -> str:
    """A value as a table shows it: control characters (a terminal escape in an OBJECT
    name) escaped, so that what is printed is what is stored."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return printable(str(value))


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((200, 24)).columns if sys.stdout.isatty() else 10_000


def render_grouping(result) -> None:
    """Each group: its size, the spread (min, max, std) of every grouped quantity, its first OBS_IDs."""
    import typer

    typer.echo(f"grouping {result.name!r}: {len(result.members)} observations in {len(result.groups)} groups", err=True)
    for note in result.notes:
        typer.echo(f"Note: {note}", err=True)
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
