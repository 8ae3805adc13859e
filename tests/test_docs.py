"""docs/schema.md documents the schema users query: every table and column, with units."""

from pathlib import Path

import pytest

from obscat.store.models import Base

SCHEMA = (Path(__file__).resolve().parent.parent / "docs" / "schema.md").read_text()
SECTIONS = SCHEMA.split("\n## ")[1:]
COLUMNS = [(table.name, column.name) for table in Base.metadata.sorted_tables for column in table.columns]


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=[f"{t}.{c}" for t, c in COLUMNS])
def test_every_schema_column_is_documented_in_its_table_section(table, column):
    section = [s for s in SECTIONS if s.startswith(f"`{table}`") or f"| `{table}` column |" in s]
    assert len(section) == 1, f"docs/schema.md has no section for table {table}"
    assert f"`{column}`" in section[0], f"docs/schema.md does not describe {table}.{column}"


def test_unit_suffixes_are_documented():
    for suffix in ("_deg", "_s", "_tev", "_hz", "_hpa", "_degc", "_m", "_mjd"):
        assert f"`{suffix}`" in SCHEMA
