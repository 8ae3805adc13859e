"""Figures of stored groupings (matplotlib, the ``plot`` extra): a scatter of any two
observation columns or features, a sky map of the pointings and a dendrogram of a
clustering, each coloured by group label with the same colour per label.

The figures are built with matplotlib's object API (no pyplot, no display needed).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from .grouping import MemberValues, linkage_tree, member_values, standardized

__all__ = ["scatter", "sky_map", "dendrogram", "new_figure", "label_colours"]


def new_figure(width: float = 6.4):
    """An empty matplotlib Figure (no pyplot state), 4.8 inches high; matplotlib missing is an InputError."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'obscat[plot]'") from None
    return Figure(figsize=(width, 4.8), layout="constrained")


def label_colours(labels: list[str]) -> dict[str, tuple[float, float, float, float]]:
    """An RGBA colour per label, from tab10 (tab20 for more than 10 labels)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(set(labels)) <= 10 else "tab20"]
    palette = [cmap(i) for i in range(cmap.N)]
    return {label: palette[i % len(palette)] for i, label in enumerate(sorted(set(labels)))}


def _axis_label(name: str, unit: str) -> str:
    return f"{name} [{unit}]" if unit else name


_MARKERS = "ods^vPX*"


def _by_label(data: MemberValues, ax, x: np.ndarray, y: np.ndarray, *, hollow: bool = False) -> None:
    """One marker and colour per label; ``hollow`` markers shrinking label by label keep
    groups sharing a position (e.g. wobble pointings) visible."""
    colours = label_colours(data.labels)
    labels = np.array(data.labels)
    for i, (label, colour) in enumerate(colours.items()):
        mask = labels == label
        style = {"facecolors": "none", "edgecolors": colour, "s": 90 * 0.7**i} if hollow else {"color": colour, "s": 22}
        ax.scatter(x[mask], y[mask], marker=_MARKERS[i % len(_MARKERS)], label=f"{label} ({mask.sum()})", **style)
    ax.legend(title="group (n_obs)", fontsize="small")


def scatter(engine, name: str, x: str, y: str, *, feature_set: str | None = None):
    """``y`` against ``x`` (observation columns or features) for every member of grouping ``name``."""
    data = member_values(engine, name, [x, y], feature_set)
    fig = new_figure()
    ax = fig.add_subplot()
    _by_label(data, ax, data.values[x], data.values[y])
    if data.method == "split":  # the cut(s), as the tutorial draws the median zenith
        for cut in data.params["cuts"]:
            if data.params["column"] == x:
                ax.axvline(cut, ls="--", color="black", lw=1)
            if data.params["column"] == y:
                ax.axhline(cut, ls="--", color="black", lw=1)
    ax.set(xlabel=_axis_label(x, data.units[x]), ylabel=_axis_label(y, data.units[y]), title=f"grouping {name!r}")
    return fig


def sky_map(engine, name: str):
    """The pointings (RA, Dec) of grouping ``name``: RA increasing to the left, the RA axis
    centred on the pointings' mean direction and scaled by cos(Dec)."""
    data = member_values(engine, name, ["ra_pnt_deg", "dec_pnt_deg"])
    ra, dec = data.values["ra_pnt_deg"], data.values["dec_pnt_deg"]
    unpointed = int(np.isnan(ra).sum())  # NULL: observations without a sky pointing (OBS_MODE DRIFT)
    if unpointed == len(ra):
        raise InputError(f"grouping {name!r}: none of its {len(ra)} observations has a sky pointing (RA_PNT/DEC_PNT)")
    centre = np.degrees(np.arctan2(np.nanmean(np.sin(np.radians(ra))), np.nanmean(np.cos(np.radians(ra))))) % 360.0
    ra = centre + (ra - centre + 180.0) % 360.0 - 180.0  # continuous across RA 0/360
    fig = new_figure()
    ax = fig.add_subplot()
    _by_label(data, ax, ra, dec, hollow=True)
    ax.xaxis.set_major_formatter(lambda value, _: f"{value % 360:g}")
    ax.invert_xaxis()
    ax.set_aspect(1.0 / max(np.cos(np.radians(np.nanmean(dec))), 0.05), adjustable="datalim")
    title = f"pointings of grouping {name!r}" + (f" ({unpointed} without a sky pointing)" if unpointed else "")
    ax.set(xlabel="RA [deg]", ylabel="Dec [deg]", title=title)
    ax.grid(alpha=0.3)
    return fig


def dendrogram(engine, name: str):
    """The tree of clustering ``name``, rebuilt from its stored features and parameters;
    a link has its group's colour when every observation below it is in that group."""
    from scipy.cluster import hierarchy

    probe = member_values(engine, name, [])
    if probe.method != "cluster":
        raise InputError(f"grouping {name!r} is a {probe.method}, not a clustering: no dendrogram")
    features = probe.params["features"]
    data = member_values(engine, name, features)
    matrix = np.column_stack([data.values[f] for f in features])
    if not np.isfinite(matrix).all():
        raise InputError(f"the feature set of grouping {name!r} no longer holds every member's features")
    tree = linkage_tree(standardized(matrix, probe.params["standardize"]), probe.params["method"])
    colours = label_colours(data.labels)
    below: list[str | None] = list(data.labels)  # label of each node when all its leaves share one, else None
    for a, b, *_ in tree:
        la, lb = below[int(a)], below[int(b)]
        below.append(la if la == lb else None)

    def link_colour(node: int) -> str:
        label = below[node]
        return "grey" if label is None else _hex(colours[label])

    fig = new_figure(width=min(max(6.4, 0.12 * len(matrix)), 24.0))
    ax = fig.add_subplot()
    flat = not np.any(tree[:, 2] > 0)  # identical features: every link at distance 0
    with warnings.catch_warnings():
        if flat:  # scipy sets the y range to (0, 0); matplotlib warns and widens it: we set it below
            warnings.filterwarnings("ignore", "Attempting to set identical low and high ylims", UserWarning)
        hierarchy.dendrogram(tree, ax=ax, labels=[str(o) for o in data.obs_ids], link_color_func=link_colour,
                             leaf_font_size=7, no_labels=len(matrix) > 200)  # fmt: skip
    if flat:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "all observations at distance 0 (identical features)", transform=ax.transAxes,
                ha="center")  # fmt: skip
    for label, colour in colours.items():
        ax.plot([], [], color=colour, label=f"{label} ({data.labels.count(label)})")
    ax.legend(title="group (n_obs)", fontsize="small")
    ax.set(xlabel="OBS_ID", ylabel=f"{probe.params['method']} distance ({probe.params['standardize']} features)",
           title=f"clustering {name!r} on {', '.join(features)}")  # fmt: skip
    return fig


def _hex(colour) -> str:
    from matplotlib.colors import to_hex

    return to_hex(colour)
