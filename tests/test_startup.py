"""Start-up cost of the read commands: what they import, and the plain parameter conversion
(:mod:`obscat.cli.params`) that keeps Pydantic out, checked against typer's own."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from typing import get_args, get_origin

import pytest
import typer.main
from typer import BadParameter, Context
from typer._coercion import build_runtime_param

from obscat.cli.app import app
from obscat.cli.params import _PlainParam

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Modules no read command may import (their import alone costs 0.05-1 s) ...
HEAVY = ("pydantic", "alembic", "astropy", "numpy", "scipy", "matplotlib", "gammapy", "erfa", "psycopg", "sqlalchemy.orm")
#: ... but these, which they still import today (shrink this, never grow it).
STILL_IMPORTED = {
    "groups show": {"numpy"},  # obscat.group.grouping imports numpy at the top
}
#: ... and all of them: the schema's tables are declared as ORM models (obscat.store.models).
STILL_IMPORTED_BY_ALL = {"sqlalchemy.orm"}


def _commands(group, path=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


_SAMPLES = {
    str: ["abc", "", "1 TeV", " x ", "é"],
    int: ["5", "-3", "0", "007", "+4", "x", "1.5", "1_000", " 5", "", "99999999999999999999"],
    float: ["1.5", "1e3", ".5", "-2", "2.", "inf", "nan", "x", "1,5", "", "1_0.5", " 1"],
    bool: [True, False],
}


def _samples(annotation):
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [m.value for m in annotation] + [m for m in annotation] + ["TABLE", "bogus", ""]
    if get_origin(annotation) is list:
        items = _samples(get_args(annotation)[0])
        return [tuple(items[:2]), tuple(items), (), (items[0],)]
    return _SAMPLES.get(annotation, [])


def _outcome(runtime, value, param, ctx):
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
        return "ok", repr(result), type(result), [type(v) for v in result] if isinstance(result, list) else None
    except BadParameter as exc:
        return "error", str(exc.message)


def test_plain_conversion_gives_what_typer_gives():
    """Every parameter of every command, on good and bad values (bounds too): the plain
    conversion returns what typer's Pydantic adapters return, or the same error."""
    root = typer.main.get_command(app)
    checked = 0
    for path, command in _commands(root):
        ctx = Context(command, info_name=path[-1])
        for param in command.params:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is None:
                continue
            for value in [None, *_samples(descriptor.annotation)]:
                plain = _outcome(_PlainParam(descriptor), value, param, ctx)
                reference = _outcome(build_runtime_param(descriptor), value, param, ctx)
                assert plain == reference, (path, param.name, value)
                checked += 1
    assert checked > 500


READ_COMMANDS = {
    "stores": ["stores"],
    "select": ["select", "--cone", "83.63 22.01 3", "--format", "ids"],
    "obs show": ["obs", "show", "23523"],
    "groups show": ["groups", "show", "zenith", "-f", "csv"],
    "features show": ["features", "show", "FEATURE_SET"],
    "sql": ["sql", "SELECT count(*) AS n FROM observation"],
}


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory, hess_dir):
    """The HESS store ingested into a SQLite file, with a split and a feature set of 3 runs."""
    from obscat import Catalog

    url = f"sqlite:///{tmp_path_factory.mktemp('startup')}/catalog.db"
    with Catalog(url) as cat:
        cat.ingest(hess_dir, name="hess")
        cat.split("zenith", "zen_pnt_deg")
        table = cat.compute_features("1 TeV", obs_ids=[23523, 23526, 23559], workers=1)
    return url, table.meta["feature_set"]


@pytest.mark.parametrize("name", list(READ_COMMANDS))
def test_read_commands_import_no_heavy_module(small_catalog, name):
    """Each read command, run as a user runs it, imports none of ``HEAVY`` but those it is
    known to import still: any new import of one fails here."""
    url, feature_set = small_catalog
    argv = [a.replace("FEATURE_SET", feature_set) for a in READ_COMMANDS[name]]
    code = ("import runpy, sys, json, atexit\n"
            "atexit.register(lambda: sys.__stderr__.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n'))\n"
            f"sys.argv = ['obscat', '--db', {url!r}, *{argv!r}]\n"
            "runpy.run_module('obscat', run_name='__main__')\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": REPO})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    modules = json.loads(proc.stderr.rsplit("MODULES ", 1)[1])
    heavy = {h for h in HEAVY for m in modules if m == h or m.startswith(h + ".")}
    assert heavy == STILL_IMPORTED.get(name, set()) | STILL_IMPORTED_BY_ALL, f"obscat {' '.join(argv)} imports {sorted(heavy)}"
