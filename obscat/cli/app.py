"""The ``obscat`` command line: the typer app, its global options and its error mapping; the
commands, thin calls into :class:`obscat.Catalog`, are in the ``*_commands`` modules.

Every error obscat knows of is printed as one line, ``Error: ...``, with exit
code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from ..errors import ObscatError, one_line
from ..store.config import ENV_VAR
from . import (
    annotation_commands,
    db_commands,
    epoch_commands,
    feature_commands,
    group_commands,
    match_commands,
    obscore_commands,
    observation_commands,
    report_commands,
    shard_commands,
    store_commands,
)
from .output import as_flags
from .params import install as install_plain_params

if TYPE_CHECKING:
    from ..catalog import Catalog

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
annotate_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="Per-run quality tables as annotation sets, for --where.", no_args_is_help=True)
app.add_typer(annotate_app, name="annotate")
app.add_typer(db_app, name="db")
epochs_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="Named instrument epochs: load, list, delete.", no_args_is_help=True)
app.add_typer(epochs_app, name="epochs")
obscore_app = typer.Typer(cls=_Group, rich_markup_mode=None, help="IVOA ObsCore: the catalogue as a VO table.", no_args_is_help=True)
app.add_typer(obscore_app, name="obscore")


@dataclass
class State:
    url: str | None
    debug: bool
    _catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
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


# The commands, in the order --help lists them.
app.command("ingest")(store_commands.ingest)
app.command("stores")(store_commands.stores)
app.command("select")(observation_commands.select)
app.command("match")(match_commands.match)
app.command("plot")(group_commands.plot)
app.command("report")(report_commands.report)
app.command("sql")(observation_commands.sql)
app.command("pointing")(store_commands.pointing)
app.command("check")(store_commands.check)
app.command("remove")(store_commands.remove)
app.command("demo")(store_commands.demo)
obs_app.command("list")(observation_commands.obs_list)
obs_app.command("show")(observation_commands.obs_show)
obs_app.command("gti")(observation_commands.obs_gti)
features_app.command("compute")(feature_commands.features_compute)
features_app.command("list")(feature_commands.features_list)
features_app.command("show")(feature_commands.features_show)
features_app.command("delete")(feature_commands.features_delete)
features_app.command("plan")(shard_commands.features_plan)
features_app.command("run")(shard_commands.features_run)
features_app.command("import")(shard_commands.features_import)
for _method in ("split", "bins", "by"):
    group_app.command(_method)(group_commands.group_command(_method))
group_app.command("cluster")(group_commands.group_cluster)
groups_app.command("list")(group_commands.groups_list)
groups_app.command("show")(group_commands.groups_show)
groups_app.command("export")(group_commands.groups_export)
groups_app.command("delete")(group_commands.groups_delete)
groups_app.command("rename")(group_commands.groups_rename)
epochs_app.command("load")(epoch_commands.epochs_load)
obscore_app.command("export")(obscore_commands.obscore_export)
obscore_app.command("datastore")(obscore_commands.obscore_datastore)
epochs_app.command("list")(epoch_commands.epochs_list)
epochs_app.command("delete")(epoch_commands.epochs_delete)
annotate_app.command("ingest")(annotation_commands.ingest)
annotate_app.command("list")(annotation_commands.annotate_list)
annotate_app.command("show")(annotation_commands.annotate_show)
annotate_app.command("delete")(annotation_commands.annotate_delete)
db_app.command("upgrade")(db_commands.upgrade)
db_app.command("downgrade")(db_commands.downgrade)
db_app.command("grant-readonly")(db_commands.grant_readonly)
db_app.command("current")(db_commands.current)
db_app.command("history")(db_commands.history)


def main() -> None:
    """Console-script entry point."""
    app()
