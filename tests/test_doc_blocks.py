"""Every code block of README.md and docs/*.md runs against the shared data and shows what it prints.

The convention (also in docs/index.md, "How the examples are tested"):

* ```console blocks: lines starting with `$ ` are commands, the lines after each one its expected
  output (stdout and stderr as a terminal shows them).
* ```bash blocks: every command must exit 0 (comments and output are not checked).
* ```python blocks: run in order, one namespace per file. A ```text block right after one is what
  it prints.
* ```sql blocks: each statement runs through `obscat sql` on the catalogue the README's tutorial
  builds (HESS DL3 DR1 as store `hess`, groupings `zenith` and `irf`, feature set `fs-f1b85fe2`), on
  SQLite and PostgreSQL. A ```text block right after one is the table the last statement prints;
  without one, each statement must return at least one row.
* ```toml blocks are excerpts of pyproject.toml and must appear in it verbatim.
* Expected output is compared line by line after stripping trailing blanks. `...` in a line stands
  for any text within that line; a line that is only `...` for any number of lines (none included).
  Durations (`0.07 s`), the data directory (`$GAMMAPY_DATA`) and table rules and padding (which
  follow the data path's length) are normalised before comparing.
* `<!-- doc-test: skip REASON -->` on the line before a block opts it out (listed in OPTED_OUT
  below, so adding one is a visible change). `<!-- doc-test: needs obscat.Catalog.datastore ... -->`
  runs the block only once that API exists; until then it and the later Python blocks of its file
  wait, the file's other blocks still run, and the test reports a skip naming them.

Each file's blocks run once, in order, in a fresh directory with `GAMMAPY_DATA` set to the shared data
directory and `OBSCAT_DB_URL=sqlite:///obscat.db` there. `obscat ...` commands run in process (typer's
CliRunner) to keep the whole file under a minute; other commands run in bash.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import shlex
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import DATA, REPO, unavailable
from typer.testing import CliRunner

from obscat.cli.app import app

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
GENERATED = {"docs/cli.md"}  # every block is a --help page, checked by tests/test_help.py
RUNNABLE = {"console", "bash", "python", "sql", "toml"}

#: Blocks that cannot run here, as (file, first line of the block). Keep it short.
OPTED_OUT = {
    ("README.md", 'python3 -m pip install -e ".[plot]" && obscat demo'),
    ("README.md", 'python3 -m pip install -e ".[test]" && python3 -m pytest -n 2'),
    ("docs/executors.md", "from dask_jobqueue import SLURMCluster"),
    ("docs/shards.md", "#!/bin/bash"),
    ("docs/obscore.md", 'export OBSCAT_DB_URL="postgresql:///gavo?options=-csearch_path%3Dobscat"'),
    ("docs/packaging.md", "alembic.ini                      # for the `alembic` command only; obscat never reads it"),
    ("docs/packaging.md", "rm -f /tmp/gen.db"),
    ("docs/packaging.md", "from migration_archive import archive, restore"),
    ("docs/packaging.md", "python3 -m build && python3 -m venv /tmp/obscat-venv && /tmp/obscat-venv/bin/pip install "
                          '"$(ls dist/obscat-*.whl)[postgres,plot]" && cd /tmp && /tmp/obscat-venv/bin/obscat '
                          "--version && /tmp/obscat-venv/bin/obscat demo"),
}  # fmt: skip

MARKER = re.compile(r"<!--\s*doc-test:\s*(skip|needs)\s+(.*?)\s*-->")


@dataclass
class Block:
    file: str
    line: int
    lang: str
    text: str
    skip: str | None = None
    needs: list[str] = field(default_factory=list)
    output: str | None = None  # the ```text block right after it

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file; a ```text block right after another is its output."""
    lines = path.read_text().splitlines()
    name = str(path.relative_to(REPO))
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        indent, lang, start = len(fence.group(1)), fence.group(2), i
        i += 1
        body = []
        while not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:])
            i += 1
        i += 1
        prev = next((line for line in reversed(lines[:start]) if line.strip()), "")
        block = Block(name, start + 1, lang, "\n".join(body))
        if marker := MARKER.search(prev):
            if marker.group(1) == "skip":
                block.skip = marker.group(2)
            else:
                block.needs = marker.group(2).split()
        between = "\n".join(lines[found[-1].line : start]).split("```")[-1] if found else ""
        if lang == "text" and found and found[-1].lang in ("python", "sql") and not between.strip():
            found[-1].output = block.text
            continue
        found.append(block)
    return found


def missing_api(names: list[str]) -> list[str]:
    """The dotted names (`obscat.Catalog.datastore`) that do not exist yet."""
    missing = []
    for name in names:
        module, _, attr = name.partition(".")
        obj = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            if not hasattr(obj, part):
                if isinstance(obj, type(os)):
                    with contextlib.suppress(ImportError):
                        obj = importlib.import_module(f"{obj.__name__}.{part}")
                        continue
                missing.append(name)
                break
            obj = getattr(obj, part)
    return missing


def _data_spellings() -> list[tuple[str, str]]:
    """Every spelling of the shared data directory and its datasets, longest first: each dataset
    may itself be a symlink elsewhere (a "copy" of ../shared/data made of links), and obscat stores
    real paths."""
    pairs = [(str(DATA.resolve()), "$GAMMAPY_DATA"), (str(DATA), "$GAMMAPY_DATA")]
    if DATA.is_dir():
        pairs += [(os.path.realpath(child), f"$GAMMAPY_DATA/{child.name}") for child in DATA.iterdir()]
    return sorted(set(pairs), key=lambda pair: -len(pair[0]))


DATA_SPELLINGS = _data_spellings()


def normalised(text: str) -> list[str]:
    for spelling, placeholder in DATA_SPELLINGS:
        text = text.replace(spelling, placeholder)
    text = re.sub(r"\b\d+\.\d+ s\b", "N s", text)
    # a table's rule and column padding follow its widest cell, which holds the data path
    text = re.sub("─+", "─", re.sub(r"(?<=\S) {2,}(?=\S)", "  ", text))
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def matches(expected: str, actual: str) -> bool:
    """`...` in a line: any text; a line of only `...`: any lines."""
    parts = []
    for line in normalised(expected):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(map(re.escape, line.split("..."))) + r"\n")
    return re.fullmatch("".join(parts), "\n".join(normalised(actual)) + "\n", re.DOTALL) is not None


def commands(text: str) -> list[str]:
    """The logical lines of a shell snippet: continuations joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


class Shell:
    """Runs a file's commands in one directory: `obscat ...` in process, anything else in bash."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env, self.vars = cwd, env, {}

    def run(self, command: str) -> tuple[int, str]:
        if assignment := re.fullmatch(r"([A-Za-z_]\w*)=(\S+)", command):
            self.vars[assignment.group(1)] = self._expand(assignment.group(2))
            return 0, ""
        words = shlex.split(self._expand(command)) if not re.search(r"[|&;<>`]|\$\(", command) else []
        if words[:1] == ["obscat"]:
            result = CliRunner().invoke(app, words[1:], env=self.env, prog_name="obscat")
            assert result.exit_code in (0, 1, 2), f"`{command}` crashed:\n{result.output}"
            return result.exit_code, result.output
        done = subprocess.run(["bash", "-c", command], cwd=self.cwd, capture_output=True, text=True,
                              env={**os.environ, **self.env, **self.vars}, timeout=120)  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    def _expand(self, text: str) -> str:
        values = {**self.env, **self.vars}
        return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), text)


def run_console(shell: Shell, block: Block) -> None:
    steps = re.split(r"^\$ ", block.text, flags=re.MULTILINE)
    assert not steps[0].strip(), f"{block.where}: a console block starts with `$ `"
    for step in steps[1:]:
        command, _, expected = step.partition("\n")
        command = commands(command)[0]
        _, output = shell.run(command)
        assert matches(expected, output), f"{block.where}: `{command}` printed:\n{output}\nexpected:\n{expected}"


def run_bash(shell: Shell, block: Block) -> None:
    for command in commands(block.text):
        code, output = shell.run(command)
        assert code == 0, f"{block.where}: `{command}` exited {code}:\n{output}"


def run_python(namespace: dict, block: Block) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102 - the documentation's own code
    if block.output is not None:
        assert matches(block.output, printed.getvalue()), f"{block.where} printed:\n{printed.getvalue()}"


def runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.skip is None and str(path.relative_to(REPO)) not in GENERATED]


RUN_HERE = ("console", "bash", "python", "toml")


@pytest.mark.parametrize("path", [p for p in DOCS if any(b.lang in RUN_HERE for b in runnable(p))],
                         ids=lambda p: str(p.relative_to(REPO)))  # fmt: skip
def test_doc_file(path, tmp_path, monkeypatch):
    todo = [b for b in runnable(path) if b.lang in RUN_HERE]
    env = {"GAMMAPY_DATA": str(DATA), "OBSCAT_DB_URL": "sqlite:///obscat.db", "COLUMNS": "200", "MPLBACKEND": "Agg"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    shell, namespace = Shell(tmp_path, env), {"__name__": "__doc__"}
    pyproject = (REPO / "pyproject.toml").read_text()
    pending: list[str] = []  # blocks waiting for API, and the Python blocks after them (one namespace)
    for block in todo:
        if missing := missing_api(block.needs):
            pending.append(f"{block.where} (needs {', '.join(missing)})")
            continue
        if pending and block.lang == "python":
            pending.append(f"{block.where} (after a pending block)")
            continue
        if block.lang == "console":
            run_console(shell, block)
        elif block.lang == "bash":
            run_bash(shell, block)
        elif block.lang == "python":
            run_python(namespace, block)
        else:
            assert block.text in pyproject, f"{block.where}: not an excerpt of pyproject.toml"
    if pending:
        pytest.skip("every other block passed; waiting for API not in this tree: " + "; ".join(pending))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tutorial_db(request, tmp_path_factory):
    """The catalogue the README's tutorial builds, on each backend."""
    if not (DATA / "hess-dl3-dr1" / "obs-index.fits.gz").exists():
        unavailable(f"shared data not found at {DATA}")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'obscat.db'}"
    else:
        base = request.getfixturevalue("pg_database")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        _pg(base, f'CREATE SCHEMA "{schema}"')
        url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    cone = ["--cone", "329.71693826 -30.2255 2"]
    position = ["-e", "1 TeV", "--position", "329.71693826 -30.2255890"]
    for args in (
        ["ingest", str(DATA / "hess-dl3-dr1"), "--name", "hess"],
        ["pointing", *cone],
        ["group", "split", "zen_tmid_deg", "--at", "median:zen_pnt_deg", *cone, "--name", "zenith"],
        ["group", "cluster", "--name", "irf", "-F", "edisp-res", "-F", "psf-radius", "-k", "2", *position, *cone],
    ):
        result = CliRunner().invoke(app, ["--db", url, *args])
        assert result.exit_code == 0, result.output
    yield url
    if schema:
        _pg(base, f'DROP SCHEMA "{schema}" CASCADE')


def _pg(url, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


SQL_BLOCKS = [b for path in DOCS for b in runnable(path) if b.lang == "sql"]


def test_sql_blocks(tutorial_db):
    assert SQL_BLOCKS, "the docs show SQL"
    for block in SQL_BLOCKS:
        statements = [s.strip() for s in block.text.split(";\n") if s.strip()]
        for i, statement in enumerate(statements):
            args = ["--db", tutorial_db, "sql", statement.rstrip(";"), "--format", "table"]
            result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
            assert result.exit_code == 0, f"{block.where}: {result.output}"
            if block.output is not None and i == len(statements) - 1:
                assert matches(block.output, result.output), f"{block.where} printed:\n{result.output}"
            else:
                assert "(no rows)" not in result.output, f"{block.where}: no rows from\n{statement}"


def test_every_block_runs_or_is_listed_as_opted_out():
    opted_out, unknown = set(), []
    for path in DOCS:
        for block in blocks(path):
            if block.file in GENERATED:
                continue
            if block.skip is not None:
                opted_out.add((block.file, block.text.splitlines()[0]))
            elif block.lang not in RUNNABLE:
                unknown.append(f"{block.where}: ```{block.lang}")
    assert not unknown, "blocks that neither run nor opt out:\n" + "\n".join(unknown)
    assert opted_out == OPTED_OUT


def test_no_issue_numbers():
    for path in DOCS:
        text = path.read_text()
        assert not re.search(r"(?<![\w&])#\d", text), f"{path.name} refers to an issue number"
        assert "issue" not in text.lower(), f"{path.name} mentions issues"


def test_readme_shows_the_python_tutorial_verbatim():
    tutorial = (REPO / "docs" / "examples" / "tutorial.py").read_text().rstrip("\n")
    assert f"```python\n{tutorial}\n```" in (REPO / "README.md").read_text()


def test_the_readme_tutorial_table_commands_are_the_ones_tested():
    readme = (REPO / "README.md").read_text()
    table = readme.split("| Gammapy 2.1 | obscat |")[1].split("\n\n")[0]
    consoles = [b.text for b in blocks(REPO / "README.md") if b.lang == "console"]
    tested = {command for text in consoles for command in re.findall(r"^\$ (.*)$", text, re.M)}
    for command in re.findall(r"\| `(obscat [^`]*)` \|$", table, re.M):
        assert command in tested, command


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.*)$", path.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_links_between_the_docs_resolve():
    broken = []
    for path in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"https?://", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            if not linked.exists() or (anchor and anchor not in _anchors(linked)):
                broken.append(f"{path.relative_to(REPO)}: {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_pages_using_hess_data_carry_its_attribution():
    attribution = ("This work made use of data from the H.E.S.S. DL3 public test data release 1 "
                   "(HESS DL3 DR1, H.E.S.S. collaboration, 2018).")  # fmt: skip
    for path in DOCS:
        text = path.read_text()
        unwrapped = re.sub(r"-\n\s*", "-", text)  # --help pages wrap "hess-runmatch" after its hyphen
        if re.search(r"\bhess\b(?!-runmatch)", unwrapped, re.I):  # the preset's name is not the data
            assert attribution in " ".join(text.split()), f"{path.name} uses HESS data without its attribution"


def test_ci_runs_the_readme_test_command():
    command = 'python3 -m pip install -e ".[test]" && python3 -m pytest -n 2'
    assert f"```bash\n{command}\n```" in (REPO / "README.md").read_text()
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith(command)
