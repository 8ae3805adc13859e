"""Ingestion of the real shared data stores and of every GADF layout, on both backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from conftest import snapshot

from obscat import Catalog
from obscat.store.models import Hdu, HduFile, Observation, sky_derived


def _rows(cat: Catalog, sql: str, **params) -> list:
    with cat.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_hess_counts_values_and_units(catalog, hess_dir):
    report = catalog.ingest(hess_dir, name="hess")
    assert (report.status, report.n_obs, report.n_hdu, report.n_files, report.n_missing_files) == (
        "created", 105, 630, 105, 0)
    index = Table.read(hess_dir / "obs-index.fits.gz")
    table = catalog.observations(store="hess")
    assert list(table["obs_id"]) == sorted(index["OBS_ID"])
    index.sort("OBS_ID")
    # float32 values stored exactly as float64
    for gadf, column in [("RA_PNT", "ra_pnt_deg"), ("DEC_PNT", "dec_pnt_deg"), ("ZEN_PNT", "zen_pnt_deg"),
                         ("LIVETIME", "livetime_s"), ("MUONEFF", "muoneff"), ("SAFE_ENERGY_LO", "safe_energy_lo_tev")]:
        np.testing.assert_array_equal(table[column].data, index[gadf].data.astype(float))
    assert table["zen_pnt_deg"].unit == u.deg and table["livetime_s"].unit == u.s
    assert table["safe_energy_lo_tev"].unit == u.TeV
    assert list(table["object"][:1]) == ["MSH15-52"]
    assert list(table["date_obs"][:1]) == ["2004-03-26"]  # GADF v0.2 spelling DATE-OBS
    # absolute times as Gammapy computes them: Time(MJDREFI, MJDREFF, TT) + TSTART
    ref = Time(51910, 0.000742870370370241, format="mjd", scale="tt")
    start = ref + index["TSTART"].quantity
    np.testing.assert_allclose(table["tstart_mjd"], start.tt.mjd, rtol=0, atol=1e-9)
    assert list(table["tstart_utc"]) == list(start.utc.isot)
    # absent GADF columns are NULL, non-standard ones kept with their unit
    assert table["nsblevel"].mask.all()
    extra = json.loads(table["extra"][0])
    assert extra["TARGET_NAME"] == {"value": "MSH 15-52"}
    assert extra["OFFSET_OBJ"]["unit"] == "deg"
    assert extra["OFFSET_OBJ"]["value"] == float(index["OFFSET_OBJ"][0])


def test_hess_store_metadata_and_hdus(catalog, hess_dir):
    catalog.ingest(hess_dir, name="hess")
    (store,) = _rows(catalog, "SELECT * FROM data_store")
    store = store._mapping
    assert store["name"] == "hess" and store["telescope"] is None or store["telescope"] == "HESS"
    assert (store["mjdrefi"], store["mjdreff"], store["timesys"], store["timeunit"]) == (51910, 0.000742870370370241, "TT", "s")
    assert store["geolon_deg"] == pytest.approx(16.5002222222222)  # a string keyword in the file
    assert store["altitude_m"] == 1835.0
    assert store["obs_index_sha256"] != store["hdu_index_sha256"] and len(store["obs_index_sha256"]) == 64
    obs = catalog.observation(23523)
    assert [h.hdu_type for h in obs.hdus] == ["aeff", "bkg", "edisp", "events", "gti", "psf"]
    assert {h.hdu_class for h in obs.hdus} == {"aeff_2d", "bkg_3d", "edisp_2d", "events", "gti", "psf_table"}
    path = Path(obs.hdus[0].path)
    assert path == (hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz").resolve()
    assert obs.hdus[0].file.exists_at_ingest
    view = _rows(catalog, "SELECT store, hdu_type, path FROM hdu_location WHERE obs_id = :o ORDER BY hdu_type", o=23523)
    assert view[0] == ("hess", "aeff", str(path))


def test_magic_minimal_index(catalog, magic_dir):
    report = catalog.ingest(magic_dir, name="magic")
    assert (report.n_obs, report.n_hdu) == (2, 10)
    assert any("time reference taken from EVENTS header" in w for w in report.warnings)
    table = catalog.observations(store="magic")
    assert list(table["obs_id"]) == [5029747, 5029748]
    assert table["zen_pnt_deg"].mask.all() and table["object"].mask.all()
    np.testing.assert_allclose(table["deadc"], [0.991545, 0.9924403], rtol=1e-6)
    header = fits.getheader(magic_dir / "20131004_05029747_DL3_CrabNebula-W0.40+035.fits", "EVENTS")
    start = Time(header["MJDREFI"], header["MJDREFF"], format="mjd", scale="utc") + header["TSTART"] * u.s
    # the obs index stores TSTART as float32: agreement to its 32 s resolution
    assert abs(Time(table["tstart_utc"][0], scale="utc") - start).to_value(u.s) < 32
    obs = catalog.observation(5029747)
    assert sorted(h.hdu_name for h in obs.hdus) == ["EFFECTIVE AREA", "ENERGY DISPERSION", "EVENTS", "GTI", "RAD_MAX"]
    assert "rad_max_2d" in {h.hdu_class for h in obs.hdus}
    (store,) = _rows(catalog, "SELECT telescope, geolat_deg, time_reference_source FROM data_store")
    assert store == ("MAGIC", 28.761944, "EVENTS header of OBS_ID 5029748")


def test_reingest_unchanged_changes_nothing(catalog, hess_dir, db_url):
    catalog.ingest(hess_dir, name="hess")
    before = snapshot(db_url)
    report = catalog.ingest(hess_dir, name="hess")
    assert report.status == "unchanged"
    assert report.summary() == "store 'hess' is unchanged (105 observations): nothing to do"
    assert snapshot(db_url) == before


def _write_index(table: Table, path: Path, header: dict | None = None) -> None:
    hdu = fits.table_to_hdu(table)
    for key, value in (header or {}).items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)


def _hess_copy(hess_dir: Path, tmp_path: Path) -> tuple[Table, Table, Path]:
    """The HESS index tables, rewritten in tmp_path with FILE_DIR pointing back at the data."""
    obs = Table.read(hess_dir / "obs-index.fits.gz")
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu["FILE_DIR"] = [str(hess_dir / "data")] * len(hdu)
    out = tmp_path / "store"
    out.mkdir()
    obs.meta.pop("COMMENT", None)
    hdu.meta.pop("COMMENT", None)
    return obs, hdu, out


def test_changed_index_updates_in_one_transaction(catalog, hess_dir, tmp_path):
    obs, hdu, out = _hess_copy(hess_dir, tmp_path)
    _write_index(obs, out / "obs-index.fits.gz")
    _write_index(hdu, out / "hdu-index.fits.gz")
    catalog.ingest(out, name="s")
    ids_before = dict(_rows(catalog, "SELECT obs_id, id FROM observation"))
    removed = list(obs["OBS_ID"][:5])
    obs = obs[5:]
    obs["MUONEFF"][0] = 0.5
    hdu = hdu[~np.isin(hdu["OBS_ID"], removed)]
    _write_index(obs, out / "obs-index.fits.gz")
    _write_index(hdu, out / "hdu-index.fits.gz")
    report = catalog.ingest(out, name="s")
    assert (report.status, report.n_obs, report.added, report.updated, report.removed) == ("updated", 100, 0, 1, 5)  # only the changed row is written
    ids_after = dict(_rows(catalog, "SELECT obs_id, id FROM observation"))
    assert set(ids_after) == set(ids_before) - set(removed)
    assert all(ids_after[k] == ids_before[k] for k in ids_after)  # kept rows keep their ids
    assert _rows(catalog, "SELECT count(*) FROM hdu")[0][0] == 600
    assert _rows(catalog, "SELECT muoneff FROM observation WHERE obs_id = :o", o=int(obs["OBS_ID"][0]))[0][0] == 0.5
    assert _rows(catalog, "SELECT count(*) FROM hdu_location WHERE obs_id = :o", o=int(removed[0]))[0][0] == 0
    assert _rows(catalog, "SELECT count(*) FROM hdu_file")[0][0] == 100
    if catalog.engine.dialect.name == "sqlite":  # written with per-row checks off: verify them all
        assert _rows(catalog, "PRAGMA foreign_key_check") == []
        assert _rows(catalog, "PRAGMA foreign_keys") == [(1,)]


def test_many_stores_obs_id_unique_per_store(catalog, hess_dir):
    catalog.ingest(hess_dir, name="a")
    catalog.ingest(hess_dir, name="b")
    assert [(s.name, s.n_obs, s.n_hdu) for s in catalog.stores()] == [("a", 105, 630), ("b", 105, 630)]
    assert catalog.observation(23523, store="b").store.name == "b"
    with pytest.raises(Exception, match=r"^OBS_ID 23523 exists in stores a, b: pass `store`$"):
        catalog.observation(23523)
    assert catalog.remove_store("a").n_obs == 105
    assert [s.name for s in catalog.stores()] == ["b"]
    assert _rows(catalog, "SELECT count(*) FROM hdu")[0][0] == 630


def test_layouts_units_and_spellings(catalog, hess_dir, tmp_path):
    """Masked/padded/absolute FILE_DIR, BASE_DIR, plain FITS, converted units, v0.2 names."""
    obs, hdu, out = _hess_copy(hess_dir, tmp_path)
    obs = obs[:10]
    hdu = hdu[np.isin(hdu["OBS_ID"], obs["OBS_ID"])]
    obs["RA_PNT"] = obs["RA_PNT"].quantity.to(u.rad)
    obs["ONTIME"] = obs["ONTIME"].quantity.to(u.h)
    obs["SAFE_ENERGY_LO"] = obs["SAFE_ENERGY_LO"].quantity.to(u.GeV)
    obs["TSTART"] = (obs["TSTART"].quantity).to(u.d)
    hdu["HDU_TYPE"] = ["  " + t + "  " for t in hdu["HDU_TYPE"]]
    hdu["HDU_CLASS"] = [c + "   " for c in hdu["HDU_CLASS"]]
    hdu["FILE_DIR"] = np.ma.masked_array(["" for _ in hdu], mask=True)
    _write_index(obs, out / "obs-index.fits")  # plain FITS, not gzipped
    _write_index(hdu, out / "hdu-index.fits", header={"BASE_DIR": str(hess_dir / "data")})
    catalog.ingest(out, name="converted")
    catalog.ingest(hess_dir, name="hess")
    conv = catalog.observations(store="converted")
    orig = catalog.observations(store="hess")[:10]
    np.testing.assert_allclose(conv["ra_pnt_deg"], orig["ra_pnt_deg"], rtol=1e-6)
    np.testing.assert_allclose(conv["ontime_s"], orig["ontime_s"], rtol=1e-6)
    np.testing.assert_allclose(conv["safe_energy_lo_tev"], orig["safe_energy_lo_tev"], rtol=1e-6)
    np.testing.assert_allclose(conv["tstart_s"], orig["tstart_s"], rtol=1e-12)
    rows = _rows(catalog, "SELECT DISTINCT hdu_type FROM hdu_location WHERE store = 'converted'")
    assert sorted(r[0] for r in rows) == ["aeff", "bkg", "edisp", "events", "gti", "psf"]
    assert _rows(catalog, "SELECT count(*) FROM hdu_file f JOIN data_store s ON s.id = f.store_id "
                          "WHERE s.name = 'converted' AND f.exists_at_ingest")[0][0] == 10


def test_calibration_tree_shared_by_many_observations(catalog, tmp_path):
    from obscat.gadf.synthetic import make_data_store

    index_dir = make_data_store(tmp_path / "caldb-store", 24, layout="caldb", gzip=False)
    report = catalog.ingest(index_dir, name="caldb")
    assert (report.n_obs, report.n_hdu, report.n_missing_files) == (24, 144, 0)
    rows = _rows(catalog, "SELECT path, count(*) FROM hdu_location WHERE hdu_type = 'psf' GROUP BY path")
    assert 1 < len(rows) < 24  # IRF files shared by many observations
    for path, _ in rows:
        assert Path(path).is_file() and "/caldb/" in path and ".." not in path


def test_orm_keeps_sky_columns_consistent(catalog, hess_dir):
    catalog.ingest(hess_dir, name="hess")
    with catalog.session(write=True) as session:
        obs = session.scalars(sa.select(Observation).where(Observation.obs_id == 23523)).one()
        expected = sky_derived(obs.ra_pnt_deg, obs.dec_pnt_deg)
        assert (obs.ux, obs.uy, obs.uz, obs.sky_zone) == pytest.approx(tuple(map(float, expected)))
        obs.dec_pnt_deg = 10.25
    ((uz, zone),) = _rows(catalog, "SELECT uz, sky_zone FROM observation WHERE obs_id = 23523")
    assert uz == pytest.approx(np.sin(np.radians(10.25))) and zone == int((10.25 + 90) / 0.5)


def test_ingest_from_explicit_index_files(catalog, hess_dir):
    report = catalog.ingest(obs_index=hess_dir / "obs-index.fits.gz", hdu_index=hess_dir / "hdu-index.fits.gz")
    assert (report.store, report.n_obs) == ("hess-dl3-dr1", 105)


def test_hdu_and_file_models(catalog, magic_dir):
    catalog.ingest(magic_dir, name="magic")
    with catalog.session() as session:
        files = session.scalars(sa.select(HduFile)).all()
        assert len(files) == 2 and all(f.exists_at_ingest for f in files)
        hdus = session.scalars(sa.select(Hdu).where(Hdu.hdu_type == "rad_max")).all()
        assert {h.observation.obs_id for h in hdus} == {5029747, 5029748}


def test_catalog_copes_with_gammapy_data_env(tmp_path, hess_dir, monkeypatch):
    monkeypatch.setenv("GAMMAPY_DATA", str(hess_dir.parent))
    shutil.copy  # noqa: B018 - nothing copied: the env var is expanded in place
    cat = Catalog(f"sqlite:///{tmp_path / 'c.db'}")
    assert cat.ingest("$GAMMAPY_DATA/hess-dl3-dr1", name="h").n_obs == 105


def test_large_ingest_defers_and_restores_indexes(catalog, db_url, tmp_path):
    """Past 10,000 new rows indexes (and PostgreSQL foreign keys) are rebuilt after the
    insert: the schema must come out exactly as the migrations made it."""
    from obscat.gadf.synthetic import make_data_store
    from obscat.store.schema import model_differences

    store = make_data_store(tmp_path / "big", 12_000, n_files=3)
    report = catalog.ingest(store, name="big")
    assert (report.n_obs, report.n_hdu, report.n_files) == (12_000, 72_000, 3)
    with catalog.engine.connect() as conn:
        assert model_differences(conn) == []
        inspector = sa.inspect(conn)
        assert {ix["name"] for ix in inspector.get_indexes("hdu")} == {"ix_hdu_observation_id", "ix_hdu_file_id"}
        assert len(inspector.get_foreign_keys("hdu")) == 2
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        orphans = conn.execute(sa.text(
            "SELECT count(*) FROM hdu h LEFT JOIN observation o ON o.id = h.observation_id WHERE o.id IS NULL"
        )).scalar_one()
        assert orphans == 0
    # a second, small store goes through the ordinary (indexed) path
    assert catalog.ingest(make_data_store(tmp_path / "small", 5), name="small").n_hdu == 30
    assert catalog.remove_store("big").n_obs == 12_000
    assert _rows(catalog, "SELECT count(*) FROM hdu")[0][0] == 30
