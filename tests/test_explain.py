"""``select --explain OBS_ID`` / ``Catalog.explain``: why a selection keeps or leaves out one
observation, criterion by criterion, on the H.E.S.S. data and both backends."""

from __future__ import annotations

import astropy.units as u
import pytest
from astropy.time import Time
from conftest import TUTORIAL_CONE, snapshot
from typer.testing import CliRunner

from obscat.cli.app import app
from obscat.errors import NotFoundError, ParameterError
from obscat.query import Cone, ObjectName, Store, TimeRange, ValueRange, Where

CRAB_RUN = 23523  # Crab Nebula, 2004-12-04, zenith 48.6 deg, 4 telescopes


def selections():
    """Selections mixing every criterion type, negations and --where."""
    return {
        "cone": Cone.from_degrees(*TUTORIAL_CONE),
        "time": TimeRange(Time("2004-01-01"), Time("2005-01-01")),
        "range": ValueRange("livetime_s", 1000 * u.s, 1600 * u.s),
        "where": Where("zen_pnt_deg < 40 and (n_tels == 4 or not object('crab*'))"),
        "mixed": (Cone.from_degrees(83.63, 22.01, 3) | ObjectName("msh*")) & ~Where("zen_pnt_deg > 45"),
        "store": Store("hess") & ValueRange("zen_pnt_deg", 0 * u.deg, 30 * u.deg),
    }


@pytest.mark.parametrize("name", list(selections()))
def test_explain_agrees_with_select_on_every_observation(hess, name):
    selection = selections()[name]
    kept = set(hess.select(selection)["obs_id"])
    every = hess.select()["obs_id"]
    assert 0 < len(kept) < len(every)
    for obs_id in every:
        explanation = hess.explain(int(obs_id), selection)
        assert explanation.kept == (obs_id in kept), obs_id
        assert explanation.steps["result"][0] == ("pass" if obs_id in kept else "fail")


def test_explain_shows_each_criterion_with_the_observations_values(hess):
    selection = Cone.from_degrees(83.63, 22.01, 2) & Where("zen_pnt_deg < 40 and (n_tels == 4 or not object('crab*'))")
    explanation = hess.explain(CRAB_RUN, selection)
    assert (explanation.store, explanation.obs_id, explanation.kept) == ("hess", CRAB_RUN, False)
    rows = [(r["depth"], r["criterion"].strip(), r["value"], r["result"]) for r in explanation.steps]
    assert rows == [
        (0, "all of", "", "fail"),
        (1, "cone(83.63, 22.01, 2 deg, icrs)", "separation_deg = 0.4955653066", "pass"),
        (1, "where \"zen_pnt_deg < 40 and (n_tels == 4 or not object('crab*'))\"", "", "fail"),
        (2, "all of", "", "fail"),
        (3, "zen_pnt_deg < 40", "zen_pnt_deg = 48.61021042", "fail"),
        (3, "any of", "", "pass"),
        (4, "n_tels == 4", "n_tels = 4", "pass"),
        (4, "not", "", "fail"),
        (5, "object matches 'crab*'", "object = Crab Nebula", "pass"),
    ]


def test_a_null_value_is_unknown_and_left_out(hess):
    """zen_tmid_deg is NULL until `obscat pointing` ran: neither the comparison nor its negation keeps it."""
    for selection in (Where("zen_tmid_deg < 60"), Where("not zen_tmid_deg < 60")):
        explanation = hess.explain(CRAB_RUN, selection)
        assert not explanation.kept
        assert explanation.steps["result"][-1] == "unknown"
        assert explanation.steps["value"][-1] == "zen_tmid_deg = NULL"


def test_explain_errors_name_the_parameters(hess, hess_dir):
    with pytest.raises(NotFoundError, match="^no observation with OBS_ID 1$"):
        hess.explain(1, Where("n_tels == 4"))
    hess.ingest(hess_dir, name="hess-copy")
    with pytest.raises(ParameterError, match="^OBS_ID 23523 exists in stores hess, hess-copy: pass `store`$"):
        hess.explain(CRAB_RUN, Where("n_tels == 4"))
    assert hess.explain(CRAB_RUN, Where("n_tels == 4"), store="hess-copy").store == "hess-copy"


def test_cli_select_explain(hess, db_url):
    before = snapshot(db_url)
    args = ["--db", db_url, "select", "--explain", str(CRAB_RUN), "--cone", "83.63 22.01 2",
            "--range", "livetime_s 1000 2000", "--time-start", "2004-01-01", "--time-stop", "2005-01-01"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.output.splitlines()]
    assert lines[0].split() == ["criterion", "value", "result"]
    assert [line.split()[-1] for line in lines[2:6]] == ["pass"] * 4
    assert "  cone(83.63, 22.01, 2 deg, icrs)" in lines[3]
    assert "time within 2004-01-01T00:00:00.000 UTC .. 2005-01-01T00:00:00.000 UTC" in lines[4]
    assert "tstart_mjd = 53343.92234, tstop_mjd = 53343.94187" in lines[4]
    assert "1000 s <= livetime_s < 2000 s" in lines[5] and "livetime_s = 1581.736816" in lines[5]
    assert lines[-1] == f"observation {CRAB_RUN} of store hess: kept by the selection"
    result = CliRunner().invoke(app, ["--db", db_url, "select", "--explain", "1"])
    assert result.exit_code == 1 and result.output == "Error: no observation with OBS_ID 1\n"
    assert snapshot(db_url) == before


def test_explain_annotation_and_epoch_criteria(hess, tmp_path):
    """Annotation columns show their values (categories as labels; NULL without a row), epochs
    their names; the outcome agrees with select for every observation."""
    from astropy.table import Table

    ids = sorted(int(i) for i in hess.select()["obs_id"])
    quality = Table({"OBS_ID": ids[:50], "light_yield": [60.0 + i for i in range(50)] * u.percent,
                     "weather": ["A", "B", "C", "F", "A+"] * 10, "vpm_mask": [i % 8 for i in range(50)]})
    quality.write(tmp_path / "dq.ecsv")
    hess.annotate(tmp_path / "dq.ecsv", name="dq", key="OBS_ID", categories={"weather": ["A+", "A", "B", "C", "D", "F"]},
                  masks=["vpm_mask"])
    hess.load_epochs({"epochs": [{"name": "early", "store": "hess", "last_obs_id": ids[29]}]})
    selection = Where("dq.light_yield > 80 and dq.weather <= 'B' and (dq.vpm_mask & 4) == 0 and epoch == 'early'")
    kept = set(hess.select(selection)["obs_id"])
    assert 0 < len(kept) < 30
    for obs_id in ids:
        assert hess.explain(obs_id, selection).kept == (obs_id in kept), obs_id
    steps = hess.explain(ids[21], selection).steps  # light yield 81 %, weather B, mask 5, early
    rows = [(r["criterion"].strip(), r["value"], r["result"]) for r in steps][-4:]
    assert rows == [("dq.light_yield > 80 (version 1)", "dq.light_yield = 81", "pass"),
                    ("dq.weather <= 'B' (version 1)", "dq.weather = B", "pass"),
                    ("(dq.vpm_mask & 4) == 0 (version 1)", "(dq.vpm_mask & 4) = 5", "fail"),
                    ("epoch == 'early'", "epoch = early", "pass")]
    steps = hess.explain(ids[-1], selection).steps  # no quality row, no epoch
    assert [(r["value"], r["result"]) for r in steps][-4:] == [
        ("dq.light_yield = NULL", "fail"), ("dq.weather = NULL", "fail"), ("(dq.vpm_mask & 4) = NULL", "fail"),
        ("epoch = NULL", "fail")]
