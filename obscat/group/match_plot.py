"""The figure of a stored match: ON and OFF runs in zenith and azimuth (a polar plot, azimuth
clockwise from north, zenith outwards), a line per pair (``obscat plot NAME`` of a match)."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from ..store.engine import connect
from ..store.models import Grouping, GroupMember, MatchPair, Observation
from ..store.rows import id_by_name
from ..text import plural
from .match_stored import pair_query
from .plot import label_colours, new_figure

__all__ = ["pair_plot"]


def pair_plot(engine, name: str):
    """ON runs, OFF runs and unmatched ON runs of match ``name`` at their (azimuth, zenith), with
    a line from each ON run to each of its OFF runs (the short way round in azimuth); drawn in a
    fixed order, so that the figure's bytes do not depend on the plan (PostgreSQL's parallel scans)."""
    o, m, p = Observation.__table__, GroupMember.__table__, MatchPair.__table__
    with connect(engine) as conn:
        pair_query(conn, name)  # refuses a grouping that is not a match
        grouping_id = id_by_name(conn, Grouping.__table__, name, "grouping")
        members = conn.execute(sa.select(m.c.label, o.c.zen_pnt_deg, o.c.az_pnt_deg).join(o, o.c.id == m.c.observation_id)
                               .where(m.c.grouping_id == grouping_id).order_by(m.c.observation_id)).all()  # fmt: skip
        on_o, off_o = o.alias("on_o"), o.alias("off_o")
        lines = conn.execute(sa.select(on_o.c.zen_pnt_deg, on_o.c.az_pnt_deg, off_o.c.zen_pnt_deg, off_o.c.az_pnt_deg)
                             .join(on_o, on_o.c.id == p.c.on_observation_id).join(off_o, off_o.c.id == p.c.off_observation_id)
                             .where(p.c.grouping_id == grouping_id)
                             .order_by(p.c.on_observation_id, p.c.off_observation_id)).all()  # fmt: skip
    fig = new_figure(width=6.4)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)  # azimuth east of north, clockwise as on the sky seen from below
    for zen_on, az_on, zen_off, az_off in lines:
        if None in (zen_on, az_on, zen_off, az_off):
            continue
        shortest = az_on + ((az_off - az_on + 180.0) % 360.0 - 180.0)
        theta = np.radians(np.linspace(az_on, shortest, 16))
        ax.plot(theta, np.linspace(zen_on, zen_off, 16), color="grey", lw=0.6, alpha=0.6, zorder=1)
    colours = label_colours(["on", "off", "unmatched"])
    styles = {"on": ("o", 30), "off": ("s", 18), "unmatched": ("x", 30)}
    labels = np.array([r[0] for r in members])
    zen = np.array([np.nan if r[1] is None else r[1] for r in members], float)
    az = np.array([np.nan if r[2] is None else r[2] for r in members], float)
    for label, (marker, size) in styles.items():
        mask = labels == label
        if mask.any():
            ax.scatter(np.radians(az[mask]), zen[mask], marker=marker, s=size, color=colours[label], zorder=2,
                       label=f"{label} ({mask.sum()})")  # fmt: skip
    ax.set_rlim(0, max(float(np.nanmax(zen)) if np.isfinite(zen).any() else 0.0, 10.0) * 1.05)
    ax.set_rlabel_position(22.5)
    ax.legend(title="runs", fontsize="small", loc="upper left", bbox_to_anchor=(1.05, 1.0))
    ax.set_title(f"match {name!r}: {plural(len(lines), 'pair')}, zenith [deg] outwards, azimuth from north")
    return fig
