"""Shared fixtures: both database backends, the real shared data stores, DB snapshots.

* Every test that takes ``db_url`` runs twice: on a fresh SQLite file and on a
  fresh PostgreSQL schema (in a database created for this test session).
* The real data is found through ``OBSCAT_TEST_DATA`` (default ``../shared/data``
  beside the checkout).
* Under ``CI=true`` a missing data set or an unreachable PostgreSQL fails the
  run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("OBSCAT_TEST_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("OBSCAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str):
    """Skip locally, fail under CI: CI must never pass by skipping."""
    if CI:
        pytest.fail(f"{reason} (CI=true: required)", pytrace=False)
    pytest.skip(reason)


def _data_dir(*parts: str) -> Path:
    """A dataset's real directory: obscat stores real paths, and the shared data may be a
    symlink, a copy, or a folder of symlinks to each dataset."""
    path = DATA.joinpath(*parts)
    if not (path / "obs-index.fits.gz").exists():
        unavailable(f"shared data not found at {path} (set OBSCAT_TEST_DATA)")
    return path.resolve()


@pytest.fixture(scope="session")
def hess_dir() -> Path:
    """H.E.S.S. DL3 DR1 (HESS DL3 DR1, H.E.S.S. collaboration, 2018)."""
    return _data_dir("hess-dl3-dr1")


@pytest.fixture(scope="session")
def magic_dir() -> Path:
    """MAGIC point-like data with RAD_MAX (two Crab runs)."""
    return _data_dir("magic", "rad_max", "data")


@pytest.fixture(scope="session")
def swgo_dir() -> Path:
    """SWGO-format test layouts: three index variants, map IRFs, file names with spaces."""
    return _data_dir("swgo-format")


@pytest.fixture(scope="session")
def pg_database():
    """A PostgreSQL database created for this test session, dropped at its end."""
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"obscat_test_{uuid.uuid4().hex[:12]}"
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL unreachable at {PG_URL}: {str(exc.orig).splitlines()[0]}")
    url = sa.make_url(PG_URL).set(database=name)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A URL to an empty catalogue: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    base = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with engine.begin() as conn:
        # a connection the test left open (a leak) holds locks: fail the test's teardown, never hang the run
        conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def catalog(db_url):
    from obscat import Catalog

    cat = Catalog(db_url)
    yield cat
    cat.close()


@pytest.fixture
def hess(catalog, hess_dir):
    """The catalogue with H.E.S.S. DL3 DR1 ingested as store "hess"."""
    catalog.ingest(hess_dir, name="hess")
    return catalog


#: The Gammapy tutorial's selection: 2 deg around PKS 2155-304 (21 observations).
TUTORIAL_CONE = (329.71693826, -30.2255, 2.0)


def sky_cone(ra_deg: float, dec_deg: float, radius_deg: float):
    """A typed :class:`~obscat.query.Cone` from degrees (ICRS)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from obscat.query import Cone

    return Cone(SkyCoord(ra_deg * u.deg, dec_deg * u.deg), radius_deg * u.deg)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (sorted), to prove a failed command changed nothing."""
    from obscat.store.engine import create_engine

    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted(tuple(map(repr, row)) for row in rows)
    engine.dispose()
    return out
