"""``obscat demo``: the catalogue end to end on a built-in synthetic data store."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import typer

from ..catalog import Catalog
from ..query import Cone, Store, Where
from ..text import plural
from .output import progress_bar, render, render_explanation, render_grouping, save_figure, table_rows

__all__ = ["run_demo"]


def run_demo(directory: Path, *, n_obs: int = 180, url: str | None = None) -> None:
    """Write a synthetic GADF store into ``directory``, ingest it and query it.

    The catalogue is ``url`` if given, else ``directory/obscat.db``.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time

    from ..gadf.synthetic import make_data_store
    from ..group.points import Median

    directory.mkdir(parents=True, exist_ok=True)
    url = url or f"sqlite:///{directory.resolve() / 'obscat.db'}"
    _step(f"1. writing a synthetic GADF data store with {n_obs} observations")
    store_dir = make_data_store(directory / "store", n_obs, seed=1)
    typer.echo(f"   {store_dir}")

    _step(f"2. ingesting it into {url}")
    with Catalog(url) as cat:
        with progress_bar() as progress:
            report = cat.ingest(store_dir, name="synthetic", progress=progress)
        typer.echo(f"   {report.summary()}")

        _step("3. the catalogue's stores (obscat stores)")
        names = ["name", "n_obs", "n_hdu", "n_files", "telescope", "first_utc", "last_utc"]
        render(names, [tuple(getattr(s, n) for n in names) for s in cat.stores()])

        _step("4. observations per target, by SQL over the observation table")
        _table(cat.sql(PER_TARGET, {"store": "synthetic"}))

        _step("5. the first observations (obscat obs list)")
        columns = ["obs_id", "object", "ra_pnt_deg", "dec_pnt_deg", "zen_pnt_deg", "livetime_s", "tstart_utc"]
        _table(cat.observations(store="synthetic", columns=columns)[:8])

        _step("6. IRF features at 1 TeV, stored as a feature set (obscat features compute)")
        with progress_bar() as progress:
            table = cat.compute_features("1 TeV", features=["edisp-res", "psf-radius", "aeff", "energy-threshold"],
                                         store="synthetic", progress=progress)  # fmt: skip
        typer.echo(f"   feature set {table.meta['feature_set']}: {plural(len(table), 'observation')}")
        _table(table[:8])

        _step("7. observations within 3 deg of PKS 2155-304 (obscat select --cone)")
        cone = Cone(SkyCoord(329.7169 * u.deg, -30.2256 * u.deg), 3 * u.deg)
        selected = cat.select(Store("synthetic") & cone, columns=[])
        typer.echo(f"   {plural(len(selected), 'observation')}: {' '.join(map(str, selected['obs_id']))}")

        _step("8. split at the median zenith at mid-time (obscat pointing; obscat group split)")
        cat.compute_pointing(cone)
        render_grouping(cat.split("demo-zenith", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=cone, replace=True))

        _step("9. two clusters of similar IRFs (obscat group cluster)")
        render_grouping(cat.cluster("demo-irf", ["edisp-res", "psf-radius"], feature_set=table.meta["feature_set"],
                                    selection=cone, n_groups=2, replace=True))  # fmt: skip

        _step("10. a run-quality table as an annotation set, and a quality cut (obscat annotate ingest; --where dq.*)")
        quality = _quality_table(cat, directory / "quality.ecsv")
        typer.echo(f"   {cat.annotate(quality, name='dq', key='OBS_ID', store='synthetic', categories={'weather': WEATHER}, masks=['vpm_mask']).summary()}")
        cut = cone & Where("dq.light_yield > 70 and dq.weather <= 'B' and (dq.vpm_mask & 4) == 0")
        good = cat.select(cut, columns=[])
        typer.echo(f"   the cut keeps {plural(len(good), 'observation')} of {len(selected)}")
        dropped = [int(i) for i in selected["obs_id"] if i not in set(good["obs_id"])]
        if dropped:
            typer.echo("   why not the first one it drops (obscat select --explain):")
            render_explanation(cat.explain(dropped[0], cut))

        _step("11. instrument epochs, and one group per epoch (obscat epochs load; obscat group by epoch)")
        middle = cat.sql(MIDDLE_TIME, {"store": "synthetic"})["mjd"][0]
        cat.load_epochs({"epochs": [
            {"name": "early", "store": "synthetic", "stop": Time(middle, format="mjd", scale="tt"), "description": "demo"},
            {"name": "late", "store": "synthetic", "start": Time(middle, format="mjd", scale="tt"), "description": "demo"},
        ]}, replace=True, force=True)  # fmt: skip
        render_grouping(cat.group_by("demo-epoch", "epoch", selection=cone, replace=True))

        _step("12. OFF runs of other fields matched to each ON run near PKS 2155-304 (obscat match)")
        render_grouping(cat.match("demo-off", cone, ~cone, max_delta={"zenith": 10 * u.deg, "azimuth": 60 * u.deg},
                                  exclusion_radius=5 * u.deg, replace=True))  # fmt: skip

        _step("13. the groups as GADF data stores Gammapy opens (obscat groups export)")
        export = directory / "export"
        shutil.rmtree(export, ignore_errors=True)
        stores = cat.export_grouping("demo-irf", export)
        assert isinstance(stores, list)  # format "gadf": a data store per group
        for group in stores:
            typer.echo(f"   {group}")

        _step("14. plots (obscat plot)")
        _plots(cat, directory)
    typer.echo(f"\nQuery it yourself: obscat --db {url} groups list")


#: Observations per target, by SQL over the observation table (obscat sql).
PER_TARGET = """SELECT o.object, count(*) AS n_obs, min(o.zen_pnt_deg) AS zen_min_deg, max(o.zen_pnt_deg) AS zen_max_deg,
  sum(o.livetime_s) / 3600.0 AS livetime_h, avg(o.muoneff) AS mean_muoneff
FROM observation o JOIN data_store s ON s.id = o.store_id WHERE s.name = :store
GROUP BY o.object ORDER BY n_obs DESC, o.object"""


#: The start time (TT MJD) halfway through a store's observations.
MIDDLE_TIME = """SELECT (min(o.tstart_mjd) + max(o.tstart_mjd)) / 2 AS mjd
FROM observation o JOIN data_store s ON s.id = o.store_id WHERE s.name = :store"""

#: Weather grades of the demo's quality table, best first.
WEATHER = ["A+", "A", "B", "C", "D", "F"]


def _quality_table(cat: Catalog, path: Path) -> Path:
    """A synthetic run-quality table of the demo store, as an observatory's datacheck would write
    it: light yield (%), weather grade, a bit mask of flagged camera modules."""
    import numpy as np
    from astropy import units as u
    from astropy.table import Table

    rng = np.random.default_rng(2)
    obs_id = np.asarray(cat.observations(store="synthetic", columns=["obs_id"])["obs_id"])
    table = Table({"OBS_ID": obs_id, "light_yield": np.round(rng.normal(80, 8, len(obs_id)), 1) * u.percent,
                   "weather": rng.choice(WEATHER, len(obs_id), p=[0.2, 0.3, 0.25, 0.15, 0.05, 0.05]),
                   "vpm_mask": rng.choice([0, 0, 0, 1, 4, 6], len(obs_id))})  # fmt: skip
    table.write(path, overwrite=True)
    return path


def _table(table) -> None:
    render(table.colnames, table_rows(table))


def _plots(cat: Catalog, directory: Path) -> None:
    """The tutorial's two figures, the sky map and the dendrogram, if matplotlib is installed."""
    if importlib.util.find_spec("matplotlib") is None:
        typer.echo("   (matplotlib is not installed: pip install 'obscat[plot]' for the figures)")
        return
    figures = {
        "zenith-muoneff.png": dict(name="demo-zenith", x="zen_tmid_deg", y="muoneff"),
        "irf-clusters.png": dict(name="demo-irf", x="psf-radius", y="edisp-res"),
        "sky.png": dict(name="demo-irf", kind="sky"),
        "dendrogram.png": dict(name="demo-irf", kind="dendrogram"),
        "off-match.png": dict(name="demo-off"),
    }
    for file_name, figure in figures.items():
        typer.echo(f"   {save_figure(cat.plot(**figure), directory / file_name)}")


def _step(text: str) -> None:
    typer.secho(f"\n{text}", bold=True)
