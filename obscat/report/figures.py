"""The report's catalogue-wide figures (pointings on the sky, livetime per month, histograms) and
:func:`embedded`, which turns any figure into a self-contained ``<img>`` with the same bytes on
every run."""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from ..group.plot import label_colours, new_figure

__all__ = ["embedded", "sky_coverage", "monthly_livetime", "histograms", "top_labels"]

#: Scatters and line sets with more points than this are drawn as an embedded PNG inside the SVG,
#: so that the file grows with the figure's pixels, not with the catalogue.
RASTER_POINTS = 2000
#: Targets drawn in their own colour; the others are "other".
TOP_TARGETS = 9


def embedded(fig, alt: str) -> str:
    """``fig`` as an ``<img>`` holding its SVG (base64): no date, fixed ids, big point sets rasterised."""
    from matplotlib import rc_context

    for ax in fig.axes:
        for artist in ax.collections:
            size = len(artist.get_segments()) if hasattr(artist, "get_segments") else len(artist.get_offsets())
            artist.set_rasterized(size > RASTER_POINTS)
        if len(ax.lines) > RASTER_POINTS:
            for line in ax.lines:
                line.set_rasterized(True)
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "obscat-report", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", dpi=100, metadata={"Date": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/svg+xml;base64,{data}">'


def top_labels(labels: np.ndarray, weights: np.ndarray, n: int = TOP_TARGETS) -> np.ndarray:
    """``labels`` with all but the ``n`` of largest total weight (ties by name) replaced by "other"."""
    names, inverse = np.unique(labels, return_inverse=True)
    totals = np.bincount(inverse.ravel(), weights=weights, minlength=len(names))
    order = sorted(range(len(names)), key=lambda i: (-totals[i], names[i]))
    keep = np.zeros(len(names), bool)
    keep[order[:n]] = True
    return np.where(keep[inverse.ravel()], labels, "other")


def _legend_order(labels: np.ndarray) -> list[str]:
    return sorted(set(labels.tolist()) - {"other"}) + (["other"] if "other" in labels else [])


def sky_coverage(ra: np.ndarray, dec: np.ndarray, targets: np.ndarray):
    """The pointings on the whole sky (RA increasing to the left), coloured by target."""
    fig = new_figure(width=8.0)
    ax = fig.add_subplot()
    colours = label_colours(_legend_order(targets))
    for label in _legend_order(targets):
        mask = targets == label
        colour = "lightgrey" if label == "other" else colours[label]
        ax.scatter(ra[mask], dec[mask], s=6, color=colour, label=f"{label} ({mask.sum()})", linewidths=0)
    ax.set(xlim=(360, 0), ylim=(-90, 90), xlabel="RA [deg]", ylabel="Dec [deg]",
           title=f"pointings of {len(ra)} observations")  # fmt: skip
    ax.set_xticks(np.arange(0, 361, 60))
    ax.grid(alpha=0.3)
    ax.legend(title="target (n_obs)", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def monthly_livetime(start_mjd: np.ndarray, livetime_h: np.ndarray, targets: np.ndarray):
    """Livetime per calendar month of the observations' start, stacked by target."""
    months = (np.datetime64("1858-11-17", "D") + np.floor(start_mjd).astype("timedelta64[D]")).astype("datetime64[M]")
    grid = np.arange(months.min(), months.max() + 2)  # one more month: the last step's right edge
    index = (months - grid[0]).astype(int)
    order = _legend_order(targets)
    stacks = [np.bincount(index[targets == label], weights=livetime_h[targets == label], minlength=len(grid))
              for label in order]  # fmt: skip
    colours = label_colours(order)
    fig = new_figure(width=8.0)
    ax = fig.add_subplot()
    ax.stackplot(grid.astype("datetime64[D]"), stacks, step="post", labels=order, linewidth=0,
                 colors=["lightgrey" if label == "other" else colours[label] for label in order])  # fmt: skip
    ax.set(ylabel="livetime per month [h]", title=f"{livetime_h.sum():.1f} h in {len(start_mjd)} observations")
    ax.legend(title="target", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def histograms(columns: dict[str, np.ndarray], units: dict[str, str], title: str):
    """One histogram per column (NaN left out, counted in the panel's title)."""
    n = max(len(columns), 1)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig = new_figure(width=3.2 * ncols + 0.8)
    fig.set_figheight(2.8 * nrows + 0.6)
    fig.suptitle(title)
    for i, (name, values) in enumerate(columns.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        finite = values[np.isfinite(values)]
        if len(finite):
            ax.hist(finite, bins=40, histtype="stepfilled", color="tab:blue", alpha=0.8)
        else:
            ax.text(0.5, 0.5, "no values", ha="center", transform=ax.transAxes)
        missing = len(values) - len(finite)
        ax.set(xlabel=f"{name} [{units[name]}]" if units.get(name) else name, ylabel="observations",
               title=f"{len(finite)} values" + (f", {missing} NULL" if missing else ""))  # fmt: skip
    return fig
