"""The package's folders are layers: each imports only from the ones before it, so data flows
one way (read → store → select → compute → group → Python API → CLI; docs/development.md)."""

from __future__ import annotations

import ast

from conftest import REPO

LAYERS = ["gadf", "store", "query", "compute", "group", "report", "catalog", "cli"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "obscat" and len(parts) > 1 and parts[1] in LAYERS else None


def _imports(path, module: tuple[str, ...]):
    """Every module ``path`` imports (at the top or inside functions), with its line."""
    package = module[:-1]  # a module's package (for __init__.py, module ends in "__init__")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            yield node.lineno, ".".join(filter(None, [base, node.module or ""]))
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)


def test_every_layer_imports_only_from_the_layers_before_it():
    upward = []
    for path in sorted((REPO / "obscat").rglob("*.py")):
        module = path.relative_to(REPO).with_suffix("").parts
        mine = _layer(".".join(module))
        for line, imported in _imports(path, module) if mine else ():
            theirs = _layer(imported)
            if theirs and LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{path.relative_to(REPO)}:{line} ({mine}) imports {imported} ({theirs})")
    assert upward == []
