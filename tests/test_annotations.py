"""Annotation sets on the H.E.S.S. DL3 DR1 store: quality tables written here with astropy from its
real OBS_IDs, ingested, read back, selected on (--where and typed), used by groupings, deleted."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.table import Table
from conftest import snapshot
from typer.testing import CliRunner

from obscat import Catalog, InputError, NotFoundError, ParameterError
from obscat.cli.app import app
from obscat.query import Where, criterion_from_json
from obscat.query.annotations import Annotation
from obscat.store.engine import create_engine

WEATHER = ["A+", "A", "B", "C", "D", "F"]


def hess_ids(hess_dir) -> np.ndarray:
    return np.sort(np.asarray(Table.read(hess_dir / "obs-index.fits.gz")["OBS_ID"], dtype=np.int64))


def quality_table(hess_dir, n: int = 60, seed: int = 7) -> Table:
    """A datacheck table of the first ``n`` H.E.S.S. runs plus one run that is not in the store."""
    rng = np.random.default_rng(seed)
    t = Table()
    t["OBS_ID"] = np.append(hess_ids(hess_dir)[:n], 999_999)
    t["light_yield"] = np.round(rng.uniform(60, 100, n + 1), 3) * u.percent
    t["l3_rate"] = np.round(rng.uniform(100, 300, n + 1), 2) * u.Hz
    t["weather"] = rng.choice(WEATHER, n + 1)
    t["vpm_mask"] = rng.integers(0, 16, n + 1)
    t["comment"] = rng.choice(["ok", "clouds"], n + 1)
    return t


@pytest.fixture
def dq(hess, hess_dir, tmp_path):
    """The catalogue with annotation set 'dq' (version 1) from an ECSV file; its table."""
    table = quality_table(hess_dir)
    table.write(tmp_path / "dq.ecsv")
    hess.annotate(tmp_path / "dq.ecsv", name="dq", key="OBS_ID", categories={"weather": WEATHER}, masks=["vpm_mask"])
    return table[:-1]  # the rows that match an observation


def kept(catalog, selection) -> list[int]:
    return sorted(int(i) for i in catalog.select(selection, columns=["obs_id"])["obs_id"])


def test_ingest_reads_back_with_units_and_kinds(hess, hess_dir, tmp_path):
    table = quality_table(hess_dir)
    table.write(tmp_path / "dq.ecsv")
    report = hess.annotate(tmp_path / "dq.ecsv", name="dq", key="OBS_ID", categories={"weather": WEATHER},
                           masks=["vpm_mask"])  # fmt: skip
    assert report.summary() == (f"annotation set 'dq' version 1: 61 rows of {tmp_path / 'dq.ecsv'}, 60 observations "
                                "of store 'hess' annotated, 5 columns; 1 OBS_ID matches no observation (999999)")  # fmt: skip
    info = hess.annotation_sets()[0]
    assert (info.name, info.version, info.store, info.n_rows, info.n_matched, info.n_unmatched, info.key_column) == (
        "dq", 1, "hess", 61, 60, 1, "OBS_ID")
    assert [(c.name, c.kind, c.unit, c.categories) for c in info.columns] == [
        ("light_yield", "number", "%", None), ("l3_rate", "number", "Hz", None),
        ("weather", "category", None, tuple(WEATHER)), ("vpm_mask", "mask", None, None), ("comment", "text", None, None)]
    import hashlib

    assert info.sha256 == hashlib.sha256((tmp_path / "dq.ecsv").read_bytes()).hexdigest()
    back = hess.annotation_set("dq")
    assert back.colnames == ["store", "obs_id", "light_yield", "l3_rate", "weather", "vpm_mask", "comment"]
    assert back["light_yield"].unit == u.percent and back["l3_rate"].unit == u.Hz
    assert list(back["obs_id"]) == list(table["OBS_ID"][:-1])
    for name in ("light_yield", "l3_rate", "vpm_mask"):
        assert list(back[name]) == list(table[name][:-1])
    assert list(back["weather"]) == list(table["weather"][:-1]) and list(back["comment"]) == list(table["comment"][:-1])
    engine = create_engine(hess.url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM annotation_values_1")).scalar() == 60
    engine.dispose()


def test_csv_with_units_given_and_fits_with_units_read(hess, hess_dir, tmp_path):
    table = quality_table(hess_dir, n=10)
    table["cloudy"] = np.arange(11) % 3 == 0  # True/False in the CSV: a boolean, a number as in FITS
    table.write(tmp_path / "dq.csv")
    table.write(tmp_path / "dq.fits")
    hess.annotate(tmp_path / "dq.csv", name="csv", key="OBS_ID", units={"light_yield": "%", "l3_rate": "Hz"})
    hess.annotate(tmp_path / "dq.fits", name="fits", key="OBS_ID")
    for name in ("csv", "fits"):
        back = hess.annotation_set(name)
        assert back["l3_rate"].unit == u.Hz and list(back["l3_rate"]) == list(table["l3_rate"][:-1])
        assert list(back["weather"]) == list(table["weather"][:-1])  # text (no categories given)
        assert list(back["cloudy"]) == [1.0, 0.0, 0.0] * 3 + [1.0], name
        assert [c.kind for c in next(s for s in hess.annotation_sets() if s.name == name).columns][-1] == "number"
    with pytest.raises(InputError, match=r"dq.fits: column 'l3_rate': the file says its unit is Hz, not kHz"):
        hess.annotate(tmp_path / "dq.fits", name="fits", key="OBS_ID", units={"l3_rate": "kHz"})
    # FITS text is bytes: the errors quote it as text
    first = table["weather"][0]
    with pytest.raises(InputError, match=rf"dq.fits: column 'weather' row 1: '{first}' is not a bit mask \(an integer\)$"):
        hess.annotate(tmp_path / "dq.fits", name="fits", key="OBS_ID", masks=["weather"])
    with pytest.raises(InputError, match=rf"dq.fits: column 'weather' row 1: '{first}' is not an OBS_ID \(an integer\)$"):
        hess.annotate(tmp_path / "dq.fits", name="fits", key="weather")


def test_hdf5_through_pandas(hess, hess_dir, tmp_path):
    pytest.importorskip("pandas")
    pytest.importorskip("tables")
    table = quality_table(hess_dir, n=10)
    table["light_yield"] = table["light_yield"].value  # pandas keeps no unit
    table["l3_rate"] = table["l3_rate"].value
    table.to_pandas().to_hdf(tmp_path / "dq.h5", key="datacheck")
    hess.annotate(tmp_path / "dq.h5", name="h5", key="OBS_ID", units={"l3_rate": "Hz"})
    back = hess.annotation_set("h5")
    assert back["l3_rate"].unit == u.Hz and list(back["light_yield"]) == list(table["light_yield"][:-1])


def test_versions_live_side_by_side_and_the_latest_selects(dq, hess, hess_dir, tmp_path):
    newer = quality_table(hess_dir, seed=8)
    newer.write(tmp_path / "dq2.ecsv")
    hess.annotate(tmp_path / "dq2.ecsv", name="dq", key="OBS_ID", categories={"weather": WEATHER}, masks=["vpm_mask"])
    assert [(s.name, s.version) for s in hess.annotation_sets()] == [("dq", 1), ("dq", 2)]
    assert list(hess.annotation_set("dq", 1)["light_yield"]) == list(dq["light_yield"])
    assert hess.annotation_set("dq").meta["version"] == 2
    expected = sorted(int(i) for i in newer["OBS_ID"][:-1][newer["light_yield"][:-1] > 80 * u.percent])
    assert kept(hess, Where("dq.light_yield > 80")) == expected
    pinned = Annotation("dq", "light_yield", ">", 80, version=1)
    assert kept(hess, pinned) == sorted(int(i) for i in dq["OBS_ID"][dq["light_yield"] > 80 * u.percent])
    with pytest.raises(NotFoundError, match=r"^annotation set 'dq' has no version 3 \(versions: 1, 2\)$"):
        hess.annotation_set("dq", 3)


def test_where_compares_in_units_category_order_lists_and_bits(dq, hess):
    ids = np.asarray(dq["OBS_ID"])
    ly, weather, mask = np.asarray(dq["light_yield"]), np.asarray(dq["weather"]), np.asarray(dq["vpm_mask"])
    rank = np.array([WEATHER.index(w) for w in weather])
    cases = {
        "dq.light_yield > 80": ly > 80,
        "70 <= dq.light_yield < 90": (ly >= 70) & (ly < 90),
        "dq.weather <= 'B'": rank <= 2,
        "dq.weather > 'C'": rank > 3,
        "dq.weather in ('A', 'B')": np.isin(weather, ["A", "B"]),
        "dq.weather not in ('A', 'B')": ~np.isin(weather, ["A", "B"]),
        "(dq.vpm_mask & 4) == 0": (mask & 4) == 0,
        "(dq.vpm_mask & 5) != 0 and dq.comment == 'ok'": ((mask & 5) != 0) & (np.asarray(dq["comment"]) == "ok"),
        "not dq.light_yield > 80": ~(ly > 80),  # observations without a row pass neither
        "not (dq.light_yield > 80 or dq.weather == 'F')": ~((ly > 80) | (weather == "F")),
    }
    for text, wanted in cases.items():
        assert kept(hess, Where(text)) == sorted(ids[wanted].tolist()), text
    # a Quantity converts to the column's unit; a plain number is in it
    assert kept(hess, Annotation("dq", "light_yield", ">", 0.8 * u.one)) == kept(hess, Where("dq.light_yield > 80"))
    assert kept(hess, Annotation("dq", "l3_rate", "<", 0.2 * u.kHz)) == sorted(ids[np.asarray(dq["l3_rate"]) < 200].tolist())
    # OR-ed with a plain column: observations without a row still pass the other side
    either = kept(hess, Where("dq.light_yield > 80 or zen_pnt_deg < 20"))
    zen = hess.select(Where("zen_pnt_deg < 20"), columns=["obs_id"])["obs_id"]
    assert either == sorted(set(ids[ly > 80].tolist()) | {int(i) for i in zen})


def test_annotation_criteria_serialise_and_rerun(dq, hess):
    for criterion in (Annotation("dq", "light_yield", ">", 80 * u.percent), Annotation("dq", "weather", "in", ("A", "B")),
                      Annotation("dq", "vpm_mask", "==", 0, mask=4, version=1), ~Annotation("dq", "comment", "==", "ok"),
                      Where("dq.weather <= 'B' and zen_pnt_deg < 40")):  # fmt: skip
        again = criterion_from_json(criterion.to_json())
        assert again.to_json() == criterion.to_json()
        assert kept(hess, again) == kept(hess, criterion)
    assert Annotation("dq", "light_yield", ">", 80 * u.percent).to_json() == (
        '{"column":"light_yield","mask":null,"op":">","set":"dq","type":"annotation",'
        '"value":{"unit":"%","value":80.0},"version":null}')


@pytest.mark.parametrize(("where", "error", "message"), [
    ("dq.lightyield > 1", InputError, "annotation set 'dq' has no column 'lightyield': did you mean 'light_yield'?"),
    ("qd.light_yield > 1", NotFoundError, "no annotation set named 'qd' (annotation sets: dq)"),
    ("dqq.light_yield > 1", NotFoundError, "no annotation set named 'dqq': did you mean 'dq'?"),
    ("dq.weather <= 'E'", InputError, "'E' is not a category of dq.weather (A+, A, B, C, D, F)"),
    ("(dq.light_yield & 2) == 0", InputError, "bit operations need a mask column: dq.light_yield is a number in %"),
    ("dq.comment > 'a'", InputError, "compare dq.comment (text) with ==, != or in and quoted text"),
    ("dq.light_yield > 'a'", InputError, "compare dq.light_yield (a number in %) with a number, not 'a'"),
    ("dq.weather == 2", InputError, "compare dq.weather (a category: A+, A, B, C, D, F) with a quoted category, not 2.0"),
])  # fmt: skip
def test_where_errors_name_the_set_and_column(dq, hess, where, error, message):
    with pytest.raises(error) as raised:
        hess.select(Where(where))
    assert str(raised.value) == message


def test_where_syntax_errors():
    with pytest.raises(InputError, match=r"malformed --where 'dq.a in 3': 3 is not a list of values: \(1, 2\)"):
        Where("dq.a in 3")
    with pytest.raises(InputError, match=r"malformed --where '\(dq.a & 1.5\) == 0': 1.5 is not a bit mask"):
        Where("(dq.a & 1.5) == 0")
    with pytest.raises(ParameterError, match=r"the selection on annotation set 'dq' must be bound to the catalogue"):
        Annotation("dq", "a", ">", 1).clause()


def test_select_and_group_say_how_many_had_no_row(dq, db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "select", "-f", "ids", "--where", "dq.light_yield > 80"])
    assert result.exit_code == 0
    assert [int(i) for i in result.stdout.split()] == sorted(int(i) for i in dq["OBS_ID"][dq["light_yield"] > 80 * u.percent])
    assert result.stderr == ("Warning: 45 observations without a row in annotation set 'dq' (version 1) failed its "
                             "criteria\n")  # 105 observations, 60 annotated
    warning = result.stderr
    for command in (["group", "split", "zen_pnt_deg", "--name", "z"], ["group", "by", "n_tels", "--name", "t"]):
        grouped = CliRunner().invoke(app, ["--db", db_url, *command, "--where", "dq.light_yield > 80"])
        assert grouped.exit_code == 0 and grouped.stderr.endswith(warning), grouped.output  # the groups say it too
    unknown = CliRunner().invoke(app, ["--db", db_url, "select", "--where", "dq.lightyield > 80"])
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: annotation set 'dq' has no column 'lightyield': did you "
                                                      "mean 'light_yield'?\n")  # fmt: skip


def test_bad_files_are_refused_naming_file_column_row_and_change_nothing(hess, hess_dir, tmp_path, db_url):
    table = quality_table(hess_dir, n=10)
    dup = Table(table, copy=True)
    dup["OBS_ID"][3] = dup["OBS_ID"][2]
    dup.write(tmp_path / "dup.ecsv")
    bad_category = Table(table, copy=True)
    bad_category["weather"][4] = "E"
    bad_category.write(tmp_path / "cat.ecsv")
    text_key = Table(table, copy=True)
    text_key["OBS_ID"] = text_key["OBS_ID"].astype(str)
    text_key["OBS_ID"][5] = "run5"
    text_key.write(tmp_path / "key.ecsv")
    (tmp_path / "broken.csv").write_text("OBS_ID,a\n1,2,3\n")
    first_id = int(table["OBS_ID"][2])
    before = snapshot(db_url)
    for call, message in [
        (lambda: hess.annotate(tmp_path / "dup.ecsv", name="dq", key="OBS_ID"),
         f"{tmp_path / 'dup.ecsv'}: column 'OBS_ID' holds 1 duplicate key, first {first_id} (rows 3, 4): give "
         "`on_duplicate` (first, last, max:COLUMN) or `aggregate`"),
        (lambda: hess.annotate(tmp_path / "cat.ecsv", name="dq", key="OBS_ID", categories={"weather": WEATHER}),
         f"{tmp_path / 'cat.ecsv'}: column 'weather' row 5: 'E' is not one of its categories A+, A, B, C, D, F"),
        (lambda: hess.annotate(tmp_path / "key.ecsv", name="dq", key="OBS_ID"),
         f"{tmp_path / 'key.ecsv'}: column 'OBS_ID' row 6: 'run5' is not an OBS_ID (an integer)"),
        (lambda: hess.annotate(tmp_path / "cat.ecsv", name="dq", key="RUN"),
         f"{tmp_path / 'cat.ecsv'}: no key column 'RUN' (columns: OBS_ID, light_yield, l3_rate, weather, vpm_mask, "
         "comment)"),
        (lambda: hess.annotate(tmp_path / "cat.ecsv", name="dq", key="OBS_ID", masks=["light_yield"]),
         f"{tmp_path / 'cat.ecsv'}: column 'light_yield' row 1: '{table['light_yield'][0]}' is not a bit mask "
         "(an integer)"),
        (lambda: hess.annotate(tmp_path / "cat.ecsv", name="dq", key="OBS_ID", masks=["vpm"]),
         "`masks` names 'vpm': not a column of " + str(tmp_path / "cat.ecsv") + ": did you mean 'vpm_mask'?"),
        (lambda: hess.annotate(tmp_path / "broken.csv", name="dq", key="OBS_ID"),
         f"{tmp_path / 'broken.csv'}: cannot read as ascii.csv: "),
        (lambda: hess.annotate(tmp_path / "none.ecsv", name="dq", key="OBS_ID"), f"{tmp_path / 'none.ecsv'}: no such file"),
        (lambda: hess.annotate(tmp_path / "cat.ecsv", name="dq-1", key="OBS_ID"),
         "`name='dq-1'` must be a Python identifier (letters, digits, _), as --where names it: dq.column"),
    ]:  # fmt: skip
        with pytest.raises(InputError) as raised:
            call()
        assert str(raised.value).startswith(message), str(raised.value)
    assert snapshot(db_url) == before
    result = CliRunner().invoke(app, ["--db", db_url, "annotate", "ingest", str(tmp_path / "dup.ecsv"), "--name", "dq",
                                      "--key", "OBS_ID"])  # fmt: skip
    assert (result.exit_code, result.stderr) == (1, f"Error: {tmp_path / 'dup.ecsv'}: column 'OBS_ID' holds 1 duplicate "
                                                    f"key, first {first_id} (rows 3, 4): give --on-duplicate (first, "
                                                    "last, max:COLUMN) or --aggregate\n")  # fmt: skip
    assert snapshot(db_url) == before


def test_duplicate_rules_and_per_subrun_aggregation(hess, hess_dir, tmp_path):
    ids = hess_ids(hess_dir)[:4]
    subruns = Table()
    subruns["OBS_ID"] = np.repeat(ids, 3)
    subruns["rate"] = np.arange(12.0) * u.Hz
    subruns["good"] = np.tile([True, False, True], 4)
    subruns["weather"] = np.tile(["B", "A", "C"], 4)
    subruns["flags"] = np.tile([0b1101, 0b0110, 0b0111], 4)  # max 13, min 6; any row 15, every row 4
    subruns["flags"][0] = 2**62 + 0b1101  # bits above 2**53 survive
    subruns.write(tmp_path / "subruns.fits")
    for rule, picked in (("first", 0), ("last", 2), ("max:rate", 2)):
        hess.annotate(tmp_path / "subruns.fits", name=f"pick_{rule.replace(':', '_')}", key="OBS_ID", on_duplicate=rule)
        back = hess.annotation_set(f"pick_{rule.replace(':', '_')}")
        assert list(back["rate"]) == [3.0 * i + picked for i in range(4)], rule
    hess.annotate(tmp_path / "subruns.fits", name="per_run", key="OBS_ID", categories={"weather": WEATHER},
                  masks=["flags"], aggregate={"rate": "mean", "good": "frac", "weather": "max",
                                              "flags": "max"})  # fmt: skip
    back = hess.annotation_set("per_run")
    assert list(back["rate"]) == [1.0, 4.0, 7.0, 10.0] and back["rate"].unit == u.Hz
    assert list(back["good"]) == pytest.approx([2 / 3] * 4) and back["good"].unit is None
    assert list(back["weather"]) == ["C"] * 4  # max: the worst category
    assert list(back["flags"]) == [2**62 + 0b1111] + [0b1111] * 3  # max: the bits of any subrun
    assert kept(hess, Where("(per_run.flags & 2) != 0 and (per_run.flags & 4611686018427387904) != 0")) == [ids[0]]
    info = next(s for s in hess.annotation_sets() if s.name == "per_run")
    assert [c.aggregate for c in info.columns] == ["mean", "frac", "max", "max"]
    hess.annotate(tmp_path / "subruns.fits", name="every", key="OBS_ID", masks=["flags"],
                  categories={"weather": WEATHER}, aggregate={"rate": "min", "good": "min", "weather": "min", "flags": "min"})  # fmt: skip
    assert list(hess.annotation_set("every")["flags"]) == [0b0100] * 4  # min: the bits of every subrun
    with pytest.raises(ParameterError, match=r"^`aggregate` gives no aggregation for column 'weather': give one for "
                                             r"every column \(mean, min, max, frac\)$"):  # fmt: skip
        hess.annotate(tmp_path / "subruns.fits", name="x", key="OBS_ID", aggregate={"rate": "mean", "good": "frac"})


def test_groupings_record_the_versions_used_and_deletion_asks(dq, hess, db_url):
    hess.group_by("by_tels", "n_tels", selection=Where("dq.weather <= 'B'"))
    stored = hess.grouping("by_tels")
    assert stored.annotation_sets == (("dq", 1),)
    assert stored.selection.to_json() == Where("dq.weather <= 'B'").to_json()
    shown = CliRunner().invoke(app, ["--db", db_url, "groups", "show", "by_tels", "-f", "csv"])
    assert shown.stderr == "selected with annotation sets 'dq' (version 1)\n"
    before = snapshot(db_url)
    with pytest.raises(InputError) as raised:
        hess.delete_annotation_set("dq")
    assert str(raised.value) == ("annotation set 'dq' is used by groupings 'by_tels' (version 1): delete with "
                                 "`force=True` to delete it anyway (their provenance keeps its name and version)")
    refused = CliRunner().invoke(app, ["--db", db_url, "annotate", "delete", "dq"])
    assert refused.stderr == ("Error: annotation set 'dq' is used by groupings 'by_tels' (version 1): delete with "
                              "--force to delete it anyway (their provenance keeps its name and version)\n")
    assert snapshot(db_url) == before
    deleted = CliRunner().invoke(app, ["--db", db_url, "annotate", "delete", "dq", "--force"])
    assert deleted.stdout == ("deleted annotation set 'dq' (version 1, 60 rows); groupings by_tels keep its name and "
                              "version in their provenance\n")
    assert hess.grouping("by_tels").annotation_sets == (("dq", 1),)
    assert hess.annotation_sets() == []
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert not [t for t in sa.inspect(conn).get_table_names() if t.startswith("annotation_values_")]
    engine.dispose()


def test_removing_a_store_deletes_its_annotation_rows(dq, hess, hess_dir, db_url):
    removal = hess.remove_store("hess")
    assert removal.summary() == ("removed store 'hess' (105 observations); deleted with it: 0 feature values, 0 group "
                                 "memberships, 0 pointing results, 60 annotation rows")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM annotation_values_1")).scalar() == 0
    engine.dispose()
    hess.ingest(hess_dir, name="hess")  # new observations, no annotation: SQLite may reuse the ids
    assert kept(hess, Where("dq.light_yield > 0")) == []


def test_cli_ingest_list_show(hess, hess_dir, tmp_path, db_url):
    table = quality_table(hess_dir, n=3)
    table.write(tmp_path / "dq.csv")
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db_url, "annotate", "ingest", str(tmp_path / "dq.csv"), "--name", "dq",
                                 "--key", "OBS_ID", "--unit", "l3_rate=Hz", "--categories", "weather=" + ",".join(WEATHER),
                                 "--mask", "vpm_mask"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (f"annotation set 'dq' version 1: 4 rows of {tmp_path / 'dq.csv'}, 3 observations of store "
                             "'hess' annotated, 5 columns; 1 OBS_ID matches no observation (999999)\n")  # fmt: skip
    listed = runner.invoke(app, ["--db", db_url, "annotate", "list", "-f", "csv"]).stdout.splitlines()
    assert listed[0] == "name,version,store,n_rows,n_matched,n_unmatched,columns,source_path,ingested_at"
    assert listed[1].startswith(f"dq,1,hess,4,3,1,\"light_yield, l3_rate, weather, vpm_mask, comment\",{tmp_path / 'dq.csv'},")
    columns = runner.invoke(app, ["--db", db_url, "annotate", "show", "dq", "--columns", "-f", "csv"]).stdout
    assert columns == ("column,kind,unit,categories,aggregate\nlight_yield,number,,,\nl3_rate,number,Hz,,\n"
                       "weather,category,,\"A+,A,B,C,D,F\",\nvpm_mask,mask,,,\ncomment,text,,,\n")
    shown = runner.invoke(app, ["--db", db_url, "annotate", "show", "dq", "-f", "csv"]).stdout.splitlines()
    row = table[0]
    assert shown[1] == (f"hess,{row['OBS_ID']},{row['light_yield']},{row['l3_rate']},{row['weather']},"
                        f"{row['vpm_mask']},{row['comment']}")  # fmt: skip
    missing = runner.invoke(app, ["--db", db_url, "annotate", "show", "dqq", "--columns"])
    assert missing.stderr == "Error: no annotation set named 'dqq': did you mean 'dq'?\n"


def test_downgrade_is_refused_while_sets_exist(dq, hess, db_url):
    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "db", "downgrade", "0009"])
    assert (result.exit_code, result.stderr) == (1, "Error: the database holds 1 annotation set, which revision 0009 "
                                                    "cannot keep: delete them first (obscat annotate delete NAME)\n")  # fmt: skip
    assert snapshot(db_url) == before
    hess.delete_annotation_set("dq")
    assert CliRunner().invoke(app, ["--db", db_url, "db", "downgrade", "0009"]).exit_code == 0
    assert CliRunner().invoke(app, ["--db", db_url, "db", "upgrade"]).exit_code == 0


def test_models_match_ddl_with_a_values_table(dq, db_url):
    from obscat.store.schema import model_differences

    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert model_differences(conn) == []
    engine.dispose()
    with Catalog(db_url) as again:  # the schema check is not upset by the extra table
        assert [s.name for s in again.annotation_sets()] == ["dq"]


def test_filters_read_the_index_alone(dq, db_url):
    """A filter on one column reads its index alone, right after the ingest: SQLite's index holds the
    rowid (observation_id); PostgreSQL's holds observation_id and the rows were copied frozen (no
    VACUUM needed before an index-only scan visits no table page)."""
    engine = create_engine(db_url)
    query = "SELECT observation_id FROM annotation_values_1 WHERE c0 > 80"
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))
            assert "USING COVERING INDEX ix_annotation_values_1_c0" in plan, plan
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # 60 rows: the planner would rather scan them
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {query}").scalars())
            assert "Index Only Scan using ix_annotation_values_1_c0" in plan and "Heap Fetches: 0" in plan, plan
    engine.dispose()


def test_check_compares_annotation_files(dq, hess, tmp_path, db_url):
    report = hess.check()
    assert (report.n_annotation_files, report.problems) == (1, [])
    assert report.summary().startswith("checked 105 data files, 1 annotation file and 2 index files of 1 store: 0 missing")
    (tmp_path / "dq.ecsv").write_text((tmp_path / "dq.ecsv").read_text().replace("clouds", "cloudy"))
    result = CliRunner().invoke(app, ["--db", db_url, "check", "-f", "csv"])
    assert result.exit_code == 1
    assert result.stdout == ("store,path,state,detail\n"
                             f"hess,{tmp_path / 'dq.ecsv'},changed,changed since annotation set 'dq' version 1 was "
                             "ingested from it: ingest it again for a new version\n")  # fmt: skip
