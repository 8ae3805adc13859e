"""The README documents the schema users query: every table and column, with units."""

from pathlib import Path

import pytest

from obscat.store.models import Base

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
COLUMNS = [(table.name, column.name) for table in Base.metadata.sorted_tables for column in table.columns]


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=[f"{t}.{c}" for t, c in COLUMNS])
def test_every_schema_column_is_documented(table, column):
    assert f"### `{table}`" in README or f"`{table}` column" in README
    assert f"`{column}`" in README


def test_unit_suffixes_are_documented():
    for suffix in ("_deg", "_s", "_tev", "_hz", "_hpa", "_degc", "_m", "_mjd"):
        assert f"`{suffix}`" in README
