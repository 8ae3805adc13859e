"""Every command's --help: plain text that shows each default, no placeholder on flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from obscat.cli.app import app
from obscat.compute.feature_names import FEATURES


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


COMMANDS = sorted(_commands(get_command(app)), key=lambda item: item[0])
REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _squeezed(text: str) -> str:
    """Text without whitespace: help lines wrap anywhere (even after a hyphen)."""
    return "".join(text.split())


@pytest.mark.parametrize(("path", "command"), [((), get_command(app)), *COMMANDS], ids=lambda x: " ".join(x) if isinstance(x, tuple) else "")
def test_help_page(path, command):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "<bool>" not in page and " ." not in page and "[]" not in page
    assert not any(c in page for c in "╭│╰"), "plain text, not rich panels"
    for param in command.params:
        if param.help:
            assert _squeezed(param.help) in _squeezed(page), param.name
        if getattr(param, "is_flag", False):
            assert f"{param.opts[-1]} <" not in page  # no placeholder on a flag
        if param.default not in (None, False, ()) and not getattr(param, "is_flag", False):
            shown = getattr(param.default, "value", param.default)  # an enum member shows its value
            assert _squeezed(f"[default: {shown}") in _squeezed(page), param.name


@pytest.mark.parametrize("path", [("features", "compute"), ("group", "cluster")], ids=" ".join)
def test_feature_option_lists_the_feature_names(path):
    page = _squeezed(CliRunner().invoke(app, [*path, "--help"]).stdout)
    assert _squeezed(f"(repeatable): {', '.join(FEATURES)}.") in page


def cli_reference() -> str:
    """docs/cli.md: every command's --help, as `obscat` prints it 80 columns wide."""
    parts = ["# obscat command reference\n\nGenerated from `--help` by `python tests/test_help.py`; "
             "`tests/test_help.py` checks it is current.\n"]  # fmt: skip
    for path in [(), *(path for path, _ in COMMANDS)]:
        page = CliRunner().invoke(app, [*path, "--help"], prog_name="obscat", env={"COLUMNS": "80"}).stdout
        parts.append(f"## `obscat{''.join(' ' + p for p in path)}`\n\n```text\n{page.rstrip()}\n```\n")
    return "\n".join(parts)


def test_cli_reference_is_current():
    assert REFERENCE.read_text() == cli_reference(), "docs/cli.md is stale: run `python tests/test_help.py`"


if __name__ == "__main__":
    REFERENCE.write_text(cli_reference())
