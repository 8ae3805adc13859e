"""The four standard migration checks, on SQLite and PostgreSQL, plus revision guards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from conftest import snapshot
from typer.testing import CliRunner

from obscat import Catalog, SchemaVersionError
from obscat.cli.app import app
from obscat.store.engine import create_engine, write_transaction
from obscat.store.models import SCHEMA_REVISION
from obscat.store.schema import alembic_config, model_differences


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    return names


def _alembic(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    with write_transaction(engine) as conn:
        getattr(command, action)(alembic_config(conn), revision)
    engine.dispose()


def test_single_head_is_the_models_revision():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads == [SCHEMA_REVISION]


def test_new_database_is_created_at_head(db_url):
    Catalog(db_url).close()
    assert _tables(db_url) == {"alembic_version", "data_store", "observation", "hdu_file", "hdu",
                               "feature_set", "feature_value", "grouping", "group_member", "file_use", "pointing", "gti_interval", "match_pair",
                               "epoch", "observation_epoch",
                               "annotation_set", "annotation_column", "grouping_annotation"}
    result = CliRunner().invoke(app, ["--db", db_url, "db", "current"])
    assert result.stdout == f"{SCHEMA_REVISION} (head)\n"


def test_models_match_ddl(db_url):
    Catalog(db_url).close()
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = model_differences(conn)
    engine.dispose()
    assert diff == []


def test_upgrade_downgrade_round_trip(db_url):
    _alembic(db_url, "upgrade", "head")
    _alembic(db_url, "downgrade", "base")
    assert _tables(db_url) == {"alembic_version"}
    _alembic(db_url, "upgrade", "head")
    assert "observation" in _tables(db_url)


def test_database_behind_head_is_refused_not_migrated(db_url):
    _alembic(db_url, "upgrade", "head")
    _alembic(db_url, "downgrade", "base")
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0000')"))
    engine.dispose()
    # '0000' is not a revision obscat knows: treated as newer than the code
    with pytest.raises(SchemaVersionError, match=r"revision '0000' is newer than this obscat knows .*upgrade obscat"):
        Catalog(db_url)


def test_behind_head_message(db_url):
    Catalog(db_url).close()
    _alembic(db_url, "downgrade", "0001")
    result = CliRunner().invoke(app, ["--db", db_url, "stores"])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: database schema is at revision 0001, this obscat needs {SCHEMA_REVISION}: "
                             "run `obscat db upgrade`\n")
    assert _tables(db_url) == {"alembic_version", "data_store", "observation", "hdu_file", "hdu"}  # not migrated
    assert CliRunner().invoke(app, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    assert CliRunner().invoke(app, ["--db", db_url, "stores"]).exit_code == 0


def test_db_cli_upgrade_downgrade_history(db_url):
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "db", "upgrade"]).stdout == "database upgraded to head\n"
    assert runner.invoke(app, ["--db", db_url, "db", "downgrade", "base"]).stdout == "database downgraded to base\n"
    assert runner.invoke(app, ["--db", db_url, "db", "current"]).stdout == f"base (empty database) (obscat's head is {SCHEMA_REVISION})\n"
    history = runner.invoke(app, ["db", "history"])
    assert history.exit_code == 0 and "0001" in history.stdout and "initial schema" in history.stdout


def test_downgrade_and_upgrade_keep_a_populated_catalogue(db_url, hess_dir):
    """Dropping the 0004 columns rebuilds `observation` on SQLite: its children must survive."""
    with Catalog(db_url) as cat:
        cat.ingest(hess_dir, name="hess")
        cat.group_by("g", "n_tels")
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "db", "downgrade", "0003"]).exit_code == 0
    engine = create_engine(db_url)
    with engine.connect() as conn:
        counts = [conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in ("observation", "hdu", "group_member")]
        view = conn.execute(sa.text("SELECT count(*) FROM hdu_location")).scalar()
    engine.dispose()
    assert counts == [105, 630, 105] and view == 630
    assert runner.invoke(app, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    with Catalog(db_url) as cat:
        assert cat.stores()[0].n_hdu == 630


def test_downgrade_to_base_and_back_keeps_every_row(db_url, hess_dir, magic_dir):
    """Rows a downgrade drops wait in obscat_archive_* tables; the upgrades put them back, ids included."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from obscat.compute.pointing import compute_pointing
    from obscat.group.points import Median
    from obscat.query import Cone

    cone = Cone(SkyCoord(329.71693826 * u.deg, -30.2255 * u.deg), 2 * u.deg)
    with Catalog(db_url) as cat:
        cat.ingest(hess_dir, name="hess")
        cat.ingest(magic_dir, name="magic")
        compute_pointing(cat.engine, cone)
        cat.cluster("irf", ["edisp-res", "psf-radius"], energy_true="1 TeV", selection=cone, n_groups=2,
                    position=SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg))  # fmt: skip
        cat.split("zenith", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=cone)
        cat.match("pairs", "object('PKS 2155-304')", "object('3C 273') or object('NGC 253')",
                  max_delta={"zenith": "20 deg"})  # fmt: skip
        cat.load_epochs({"epochs": [{"name": "early", "store": "hess", "last_obs_id": 23000}]})
    engine = create_engine(db_url)
    with engine.begin() as conn:  # as a re-ingest that removed members leaves it
        conn.execute(sa.text("UPDATE grouping SET members_removed = 3 WHERE name = 'zenith'"))
    engine.dispose()
    before = snapshot(db_url)
    annotations = {"annotation_set", "annotation_column", "grouping_annotation"}  # empty: see test_annotations.py
    assert all(v for k, v in before.items() if k not in annotations) and len(before) == 18  # alembic_version, 17 tables
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "db", "downgrade", "base"]).exit_code == 0
    current = runner.invoke(app, ["--db", db_url, "db", "current"]).stdout
    assert current.startswith("base (17 archived tables: `obscat db upgrade` restores them)")
    refused = runner.invoke(app, ["--db", db_url, "stores"])
    assert refused.exit_code == 1 and "downgraded to base and keeps its data" in refused.stderr
    assert runner.invoke(app, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    assert snapshot(db_url) == before  # every row of every table, ids and all
    with Catalog(db_url) as cat:  # and new rows get new ids (PostgreSQL sequences moved past the restored ones)
        assert len(cat.group_by("again", "n_tels", selection=cone).labels) == 21
        assert len(cat.select(cone)) == 21


def test_downgrade_below_0005_refuses_observations_without_pointing(db_url, swgo_dir):
    """Revision 0004 cannot hold a NULL pointing or time: the downgrade is refused, nothing changes."""
    with Catalog(db_url) as cat:
        cat.ingest(obs_index=swgo_dir / "obs-index.fits.gz", hdu_index=swgo_dir / "hdu-index.fits.gz", name="swgo")
    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "db", "downgrade", "0004"])
    assert result.exit_code == 1
    assert result.stderr == ("Error: cannot downgrade below 0005: stores 'swgo' have observations without a sky "
                             "pointing or times, which revision 0004 cannot hold; remove them first\n")  # fmt: skip
    assert snapshot(db_url) == before


def test_downgrade_below_0005_keeps_event_type_columns(db_url, hess_dir, tmp_path):
    """EVENT_TYPE, EVENT_CLASS, OBS_BLOCK_ID and IRF_NAME survive a downgrade to 0004 and back."""
    from astropy.table import Table

    obs = Table.read(hess_dir / "obs-index.fits.gz")[:5]
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu = hdu[[i in obs["OBS_ID"] for i in hdu["OBS_ID"]]]
    obs["EVENT_TYPE"] = [0, 1, 2, 0, 1]  # integer codes are stored as their text
    obs["EVENT_CLASS"] = ["std", "std", "loose", "std", "loose"]
    obs["OBS_BLOCK_ID"] = [7, 7, 8, 8, 9]
    obs["IRF_NAME"] = "hess-dr1"
    hdu.meta["BASE_DIR"] = str(hess_dir)
    obs.write(tmp_path / "obs-index.fits.gz")
    hdu.write(tmp_path / "hdu-index.fits.gz")
    with Catalog(db_url) as cat:
        cat.ingest(tmp_path, name="typed")
    before = snapshot(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        typed = conn.execute(sa.text("SELECT event_type, event_class, obs_block_id, irf_name FROM observation "
                                     "ORDER BY obs_id")).all()  # fmt: skip
    engine.dispose()
    assert [tuple(r) for r in typed] == [("0", "std", 7, "hess-dr1"), ("1", "std", 7, "hess-dr1"),
                                         ("2", "loose", 8, "hess-dr1"), ("0", "std", 8, "hess-dr1"),
                                         ("1", "loose", 9, "hess-dr1")]  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "db", "downgrade", "0004"]).exit_code == 0
    assert "obscat_archive_observation_0005" in _tables(db_url)
    assert runner.invoke(app, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    assert snapshot(db_url) == before
