"""A corpus of malformed and hostile GADF data stores, each with the outcome obscat must give.

Every :class:`Case` builds one small data store (from the real H.E.S.S. DL3 DR1 data or
from :func:`obscat.gadf.synthetic.make_data_store`) with one kind of damage, and lists the
commands that touch the damage (:class:`Step`) with what each must do:

* ``rejected``: exit code 1 and one line ``Error: ...`` naming the file and, where they
  apply, the HDU, column and row; the database is unchanged;
* ``warning``: exit code 0, a ``Warning: ...`` line, the data stored as documented;
* ``accepted``: exit code 0, no warning (legitimate GADF, however odd it looks);
* ``ingested``: exit code 0, warnings allowed (the ingest before a features step);
* ``null``: ``features compute --strict`` is rejected as above, and without ``--strict``
  the feature is stored as NULL with the reason (obscat's documented behaviour).

``tests/test_hostile.py`` runs every step through the CLI on SQLite and PostgreSQL.
Run as a script, it writes the corpus and a ``manifest.json``::

    python3 tests/hostile_corpus.py OUTDIR

What obscat treats as hostile, and why:

* **Path traversal.** GADF resolves ``FILE_DIR`` relative to the HDU index (or
  ``BASE_DIR``), and ``..`` or absolute directories are legitimate: H.E.S.S.-like and
  CALDB layouts keep IRFs outside the index directory.  obscat never writes, moves or
  deletes data files, it only reads them (``features compute``, ``pointing``), with the
  user's own rights; so an escaping path is not refused.  What a hostile path *can* do
  is make a reader hang or exhaust memory: a FIFO blocks ``open`` forever and
  ``/dev/zero`` never ends.  obscat therefore opens only regular files: FIFOs, devices,
  sockets, directories, broken links and symbolic-link loops are recorded as not
  existing (``exists_at_ingest`` false, with a warning naming the first) and, when a
  command needs them, reported (``--strict``) or stored as NULL with the reason.  FITS
  reading is bounded (a header must start with SIMPLE/XTENSION and end within 100,000
  cards; data is read in pieces, so a header claiming a petabyte allocates nothing).
* **Strings.** Any UTF-8 text is data (a 100 kB OBJECT is stored whole); text that is
  not UTF-8 is refused with its row and column; an ASCII NUL ends a FITS string (FITS
  standard 7.3.3.1: "characters after the first ASCII NULL are not defined"), so what
  follows it is dropped on both backends.  Resolved file paths longer than 2048 bytes
  are refused (PostgreSQL's unique index on paths cannot hold much more, and no real
  store comes near).
* **Numbers.** NaN in an optional column means "not given" and is stored as NULL;
  infinity, a latitude outside [-90, 90], a zenith outside [0, 180], a negative
  ONTIME/LIVETIME, integers that do not fit the column and times outside the years
  1-9999 are refused; negative TSTART is legitimate (before MJDREF); times before 1960
  are stored with a warning (UTC is undefined there).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("OBSCAT_TEST_DATA", REPO.parent / "shared" / "data"))
HESS = DATA / "hess-dl3-dr1"
HESS_IDS = (20136, 20137, 20151)  # the first three observations of HESS DL3 DR1
STORE = "case"  # every case is ingested under this name

__all__ = ["CASES", "Case", "Step", "build", "write_corpus"]


@dataclass
class Step:
    """One command run on a case and what it must do.

    ``message`` is a fragment of the ``Error:`` or ``Warning:`` line (``null``: of the
    ``--strict`` error and of the stored NULL reason), formatted with the case's context:
    ``{store}`` (the store directory), ``{hess}`` (the HESS data directory), ``{case}``
    (the case directory) and what the builder returned (OBS_IDs).  ``file``, ``hdu``,
    ``column`` and ``row`` are what the line must name, formatted the same way.
    """

    command: str  # ingest | features | cluster | split
    outcome: str  # rejected | warning | accepted | ingested | null
    message: str = ""
    file: str | None = None
    hdu: str | None = None
    column: str | None = None
    row: int | None = None
    args: tuple[str, ...] = ()  # extra arguments of the command
    check: Callable | None = None  # check(conn, context): the data stored as documented


@dataclass
class Case:
    name: str
    category: str  # file | column | value | reference | string
    source: str  # hess | synthetic
    description: str
    build: Callable[[Path], dict]  # writes the store (and what it needs) into the directory
    steps: list[Step] = field(default_factory=list)


# -- sources --------------------------------------------------------------------------------


def hess_tables(n: int = 3) -> tuple[Table, Table]:
    """The first ``n`` observations of HESS DL3 DR1, FILE_DIR pointing at the shared data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs = Table.read(HESS / "obs-index.fits.gz")[:n]
        hdu = Table.read(HESS / "hdu-index.fits.gz")
    hdu = hdu[np.isin(hdu["OBS_ID"], obs["OBS_ID"])]
    hdu["FILE_DIR"] = np.array([str(HESS / "data")] * len(hdu))
    obs.meta.pop("COMMENT", None)
    hdu.meta.pop("COMMENT", None)
    return obs, hdu


def write_index(store: Path, obs: Table | None = None, hdu: Table | None = None) -> None:
    store.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for table, name, extname in ((obs, "obs-index.fits.gz", "OBS_INDEX"), (hdu, "hdu-index.fits.gz", "HDU_INDEX")):
            if table is not None:
                table.meta["EXTNAME"] = extname
                table.write(store / name, overwrite=True)


def hess_store(store: Path, obs_edit=None, hdu_edit=None) -> dict:
    """A three-observation HESS store; ``obs_edit(obs)`` / ``hdu_edit(hdu)`` damage the tables."""
    obs, hdu = hess_tables()
    changed = obs_edit(obs) if obs_edit else None
    obs = obs if changed is None else changed
    changed = hdu_edit(hdu) if hdu_edit else None
    hdu = hdu if changed is None else changed
    write_index(store, obs, hdu)
    return {}


def hess_file(store: Path, obs_id: int) -> Path:
    """Copy one HESS data file into ``store/data`` and point the HDU index at the copy."""
    name = f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
    (store / "data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HESS / "data" / name, store / "data" / name)
    obs, hdu = hess_tables()
    hdu["FILE_DIR"] = hdu["FILE_DIR"].astype(object)
    hdu["FILE_DIR"][hdu["OBS_ID"] == obs_id] = "data"
    hdu["FILE_DIR"] = hdu["FILE_DIR"].astype(str)
    write_index(store, obs, hdu)
    return store / "data" / name


_TEMPLATES: dict[tuple, Path] = {}


def synthetic_store(store: Path, layout: str = "flat") -> dict:
    """A three-observation synthetic store (analytic IRFs); returns its OBS_IDs as obs0..obs2."""
    from obscat.gadf.synthetic import make_data_store

    key = (layout, store.parent.parent)
    if key not in _TEMPLATES or not _TEMPLATES[key].exists():
        template = store.parent.parent / ".templates" / layout
        shutil.rmtree(template, ignore_errors=True)
        make_data_store(template, n_obs=3, seed=1, layout=layout)
        _TEMPLATES[key] = template
    shutil.copytree(_TEMPLATES[key], store, symlinks=True)
    index = store / "index" if layout == "caldb" else store
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = list(Table.read(index / "obs-index.fits.gz")["OBS_ID"])
    return {f"obs{k}": int(i) for k, i in enumerate(ids)}


def _read(path: Path) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Table.read(path)


def synthetic_edit(store: Path, obs_edit=None, hdu_edit=None) -> dict:
    """A synthetic store whose index tables ``obs_edit(obs)`` / ``hdu_edit(hdu)`` damage
    (in place, or by returning a new table)."""
    ctx = synthetic_store(store)
    tables = []
    for edit, name in ((obs_edit, "obs-index.fits.gz"), (hdu_edit, "hdu-index.fits.gz")):
        table = _read(store / name) if edit else None
        if edit:
            changed = edit(table)
            table = table if changed is None else changed
        tables.append(table)
    write_index(store, *tables)
    return ctx


def edit_hdu(path: Path, extname: str, edit: Callable[[fits.HDUList], None]) -> None:
    """Rewrite one FITS file after ``edit(hdul)`` changed its HDU ``extname``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path) as hdul:
            hdul = fits.HDUList([h.copy() for h in hdul])
        edit(hdul)
        hdul.writeto(path, overwrite=True, output_verify="ignore")


def data_file(store: Path, obs_id: int) -> Path:
    return store / "data" / f"obs_{obs_id:06d}.fits.gz"


def _text(column, width: int):
    return np.asarray(column).astype(f"U{width}")


# -- checks of accepted data ----------------------------------------------------------------


def _rows(conn, sql: str) -> list[tuple]:
    import sqlalchemy as sa

    return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


def expect(sql: str, rows: list[tuple]) -> Callable:
    """A check: ``sql`` returns exactly ``rows`` (formatted with the context)."""

    def check(conn, ctx: dict) -> None:
        got = _rows(conn, sql.format(**ctx))
        assert got == [tuple(v.format(**ctx) if isinstance(v, str) else v for v in row) for row in rows], (sql, got)

    check.__doc__ = f"{sql} -> {rows}"
    return check


def expect_extra(obs_id_key: str, names: dict[str, object]) -> Callable:
    """A check: the observation's ``extra`` JSON holds these columns with these values."""

    def check(conn, ctx: dict) -> None:
        import sqlalchemy as sa

        from obscat.store.models import Observation

        table = Observation.__table__
        extra = conn.execute(sa.select(table.c.extra).where(table.c.obs_id == int(ctx[obs_id_key]))).scalar_one()
        for name, value in names.items():
            assert name in extra and (value == "any" or extra[name] == value), (name, extra.get(name))

    check.__doc__ = f"extra of {obs_id_key} holds {sorted(names)}"
    return check


def all_of(*checks: Callable) -> Callable:
    def check(conn, ctx: dict) -> None:
        for one in checks:
            one(conn, ctx)

    check.__doc__ = "; ".join(c.__doc__ for c in checks)
    return check


def replace_card(raw: bytes, after: bytes, key: str, value: str) -> bytes:
    """``raw`` FITS bytes with the card ``key`` of the HDU whose header holds ``after`` set to ``value`` (verbatim)."""
    start = raw.rindex(b"XTENSION=", 0, raw.index(after))
    at = start + raw[start:].index(key.ljust(8).encode() + b"=")
    at -= at % 80  # cards start at multiples of 80
    return raw[:at] + f"{key.ljust(8)}= {value}".ljust(80).encode() + raw[at + 80:]


# -- the cases ------------------------------------------------------------------------------

CASES: list[Case] = []


def case(name: str, category: str, source: str, description: str, *steps: Step):
    def register(build: Callable[[Path], dict]) -> Callable[[Path], dict]:
        CASES.append(Case(name, category, source, description, build, list(steps)))
        return build

    return register


def ingest_rejected(message: str, file: str, **names) -> Step:
    return Step("ingest", "rejected", message, file=file, **names)


def features_null(message: str, file: str, hdu: str | None = None, column: str | None = None, args=()) -> list[Step]:
    """Ingest (any warnings), then ``features compute`` must store NULL with the reason and fail with --strict."""
    return [Step("ingest", "ingested"), Step("features", "null", message, file=file, hdu=hdu, column=column,
                                             args=tuple(args))]  # fmt: skip


OBS_INDEX = "{store}/obs-index.fits.gz"
HDU_INDEX = "{store}/hdu-index.fits.gz"

# file damage ---------------------------------------------------------------------------------


@case("truncated-gzip-obs-index", "file", "hess", "obs-index.fits.gz cut in the middle of its gzip stream",
      ingest_rejected(OBS_INDEX + ": truncated or corrupt gzip data (Compressed file ended before the "
                      "end-of-stream marker was reached)", OBS_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    hess_store(store)
    data = (store / "obs-index.fits.gz").read_bytes()
    (store / "obs-index.fits.gz").write_bytes(data[: len(data) // 2])
    return {}


@case("truncated-gzip-hdu-index", "file", "synthetic", "hdu-index.fits.gz cut after 600 bytes",
      ingest_rejected(HDU_INDEX + ": truncated or corrupt gzip data (Compressed file ended before the "
                      "end-of-stream marker was reached)", HDU_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    data = (store / "hdu-index.fits.gz").read_bytes()
    (store / "hdu-index.fits.gz").write_bytes(data[:600])
    return ctx


@case("truncated-fits-in-gzip", "file", "synthetic", "a whole gzip stream holding only 4000 bytes of the HDU index",
      ingest_rejected(HDU_INDEX + ": truncated FITS file (4000 bytes is not a whole number of 2880-byte blocks)",
                      HDU_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    raw = gzip.decompress((store / "hdu-index.fits.gz").read_bytes())
    (store / "hdu-index.fits.gz").write_bytes(gzip.compress(raw[:4000]))
    return ctx


@case("zero-byte-obs-index", "file", "hess", "obs-index.fits.gz is an empty file",
      ingest_rejected(OBS_INDEX + ": empty file (0 bytes)", OBS_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    hess_store(store)
    (store / "obs-index.fits.gz").write_bytes(b"")
    return {}


@case("zero-byte-hdu-index", "file", "synthetic", "hdu-index.fits.gz is an empty file",
      ingest_rejected(HDU_INDEX + ": empty file (0 bytes)", HDU_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    (store / "hdu-index.fits.gz").write_bytes(b"")
    return ctx


@case("csv-named-fits", "file", "hess", "obs-index.fits.gz is a CSV text file",
      ingest_rejected(OBS_INDEX + ": not a FITS file", OBS_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    hess_store(store)
    (store / "obs-index.fits.gz").write_text("OBS_ID,RA_PNT,DEC_PNT,TSTART,TSTOP\n1,2,3,4,5\n")
    return {}


@case("gzipped-text-hdu-index", "file", "synthetic", "hdu-index.fits.gz is valid gzip of text",
      ingest_rejected(HDU_INDEX + ": not a FITS file", HDU_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    (store / "hdu-index.fits.gz").write_bytes(gzip.compress(b"<html>404 Not Found</html>\n" * 50))
    return ctx


@case("fits-without-table", "file", "hess", "obs-index.fits is a FITS file with only a primary image HDU",
      ingest_rejected("{store}/obs-index.fits: no binary table HDU", "{store}/obs-index.fits"))  # fmt: skip
def _(store: Path) -> dict:
    hess_store(store)
    (store / "obs-index.fits.gz").unlink()
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(store / "obs-index.fits")
    return {}


@case("index-is-a-directory", "file", "synthetic", "obs-index.fits.gz is a directory",
      ingest_rejected(OBS_INDEX + ": is a directory, not a FITS file", OBS_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    (store / "obs-index.fits.gz").unlink()
    (store / "obs-index.fits.gz").mkdir()
    return ctx


@case("index-is-a-fifo", "file", "synthetic", "hdu-index.fits.gz is a named pipe (opening it would block forever)",
      ingest_rejected(HDU_INDEX + ": a FIFO, not a regular file: not read", HDU_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    (store / "hdu-index.fits.gz").unlink()
    os.mkfifo(store / "hdu-index.fits.gz")
    return ctx


@case("index-files-swapped", "file", "hess", "obs-index.fits.gz holds the HDU index and vice versa",
      ingest_rejected(OBS_INDEX + ": missing required column RA_PNT, DEC_PNT (or OBS_MODE, for observations "
                      "without a sky pointing)", OBS_INDEX,
                      column="RA_PNT"))  # fmt: skip
def _(store: Path) -> dict:
    hess_store(store)
    (store / "obs-index.fits.gz").rename(store / "tmp")
    (store / "hdu-index.fits.gz").rename(store / "obs-index.fits.gz")
    (store / "tmp").rename(store / "hdu-index.fits.gz")
    return {}


@case("index-table-misnamed", "file", "synthetic",
      "the obs index file holds two binary tables, neither named OBS_INDEX: the first is read, with a warning",
      Step("ingest", "warning", OBS_INDEX + ": none of its 2 binary tables is named OBS_INDEX: read the first, "
           "'OBSERVATIONS'", file=OBS_INDEX, check=expect("SELECT count(*) FROM observation", [(3,)])))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    with fits.open(store / "obs-index.fits.gz") as hdul:
        table = hdul[1].copy()
    table.name = "OBSERVATIONS"
    notes = fits.BinTableHDU.from_columns([fits.Column("NOTE", "20A", array=np.array([b"calibrated twice"]))],
                                          name="NOTES")  # fmt: skip
    fits.HDUList([fits.PrimaryHDU(), table, notes]).writeto(store / "obs-index.fits.gz", overwrite=True)
    return ctx


@case("data-file-truncated", "file", "hess", "one observation's data file is cut in the middle of its gzip stream",
      *features_null("OBS_ID 20137: edisp-bias: {store}/data/hess_dl3_dr1_obs_id_020137.fits.gz: cannot read the "
                     "file (Compressed file ended before the end-of-stream marker was reached)",
                     "{store}/data/hess_dl3_dr1_obs_id_020137.fits.gz"))  # fmt: skip
def _(store: Path) -> dict:
    path = hess_file(store, 20137)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return {}


@case("data-file-zero-bytes", "file", "synthetic", "one observation's data file is empty",
      *features_null("OBS_ID {obs1}: edisp-bias: {store}/data/obs_0{obs1}.fits.gz: cannot read the file "
                     "(empty file (0 bytes))", "{store}/data/obs_0{obs1}.fits.gz"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    data_file(store, ctx["obs1"]).write_bytes(b"")
    return ctx


@case("data-file-not-fits", "file", "synthetic", "one observation's data file is a text file",
      *features_null("OBS_ID {obs1}: edisp-bias: {store}/data/obs_0{obs1}.fits.gz: cannot read the file "
                     "(not a FITS file)", "{store}/data/obs_0{obs1}.fits.gz"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    data_file(store, ctx["obs1"]).write_text("SIMPLE? no: this is a text file\n" * 200)
    return ctx


# column damage -------------------------------------------------------------------------------


@case("missing-required-column", "column", "synthetic", "the obs index has no DEC_PNT column",
      ingest_rejected(OBS_INDEX + ": missing required column DEC_PNT", OBS_INDEX, column="DEC_PNT"))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, obs_edit=lambda obs: obs.remove_column("DEC_PNT"))


@case("missing-hdu-index-column", "column", "hess", "the HDU index has no FILE_DIR column",
      ingest_rejected(HDU_INDEX + ": missing required column FILE_DIR", HDU_INDEX, column="FILE_DIR"))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, hdu_edit=lambda hdu: hdu.remove_column("FILE_DIR"))


@case("renamed-required-column", "column", "hess", "RA_PNT renamed RA_POINTING",
      ingest_rejected(OBS_INDEX + ": missing required column RA_PNT", OBS_INDEX, column="RA_PNT"))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=lambda obs: obs.rename_column("RA_PNT", "RA_POINTING"))


@case("renamed-optional-column", "column", "synthetic",
      "ZEN_PNT renamed ZENITH: not a GADF column, so zen_pnt_deg is NULL and ZENITH is kept in extra",
      Step("ingest", "accepted", check=all_of(expect("SELECT count(*) FROM observation WHERE zen_pnt_deg IS NULL",
                                                     [(3,)]), expect_extra("obs0", {"ZENITH": "any"}))))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, obs_edit=lambda obs: obs.rename_column("ZEN_PNT", "ZENITH"))


@case("extra-columns", "column", "hess",
      "non-standard columns (a 3-vector, a boolean, text, a unit) are stored losslessly in extra",
      Step("ingest", "accepted", check=expect_extra("obs", {
          "WOBBLE_VEC": {"value": [0.5, -0.25, 1.0], "unit": "deg"}, "IS_GOOD": {"value": True},
          "SHIFT_CREW": {"value": "night-2"}, "TARGET_NAME": {"value": "MSH 15-52"}})))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["WOBBLE_VEC"] = np.tile([0.5, -0.25, 1.0], (len(obs), 1))
        obs["WOBBLE_VEC"].unit = "deg"
        obs["IS_GOOD"] = np.ones(len(obs), bool)
        obs["SHIFT_CREW"] = ["night-2"] * len(obs)

    hess_store(store, obs_edit=edit)
    return {"obs": HESS_IDS[0]}


@case("duplicate-column-names", "column", "hess", "the obs index has RA_PNT and ra_pnt (names are case-insensitive)",
      ingest_rejected(OBS_INDEX + ": columns 'RA_PNT' and 'ra_pnt' have the same name", OBS_INDEX,
                      column="ra_pnt"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["ra_pnt"] = obs["RA_PNT"] + 1

    return hess_store(store, obs_edit=edit)


@case("text-coordinate", "column", "hess", "RA_PNT written as text",
      ingest_rejected(OBS_INDEX + ": column RA_PNT holds text (32 characters), expected numbers", OBS_INDEX,
                      column="RA_PNT"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["RA_PNT"] = obs["RA_PNT"].astype("U32")

    return hess_store(store, obs_edit=edit)


@case("float-obs-id-in-hdu-index", "column", "synthetic", "OBS_ID of the HDU index written as float64",
      ingest_rejected(HDU_INDEX + ": column OBS_ID holds 64-bit floats, expected integers", HDU_INDEX,
                      column="OBS_ID"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(hdu):
        hdu["OBS_ID"] = hdu["OBS_ID"].astype(float)

    return synthetic_edit(store, hdu_edit=edit)


@case("numeric-object-name", "column", "synthetic", "OBJECT written as integers",
      ingest_rejected(OBS_INDEX + ": column OBJECT holds 64-bit integers, expected text", OBS_INDEX,
                      column="OBJECT"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["OBJECT"] = np.arange(len(obs), dtype=np.int64)

    return synthetic_edit(store, obs_edit=edit)


@case("wrong-unit", "column", "hess", "RA_PNT with TUNIT 'm'",
      ingest_rejected(OBS_INDEX + ": column RA_PNT has unit 'm', not convertible to 'deg'", OBS_INDEX,
                      column="RA_PNT"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["RA_PNT"].unit = "m"

    return hess_store(store, obs_edit=edit)


@case("unparseable-unit", "column", "synthetic", "TSTART with TUNIT 'fortnight-ish'",
      ingest_rejected(OBS_INDEX + ": column TSTART has unit 'fortnight-ish', not convertible to 's'", OBS_INDEX,
                      column="TSTART"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["TSTART"].unit = "fortnight-ish"

    return synthetic_edit(store, obs_edit=edit)


@case("missing-units", "column", "synthetic",
      "RA_PNT, DEC_PNT and TSTART without TUNIT and no TIMEUNIT header: taken in GADF's units, with a warning",
      Step("ingest", "warning", OBS_INDEX + ": no unit (TUNIT) on column RA_PNT (taken as deg), DEC_PNT (taken as "
           "deg), TSTART (taken as s)", file=OBS_INDEX, column="RA_PNT",
           check=expect("SELECT count(*) FROM observation WHERE ra_pnt_deg > 0 AND tstart_s > 1e8", [(3,)])))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        for name in ("RA_PNT", "DEC_PNT", "TSTART"):
            obs[name].unit = None
        obs.meta.pop("TIMEUNIT", None)

    return synthetic_edit(store, obs_edit=edit)


# bad values ----------------------------------------------------------------------------------


def _set(column: str, row: int, value, dtype=None):
    def edit(table):
        if dtype is not None:
            table[column] = table[column].astype(dtype)
        table[column][row] = value

    return edit


@case("nan-pointing", "value", "hess", "RA_PNT is NaN in row 2",
      ingest_rejected(OBS_INDEX + ": row 2 (OBS_ID 20137): RA_PNT is nan", OBS_INDEX, column="RA_PNT",
                      row=2))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=_set("RA_PNT", 1, np.nan))


@case("inf-pointing", "value", "synthetic", "DEC_PNT is -inf in row 3",
      ingest_rejected(OBS_INDEX + ": row 3 (OBS_ID {obs2}): DEC_PNT is -inf", OBS_INDEX, column="DEC_PNT",
                      row=3))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, obs_edit=_set("DEC_PNT", 2, -np.inf))


@case("declination-out-of-range", "value", "hess", "DEC_PNT = 95 deg",
      ingest_rejected(OBS_INDEX + ": row 1 (OBS_ID 20136): DEC_PNT 95.0 is outside [-90, 90] deg", OBS_INDEX,
                      column="DEC_PNT", row=1))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=_set("DEC_PNT", 0, 95.0))


@case("altitude-out-of-range", "value", "synthetic", "ALT_PNT = 120 deg in row 2 (an optional column)",
      ingest_rejected(OBS_INDEX + ": row 2 (OBS_ID {obs1}): ALT_PNT 120.0 deg is outside [-90, 90]", OBS_INDEX,
                      column="ALT_PNT", row=2))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, obs_edit=_set("ALT_PNT", 1, 120.0))


@case("right-ascension-wrapped", "value", "hess", "RA_PNT = -30 and 725 deg: legitimate angles, normalised to [0, 360)",
      Step("ingest", "accepted", check=expect(
          "SELECT obs_id, round(ra_pnt_deg) FROM observation ORDER BY obs_id",
          [(20136, 330.0), (20137, 5.0), (20151, 229.0)])))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["RA_PNT"][0], obs["RA_PNT"][1] = -30.0, 725.0

    return hess_store(store, obs_edit=edit)


@case("infinite-livetime", "value", "synthetic", "LIVETIME = +inf (an optional column)",
      ingest_rejected(OBS_INDEX + ": row 1 (OBS_ID {obs0}): LIVETIME is inf", OBS_INDEX, column="LIVETIME",
                      row=1))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, obs_edit=_set("LIVETIME", 0, np.inf))


@case("negative-livetime", "value", "hess", "LIVETIME = -100 s",
      ingest_rejected(OBS_INDEX + ": row 3 (OBS_ID 20151): LIVETIME -100.0 s is outside [0, inf]", OBS_INDEX,
                      column="LIVETIME", row=3))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=_set("LIVETIME", 2, -100.0))


@case("negative-times-before-1960", "value", "synthetic",
      "TSTART = -1.5e9 s: legitimate (before MJDREF) but in 1953, before UTC: stored, with a warning",
      Step("ingest", "warning", OBS_INDEX + ": 1 observation starts before 1960, where UTC is undefined (first: "
           "row 2, OBS_ID {obs1}, 1953-06-20T", file=OBS_INDEX, row=2,
           check=expect("SELECT count(*) FROM observation WHERE tstart_s < 0", [(1,)])))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["TSTART"][1], obs["TSTOP"][1] = -1.5e9, -1.5e9 + 1800

    return synthetic_edit(store, obs_edit=edit)


@case("time-beyond-year-9999", "value", "hess", "TSTART = TSTOP = 1e30 s (10^22 years after MJDREF)",
      ingest_rejected(OBS_INDEX + ": row 1 (OBS_ID 20136): TSTART 1e+30 s after MJDREF is MJD 1.15741e+25, "
                      "outside the years 1 to 9999", OBS_INDEX, column="TSTART", row=1))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["TSTART"][0] = obs["TSTOP"][0] = 1e30

    return hess_store(store, obs_edit=edit)


@case("tstop-before-tstart", "value", "synthetic", "TSTOP one second before TSTART",
      ingest_rejected(OBS_INDEX + ": row 2 (OBS_ID {obs1}): TSTOP is before TSTART", OBS_INDEX, column="TSTOP",
                      row=2))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["TSTOP"][1] = obs["TSTART"][1] - 1

    return synthetic_edit(store, obs_edit=edit)


@case("duplicate-obs-id", "value", "hess", "row 3 repeats the OBS_ID of row 1",
      ingest_rejected(OBS_INDEX + ": duplicate OBS_ID 20136 in rows 1 and 3", OBS_INDEX, column="OBS_ID",
                      row=3))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=_set("OBS_ID", 2, 20136))


@case("huge-size", "value", "hess", "SIZE = 2^64 - 1 (an unsigned 64-bit column): would wrap to -1",
      ingest_rejected(HDU_INDEX + ": row 4 (OBS_ID 20136): SIZE 18446744073709551615 is not a byte count "
                      "(0 to 2^63 - 1)", HDU_INDEX, column="SIZE", row=4))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, hdu_edit=_set("SIZE", 3, 2**64 - 1, dtype=np.uint64))


@case("integer-overflow", "value", "synthetic", "N_TELS = 2^40: fits SQLite's integers, not PostgreSQL's INTEGER",
      ingest_rejected(OBS_INDEX + ": row 3: column N_TELS value 1099511627776 is outside the 32-bit integers "
                      "obscat stores it in", OBS_INDEX, column="N_TELS", row=3))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, obs_edit=_set("N_TELS", 2, 2**40, dtype=np.int64))


@case("zero-row-obs-index", "value", "hess", "both index tables have their columns but no rows",
      ingest_rejected(OBS_INDEX + ": the observation index has no rows", OBS_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    obs, hdu = hess_tables()
    write_index(store, obs[:0], hdu[:0])
    return {}


@case("zero-row-hdu-index", "value", "synthetic",
      "the HDU index has no rows: the observations are stored, without HDUs, with a warning",
      Step("ingest", "warning", HDU_INDEX + ": 3 of 3 observations have no HDU (OBS_ID {obs0}, {obs1}, {obs2})",
           file=HDU_INDEX, check=expect("SELECT (SELECT count(*) FROM observation), (SELECT count(*) FROM hdu)",
                                        [(3, 0)])))  # fmt: skip
def _(store: Path) -> dict:
    return synthetic_edit(store, hdu_edit=lambda hdu: hdu[:0])


@case("nan-zenith-then-split", "value", "hess",
      "ZEN_PNT is NaN for one observation: stored as NULL (not given), and a split on it is refused",
      Step("ingest", "accepted", check=expect("SELECT obs_id FROM observation WHERE zen_pnt_deg IS NULL",
                                              [(20137,)])),
      Step("split", "rejected", "zen_pnt_deg is NULL for 1 selected observation: case:20137 (ZEN_PNT is absent or "
           "NaN in {store}/obs-index.fits.gz)", file=OBS_INDEX, column="ZEN_PNT"))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=_set("ZEN_PNT", 1, np.nan))


# IRF damage (features) ---------------------------------------------------------------------


@case("irf-wrong-shape", "value", "hess", "EDISP's MATRIX declared (TDIM) with its axes reversed",
      *features_null("OBS_ID 20137: edisp-bias: {store}/data/hess_dl3_dr1_obs_id_020137.fits.gz [edisp]: column "
                     "MATRIX has shape (6, 160, 96), expected (96, 160, 6) from its axes",
                     "{store}/data/hess_dl3_dr1_obs_id_020137.fits.gz", hdu="[edisp]", column="MATRIX"))  # fmt: skip
def _(store: Path) -> dict:
    path = hess_file(store, 20137)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(replace_card(raw, b"EXTNAME = 'EDISP", "TDIM7", "'(6,160,96)'")))
    return {}


@case("irf-nan-then-cluster", "value", "synthetic",
      "NaN in one observation's effective area: aeff is NULL with the reason, and clustering on it is refused",
      *features_null("OBS_ID {obs1}: aeff: {store}/data/obs_0{obs1}.fits.gz [AEFF]: column EFFAREA holds NaN or "
                     "infinite values", "{store}/data/obs_0{obs1}.fits.gz", hdu="[AEFF]", column="EFFAREA",
                     args=("-F", "aeff", "-F", "edisp-res")),
      Step("cluster", "rejected", "features are NULL or NaN for 1 selected observation: case:{obs1} (case:{obs1} aeff: "
           "{store}/data/obs_0{obs1}.fits.gz [AEFF]: column EFFAREA holds NaN or infinite values)",
           file="{store}/data/obs_0{obs1}.fits.gz", hdu="[AEFF]", column="EFFAREA",
           args=("-F", "aeff", "-F", "edisp-res")))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)

    def edit(hdul):
        hdul["AEFF"].data["EFFAREA"][0][2, 5] = np.nan

    edit_hdu(data_file(store, ctx["obs1"]), "AEFF", edit)
    return ctx


@case("irf-zero-rows", "value", "synthetic", "the PSF table has its columns but no row",
      *features_null("OBS_ID {obs2}: psf-radius: {store}/data/obs_0{obs2}.fits.gz [PSF]: the IRF table has no rows",
                     "{store}/data/obs_0{obs2}.fits.gz", hdu="[PSF]"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)

    def edit(hdul):
        k = hdul.index_of("PSF")
        hdul[k] = fits.BinTableHDU(data=hdul[k].data[:0], header=hdul[k].header, name="PSF")

    edit_hdu(data_file(store, ctx["obs2"]), "PSF", edit)
    return ctx


@case("irf-garbage-tdim", "value", "synthetic", "PSF's TDIM of RPSF is '(a,b,c)'",
      *features_null("OBS_ID {obs0}: psf-radius: {store}/data/obs_0{obs0}.fits.gz [PSF]: "
                     "malformed table header (invalid literal for int() with base 10: 'a')",
                     "{store}/data/obs_0{obs0}.fits.gz", hdu="[PSF]"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    path = data_file(store, ctx["obs0"])
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(replace_card(raw, b"PSF_TABLE", "TDIM7", "'(a,b,c)'")))
    return ctx


@case("irf-huge-naxis2", "value", "synthetic",
      "AEFF's header claims 10^12 rows (a petabyte): read in pieces, found truncated, nothing allocated",
      *features_null("OBS_ID {obs1}: aeff: {store}/data/obs_0{obs1}.fits.gz: cannot read the file (HDU AEFF is "
                     "truncated)", "{store}/data/obs_0{obs1}.fits.gz", hdu="AEFF", args=("-F", "aeff")))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    path = data_file(store, ctx["obs1"])
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(replace_card(raw, b"EXTNAME = 'AEFF", "NAXIS2", f"{10**12:20d}")))
    return ctx


@case("irf-node-migra", "value", "synthetic",
      "EDISP's MIGRA_HI equals MIGRA_LO (a node axis): the migration bins edisp-res needs are not there",
      *features_null("OBS_ID {obs1}: edisp-res: {store}/data/obs_0{obs1}.fits.gz [EDISP]: axis migra is given as "
                     "nodes (_LO = _HI), not as the bins needed here", "{store}/data/obs_0{obs1}.fits.gz",
                     hdu="[EDISP]", args=("-F", "edisp-res")))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)

    def edit(hdul):
        hdul["EDISP"].data["MIGRA_HI"][0] = hdul["EDISP"].data["MIGRA_LO"][0]

    edit_hdu(data_file(store, ctx["obs1"]), "EDISP", edit)
    return ctx


@case("events-header-nan-pointing", "value", "synthetic",
      "the EVENTS header's RA_PNT is NaN: offsets from --position are undefined, and clustering is refused",
      *features_null("OBS_ID {obs0}: edisp-res: {store}/data/obs_0{obs0}.fits.gz [EVENTS]: header RA_PNT/DEC_PNT "
                     "= nan, {dec0} is not a sky position", "{store}/data/obs_0{obs0}.fits.gz", hdu="[EVENTS]",
                     column="RA_PNT",
                     args=("-F", "edisp-res", "-F", "psf-radius", "--position", "83.63 22.01")),
      Step("cluster", "rejected", "features are NULL or NaN for 1 selected observation: case:{obs0} (case:{obs0} "
           "edisp-res: {store}/data/obs_0{obs0}.fits.gz [EVENTS]: header RA_PNT/DEC_PNT = nan, {dec0} is not a sky "
           "position)",
           file="{store}/data/obs_0{obs0}.fits.gz", hdu="[EVENTS]", column="RA_PNT",
           args=("-F", "edisp-res", "-F", "psf-radius")))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    path = data_file(store, ctx["obs0"])
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(replace_card(raw, b"EXTNAME = 'EVENTS", "RA_PNT", f"{'NaN':>20}")))
    return {**ctx, "dec0": f"{fits.getheader(path, 'EVENTS')['DEC_PNT']:g}"}


# broken references ---------------------------------------------------------------------------


@case("missing-data-file", "reference", "synthetic",
      "one observation's data file does not exist: recorded as missing, and its features are NULL",
      Step("ingest", "warning", "1 of 3 files in the HDU index do not exist or are not regular files (first: "
           "{store}/data/obs_0{obs1}.fits.gz)", file="{store}/data/obs_0{obs1}.fits.gz",
           check=expect("SELECT count(*) FROM hdu_file WHERE NOT exists_at_ingest", [(1,)])),
      Step("features", "null", "OBS_ID {obs1}: edisp-bias: {store}/data/obs_0{obs1}.fits.gz: cannot read the file "
           "([Errno 2] No such file or directory: '{store}/data/obs_0{obs1}.fits.gz')",
           file="{store}/data/obs_0{obs1}.fits.gz"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    data_file(store, ctx["obs1"]).unlink()
    return ctx


@case("hdu-for-unknown-observation", "reference", "hess", "the HDU index has rows for an OBS_ID the obs index lacks",
      ingest_rejected(HDU_INDEX + ": row 7: OBS_ID 20137 is not in the observation index", HDU_INDEX,
                      column="OBS_ID", row=7))  # fmt: skip
def _(store: Path) -> dict:
    return hess_store(store, obs_edit=lambda obs: obs[obs["OBS_ID"] != 20137])


@case("missing-hdu", "reference", "hess", "the HDU index names an extension ('EDISP_V2') the file does not have",
      *features_null("OBS_ID 20136: edisp-bias: {hess}/data/hess_dl3_dr1_obs_id_020136.fits.gz [EDISP_V2]: no such "
                     "binary table HDU in the file", "{hess}/data/hess_dl3_dr1_obs_id_020136.fits.gz",
                     hdu="[EDISP_V2]"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(hdu):
        hdu["HDU_NAME"] = _text(hdu["HDU_NAME"], 20)
        hdu["HDU_NAME"][(hdu["OBS_ID"] == 20136) & (hdu["HDU_TYPE"] == "edisp")] = "EDISP_V2"

    return hess_store(store, hdu_edit=edit)


@case("symlink-loop-index", "reference", "hess", "obs-index.fits.gz is a symbolic link to itself",
      ingest_rejected(OBS_INDEX + ": symbolic link loop", OBS_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    hess_store(store)
    (store / "obs-index.fits.gz").unlink()
    os.symlink("obs-index.fits.gz", store / "obs-index.fits.gz")
    return {}


@case("dangling-symlink-index", "reference", "synthetic", "hdu-index.fits.gz is a link to a file that does not exist",
      ingest_rejected(HDU_INDEX + ": broken symbolic link (to ../moved/hdu-index.fits.gz)", HDU_INDEX))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    (store / "hdu-index.fits.gz").unlink()
    os.symlink("../moved/hdu-index.fits.gz", store / "hdu-index.fits.gz")
    return ctx


@case("symlink-loop-data-file", "reference", "synthetic",
      "two data files are symbolic links to each other: recorded as missing, never followed forever",
      Step("ingest", "warning", "2 of 3 files in the HDU index do not exist or are not regular files (first: "
           "{store}/data/obs_0{obs0}.fits.gz)", file="{store}/data/obs_0{obs0}.fits.gz"),
      Step("features", "null", "OBS_ID {obs0}: edisp-bias: {store}/data/obs_0{obs0}.fits.gz: cannot read the file "
           "([Errno 40] Too many levels of symbolic links: '{store}/data/obs_0{obs0}.fits.gz')",
           file="{store}/data/obs_0{obs0}.fits.gz"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    a, b = data_file(store, ctx["obs0"]), data_file(store, ctx["obs1"])
    a.unlink()
    b.unlink()
    os.symlink(b.name, a)
    os.symlink(a.name, b)
    return ctx


@case("fifo-data-file", "reference", "synthetic",
      "one data file is a named pipe (reading it would block forever): recorded as missing, never opened",
      Step("ingest", "warning", "1 of 3 files in the HDU index do not exist or are not regular files (first: "
           "{store}/data/obs_0{obs2}.fits.gz)", file="{store}/data/obs_0{obs2}.fits.gz"),
      Step("features", "null", "OBS_ID {obs2}: edisp-bias: {store}/data/obs_0{obs2}.fits.gz: cannot read the file "
           "(a FIFO, not a regular file: not read)", file="{store}/data/obs_0{obs2}.fits.gz"))  # fmt: skip
def _(store: Path) -> dict:
    ctx = synthetic_store(store)
    data_file(store, ctx["obs2"]).unlink()
    os.mkfifo(data_file(store, ctx["obs2"]))
    return ctx


@case("path-traversal-to-device", "reference", "hess",
      "FILE_DIR '../../../../../../../../../../../../dev', FILE_NAME 'zero' for one EDISP: /dev/zero is recorded as "
      "missing and never read (it never ends)",
      Step("ingest", "warning", "1 of 4 files in the HDU index do not exist or are not regular files (first: "
           "/dev/zero)", file="/dev/zero", check=expect(
               "SELECT path FROM hdu_file WHERE NOT exists_at_ingest", [("/dev/zero",)])),
      Step("features", "null", "OBS_ID 20151: edisp-bias: /dev/zero: cannot read the file (a character device, not "
           "a regular file: not read)", file="/dev/zero"))  # fmt: skip
def _(store: Path) -> dict:
    def edit(hdu):
        row = (hdu["OBS_ID"] == 20151) & (hdu["HDU_TYPE"] == "edisp")
        hdu["FILE_DIR"] = _text(hdu["FILE_DIR"], 200)
        hdu["FILE_NAME"] = _text(hdu["FILE_NAME"], 60)
        hdu["FILE_DIR"][row], hdu["FILE_NAME"][row] = "../" * 12 + "dev", "zero"

    return hess_store(store, hdu_edit=edit)


@case("relative-paths-outside-the-index", "reference", "synthetic",
      "CALDB layout: FILE_DIR '../data' and '../caldb/data/synth' leave the index directory: legitimate GADF",
      Step("ingest", "accepted", check=expect("SELECT count(*) FROM hdu_file WHERE NOT exists_at_ingest", [(0,)])),
      Step("features", "accepted", check=expect("SELECT count(*) FROM feature_value WHERE value IS NULL", [(0,)])))
def _(store: Path) -> dict:
    ctx = synthetic_store(store.parent / "caldb-store", layout="caldb")
    os.symlink("caldb-store/index", store)  # the index directory, one level below the data
    return ctx


@case("two-spellings-of-one-path", "reference", "hess",
      "FILE_DIR 'data', './data/' and 'data/../data' name one file: stored once (was a UNIQUE violation)",
      Step("ingest", "accepted", check=expect("SELECT count(*) FROM hdu_file", [(3,)])))
def _(store: Path) -> dict:
    hess_file(store, 20137)
    obs, hdu = hess_tables()
    hdu["FILE_DIR"] = _text(hdu["FILE_DIR"], 200)
    rows = np.flatnonzero(hdu["OBS_ID"] == 20137)
    hdu["FILE_DIR"][rows] = ["data", "./data/", "data/../data", "data", "./data", "data//"]
    write_index(store, obs, hdu)
    return {}


# hostile strings -----------------------------------------------------------------------------

_BIG = "".join(np.random.default_rng(5).choice(list("abcdefghijklmnopqrstuvwxyz0123456789 -+"), 100_000))


@case("100kB-strings", "string", "hess", "a 100 kB OBJECT and a 100 kB non-standard column: stored whole",
      Step("ingest", "accepted", check=expect(
          "SELECT obs_id, length(object) FROM observation ORDER BY obs_id",
          [(20136, 100_000), (20137, 8), (20151, 6)])))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["OBJECT"] = _text(obs["OBJECT"], 100_000)
        obs["OBJECT"][0] = _BIG
        obs["NOTES"] = np.array([_BIG[::-1], "short", "x"], dtype="U100000")

    return hess_store(store, obs_edit=edit)


@case("100kB-file-name", "string", "synthetic", "a 100 kB FILE_NAME",
      ingest_rejected(HDU_INDEX + ": row 1: FILE_DIR/FILE_NAME make a path of {n_bytes} bytes, longer than the 2048 "
                      "obscat stores", HDU_INDEX, column="FILE_NAME", row=1))  # fmt: skip
def _(store: Path) -> dict:
    def edit(hdu):
        hdu["FILE_NAME"] = _text(hdu["FILE_NAME"], 100_000)
        hdu["FILE_NAME"][0] = _BIG.replace(" ", "/")

    ctx = synthetic_edit(store, hdu_edit=edit)
    return {**ctx, "n_bytes": len(os.path.normpath(os.path.join(store.resolve(), "data", _BIG.replace(" ", "/"))))}


@case("non-utf8-text", "string", "hess", "OBJECT of row 2 holds the bytes 0xff 0xfe",
      ingest_rejected(OBS_INDEX + ": row 2: column OBJECT is not valid UTF-8 (invalid start byte)", OBS_INDEX,
                      column="OBJECT", row=2))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["OBJECT"] = np.array([b"Crab", b"MSH \xff\xfe 15-52", b"Vela"])

    return hess_store(store, obs_edit=edit)


@case("non-utf8-file-name", "string", "synthetic", "FILE_NAME of row 5 holds Latin-1 bytes",
      ingest_rejected(HDU_INDEX + ": row 5: column FILE_NAME is not valid UTF-8 (invalid continuation byte)",
                      HDU_INDEX, column="FILE_NAME", row=5))  # fmt: skip
def _(store: Path) -> dict:
    def edit(hdu):
        names = np.asarray(hdu["FILE_NAME"]).astype("S40")
        names[4] = b"caf\xe9_obs.fits.gz"
        hdu["FILE_NAME"] = names

    return synthetic_edit(store, hdu_edit=edit)


@case("non-ascii-header", "string", "hess", "the TELESCOP header value holds bytes 0xff 0xfe: replaced by '?'",
      Step("ingest", "warning", OBS_INDEX + ": non-ASCII bytes in the header were replaced by '?'", file=OBS_INDEX,
           check=expect("SELECT telescope FROM data_store", [("H.E.S.S??",)])))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs.meta["TELESCOP"] = "H.E.S.S.X"

    hess_store(store, obs_edit=edit)
    path = store / "obs-index.fits.gz"
    raw = gzip.decompress(path.read_bytes()).replace(b"'H.E.S.S.X'", b"'H.E.S.S\xff\xfe'")  # same length
    path.write_bytes(gzip.compress(raw))
    return {}


@case("nul-byte-in-text", "string", "synthetic",
      "OBJECT 'Crab\\0<junk>': a NUL ends a FITS string, so 'Crab' is stored (was a PostgreSQL error)",
      Step("ingest", "accepted", check=expect("SELECT object FROM observation ORDER BY obs_id",
                                              [("Crab",), ("survey",), ("survey",)])))  # fmt: skip
def _(store: Path) -> dict:
    def edit(obs):
        obs["OBJECT"] = np.array([b"Crab\x00junk\x01\x02", b"survey", b"survey"])

    return synthetic_edit(store, obs_edit=edit)


# -- building ------------------------------------------------------------------------------


def build(case: Case, root: Path) -> tuple[Path, dict]:
    """Write ``case`` into ``root/<name>`` (once); return its store directory and format context."""
    case_dir = root / case.name
    store = case_dir / "store"
    done = case_dir / ".context.json"
    if done.exists():
        return store, json.loads(done.read_text())
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ctx = case.build(store) or {}
    ctx = {**{k: str(v) for k, v in ctx.items()}, "store": str(store), "hess": str(HESS), "case": str(case_dir)}
    done.write_text(json.dumps(ctx))
    return store, ctx


def render(text: str | None, ctx: dict) -> str | None:
    return None if text is None else text.format(**ctx)


def write_corpus(root: Path) -> Path:
    """Write every case and ``manifest.json`` (case, category, source, steps with rendered messages)."""
    manifest = []
    for case in CASES:
        store, ctx = build(case, root)
        manifest.append({
            "case": case.name, "category": case.category, "source": case.source, "description": case.description,
            "store": str(store),
            "steps": [{"command": s.command, "outcome": s.outcome, "message": render(s.message, ctx),
                       "args": list(s.args), "names": {k: render(str(v), ctx) for k in ("file", "hdu", "column", "row")
                                                       if (v := getattr(s, k)) is not None},
                       "check": s.check.__doc__ if s.check else None} for s in case.steps],
        })  # fmt: skip
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 tests/hostile_corpus.py OUTDIR")
    sys.path.insert(0, str(REPO))
    out = write_corpus(Path(sys.argv[1]).resolve())
    print(f"{len(CASES)} cases written; manifest: {out}")
