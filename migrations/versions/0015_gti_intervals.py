"""good time intervals: table gti_interval and ObsCore's t_intervals; obs_id as text

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

Table gti_interval holds each observation's GTI rows as TT MJD (``obscat pointing`` reads them
with the pointing at mid-time). Revision 0014's views are created again with them:

* obscore_hea's ``t_intervals``: the intervals' MJD in GTI order, start stop start stop ...,
  separated by spaces (the DALI serialization of an array of doubles), with 10 decimals (0.9 µs
  of a day); NULL until read;
* obscore's ``t_min`` and ``t_max``: the first START and the last STOP of the GTI (Gammapy's
  ``obs.tstart`` and ``obs.tstop``) once read, so that they bound ``t_intervals``, else TSTART
  and TSTOP of the obs index as before (which some stores keep as float32: 16 s steps).

And ``obs_id`` becomes text in both, the type ObsCore 1.1 gives it (revision 0014 kept the
integer OBS_ID).

A downgrade archives the table's rows; the upgrade puts them back.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0014():
    """Revision 0014's module (frozen: its view texts are what this one edits)."""
    spec = importlib.util.spec_from_file_location("obscat_revision_0014", Path(__file__).with_name("0014_obscore_views.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: (text of revision 0014, text now) in the views.
OBS_ID = ("o.obs_id AS obs_id", "CAST(o.obs_id AS TEXT) AS obs_id")
T_MIN_MAX = ("o.tstart_mjd AS t_min, o.tstop_mjd AS t_max",
             "COALESCE((SELECT min(g.start_mjd) FROM gti_interval g WHERE g.observation_id = o.id), o.tstart_mjd) AS t_min, "
             "COALESCE((SELECT max(g.stop_mjd) FROM gti_interval g WHERE g.observation_id = o.id), o.tstop_mjd) AS t_max")
T_INTERVALS = ("CAST(NULL AS TEXT) AS t_intervals", {
    "postgresql": ("(SELECT string_agg(round(CAST(g.start_mjd AS NUMERIC), 10) || ' ' || "
                   "round(CAST(g.stop_mjd AS NUMERIC), 10), ' ' ORDER BY g.seq) "
                   "FROM gti_interval g WHERE g.observation_id = o.id) AS t_intervals"),
    "sqlite": ("(SELECT group_concat(i, ' ') FROM (SELECT printf('%.10f %.10f', g.start_mjd, g.stop_mjd) AS i "
               "FROM gti_interval g WHERE g.observation_id = o.id ORDER BY g.seq)) AS t_intervals"),
})


def _replaced(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"revision 0014's view does not hold {old!r} once")
    return text.replace(old, new)


def _views(with_gtis: bool) -> None:
    """Create obscore and obscore_hea again: revision 0014's, with the GTIs or as they were."""
    v14 = _revision_0014()
    dialect = op.get_bind().dialect.name
    obscore, hea = v14.OBSCORE_VIEW, v14.OBSCORE_HEA_VIEW
    if with_gtis:
        obscore = _replaced(_replaced(obscore, *T_MIN_MAX), *OBS_ID)
        hea = _replaced(_replaced(hea, T_INTERVALS[0], T_INTERVALS[1][dialect]), *OBS_ID)
    op.execute("DROP VIEW obscore")
    op.execute(obscore)
    op.execute("DROP VIEW obscore_hea")
    op.execute(v14._materialized(hea) if dialect == "sqlite" else hea)


def upgrade() -> None:
    op.create_table('gti_interval',
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('start_mjd', sa.Double(), nullable=False),
    sa.Column('stop_mjd', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_gti_interval_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('observation_id', 'seq', name=op.f('pk_gti_interval'))
    )
    restore("gti_interval")
    _views(with_gtis=True)


def downgrade() -> None:
    _views(with_gtis=False)
    archive("gti_interval")
    op.drop_table('gti_interval')
