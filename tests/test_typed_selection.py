"""Typed criteria (astropy types in), their canonical JSON, stored grouping selections, typed split
points and the one Vincenty formula; against Gammapy's select_observations, the CLI flags and
astropy, on both backends."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from conftest import snapshot
from typer.testing import CliRunner

from obscat import Catalog
from obscat.cli.app import app
from obscat.errors import InputError, NotFoundError, ParameterError
from obscat.group.points import Median, Quantiles
from obscat.query import And, Cone, Ids, Not, ObjectName, Or, Store, TimeRange, ValueRange, Where, criterion_from_json
from obscat.store.engine import create_engine

PKS = SkyCoord(329.71693826 * u.deg, -30.2255 * u.deg)
PKS_DICT = dict(type="sky_circle", frame="icrs", lon="329.71693826 deg", lat="-30.2255 deg", radius="2 deg")

#: name -> (typed criterion, the same as CLI flags, the same as a Gammapy select_observations dict)
CASES = {
    "cone": (Cone(PKS, 2 * u.deg), ["--cone", "329.71693826 -30.2255 2"], PKS_DICT),
    "galactic cone with a border": (
        Cone(SkyCoord(184.557 * u.deg, -5.784 * u.deg, frame="galactic"), 2.5 * u.deg, border=0.5 * u.deg),
        ["--cone", "184.557 -5.784 2.5", "--frame", "galactic", "--border", "0.5"],
        dict(type="sky_circle", frame="galactic", lon="184.557 deg", lat="-5.784 deg", radius="2.5 deg",
             border="0.5 deg"),
    ),  # fmt: skip
    "inverted cone": (~Cone(PKS, 2 * u.deg), ["--cone", "329.71693826 -30.2255 2", "--invert", "cone"],
                      {**PKS_DICT, "inverted": True}),  # fmt: skip
    "time box": (
        TimeRange(Time("2004-12-04"), Time("2005-01-01")), ["--time-start", "2004-12-04", "--time-stop", "2005-01-01"],
        dict(type="time_box", time_range=Time(["2004-12-04", "2005-01-01"])),
    ),
    "zenith range in rad and deg": (
        ValueRange("zen_pnt_deg", 0.349 * u.rad, 40 * u.deg), ["--range", "zen_pnt_deg 0.349rad 40deg"],
        dict(type="par_box", variable="ZEN_PNT", value_range=[0.349 * u.rad, 40 * u.deg]),
    ),
    "n_tels equality": (ValueRange("n_tels", 4, 4), ["--range", "n_tels 4 4"],
                        dict(type="par_box", variable="N_TELS", value_range=[4, 4])),  # fmt: skip
    "muon efficiency (no unit)": (ValueRange("muoneff", 0.9, 1.0), ["--range", "muoneff 0.9 1.0"],
                                  dict(type="par_box", variable="MUONEFF", value_range=[0.9, 1.0])),  # fmt: skip
}


@pytest.fixture(scope="module")
def gammapy_table(hess_dir):
    from gammapy.data import DataStore

    return DataStore.from_dir(hess_dir).obs_table


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_typed_criteria_select_what_cli_flags_and_gammapy_select(hess, db_url, gammapy_table, case):
    criterion, flags, gammapy = CASES[case]
    expected = sorted(int(i) for i in gammapy_table.select_observations(gammapy)["OBS_ID"])
    assert expected, "a case must keep something"
    assert [obs_id for _, obs_id in _keys(hess, criterion)] == expected
    cli = CliRunner().invoke(app, ["--db", db_url, "select", *flags, "-f", "ids"])
    assert cli.exit_code == 0, cli.stderr
    assert [int(i) for i in cli.stdout.split()] == expected
    assert [obs_id for _, obs_id in _keys(hess, gammapy)] == expected  # Gammapy dicts still work


def test_operators_regions_and_where(hess):
    from regions import CircleSkyRegion

    cone, crab = Cone(PKS, 2 * u.deg), ObjectName("crab*")
    assert _keys(hess, CircleSkyRegion(PKS, 2 * u.deg)) == _keys(hess, cone) == _keys(hess, Cone(CircleSkyRegion(PKS, 2 * u.deg)))
    both = set(_keys(hess, cone)) | set(_keys(hess, crab))
    assert set(_keys(hess, cone | crab)) == both and cone | crab == Or((cone, crab))
    assert (cone & crab) == And((cone, crab)) and _keys(hess, cone & crab) == []
    assert set(_keys(hess, ~cone)) == set(_keys(hess, None)) - set(_keys(hess, cone))
    assert ~cone == Not(cone)
    assert _keys(hess, Where("zen_pnt_deg < 30") & cone) == _keys(hess, cone & ValueRange("zen_pnt_deg", 0 * u.deg,
                                                                                           30 * u.deg))  # fmt: skip
    with pytest.raises(NotFoundError, match=r"^no store 'nope' \(stores: hess\)$"):
        _keys(hess, Where("store('nope')"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Cone(PKS, 3 * u.m), "`radius` must be an angle, not 3.0 m"),
        (lambda: Cone(PKS, 3), "`radius` must be an angle, not 3"),
        (lambda: Cone((329.7, -30.2), 2 * u.deg), "`center` must be one SkyCoord position (or a CircleSkyRegion), "
                                                  "not (329.7, -30.2)"),
        (lambda: Cone(PKS, 1 * u.deg, border=-2 * u.deg), "`radius` 1.0 deg + `border` -2.0 deg is negative"),
        (lambda: TimeRange("2004-12-04", Time("2005-01-01")), "`start` must be one astropy Time, not '2004-12-04'"),
        (lambda: TimeRange(Time("2005-01-01"), Time("2004-12-04")),
         "`start` 2005-01-01T00:01:04.184 TT is after `stop` 2004-12-04T00:01:04.184 TT: no observation can match"),
        (lambda: ValueRange("zen_pnt_deg", 20, 40 * u.deg), "`lo` must be a Quantity in deg (the unit of zen_pnt_deg), "
                                                            "not 20"),
        (lambda: ValueRange("zen_pnt_deg", 20 * u.deg, 4 * u.s), "`hi` must be in deg (the unit of zen_pnt_deg), not 4.0 s"),
        (lambda: ValueRange("n_tels", 3 * u.deg, 4), "`lo` must be a number (n_tels has no unit), not 3.0 deg"),
        (lambda: ValueRange("zen_pnt_deg", 40 * u.deg, 20 * u.deg), "`lo` 40.0 deg is above `hi` 20.0 deg: no "
                                                                    "observation can match"),
        (lambda: Ids(["a"]), "`obs_ids` must be integers, not 'a'"),
        (lambda: And((Store("hess"), 1)), "`criteria` must hold selection criteria, not 1"),
        (lambda: Quantiles([0.5, 1.5]), "`fractions` must be numbers strictly between 0 and 1, not [1.5]"),
        (lambda: criterion_from_json('{"type": "sql", "text": "1=1"}'),
         "not a selection criterion: type 'sql' (known: and, annotation, compare, cone, epoch, ids, not, object, or, range, "
         "store, time, where)"),
    ],
)
def test_wrong_types_name_the_parameter(make, message):
    with pytest.raises(ParameterError) as error:
        make()
    assert str(error.value) == message


#: cone, time, ranges, where, object, ids and store, combined: built from this text in-process and in subprocesses
COMPLEX = """\
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from obscat.query import Cone, Ids, ObjectName, Store, TimeRange, ValueRange, Where
PKS = SkyCoord(329.71693826 * u.deg, -30.2255 * u.deg)
criterion = ((Cone(PKS, 10 * u.deg) | ObjectName("crab*"))
             & TimeRange(Time("2004-01-01"), Time("2010-01-01"), partial_overlap=True)
             & ValueRange("zen_pnt_deg", 0.1 * u.rad, 60 * u.deg) & ValueRange("n_tels", 3, 5)
             & Where("n_tels >= 3 and muoneff > 0.5") & ~Ids([33787]) & Store("hess"))
"""


def _complex():
    scope: dict = {}
    exec(COMPLEX, scope)
    return scope["criterion"]


def test_canonical_json_text():
    assert Cone(PKS, 2 * u.deg).to_json() == (
        '{"border":{"unit":"deg","value":0.0},"center":{"frame":"icrs","lat":{"unit":"deg","value":-30.2255},'
        '"lon":{"unit":"deg","value":329.71693826}},"radius":{"unit":"deg","value":2.0},"type":"cone"}')  # fmt: skip
    text = _complex().to_json()
    assert criterion_from_json(text).to_json() == text
    assert "np." not in text and "Quantity" not in text and "Time" not in text and "float64" not in text
    assert json.loads(text)["criteria"][1] == {"type": "time", "partial_overlap": True,
                                               "start": {"format": "mjd", "scale": "tt", "value": 53005.00074287037},
                                               "stop": {"format": "mjd", "scale": "tt", "value": 55197.00076601852}}  # fmt: skip
    code = COMPLEX + "print(criterion.to_json())"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]  # fmt: skip
    assert runs[0] == runs[1] == text + "\n"  # byte-identical across processes


def test_stored_selection_reruns_to_the_same_observations(hess, db_url):
    selection = _complex()
    kept = _keys(hess, selection)
    assert 5 < len(kept) < 105
    made = hess.split("z", "zen_pnt_deg", selection=selection)
    stored = hess.grouping("z")
    assert stored.selection.to_json() == selection.to_json()
    assert _keys(hess, stored.selection) == kept == sorted((s, o) for s, o, _ in made.members)
    assert [tuple(r) for r in stored.members] == sorted((label, s, o) for s, o, label in made.members)
    assert stored.members.colnames == ["label", "store", "obs_id"]
    median = float(np.median([hess.observation(o).zen_pnt_deg for _, o in kept]))
    assert stored.params == {"column": "zen_pnt_deg", "at": {"type": "median", "of": None}, "cuts": [median]}
    assert (stored.method, stored.feature_set, stored.members_removed) == ("split", None, None)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT selection_json, selection FROM grouping")).one() == (stored.selection_text, None)
    engine.dispose()
    assert stored.selection_text == selection.to_json()
    again = hess.split("again", "zen_pnt_deg", selection=criterion_from_json(stored.selection_text))
    assert again.members == made.members and hess.grouping("again").selection_text == stored.selection_text
    from obscat.group.stored import groupings

    summaries = groupings(hess.engine)
    assert [(g.name, g.method, g.n_groups, g.n_obs, g.members_removed) for g in summaries] == [
        ("again", "split", 2, len(kept), None), ("z", "split", 2, len(kept), None)]  # fmt: skip


def test_groupings_made_before_0007_keep_their_text(db_url, hess_dir):
    with Catalog(db_url) as cat:
        cat.ingest(hess_dir, name="hess")
        cat.group_by("old", "n_tels")
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "db", "downgrade", "0006"]).exit_code == 0
    engine = create_engine(db_url)
    with engine.begin() as conn:  # as obscat before 0007 stored it
        conn.execute(sa.text("UPDATE grouping SET selection = 'And(criteria=(), inverted=False)'"))
        conn.execute(sa.text("DROP TABLE obscat_archive_grouping_0007"))
        assert conn.execute(sa.text("SELECT count(*) FROM group_member")).scalar() == 105
    engine.dispose()
    assert runner.invoke(app, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    with Catalog(db_url) as cat:
        old = cat.grouping("old")
    assert (old.selection, old.selection_text, len(old.members)) == (None, "And(criteria=(), inverted=False)", 105)
    assert old.params == {"column": "n_tels"}


def test_typed_split_points_and_edges(hess, db_url, hess_dir):
    from astropy.table import Table

    zen = np.array(Table.read(hess_dir / "obs-index.fits.gz")["ZEN_PNT"], float)
    median = hess.split("m", "zen_pnt_deg")  # Median() by default
    assert len(median.groups["low_zenith"]) == int((zen < np.median(zen)).sum())
    quartiles = hess.split("q", "zen_pnt_deg", at=Quantiles([0.25, 0.5, 0.75]))
    cuts = np.quantile(zen, [0.25, 0.5, 0.75])
    assert sorted(map(len, quartiles.groups.values())) == sorted(np.bincount(np.searchsorted(cuts, zen, side="right")))
    assert hess.grouping("q").params["at"] == {"type": "quantiles", "fractions": [0.25, 0.5, 0.75]}
    in_rad = hess.split("r", "zen_pnt_deg", at=(math.pi / 6) * u.rad)
    assert in_rad.labels == hess.split("d", "zen_pnt_deg", at=30).labels
    assert len(in_rad.groups["low_zenith"]) == int((zen < 30).sum())
    assert hess.grouping("d").params["at"] == {"type": "value", "unit": "deg", "value": 30.0}
    other = hess.split("o", "zen_pnt_deg", at=Median(of="az_pnt_deg"))
    az = np.array(Table.read(hess_dir / "obs-index.fits.gz")["AZ_PNT"], float)
    assert len(other.groups["low_zenith"]) == int((zen < np.median(az)).sum())
    binned = hess.bins("b", "zen_pnt_deg", edges=[0, 20, 40, 60] * u.deg)
    assert binned.labels == hess.bins("f", "zen_pnt_deg", edges=[0, 20, 40, 60]).labels
    for label, stats in binned.summary.items():  # per label, as numpy computes them
        lo, hi = (float(x) for x in label[len("zenith_["):-1].split(","))
        part = zen[(zen >= lo) & (zen < hi)]
        assert stats["n"] == len(part)
        assert stats["zen_pnt_deg"] == pytest.approx({"min": part.min(), "max": part.max(), "std": part.std()}, rel=1e-12)
    before = snapshot(db_url)
    for at, message in [("median", "`at` must be Median(), Median(of=COLUMN), Quantiles([...]), a Quantity or a number, "
                                   "not 'median'"),
                        (30 * u.m, "`at` must be in deg (the column's unit), not 30.0 m")]:  # fmt: skip
        with pytest.raises(ParameterError) as error:
            hess.split("x", "zen_pnt_deg", at=at)
        assert str(error.value) == message
    with pytest.raises(ParameterError, match=r"^`edges` must be in deg \(the unit of zen_pnt_deg\), not m$"):
        hess.bins("x", "zen_pnt_deg", edges=[0, 1] * u.m)
    assert snapshot(db_url) == before


def test_one_vincenty_matches_astropy_for_floats_numpy_and_sql(db_url):
    from obscat.query.sky import separation_deg

    rng = np.random.default_rng(1)
    lon1, lon2 = rng.uniform(0, 360, (2, 300))
    lat1, lat2 = np.degrees(np.arcsin(rng.uniform(-1, 1, (2, 300))))
    lon2[:20], lat2[:20] = (lon1[:20] + 180) % 360, -lat1[:20] + 1e-7  # nearly antipodal
    lon2[20:40], lat2[20:40] = lon1[20:40], lat1[20:40] + 1e-9  # nearly the same position
    expected = SkyCoord(lon1, lat1, unit="deg").separation(SkyCoord(lon2, lat2, unit="deg")).deg
    np.testing.assert_allclose(separation_deg(lon1, lat1, lon2, lat2, np), expected, rtol=0, atol=1e-10)
    floats = [separation_deg(*p, math) for p in zip(lon1.tolist(), lat1.tolist(), lon2.tolist(), lat2.tolist())]
    np.testing.assert_allclose(floats, expected, rtol=0, atol=1e-10)
    Catalog(db_url).close()  # SQLite gets its math functions on connect
    engine = create_engine(db_url)
    with engine.connect() as conn:
        sql = [conn.execute(sa.select(separation_deg(*map(sa.literal, p), sa.func))).scalar_one()
               for p in zip(lon1.tolist(), lat1.tolist(), lon2.tolist(), lat2.tolist())]  # fmt: skip
    engine.dispose()
    np.testing.assert_allclose(sql, expected, rtol=0, atol=1e-9)


def _keys(cat, selection) -> list[tuple[str, int]]:
    """(store, obs_id) of the observations ``selection`` keeps, in order."""
    table = cat.select(selection, columns=[])
    return [(str(s), int(o)) for s, o in zip(table["store"], table["obs_id"])]



@pytest.mark.parametrize("lon, lat, radius, border", [
    (83.63, 22.01, 3.0, 0.0), (329.71693826, -30.2255, 2.0, 0.5), (-10.25, 45.0, 1.0, 0.0),
    (360.0, -90.0, 0.1, 0.0), (725.5, 89.999, 10.0, 0.0), (-0.0, 0.0, 0.0, 0.0), (359.9999999999, 1e-9, 180.0, 0.0),
])  # fmt: skip
def test_a_cone_from_degrees_is_the_cone_of_a_skycoord(lon, lat, radius, border):
    """The CLI's cone (numbers, no astropy) and the typed one are the same criterion: same JSON, same SQL."""
    typed = Cone(SkyCoord(lon * u.deg, lat * u.deg), radius * u.deg, border=border * u.deg)
    plain = Cone.from_degrees(lon, lat, radius, border)
    assert plain.to_json() == typed.to_json()
    assert plain == typed
    clause = str(plain.clause().compile(compile_kwargs={"literal_binds": True}))
    assert clause == str(typed.clause().compile(compile_kwargs={"literal_binds": True}))
    assert (plain.center.ra.deg, plain.center.dec.deg) == (typed.center.ra.deg, typed.center.dec.deg)
    assert (plain.radius, plain.border) == (typed.radius, typed.border)


def test_a_galactic_cone_from_degrees_and_bad_degrees():
    typed = Cone(SkyCoord(184.5575 * u.deg, -5.7843 * u.deg, frame="galactic"), 1 * u.deg)
    assert Cone.from_degrees(184.5575, -5.7843, 1.0, frame="galactic").to_json() == typed.to_json()
    for args, message in [((1.0, 95.0, 1.0), "cone latitude 95.0 is outside [-90, 90] deg"),
                          ((1.0, 2.0, -1.0), "cone radius -1.0 deg is negative"),
                          ((float("nan"), 2.0, 1.0), "cone values must be finite numbers, got (nan, 2.0, 1.0, 0.0)")]:  # fmt: skip
        with pytest.raises(InputError) as error:
            Cone.from_degrees(*args)
        assert str(error.value) == message
    with pytest.raises(InputError, match=r"unknown frame 'fk4' \(icrs or galactic\)"):
        Cone.from_degrees(1.0, 2.0, 1.0, frame="fk4")
