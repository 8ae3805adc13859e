"""The HTML report (:meth:`obscat.Catalog.report`): one self-contained page, its data read through
the catalogue's own methods, its figures embedded, every user string escaped.

The page is deterministic: the same catalogue gives the same bytes but for the one line of class
``generated`` (the time it was written).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InputError, ObscatError
from ..gadf.files import replacing
from ..query.criteria import And, Criterion
from ..store.engine import display_url
from . import figures

__all__ = ["write_report", "OBSERVATION_COLUMNS"]

#: The observation columns the report reads.
OBSERVATION_COLUMNS = ["obs_id", "object", "ra_pnt_deg", "dec_pnt_deg", "zen_pnt_deg", "muoneff", "livetime_s",
                       "tstart_mjd", "tstart_utc"]  # fmt: skip

_STYLE = """
body{font-family:sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:90%}
th,td{border:1px solid #ddd;padding:.15em .5em;text-align:left}td.n,[data-table=members] td:last-child,
[data-table=pairs] td:nth-child(2),[data-table=pairs] td:nth-child(n+4){text-align:right}
th{background:#f3f3f3}img{max-width:100%;height:auto;display:block;margin:.5em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
.generated,.note{color:#666}code{font-size:90%;word-break:break-all}nav a{margin-right:1em}
"""


def write_report(catalog: Any, path: str | os.PathLike, selection: Criterion, *,
                 groupings: Sequence[str] | None = None, overwrite: bool = False) -> Path:  # fmt: skip
    """Write the report of ``catalog`` (an :class:`obscat.Catalog`) to ``path``: its stores, the
    observations ``selection`` keeps, every feature set, and the stored ``groupings`` (default: all).
    An existing file is replaced only with ``overwrite``."""
    path = Path(os.path.expandvars(os.fspath(path)))
    if path.exists() and not overwrite:
        raise InputError(f"{path}: exists, not overwritten (`overwrite=True` replaces it)")
    names = [g.name for g in catalog.groupings()] if groupings is None else list(dict.fromkeys(groupings))
    stored = [catalog.grouping(name) for name in names]  # an unknown name fails before anything is written
    table = catalog.observations(selection, columns=OBSERVATION_COLUMNS)
    body = [
        f"<h1>obscat report: {escape(display_url(catalog.url))}</h1>",
        f'<p class="generated">Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC by obscat {__version__}</p>',
        "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in _SECTIONS) + "</nav>",
        f"<p>Selection: {_selection_text(selection.to_json())} ({len(table)} observations).</p>",
        *_stores(catalog.stores(), table),
        *_targets(table),
        *_sky(table),
        *_coverage(table),
        *_conditions(table),
        *_feature_sets(catalog, selection),
        *_groupings(catalog, stored),
    ]
    page = "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
                      "style-src 'unsafe-inline'\">",
                      f"<title>obscat report: {escape(display_url(catalog.url))}</title>",
                      f"<style>{_STYLE}</style>", "</head>", "<body>", *body, "</body>", "</html>", ""])  # fmt: skip
    _write(path, page)
    return path


#: The canonical JSON of the empty selection.
_EVERYTHING = And(()).to_json()
#: Larger clusterings get no dendrogram: rebuilding the tree takes O(N²) time (30 s at 100,000).
MAX_DENDROGRAM_LEAVES = 10_000

_SECTIONS = [("stores", "stores"), ("targets", "targets"), ("sky", "sky"), ("coverage", "time coverage"),
             ("conditions", "zenith and muon efficiency"), ("features", "feature sets"), ("groupings", "groupings")]  # fmt: skip


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: never a half-written report."""
    try:
        with replacing(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {path}: {exc.strerror}") from None


# -- HTML pieces ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "<td>"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f'<td class="n">{int(value)}'
    if isinstance(value, (float, np.floating)):
        return f'<td class="n">{float(value):.6g}'
    return f"<td>{escape(str(value))}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], kind: str, name: str = "",
           lines: Sequence[str] = ()) -> str:  # fmt: skip
    """A table (end tags of cells and rows left out, as HTML allows) of ``rows``, or of ``lines`` already
    written; ``data-table`` says what its rows are, ``data-name`` of which grouping."""
    attrs = f' data-table="{kind}"' + (f' data-name="{escape(name)}"' if name else "")
    head = "<tr>" + "".join(f"<th>{escape(h)}" for h in headers)
    lines = [*lines, *("<tr>" + "".join(_cell(v) for v in row) for row in rows)]
    return "\n".join([f"<table{attrs}>", f"<thead>{head}</thead>", "<tbody>", *lines, "</tbody>", "</table>"])


def _definitions(items: Sequence[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}<dd>{escape(str(v))}" for k, v in items) + "</dl>"


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _figure(alt: str, make, *args, **kwargs) -> str:
    """The figure ``make(*args, **kwargs)`` returns, embedded; a note if it cannot be drawn."""
    try:
        return figures.embedded(make(*args, **kwargs), alt)
    except ObscatError as exc:
        return _note(f"no figure ({alt}): {exc}")


def _selection_text(text: str | None) -> str:
    """A selection's canonical JSON (or, for groupings stored before revision 0007, its Python repr)."""
    if text is None:
        return "not recorded"
    if text == _EVERYTHING:
        return "every observation"
    return f"<code>{escape(text)}</code>"


# -- the observations ----------------------------------------------------------------------


def _floats(table, name: str) -> np.ndarray:
    return np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan)


def _targets_of(table) -> np.ndarray:
    column = table["object"]
    values = np.ma.filled(column, "") if np.ma.is_masked(column) else np.asarray(column)
    values = np.asarray(values, dtype=str)
    return np.where(values == "", "(none)", values)


def _stores(summaries, table) -> list[str]:
    selected = dict(zip(*np.unique(np.asarray(table["store"], dtype=str), return_counts=True)))
    rows = [(s.name, s.telescope, s.n_obs, int(selected.get(s.name, 0)), s.n_hdu, s.n_files, s.n_missing_files,
             s.first_utc, s.last_utc, s.root_path) for s in summaries]  # fmt: skip
    headers = ["store", "telescope", "observations", "selected", "HDUs", "files", "missing files", "first (UTC)",
               "last (UTC)", "root path"]  # fmt: skip
    return ['<section id="stores">', "<h2>Stores</h2>", _table(headers, rows, "stores"), "</section>"]


def _targets(table) -> list[str]:
    out = ['<section id="targets">', "<h2>Observations per target</h2>"]
    targets = _targets_of(table)
    names, inverse, counts = np.unique(targets, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    livetime = np.bincount(inverse, weights=np.nan_to_num(_floats(table, "livetime_s")), minlength=len(names)) / 3600
    first, last = _extremes(np.asarray(np.ma.filled(table["tstart_utc"], ""), dtype=str), inverse)
    order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
    rows = [(names[i], int(counts[i]), float(livetime[i]), first.get(i), last.get(i)) for i in order]
    out.append(_table(["target", "observations", "livetime [h]", "first start (UTC)", "last start (UTC)"], rows,
                      "targets"))  # fmt: skip
    return [*out, "</section>"]


def _extremes(values: np.ndarray, groups: np.ndarray) -> tuple[dict[int, str], dict[int, str]]:
    """Per group, the smallest and largest of its non-empty ``values`` (ISO times sort as text)."""
    kept = values != ""
    order = np.lexsort((values[kept], groups[kept]))
    values, groups = values[kept][order], groups[kept][order]
    if not len(groups):
        return {}, {}
    ends = np.flatnonzero(np.diff(groups))
    firsts, lasts = np.concatenate(([0], ends + 1)), np.concatenate((ends, [len(groups) - 1]))
    return {int(groups[i]): str(values[i]) for i in firsts}, {int(groups[i]): str(values[i]) for i in lasts}


def _sky(table) -> list[str]:
    out = ['<section id="sky">', "<h2>Sky map of the pointings</h2>"]
    ra, dec = _floats(table, "ra_pnt_deg"), _floats(table, "dec_pnt_deg")
    pointed = np.isfinite(ra) & np.isfinite(dec)
    if not pointed.any():
        return [*out, _note("no observation has a sky pointing"), "</section>"]
    if not pointed.all():
        out.append(_note(f"{int((~pointed).sum())} observations without a sky pointing (RA_PNT/DEC_PNT) are left out"))
    targets = figures.top_labels(_targets_of(table)[pointed], np.ones(int(pointed.sum())))
    out.append(_figure("pointings on the sky", figures.sky_coverage, ra[pointed], dec[pointed], targets))
    return [*out, "</section>"]


def _coverage(table) -> list[str]:
    out = ['<section id="coverage">', "<h2>Time coverage</h2>"]
    start, livetime = _floats(table, "tstart_mjd"), _floats(table, "livetime_s")
    timed = np.isfinite(start)
    if not timed.any():
        return [*out, _note("no observation has a start time"), "</section>"]
    if not timed.all():
        out.append(_note(f"{int((~timed).sum())} observations without a start time are left out"))
    hours = np.nan_to_num(livetime[timed]) / 3600
    targets = figures.top_labels(_targets_of(table)[timed], hours)
    out.append(_figure("livetime per month", figures.monthly_livetime, start[timed], hours, targets))
    return [*out, "</section>"]


def _conditions(table) -> list[str]:
    out = ['<section id="conditions">', "<h2>Zenith and muon efficiency</h2>"]
    if not len(table):
        return [*out, _note("no observations"), "</section>"]
    columns = {name: _floats(table, name) for name in ("zen_pnt_deg", "muoneff")}
    units = {name: str(table[name].unit or "") for name in columns}
    out.append(_figure("zenith and muon efficiency distributions", figures.histograms, columns, units,
                       "pointing zenith and muon efficiency"))  # fmt: skip
    return [*out, "</section>"]


def _feature_sets(catalog, selection) -> list[str]:
    out = ['<section id="features">', "<h2>Feature sets</h2>"]
    summaries = catalog.feature_sets()
    if not summaries:
        out.append(_note("no feature set is stored"))
    for s in summaries:
        table = catalog.feature_set(s.name, selection=selection)
        names = table.colnames[2:]
        params = [("true energy", s.energy_true), ("position", "—" if s.position is None else s.position.to_string("decimal")),
                  ("fixed offset", "—" if s.fixed_offset is None else s.fixed_offset),
                  ("containment fraction", s.containment_fraction), ("observations", s.n_obs),
                  ("NULL values", s.n_null), ("stale values", s.n_stale), ("selected observations", len(table)),
                  ("created", f"{s.created_at:%Y-%m-%d %H:%M:%S}"), ("obscat version", s.obscat_version)]  # fmt: skip
        out += [f'<h3 id="{escape(s.name)}">{escape(s.name)}</h3>', _definitions(params)]
        if len(table):
            columns = {n: _floats(table, n) for n in names}
            units = {n: str(table[n].unit or "") for n in names}
            out.append(_figure(f"feature distributions of {s.name}", figures.histograms, columns, units,
                               f"features of {s.name}"))  # fmt: skip
    return [*out, "</section>"]


# -- the groupings -------------------------------------------------------------------------


def _plots(grouping) -> list[tuple[str, dict]]:
    """The figures of a grouping, as :meth:`Catalog.plot` arguments."""
    params = grouping.params
    if grouping.method == "match":
        return [("pairs", {"kind": "pairs"})]
    if grouping.method == "cluster":
        features = list(params.get("features", []))
        other = features[1] if len(features) > 1 else "zen_pnt_deg"
        tree = [("dendrogram", {"kind": "dendrogram"})] if len(grouping.members) <= MAX_DENDROGRAM_LEAVES else []
        return [*tree, ("scatter", {"kind": "scatter", "x": features[0], "y": other})] if features else []
    if grouping.method in ("split", "bins"):
        column = params.get("column", "zen_pnt_deg")
        return [("scatter", {"kind": "scatter", "x": column, "y": "muoneff" if column != "muoneff" else "zen_pnt_deg"})]
    return [("sky", {"kind": "sky"})]


def _member_lines(members) -> list[str]:
    """The rows of a member table, written at once (a grouping may hold every observation)."""
    cells: dict[str, str] = {}

    def cell(text: str) -> str:
        return cells.get(text) or cells.setdefault(text, escape(text))

    return [f"<tr><td>{cell(label)}<td>{cell(store)}<td>{obs_id}" for label, store, obs_id in
            zip(members["label"].tolist(), members["store"].tolist(), members["obs_id"].tolist())]  # fmt: skip


def _pair_lines(pairs) -> list[str]:
    """The rows of a match's pair table: its stored pairs (unmatched ON runs left out)."""
    with pairs:
        return [f"<tr><td>{escape(on_store)}<td>{on_obs}<td>{escape(off_store)}<td>{off_obs}<td>{rank}<td>{distance:.6g}"
                for on_store, on_obs, off_store, off_obs, rank, distance in pairs if off_obs is not None]  # fmt: skip


def _groupings(catalog, stored) -> list[str]:
    out = ['<section id="groupings">', "<h2>Groupings</h2>"]
    if not stored:
        out.append(_note("no grouping is stored"))
    for g in stored:
        labels = np.asarray(g.members["label"], dtype=str)
        names, counts = np.unique(labels, return_counts=True)
        provenance = [("method", g.method), ("parameters", json.dumps(g.params, sort_keys=True)),
                      ("feature set", g.feature_set or "—"),
                      ("annotation sets", ", ".join(f"{n} (version {v})" for n, v in g.annotation_sets) or "—"),
                      ("created", f"{g.created_at:%Y-%m-%d %H:%M:%S}"), ("obscat version", g.obscat_version),
                      ("members removed since", g.members_removed or 0)]  # fmt: skip
        out += [f"<h3>{escape(g.name)}</h3>", _definitions(provenance),
                f"<p>Selection: {_selection_text(g.selection_text)}</p>",
                _table(["group", "observations"], zip(names.tolist(), counts.tolist()), "groups", g.name)]  # fmt: skip
        if g.method == "cluster" and len(g.members) > MAX_DENDROGRAM_LEAVES:
            out.append(_note(f"no dendrogram: rebuilding the tree of {len(g.members)} observations takes "
                             "O(N²) time (31 s at 100,000); "
                             f"`obscat plot {g.name} --kind dendrogram` draws it"))  # fmt: skip
        for title, kwargs in _plots(g):
            out.append(_figure(f"{title} of grouping {g.name}", catalog.plot, g.name, **kwargs))
        if g.method == "match":
            lines = _pair_lines(catalog.iter_match_pairs(g.name))
            out += [f"<details><summary>{len(lines)} pairs</summary>",
                    _table(["ON store", "ON obs_id", "OFF store", "OFF obs_id", "rank", "distance"], (), "pairs", g.name,
                           lines), "</details>"]  # fmt: skip
        out += [f"<details><summary>{len(labels)} members</summary>",
                _table(["group", "store", "obs_id"], (), "members", g.name, _member_lines(g.members)), "</details>"]
    return [*out, "</section>"]
