"""OFF-run matching (Catalog.match, obscat match): H.E.S.S. DL3 DR1 PKS 2155-304 runs matched with the
extragalactic fields, checked against a brute-force reference; the azimuth wrap, the airmass tolerance,
unique, livetime ratio, unmatched ON runs, bad input, show/export/plot; both backends."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from conftest import snapshot
from typer.testing import CliRunner

from obscat.cli.app import app
from obscat.group.match import Rules, match_runs
from obscat.query.where import Where

ON = "object('PKS 2155-304')"
FIELDS = ("3C 273", "NGC 253", "1ES 0414+009", "3C 120", "PKS 2316-423", "1ES 2343-151", "NGC 1068", "Arp 220",
          "Pictor A", "PKS 0548-322", "NGC 1399", "1ES 0145+138", "EXO 0556.4-3838")  # fmt: skip
OFF = " or ".join(f"object('{name}')" for name in FIELDS)
CRAB = SkyCoord(83.633 * u.deg, 22.0145 * u.deg)
COLUMNS = ["zen_pnt_deg", "az_pnt_deg", "ra_pnt_deg", "dec_pnt_deg", "livetime_s", "muoneff", "n_tels"]


def _rows(cat, text: str) -> list[dict]:
    table = cat.observations(Where(text), columns=["obs_id", *COLUMNS])
    return [{"store": str(r["store"]), "obs_id": int(r["obs_id"]), **{c: float(r[c]) for c in COLUMNS}} for r in table]


def brute_force(on: list[dict], off: list[dict], tolerances: dict[str, float], *, n_off=None, ratio=None,
                unique=False, radius=None, sources=(), min_b=None, same=("n_tels",)) -> list[tuple]:  # fmt: skip
    """The pairs by plain loops: every ON run against every OFF run, in ON (store, OBS_ID) order."""

    def delta(key, a, b):
        if key == "zenith":
            return abs(a["zen_pnt_deg"] - b["zen_pnt_deg"])
        if key == "azimuth":
            d = abs(a["az_pnt_deg"] - b["az_pnt_deg"]) % 360
            return min(d, 360 - d)
        if key == "airmass":
            return abs(
                1 / math.sin(math.radians(90 - a["zen_pnt_deg"])) - 1 / math.sin(math.radians(90 - b["zen_pnt_deg"]))
            )
        return abs(a[key] - b[key])

    def sky(r):
        return SkyCoord(r["ra_pnt_deg"] * u.deg, r["dec_pnt_deg"] * u.deg)

    on_ids = {(r["store"], r["obs_id"]) for r in on}
    centres = [sky(r) for r in on] + list(sources)
    candidates = []
    for b in off:
        if (b["store"], b["obs_id"]) in on_ids:
            continue
        if min_b is not None and abs(sky(b).galactic.b.deg) < min_b:
            continue
        if radius is not None and any(sky(b).separation(c).deg < radius for c in centres):
            continue
        candidates.append(b)
    used, pairs = set(), []
    for a in on:
        ranked = []
        for b in candidates:
            if any(a[c] != b[c] for c in same):
                continue
            deltas = {k: delta(k, a, b) for k in tolerances}
            if all(deltas[k] <= tolerances[k] for k in tolerances):
                d = math.sqrt(sum((deltas[k] / tolerances[k]) ** 2 for k in tolerances) / len(tolerances))
                ranked.append((d, b["obs_id"], b))
        ranked.sort(key=lambda t: (t[0], t[1]))
        if unique:
            ranked = [t for t in ranked if t[1] not in used]
        if n_off is not None:
            taken = ranked[:n_off] if len(ranked) >= n_off else []
        else:
            taken, total = [], 0.0
            for t in ranked:
                taken.append(t)
                total += t[2]["livetime_s"]
                if total >= ratio * a["livetime_s"]:
                    break
            else:
                taken = []
        for rank, (d, obs_id, _) in enumerate(taken, 1):
            pairs.append((a["obs_id"], obs_id, rank, d))
            used.add(obs_id)
    return pairs


def _pairs(result) -> list[tuple]:
    return [(int(r["on_obs_id"]), int(r["off_obs_id"]), int(r["rank"]), float(r["distance"])) for r in result.pairs]


def _same(got, expected):
    assert [p[:3] for p in got] == [p[:3] for p in expected]
    assert np.allclose([p[3] for p in got], [p[3] for p in expected], rtol=1e-12, atol=1e-12)


TOLERANCES = {"zenith": 10.0, "azimuth": 60.0, "muoneff": 0.1}


def test_pks2155_against_extragalactic_fields_equals_brute_force(hess):
    result = hess.match("pks-off", ON, OFF, max_delta={"zenith": 10 * u.deg, "azimuth": "60 deg", "muoneff": 0.1},
                        same=["n_tels"], n_off=2, exclusion_radius=3 * u.deg, sources=CRAB, min_abs_b=10 * u.deg)  # fmt: skip
    on, off = _rows(hess, ON), _rows(hess, OFF)
    assert len(on) == 21 and len(off) == 28
    expected = brute_force(on, off, TOLERANCES, n_off=2, radius=3.0, sources=[CRAB], min_b=10.0)
    got = _pairs(result)
    _same(got, expected)
    assert len(got) == 18 and len({p[0] for p in got}) == 9
    # every pair within every tolerance, ranks 1..2 by distance
    by_id = {r["obs_id"]: r for r in on + off}
    for on_id, off_id, rank, d in got:
        a, b = by_id[on_id], by_id[off_id]
        assert abs(a["zen_pnt_deg"] - b["zen_pnt_deg"]) <= 10
        assert (
            min(abs(a["az_pnt_deg"] - b["az_pnt_deg"]) % 360, 360 - abs(a["az_pnt_deg"] - b["az_pnt_deg"]) % 360) <= 60
        )
        assert abs(a["muoneff"] - b["muoneff"]) <= 0.1 and a["n_tels"] == b["n_tels"] and 0 <= d <= 1
        assert rank in (1, 2)
    assert all(p[3] <= q[3] for p, q in zip(got[::2], got[1::2]))  # rank 1 no farther than rank 2
    # stored: labels, pairs and provenance
    stored = hess.grouping("pks-off")
    assert stored.method == "match"
    assert {k: len(v) for k, v in stored.groups.items()} == {"on": 9, "unmatched": 12, "off": len({p[1] for p in got})}
    listed = [(int(r["on_obs_id"]), int(r["off_obs_id"]), int(r["rank"]), float(r["distance"]))
              for r in hess.match_pairs("pks-off") if not np.ma.is_masked(r["rank"])]  # fmt: skip
    assert listed == got
    params = stored.params
    assert params["max_delta"] == {"zenith": [10.0, "deg"], "azimuth": [60.0, "deg"], "muoneff": [0.1, ""]}
    assert params["same"] == ["n_tels"] and params["n_off"] == 2 and params["min_abs_b_deg"] == 10.0
    assert params["on"] == {"type": "where", "text": ON} and params["off_from"]["text"] == OFF
    assert [u_["obs_id"] for u_ in params["unmatched"]] == [int(r["obs_id"]) for r in result.unmatched]
    # deterministic: the same call again (replace) stores the same pairs
    again = hess.match("pks-off", ON, OFF, max_delta={"zenith": 10 * u.deg, "azimuth": "60 deg", "muoneff": 0.1},
                       same=["n_tels"], n_off=2, exclusion_radius=3 * u.deg, sources=CRAB, min_abs_b=10 * u.deg,
                       replace=True)  # fmt: skip
    assert _pairs(again) == got


def test_match_pairs_table_lists_unmatched_on_runs_masked(hess):
    hess.match("m", ON, OFF, max_delta={"zenith": "10 deg", "azimuth": "60 deg"}, n_off=1)
    table = hess.match_pairs("m")
    assert table.colnames == ["on_store", "on_obs_id", "off_store", "off_obs_id", "rank", "distance"]
    assert len(table) == 21  # one row per ON run: its one OFF run, or masked
    unmatched = [int(r["on_obs_id"]) for r in table if np.ma.is_masked(r["off_obs_id"])]
    assert unmatched == [int(r["obs_id"]) for r in hess.grouping("m").members if r["label"] == "unmatched"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_postgresql_row_estimates_follow_a_stored_match(db_url, hess_dir):
    """PostgreSQL's planner counts the members and pairs just stored (ANALYZE in the writing
    transaction), not the empty tables' (-1): autovacuum may be off or behind, and the pairs of a
    10^4-run match, planned for a few rows, read in 4.2 s instead of 0.4 s."""
    from obscat import Catalog

    with Catalog(db_url) as cat:
        cat.ingest(hess_dir, name="hess")
        cat.match("m", ON, OFF, max_delta={"zenith": "10 deg", "azimuth": "60 deg"}, n_off=2)
        n_pairs = sum(not np.ma.is_masked(r["rank"]) for r in cat.match_pairs("m"))
        n_members = int(cat.sql("SELECT count(*) AS n FROM group_member")["n"][0])
        estimates = cat.sql("SELECT relname, reltuples FROM pg_class WHERE relnamespace = "
                            "CAST(current_schema() AS regnamespace) AND relname IN ('match_pair', 'group_member')")  # fmt: skip
    assert n_pairs > 0 and dict(zip(estimates["relname"], estimates["reltuples"])) == \
           {"match_pair": n_pairs, "group_member": n_members}


def test_unique_uses_each_off_run_once_in_on_order(hess):
    result = hess.match("u", ON, OFF, max_delta={"zenith": "10 deg", "azimuth": "60 deg"}, n_off=1, unique=True)
    got = _pairs(result)
    off_ids = [p[1] for p in got]
    assert len(off_ids) == len(set(off_ids)) > 0
    expected = brute_force(_rows(hess, ON), _rows(hess, OFF), {"zenith": 10.0, "azimuth": 60.0}, n_off=1, unique=True)
    _same(got, expected)
    shared = hess.match("s", ON, OFF, max_delta={"zenith": "10 deg", "azimuth": "60 deg"}, n_off=1)
    assert len(_pairs(shared)) > len(got)  # without unique, ON runs share their nearest OFF runs
    assert any("taken by earlier ON runs (unique)" in r for r in result.unmatched["reason"])


def test_same_epoch_pairs_runs_of_one_epoch_only(hess):
    """--same epoch: pairs stay within an instrument epoch; runs in no epoch match none."""
    hess.load_epochs({"epochs": [{"name": "first", "store": "hess", "last_obs_id": 22000},
                                 {"name": "second", "store": "hess", "first_obs_id": 22001, "last_obs_id": 33790}]})
    epochs = {int(r["obs_id"]): r["epoch"] for r in hess.sql("SELECT o.obs_id, e.name AS epoch FROM observation o "
              "LEFT JOIN observation_epoch oe ON oe.observation_id = o.id LEFT JOIN epoch e ON e.id = oe.epoch_id")}
    tolerances = {"zenith": "30 deg", "azimuth": "180 deg"}
    free = _pairs(hess.match("free", ON, OFF, max_delta=tolerances, n_off=2))
    assert any(epochs[on] != epochs[off] for on, off, *_ in free)  # without the rule, epochs mix
    result = hess.match("by-epoch", ON, OFF, max_delta=tolerances, n_off=2, same=["epoch"])
    got = _pairs(result)
    assert got and all(epochs[on] == epochs[off] is not None for on, off, *_ in got)
    in_none = {i for i in epochs if i >= 33791 and i in {r["obs_id"] for r in _rows(hess, ON)}}
    assert in_none and in_none == {int(i) for i in result.unmatched["obs_id"]}  # no epoch: matched with none


def test_livetime_ratio_takes_off_runs_until_enough(hess):
    result = hess.match("lt", ON, OFF, max_delta={"zenith": "15 deg", "azimuth": "90 deg"}, livetime_ratio=2.5)
    on, off = _rows(hess, ON), _rows(hess, OFF)
    expected = brute_force(on, off, {"zenith": 15.0, "azimuth": 90.0}, ratio=2.5)
    got = _pairs(result)
    _same(got, expected)
    live = {r["obs_id"]: r["livetime_s"] for r in on + off}
    for on_id in {p[0] for p in got}:
        taken = [p[1] for p in got if p[0] == on_id]
        assert len(taken) >= 3  # H.E.S.S. runs are ~28 min: 2.5 times one takes three
        assert sum(live[i] for i in taken) >= 2.5 * live[on_id] > sum(live[i] for i in taken[:-1])


def test_unmatched_on_runs_name_the_failing_tolerance(hess):
    result = hess.match("tight", ON, OFF, max_delta={"zenith": "3 deg", "muoneff": 0.02}, n_off=1)
    assert len(result.pairs) == 8 and len(result.unmatched) == 13
    reasons = dict(zip(result.unmatched["obs_id"].tolist(), result.unmatched["reason"].tolist()))
    assert reasons[33787] == "zenith fails for 27 of 28 OFF candidates; 0 pass every tolerance"
    assert reasons[33789] == "muoneff fails for 25 of 28 OFF candidates; 0 pass every tolerance"
    assert (
        "ON run hess:33787 unmatched: zenith fails for 27 of 28 OFF candidates; 0 pass every tolerance" in result.notes
    )
    # each named tolerance is the one most OFF runs fail on their own (counted by loops)
    on = {r["obs_id"]: r for r in _rows(hess, ON)}
    off = _rows(hess, OFF)
    for row in result.unmatched:
        a = on[int(row["obs_id"])]
        fails = {"zenith": sum(abs(a["zen_pnt_deg"] - b["zen_pnt_deg"]) > 3 for b in off),
                 "muoneff": sum(abs(a["muoneff"] - b["muoneff"]) > 0.02 for b in off)}  # fmt: skip
        assert row["tolerance"] == max(fails, key=lambda k: (fails[k], k == "zenith"))
        assert f"{row['tolerance']} fails for {fails[row['tolerance']]} of 28 OFF candidates" in row["reason"]
    # none matched at all: refused, the first ON run's reason in the error
    from obscat.errors import InputError

    with pytest.raises(InputError, match=r"^no ON run got OFF runs \(21 ON runs, 28 OFF candidates\): hess:33787: "
                       r"zenith fails for 28 of 28 OFF candidates; 0 pass every tolerance$"):  # fmt: skip
        hess.match("none", ON, OFF, max_delta={"zenith": "0.01 deg"})


def test_azimuth_differences_wrap_at_360_deg():
    on = {"zen_pnt_deg": np.array([20.0]), "az_pnt_deg": np.array([355.0]), "ra_pnt_deg": np.array([0.0]),
          "dec_pnt_deg": np.array([0.0]), "livetime_s": np.array([1.0])}  # fmt: skip
    az = np.array([5.0, 340.0, 20.0, 175.0, 0.0])
    off = {"zen_pnt_deg": np.full(5, 20.0), "az_pnt_deg": az, "ra_pnt_deg": np.full(5, 90.0),
           "dec_pnt_deg": np.zeros(5), "livetime_s": np.ones(5)}  # fmt: skip
    pairs = match_runs(on, off, np.array([1]), np.arange(10, 15), Rules({"azimuth": 15.0}, n_off=3))
    # 355 -> 0: 5 deg, -> 5: 10 deg, -> 340: 15 deg; 20 (25 deg) and 175 (180 deg) fail
    assert pairs.off.tolist() == [4, 0, 1]
    assert np.allclose(pairs.distance, [5 / 15, 10 / 15, 1.0])
    # gammapy-tools compares |355 - 5| = 350 > 15: it would find none of the three
    none = match_runs(on, off, np.array([1]), np.arange(10, 15), Rules({"azimuth": 15.0}, n_off=4))
    assert none.unmatched[0].reason == "azimuth fails for 2 of 5 OFF candidates; 3 pass every tolerance, fewer than " \
        "the 4 needed"  # fmt: skip
    live = match_runs(on, off, np.array([1]), np.arange(10, 15), Rules({"azimuth": 15.0}, livetime_ratio=3.5))
    assert live.unmatched[0].reason == "azimuth fails for 2 of 5 OFF candidates; 3 pass every tolerance, their " \
        "livetime under 3.5 times the ON run's"  # fmt: skip


def test_airmass_tolerance_is_used_once():
    """gammapy-tools' el_diff 0.15 is a difference of 1/sin(el); it converts it again (1/sin(0.15) = 6.7)."""
    zen = np.array([35.0, 45.0, 60.0, 30.0])
    on = {"zen_pnt_deg": np.array([30.0]), "az_pnt_deg": np.array([0.0]), "ra_pnt_deg": np.array([0.0]),
          "dec_pnt_deg": np.array([0.0]), "livetime_s": np.array([1.0])}  # fmt: skip
    off = {"zen_pnt_deg": zen, "az_pnt_deg": np.zeros(4), "ra_pnt_deg": np.zeros(4), "dec_pnt_deg": np.zeros(4),
           "livetime_s": np.ones(4)}  # fmt: skip
    pairs = match_runs(on, off, np.array([1]), np.arange(10, 14), Rules({"airmass": 0.15}, n_off=2))
    airmass = 1 / np.sin(np.radians(90 - zen))  # 1.221, 1.414, 2.0, 1.155 against 1.155
    assert pairs.off.tolist() == [3, 0]  # same zenith, then 35 deg (0.066); 45 deg is 0.26 away
    assert np.allclose(pairs.distance, [0.0, (airmass[0] - airmass[3]) / 0.15])
    assert 1 / math.sin(0.15) > abs(airmass[2] - airmass[3])  # the doubly converted tolerance would pass 60 deg


def test_veritas_mimic_preset_on_hess_data(hess):
    from obscat.errors import InputError

    with pytest.raises(InputError) as caught:  # DR1 has no NSBLEVEL
        hess.match("v", ON, OFF, preset="veritas-mimic")
    assert str(caught.value) == ("no ON run got OFF runs (21 ON runs, 0 OFF candidates): hess:33787: nsblevel is NULL")
    result = hess.match("v", ON, OFF, preset="veritas-mimic", max_delta={"nsblevel": None, "tmid_mjd": None}, n_off=1)
    expected = brute_force(_rows(hess, ON), _rows(hess, OFF), {"airmass": 0.15, "azimuth": 30.0}, n_off=1, min_b=10.0)
    _same(_pairs(result), expected)
    assert hess.grouping("v").params["preset"] == "veritas-mimic"
    assert hess.grouping("v").params["max_delta"] == {"airmass": [0.15, ""], "azimuth": [30.0, "deg"]}


def test_hess_runmatch_preset(hess):
    result = hess.match("h", ON, OFF, preset="hess-runmatch")
    expected = brute_force(_rows(hess, ON), _rows(hess, OFF), {"zenith": 10.0}, n_off=1)
    _same(_pairs(result), expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"max_delta": {"zenit": "5 deg"}},
            "unknown column 'zenit' in `max_delta` (or a quantity: zenith, azimuth, airmass)",
        ),
        ({"max_delta": {"zenith": "-5 deg"}}, "`max_delta` zenith=-5 deg: must be > 0"),
        (
            {"max_delta": {"zenith": "5 m"}},
            "`max_delta` zenith=5 m: 'm' (length) and 'deg' (angle) are not convertible (expected deg)",
        ),
        ({"max_delta": {"zenith": 5}, "same": ["telescopes"]}, "unknown column 'telescopes' in `same`"),
        (
            {"max_delta": {"dq.light_yield": 5}},
            "`max_delta` names 'dq.light_yield': annotation columns cannot be matched on, only observation columns; "
            "select on it in `on` and `off_from` instead",
        ),
        ({"max_delta": {"zenith": 5}, "same": ["dq.weather"]}, "`same` names 'dq.weather': annotation columns cannot"),
        ({"max_delta": {"zenith": 5}, "n_off": 2, "livetime_ratio": 2.0}, "give one of `n_off` or `livetime_ratio`"),
        ({"max_delta": {}}, "`max_delta` must name at least one tolerance (e.g. zenith)"),
        (
            {"max_delta": {"zenith": 5}, "preset": "magic"},
            "`preset='magic'` is not a preset (veritas-mimic, hess-runmatch)",
        ),
    ],
)
def test_bad_rules_are_one_line_errors_and_change_nothing(hess, db_url, kwargs, message):
    from obscat.errors import ObscatError

    before = snapshot(db_url)
    with pytest.raises(ObscatError) as caught:
        hess.match("bad", ON, OFF, **kwargs)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert snapshot(db_url) == before


def test_cli_errors_speak_in_flags(hess, db_url):
    before = snapshot(db_url)
    runner = CliRunner()
    empty = runner.invoke(app, ["--db", db_url, "match", "--name", "x", "--on", "object('nothing*')", "--off-from", OFF,
                                "--max-delta", "zenith=5deg"])  # fmt: skip
    assert (empty.exit_code, empty.stderr) == (1, "Error: --on selects no observation\n")
    negative = runner.invoke(app, ["--db", db_url, "match", "--name", "x", "--on", ON, "--off-from", OFF,
                                   "--max-delta", "zenith=-5deg"])  # fmt: skip
    assert (negative.exit_code, negative.stderr) == (1, "Error: --max-delta zenith=-5deg: must be > 0\n")
    column = runner.invoke(app, ["--db", db_url, "match", "--name", "x", "--on", ON, "--off-from", OFF,
                                 "--max-delta", "zenit=5deg"])  # fmt: skip
    assert column.exit_code == 1 and column.stderr.startswith("Error: unknown column 'zenit' in --max-delta")
    annotation = runner.invoke(app, ["--db", db_url, "match", "--name", "x", "--on", ON, "--off-from", OFF,
                                     "--max-delta", "zenith=5deg", "--same", "dq.weather"])  # fmt: skip
    assert (annotation.exit_code, annotation.stderr) == (1, "Error: --same names 'dq.weather': annotation columns cannot "
                                                            "be matched on, only observation columns; select on it in "
                                                            "--on and --off-from instead\n")  # fmt: skip
    assert snapshot(db_url) == before


def test_cli_match_show_refuse_replace(hess, db_url):
    runner = CliRunner()
    args = ["--db", db_url, "match", "--name", "pks", "--on", ON, "--off-from", OFF, "--max-delta", "zenith=10deg",
            "--max-delta", "azimuth=60deg", "--same", "n_tels", "-k", "2", "--min-abs-b", "10deg"]  # fmt: skip
    made = runner.invoke(app, args)
    assert made.exit_code == 0, made.stderr
    assert made.stderr.startswith("grouping 'pks': ")
    assert "Note: ON run hess:33787 unmatched: " in made.stderr
    before = snapshot(db_url)
    refused = runner.invoke(app, args)
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: a grouping named 'pks' exists: pass --replace to overwrite it\n",
    )
    assert snapshot(db_url) == before
    shown = runner.invoke(app, ["--db", db_url, "groups", "show", "pks", "--format", "csv"])
    lines = shown.stdout.splitlines()
    assert lines[0] == "on_store,on_obs_id,off_store,off_obs_id,rank,distance"
    assert len(lines) == 1 + len(hess.match_pairs("pks"))
    expected = brute_force(_rows(hess, ON), _rows(hess, OFF), {"zenith": 10.0, "azimuth": 60.0}, n_off=2, min_b=10.0)
    paired = [line for line in lines[1:] if not line.endswith(",,,,")]
    assert [tuple(map(int, line.split(",")[1:5:2])) for line in paired] == [p[:2] for p in expected]


def test_export_writes_on_off_stores_and_pairs(hess, tmp_path):
    from gammapy.data import DataStore

    hess.match("pks", ON, OFF, max_delta={"zenith": "10 deg", "azimuth": "60 deg"}, n_off=2)
    written = hess.export_grouping("pks", tmp_path / "out")
    assert sorted(p.name for p in written) == ["off", "on", "unmatched"]
    pairs = Table.read(tmp_path / "out" / "pairs.ecsv")
    assert pairs.colnames == ["on_store", "on_obs_id", "off_store", "off_obs_id", "rank", "distance"]
    assert pairs.meta["method"] == "match" and pairs.meta["params"]["n_off"] == 2
    assert [tuple(r)[:5] for r in pairs] == [
        tuple(r)[:5] for r in hess.match_pairs("pks") if not np.ma.is_masked(r["rank"])
    ]
    on, off = DataStore.from_dir(tmp_path / "out" / "on"), DataStore.from_dir(tmp_path / "out" / "off")
    assert sorted(on.obs_ids) == sorted(set(pairs["on_obs_id"].tolist()))
    assert sorted(off.obs_ids) == sorted(set(pairs["off_obs_id"].tolist()))
    first = off.get_observations([int(pairs["off_obs_id"][0])])[0]
    assert first.obs_id == int(pairs["off_obs_id"][0]) and len(first.events.table) > 0
    description = json.loads((tmp_path / "out" / "grouping.json").read_text())
    assert description["method"] == "match" and set(description["labels"]) == {"on", "off", "unmatched"}


def test_plot_of_a_match_draws_runs_and_pairs(hess, tmp_path):
    hess.match("pks", ON, OFF, max_delta={"zenith": "10 deg", "azimuth": "60 deg"}, n_off=2)
    n_pairs = len([r for r in hess.match_pairs("pks") if not np.ma.is_masked(r["rank"])])
    fig = hess.plot("pks")
    ax = fig.axes[0]
    assert ax.name == "polar"
    assert len(ax.lines) == n_pairs  # one line per pair
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    groups = {k: len(v) for k, v in hess.grouping("pks").groups.items()}
    assert legend == [f"{label} ({groups[label]})" for label in ("on", "off", "unmatched") if label in groups]
    result = CliRunner().invoke(app, ["--db", hess.url, "plot", "pks", "-o", str(tmp_path / "pairs.png")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "pairs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "pairs.png").stat().st_size > 20_000
