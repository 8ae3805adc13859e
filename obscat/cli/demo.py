"""``obscat demo``: the catalogue end to end on a built-in synthetic data store."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import sqlalchemy as sa
import typer

from ..catalog import Catalog
from ..group.export import export_gadf
from ..store.models import DataStore, Observation
from .output import progress_bar, render, render_grouping
from ..compute.pointing import compute_pointing
from ..query import Cone, Store
from ..text import plural

__all__ = ["run_demo"]


def run_demo(directory: Path, *, n_obs: int = 180, url: str | None = None) -> None:
    """Write a synthetic GADF store into ``directory``, ingest it and query it.

    The catalogue is ``url`` if given, else ``directory/obscat.db``.
    """
    from astropy import units as u
    from astropy.coordinates import SkyCoord

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
        o, s = Observation.__table__, DataStore.__table__
        query = (
            sa.select(
                o.c.object,
                sa.func.count().label("n_obs"),
                sa.func.min(o.c.zen_pnt_deg).label("zen_min_deg"),
                sa.func.max(o.c.zen_pnt_deg).label("zen_max_deg"),
                (sa.func.sum(o.c.livetime_s) / 3600.0).label("livetime_h"),
                sa.func.avg(o.c.muoneff).label("mean_muoneff"),
            )
            .join_from(o, s, o.c.store_id == s.c.id)
            .where(s.c.name == "synthetic")
            .group_by(o.c.object)
            .order_by(sa.desc("n_obs"), o.c.object)
        )
        with cat.engine.connect() as conn:
            result = conn.execute(query)
            render(list(result.keys()), [tuple(row) for row in result])

        _step("5. the first observations (obscat obs list)")
        columns = ["obs_id", "object", "ra_pnt_deg", "dec_pnt_deg", "zen_pnt_deg", "livetime_s", "tstart_utc"]
        names, rows = cat.observation_rows("synthetic", columns)
        render(names, rows[:8])

        _step("6. IRF features at 1 TeV, stored as a feature set (obscat features compute)")
        with progress_bar() as progress:
            table = cat.compute_features("1 TeV", features=["edisp-res", "psf-radius", "aeff", "energy-threshold"],
                                         store="synthetic", progress=progress)  # fmt: skip
        typer.echo(f"   feature set {table.meta['feature_set']}: {plural(len(table), 'observation')}")
        render(table.colnames, [tuple(row) for row in table.iterrows()][:8])

        _step("7. observations within 3 deg of PKS 2155-304 (obscat select --cone)")
        cone = Cone(SkyCoord(329.7169 * u.deg, -30.2256 * u.deg), 3 * u.deg)
        selected = cat.select(Store("synthetic") & cone)
        typer.echo(f"   {plural(len(selected), 'observation')}: {' '.join(str(o) for _, o in selected)}")

        _step("8. split at the median zenith at mid-time (obscat pointing; obscat group split)")
        compute_pointing(cat.engine, cone)
        render_grouping(cat.group("demo-zenith", "split", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=cone,
                                  replace=True))  # fmt: skip

        _step("9. two clusters of similar IRFs (obscat group cluster)")
        render_grouping(cat.cluster("demo-irf", ["edisp-res", "psf-radius"], feature_set=table.meta["feature_set"],
                                    selection=cone, n_groups=2, replace=True))  # fmt: skip

        _step("10. the groups as GADF data stores Gammapy opens (obscat groups export)")
        export = directory / "export"
        shutil.rmtree(export, ignore_errors=True)
        for group in export_gadf(cat.engine, "demo-irf", export):
            typer.echo(f"   {group}")

        _step("11. plots (obscat plot)")
        _plots(cat.engine, directory)
    typer.echo(f"\nQuery it yourself: obscat --db {url} groups list")


def _plots(engine, directory: Path) -> None:
    """The tutorial's two figures, the sky map and the dendrogram, if matplotlib is installed."""
    if importlib.util.find_spec("matplotlib") is None:
        typer.echo("   (matplotlib is not installed: pip install 'obscat[plot]' for the figures)")
        return
    from ..group import plot

    figures = {
        "zenith-muoneff.png": lambda: plot.scatter(engine, "demo-zenith", "zen_tmid_deg", "muoneff"),
        "irf-clusters.png": lambda: plot.scatter(engine, "demo-irf", "psf-radius", "edisp-res"),
        "sky.png": lambda: plot.sky_map(engine, "demo-irf"),
        "dendrogram.png": lambda: plot.dendrogram(engine, "demo-irf"),
    }
    for name, figure in figures.items():
        typer.echo(f"   {plot.save(figure(), directory / name)}")


def _step(text: str) -> None:
    typer.secho(f"\n{text}", bold=True)
