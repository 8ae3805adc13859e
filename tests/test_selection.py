"""Typed selections on HESS DL3 DR1, against Gammapy's select_observations semantics computed
with astropy on the same obs-index columns, on both backends."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.time import Time
from conftest import snapshot

from obscat import InputError
from obscat.errors import NotFoundError, ParameterError
from obscat.query import And, Cone, Ids, ObjectName, Or, Store, TimeRange, ValueRange, parse_where


@pytest.fixture
def hess(catalog, hess_dir):
    catalog.ingest(hess_dir, name="hess")
    catalog.ingest(hess_dir, name="copy")  # a second store: selections must not mix them up
    return catalog


@pytest.fixture(scope="module")
def index(hess_dir) -> Table:
    return Table.read(hess_dir / "obs-index.fits.gz")


def ids(catalog, criterion) -> list[int]:
    return [obs_id for obs_id in catalog.select(criterion, store="hess")["obs_id"]]


def expected_cone(index: Table, center: SkyCoord, radius: float) -> list[int]:
    pointing = SkyCoord(index["RA_PNT"], index["DEC_PNT"], frame="icrs")
    return sorted(index["OBS_ID"][center.separation(pointing) < radius * u.deg])


@pytest.mark.parametrize(
    ("lon", "lat", "radius", "frame"),
    [
        (329.71693826, -30.2255, 2.0, "icrs"),  # the tutorial cone: 21 runs
        (83.633, 22.0145, 3.0, "icrs"),  # Crab
        (228.6125, -59.1, 1.0, "icrs"),  # MSH 15-52
        (0.0, 0.0, 180.0, "icrs"),  # the whole sky
        (359.5, -30.0, 31.0, "icrs"),  # across RA = 0
        (329.7, -30.2, 0.5001, "icrs"),  # the wobble ring's edge
        (184.557, -5.784, 2.5, "galactic"),  # Crab in galactic coordinates
        (10.0, -89.0, 5.0, "icrs"),  # the pole
    ],
)
def test_cone_matches_astropy_separation(hess, index, lon, lat, radius, frame):
    center = SkyCoord(lon, lat, unit="deg", frame=frame)
    assert ids(hess, Cone(center, radius * u.deg)) == expected_cone(index, center, radius)


def test_the_tutorial_cone_and_gammapy_dicts(hess):
    tutorial = dict(type="sky_circle", frame="icrs", lon="329.71693826 deg", lat="-30.2255 deg", radius="2 deg")
    selected = ids(hess, tutorial)
    assert len(selected) == 21 and selected[0] == 33787
    inverted = ids(hess, {**tutorial, "inverted": True})
    assert len(inverted) == 105 - 21 and not set(inverted) & set(selected)


def test_value_ranges_half_open_equality_and_units(hess, index):
    zen = index["ZEN_PNT"]
    assert ids(hess, ValueRange("zen_pnt_deg", 20 * u.deg, 40 * u.deg)) == sorted(index["OBS_ID"][(zen >= 20) & (zen < 40)])
    assert ids(hess, ValueRange("zen_pnt_deg", 0.349 * u.rad, 40 * u.deg)) == sorted(
        index["OBS_ID"][(zen >= np.degrees(0.349)) & (zen < 40)])  # fmt: skip
    assert ids(hess, ValueRange("n_tels", 3, 3)) == sorted(index["OBS_ID"][index["N_TELS"] == 3])
    gammapy = dict(type="par_box", variable="N_TELS", value_range=[4, 4])
    assert ids(hess, gammapy) == sorted(index["OBS_ID"][index["N_TELS"] == 4])
    with pytest.raises(ParameterError, match=r"^`lo` must be in deg \(the unit of zen_pnt_deg\), not 1.0 m$"):
        ValueRange("zen_pnt_deg", 1 * u.m, 2 * u.m)


def test_time_ranges(hess, index):
    ref = Time(51910, 0.000742870370370241, format="mjd", scale="tt")
    start, stop = ref + index["TSTART"].quantity, ref + index["TSTOP"].quantity
    t0, t1 = Time("2004-12-04"), Time("2005-01-01")
    inside = (start >= t0) & (stop <= t1)
    assert ids(hess, TimeRange(t0, t1)) == sorted(index["OBS_ID"][inside])
    overlap = (start <= t1) & (stop >= t0)
    assert ids(hess, TimeRange(t0, t1, partial_overlap=True)) == sorted(
        index["OBS_ID"][overlap])  # fmt: skip
    gammapy = dict(type="time_box", time_range=Time([t0, t1]))
    assert ids(hess, gammapy) == sorted(index["OBS_ID"][inside])


def test_combinations_identity_and_patterns(hess, index):
    crab = ObjectName("crab*")
    assert ids(hess, crab) == sorted(index["OBS_ID"][[o.lower().startswith("crab") for o in index["OBJECT"]]])
    either = Or((Ids((23523, 20136)), ValueRange("zen_pnt_deg", 0 * u.deg, 10 * u.deg)))
    assert set(ids(hess, either)) == {23523, 20136} | set(index["OBS_ID"][index["ZEN_PNT"] < 10])
    assert ids(hess, And((crab, Ids((23523, 20136))))) == [23523]
    assert len(hess.select(Store("copy"))) == 105
    with pytest.raises(NotFoundError, match=r"^no store \"x' OR 1=1 --\" \(stores: copy, hess\)$"):
        hess.select(Store("x' OR 1=1 --"))  # a bound value, not SQL: it names no store
    assert len(hess.select(ObjectName("%"))) == 0  # a LIKE wildcard in the pattern is a literal


def test_where_language(hess, index):
    expected = sorted(index["OBS_ID"][(index["ZEN_PNT"] < 30) & (index["MUONEFF"] >= 0.9)])
    assert ids(hess, parse_where("zen_pnt_deg < 30 and muoneff >= 0.9")) == expected
    assert ids(hess, parse_where("30 > zen_pnt_deg and not muoneff < 0.9")) == expected
    assert ids(hess, parse_where("20 <= zen_pnt_deg < 40 or n_tels == 3")) == sorted(
        index["OBS_ID"][((index["ZEN_PNT"] >= 20) & (index["ZEN_PNT"] < 40)) | (index["N_TELS"] == 3)])  # fmt: skip


def test_where_functions_or_any_criteria(hess, index):
    """cone(), time(), object(), store() inside --where: selections OR-ed, each as its own criterion."""
    pks = Cone(SkyCoord(329.71693826 * u.deg, -30.2255 * u.deg), 2 * u.deg)
    crab = Cone(SkyCoord(83.63 * u.deg, 22.01 * u.deg), 1.5 * u.deg)
    either = ids(hess, parse_where("cone(329.71693826, -30.2255, 2) or cone(83.63, 22.01, 1.5)"))
    assert either == sorted(ids(hess, pks) + ids(hess, crab)) and len(either) > 21
    galactic = ids(hess, parse_where("cone(320.33, -1.19, 2, 'galactic') or object('crab*')"))
    gc, crab_named = ids(hess, Cone(SkyCoord(320.33 * u.deg, -1.19 * u.deg, frame="galactic"), 2 * u.deg)), ids(hess, ObjectName("crab*"))
    assert gc and crab_named and galactic == sorted(set(gc) | set(crab_named))
    window = "time('2004-12-01', 53400.5) and store('hess') and zen_pnt_deg < 50"
    assert len(ids(hess, parse_where(window))) == 8
    assert ids(hess, parse_where(window)) == ids(hess, And((TimeRange(Time("2004-12-01"), Time(53400.5, format="mjd")), Store("hess"),
                                                           parse_where("zen_pnt_deg < 50"))))  # fmt: skip
    with pytest.raises(NotFoundError, match=r"^no store 'x OR 1=1 --' \(stores: copy, hess\)$"):
        hess.select(parse_where("store('x'' OR 1=1 --')"))  # a string is a bound value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zen_pnt_deg <", "malformed --where 'zen_pnt_deg <': invalid syntax"),
        ("zen < 30", "unknown column 'zen' in --where"),
        ("zen_pnt_deg < '30'", "malformed --where \"zen_pnt_deg < '30'\": '30' is not a finite number"),
        ("zen_pnt_deg < 30; DROP TABLE observation", "malformed --where 'zen_pnt_deg < 30; DROP TABLE observation'"),
        ("__import__('os').system('x') < 1", "is not a column"),
        ("zen_pnt_deg < 1e999", "1e999 is not a finite number"),
        ("zen_pnt_deg in (1, 2)", "operator In is not allowed"),
        ("__import__('os')", "__import__('os') is not allowed (functions: cone(), time(), object(), store())"),
        ("cone(1, 2)", "cone() takes 3 or 4 arguments"),
        ("cone(1, 2, 3, 'fk5')", "unknown frame 'fk5' (icrs or galactic)"),
        ("object(1)", "1 is not a quoted string"),
        ("cone(lon=1, lat=2, radius=3)", "is not allowed"),
        ("time('yesterday', 2)", "bad time 'yesterday'"),
        # nested beyond any use: a parse error, never RecursionError/MemoryError from Python or SQL
        ("not " * 101 + "obs_id < 3", ": nested more than 100 levels deep"),
        ("not " * 2400 + "obs_id < 3", ": nested more than 100 levels deep"),
        ("-" * 9000 + "3 < obs_id", ": nested more than 100 levels deep"),
        ("(" * 300 + "obs_id < 3" + ")" * 300, ": too many nested parentheses"),
    ],
    ids=lambda value: value if len(value) < 60 else f"{value[:20]}...({len(value)} characters)",
)
def test_where_rejects_everything_else(text, message):
    with pytest.raises(InputError) as error:
        parse_where(text)
    assert message in str(error.value)


def test_select_cli_formats_and_errors(hess, db_url):
    from typer.testing import CliRunner

    from obscat.cli.app import app

    runner = CliRunner()
    out = runner.invoke(app, ["--db", db_url, "select", "--store", "hess", "--cone", "329.71693826 -30.2255 2",
                              "-f", "ids"])  # fmt: skip
    assert out.exit_code == 0 and len(out.stdout.split()) == 21 and out.stdout.split()[0] == "33787"
    out = runner.invoke(app, ["--db", db_url, "select", "--store", "hess", "--cone", "329.71693826 -30.2255 2",
                              "--invert", "cone", "--range", "zen_pnt_deg 0.3rad 40deg", "-f", "csv"])  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert rows and all(0.3 * 180 / np.pi <= float(r["zen_pnt_deg"]) < 40 for r in rows)
    assert not {int(r["obs_id"]) for r in rows} & set(ids(hess, Cone(SkyCoord(329.71693826 * u.deg, -30.2255 * u.deg), 2 * u.deg)))
    for args, message in [
        (["--cone", "1 2"], "--cone takes 3 numbers, got '1 2'"),
        (["--time-start", "2004-01-01"], "give both --time-start and --time-stop"),
        (["--invert", "zenith"], "--invert takes cone, time, range, object, obs-id, where, not 'zenith'"),
        (["--range", "zen_pnt_deg 1m 2m"], "1.0 m is not convertible to the unit of zen_pnt_deg (deg)"),
        (["--where", "zen_pnt_deg < 30 or"], "malformed --where 'zen_pnt_deg < 30 or': invalid syntax"),
        (["--cone", "83.63 22.01 1", "--border", "-2"], "cone radius 1.0 deg + border -2.0 deg is negative"),
        # swapped bounds would match nothing, silently
        (["--range", "zen_pnt_deg 40 30"], "range of zen_pnt_deg: the lower bound 40.0 is above the upper bound 30.0: "
                                           "no observation can match"),
        (["--time-start", "2005-01-01", "--time-stop", "2004-12-04"], "time range starts at 2005-01-01 after it "
                                                                      "stops at 2004-12-04: no observation can match"),
    ]:
        result = runner.invoke(app, ["--db", db_url, "select", *args])
        assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")


REFERENCE = json.loads((Path(__file__).parent / "reference" / "gammapy_selections_hess.json").read_text())


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=[c["name"] for c in REFERENCE["cases"]])
def test_same_ids_as_gammapy_select_observations(hess, case):
    assert ids(hess, case["selections"]) == case["obs_ids"]


@pytest.mark.parametrize(("args", "message"), [
    (["--object", "Crab\x00"], "Error: object pattern 'Crab\\x00' contains a NUL character\n"),
    (["--store", "hess\x00"], "Error: store name 'hess\\x00' contains a NUL character\n"),
    (["--where", "object('a\\x00')"], "Error: object pattern 'a\\x00' contains a NUL character\n"),  # an escape
])  # fmt: skip
def test_nul_in_a_text_criterion_is_one_line_on_both_backends(hess, db_url, args, message):
    """PostgreSQL text cannot hold NUL: refused as input, never a driver error (found by the fuzz test)."""
    from typer.testing import CliRunner

    from obscat.cli.app import app

    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "select", *args])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)
    assert snapshot(db_url) == before
