"""Figures of stored groupings: the seed's two plots, a sky map and a dendrogram, on both backends."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from conftest import TUTORIAL_CONE, sky_cone, snapshot
from matplotlib.colors import to_hex
from typer.testing import CliRunner

from obscat.cli.app import app
from obscat.group import plot
from obscat.group.points import Median

TUTORIAL = sky_cone(*TUTORIAL_CONE)


@pytest.fixture
def grouped(catalog, hess_dir):
    """The tutorial's zenith split at mid-time and its two IRF clusters."""
    from obscat.compute.pointing import compute_pointing

    catalog.ingest(hess_dir, name="hess")
    compute_pointing(catalog.engine, TUTORIAL)
    catalog.split("zenith", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=TUTORIAL)
    catalog.cluster("irf", ["edisp-res", "psf-radius"], energy_true="1 TeV", selection=TUTORIAL, n_groups=2,
                    position=SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg))  # fmt: skip
    return catalog


def _points(ax) -> dict[str, np.ndarray]:
    """Legend label -> the (x, y) offsets of its scatter."""
    return {c.get_label(): np.asarray(c.get_offsets()) for c in ax.collections}


def test_zenith_against_muon_efficiency_as_the_tutorial(grouped):
    ax = plot.scatter(grouped.engine, "zenith", "zen_tmid_deg", "muoneff").axes[0]
    table = grouped.observations(columns=["obs_id", "zen_tmid_deg", "zen_pnt_deg", "muoneff"])
    done = ~np.ma.getmaskarray(table["zen_tmid_deg"])
    zen_tmid, zen, muoneff = (np.asarray(table[c])[done] for c in ("zen_tmid_deg", "zen_pnt_deg", "muoneff"))
    points = _points(ax)
    assert set(points) == {"high_zenith (10)", "low_zenith (11)"}
    median = np.median(zen)
    high = zen_tmid >= median
    np.testing.assert_array_equal(points["high_zenith (10)"], np.column_stack([zen_tmid[high], muoneff[high]]))
    assert [line.get_xdata()[0] for line in ax.lines] == [pytest.approx(median, rel=1e-12)]  # the cut, dashed
    assert ax.get_xlabel() == "zen_tmid_deg [deg]" and ax.get_ylabel() == "muoneff"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["high_zenith (10)", "low_zenith (11)"]


def test_edisp_res_against_psf_radius_of_the_clusters(grouped, db_url, tmp_path):
    features = grouped.feature_set(_feature_set(grouped))
    path = tmp_path / "irf.png"
    result = CliRunner().invoke(app, ["--db", db_url, "plot", "irf", "--x", "psf-radius", "--y", "edisp-res",
                                      "-o", str(path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {path}\n" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = plot.scatter(grouped.engine, "irf", "psf-radius", "edisp-res").axes[0]
    one = np.isin(features["obs_id"], [33787, 33788, 33789, 33800, 33801])
    np.testing.assert_array_equal(_points(ax)["cluster_1 (5)"],
                                  np.column_stack([features["psf-radius"][one], features["edisp-res"][one]]))  # fmt: skip
    assert ax.get_xlabel() == "psf-radius [deg]"


def _feature_set(catalog) -> str:
    import sqlalchemy as sa

    with catalog.engine.connect() as conn:
        return conn.execute(sa.text("SELECT name FROM feature_set")).scalar_one()


def test_sky_map_and_dendrogram(grouped):
    sky = plot.sky_map(grouped.engine, "irf").axes[0]
    table = grouped.observations(columns=["obs_id", "ra_pnt_deg", "dec_pnt_deg"])
    one = table[np.isin(table["obs_id"], [33787, 33788, 33789, 33800, 33801])]
    np.testing.assert_allclose(_points(sky)["cluster_1 (5)"], np.column_stack([one["ra_pnt_deg"], one["dec_pnt_deg"]]),
                               rtol=1e-12)  # fmt: skip
    assert sky.xaxis_inverted()

    ax = plot.dendrogram(grouped.engine, "irf").axes[0]
    assert sorted(int(t.get_text()) for t in ax.get_xticklabels()) == sorted(o for o in grouped.select(TUTORIAL)["obs_id"])
    colours = {line.get_label(): to_hex(line.get_color()) for line in ax.lines}  # legend proxies
    links = {}
    for collection in ax.collections:
        for colour in collection.get_colors():
            links[to_hex(colour)] = links.get(to_hex(colour), 0) + len(collection.get_segments())
    # n leaves of one group join in n - 1 links of its colour; the root is grey
    assert links == {colours["cluster_1 (5)"]: 4, colours["cluster_2 (16)"]: 15, to_hex("grey"): 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["zenith", "--x", "zenith", "--y", "muoneff"], "'zenith' is neither a numeric observation column nor a feature "
                                                         "of a feature set: the grouping has none, give --feature-set"),
        (["zenith", "--kind", "dendrogram"], "grouping 'zenith' is a split, not a clustering: no dendrogram"),
        (["nope", "--kind", "sky"], "no grouping named 'nope'"),
        (["zenith", "--x", "zen_pnt_deg", "--y", "muoneff", "-o", "/nonexistent/dir/x.png"], "cannot write the plot"),
        (["zenith", "--x", "zen_pnt_deg", "--y", "muoneff", "-o", "x.nosuchformat"], "cannot write the plot"),
    ],
)
def test_bad_plots(grouped, db_url, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    before = snapshot(db_url)
    if "-o" not in args:
        args = [*args, "-o", "x.png"]
    result = CliRunner().invoke(app, ["--db", db_url, "plot", *args])
    assert (result.exit_code, result.stderr.count("\n")) == (1, 1) and result.stderr.startswith("Error: " + message)
    assert snapshot(db_url) == before and not (tmp_path / "x.png").exists()
