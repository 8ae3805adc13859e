"""``obscat obscore export``: the IVOA ObsCore table (with the High-Energy extension) as a file;
``obscat obscore datastore``: rows of such a table as a GADF data store for Gammapy."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated

import typer

from .options import StoreOption, with_selection

__all__ = ["obscore_export", "obscore_datastore"]


#: Where ``STORE=URL`` splits: the ``=`` before the URL's scheme (a URL alone starts with its scheme).
_URL_STORE = re.compile(r"(.*?)=(?=[a-zA-Z][a-zA-Z0-9+.-]*://)")
#: Where ``STORE=ANGLE`` splits: the last ``=`` (an angle has none).
_ANGLE_STORE = re.compile(r"(.*)=")


def _by_store(values: list[str] | None, store_part: re.Pattern) -> str | dict[str | None, str] | None:
    """Repeated ``[STORE=]VALUE`` options: one value as it is, else a mapping store → value whose None
    entry is the one without STORE (``store_part`` matches ``STORE=`` at the start of an item)."""
    if not values:
        return None
    split = [(m.group(1), item[m.end():]) if (m := store_part.match(item)) else (None, item) for item in values]
    return values[0] if split == [(None, values[0])] else dict(split)


class ObscoreFormat(enum.StrEnum):
    votable = "votable"
    csv = "csv"
    ecsv = "ecsv"
    fits = "fits"


@with_selection
def obscore_export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The new file to write.")],
    fmt: Annotated[
        ObscoreFormat,
        typer.Option("--format", "-f", help="votable and ecsv keep units and UCDs, fits units and TUCDn cards, csv neither."),
    ] = ObscoreFormat.votable,
    feature_set: Annotated[
        str | None,
        typer.Option("--feature-set", metavar="NAME", help="Feature set giving s_resolution (psf-radius), em_res_power (edisp-res) and the reference energy and offsets."),
    ] = None,
    store: StoreOption = None,
    authority: Annotated[
        str | None,
        typer.Option("--authority", envvar="OBSCAT_OBSCORE_AUTHORITY", help="IVOA authority ID of obs_publisher_did: ivo://AUTHORITY/STORE?OBS_ID.  [default: obscat.invalid]"),
    ] = None,
    access_url: Annotated[
        list[str] | None,
        typer.Option("--access-url", metavar="[STORE=]URL", envvar="OBSCAT_OBSCORE_ACCESS_URL", help="Base URL the files are served under (their paths relative to the store's directory are appended); STORE=URL for one store (repeatable).  [default: file:// URLs]"),
    ] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", help="obs_collection.  [default: the store name]")
    ] = None,
    fov: Annotated[
        list[str] | None,
        typer.Option("--fov", metavar="[STORE=]ANGLE", help="Field-of-view diameter, e.g. '5 deg': s_fov and the s_region circle (else NULL); STORE=ANGLE for one store (repeatable)."),
    ] = None,
    selection=None,
) -> None:
    """Write the IVOA ObsCore 1.1 table of the selected observations, with the High-Energy extension's
    columns and the lowercase GADF ones (see docs/obscore.md)."""
    path = ctx.obj.catalog.export_obscore(output, format=fmt.value, feature_set=feature_set, selection=selection, store=store,
                                          authority=authority, access_url=_by_store(access_url, _URL_STORE),
                                          collection=collection, fov=_by_store(fov, _ANGLE_STORE))  # fmt: skip
    typer.echo(f"wrote {path}")


def obscore_datastore(
    rows: Annotated[Path, typer.Argument(metavar="ROWS_FILE", help="ObsCore rows with access_url: a file `obscore export` wrote, a saved TAP result (VOTable, ECSV, FITS, CSV).")],
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="The new (or empty) directory to write the index files into.")],
    mirror: Annotated[
        list[str] | None,
        typer.Option("--mirror", metavar="URL=PATH", help="Read access_url values starting with URL from local directory PATH instead (repeatable; split at the first '=').  [default: file:// URLs only]"),
    ] = None,
) -> None:
    """Write a GADF data store (obs-index.fits.gz, hdu-index.fits.gz) of ObsCore rows that Gammapy's DataStore.from_dir
    opens, pointing at each row's events file and every HDU in it, without the catalogue (not opened) nor the
    network (see docs/obscore.md)."""
    from astropy.io import fits

    from .. import ParameterError, datastore_from_obscore
    from ..text import plural

    prefixes = {}
    for pair in mirror or ():
        url, equals, path = pair.partition("=")
        if not equals:
            raise ParameterError(f"`mirror={pair!r}` is not URL=PATH")
        prefixes[url] = path
    written = datastore_from_obscore(rows, directory, mirror=prefixes)
    n_obs, n_hdus = (fits.getval(written / f"{kind}-index.fits.gz", "NAXIS2", ext=1) for kind in ("obs", "hdu"))
    typer.echo(f"wrote {written}: {plural(n_obs, 'observation')}, {plural(n_hdus, 'HDU')}")
