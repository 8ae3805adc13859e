"""good time intervals: table gti_interval and ObsCore's t_intervals

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01

Table gti_interval holds each observation's GTI rows as TT MJD (``obscat pointing`` reads them
with the pointing at mid-time). The views are created again with them:

* obscore_hea's ``t_intervals``: the intervals' MJD in GTI order, start stop start stop ...,
  separated by spaces (the DALI serialization of an array of doubles), with 10 decimals (0.9 µs
  of a day); NULL until read;
* obscore's ``t_min`` and ``t_max``: the first START and the last STOP of the GTI (Gammapy's
  ``obs.tstart`` and ``obs.tstop``) once read, so that they bound ``t_intervals``, else TSTART
  and TSTOP of the obs index as before (which some stores keep as float32: 16 s steps).

A downgrade archives the table's rows; the upgrade puts them back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOUBLE = "DOUBLE PRECISION"
DID = "'ivo://obscat.invalid/' || s.name || '?' || CAST(o.obs_id AS TEXT)"
#: h c in eV m, from the exact SI values of h, c and e (as revision 0014).
HC_EV_M = 6.62607015e-34 * 299792458 / 1.602176634e-19
#: t_min and t_max: of revision 0014, and from the GTIs once read.
INDEX_TIMES = ("o.tstart_mjd", "o.tstop_mjd")
GTI_TIMES = ("COALESCE((SELECT min(g.start_mjd) FROM gti_interval g WHERE g.observation_id = o.id), o.tstart_mjd)",
             "COALESCE((SELECT max(g.stop_mjd) FROM gti_interval g WHERE g.observation_id = o.id), o.tstop_mjd)")
#: t_intervals of observation ``o`` (the same text on both databases).
T_INTERVALS = {
    "postgresql": ("(SELECT string_agg(round(CAST(g.start_mjd AS NUMERIC), 10) || ' ' || "
                   "round(CAST(g.stop_mjd AS NUMERIC), 10), ' ' ORDER BY g.seq) "
                   "FROM gti_interval g WHERE g.observation_id = o.id)"),
    "sqlite": ("(SELECT group_concat(i, ' ') FROM (SELECT printf('%.10f %.10f', g.start_mjd, g.stop_mjd) AS i "
               "FROM gti_interval g WHERE g.observation_id = o.id ORDER BY g.seq))"),
}


def _wavelength(energy_tev: str) -> str:
    return f"CASE WHEN {energy_tev} > 0 THEN CAST({HC_EV_M!r} AS {DOUBLE}) / ({energy_tev} * 1e12) END"


def _obscore_view(times: tuple[str, str]) -> str:
    """Revision 0014's obscore with ``t_min`` and ``t_max`` as given."""
    return f"""
CREATE VIEW obscore AS
SELECT CAST('event' AS TEXT) AS dataproduct_type, 2 AS calib_level, s.name AS obs_collection,
       o.obs_id AS obs_id, {DID} AS obs_publisher_did,
       CASE WHEN f.path IS NOT NULL THEN 'file://' || f.path END AS access_url,
       CASE WHEN f.path IS NOT NULL THEN CAST('application/fits' AS TEXT) END AS access_format,
       (f.size_bytes + 999) / 1000 AS access_estsize,
       o.object AS target_name, o.ra_pnt_deg AS s_ra, o.dec_pnt_deg AS s_dec,
       CAST(NULL AS {DOUBLE}) AS s_fov, CAST(NULL AS TEXT) AS s_region,
       CAST(NULL AS {DOUBLE}) AS s_resolution, -1 AS s_xel1, -1 AS s_xel2,
       {times[0]} AS t_min, {times[1]} AS t_max, o.livetime_s AS t_exptime,
       CAST(NULL AS {DOUBLE}) AS t_resolution, -1 AS t_xel,
       {_wavelength("o.safe_energy_hi_tev")} AS em_min, {_wavelength("o.safe_energy_lo_tev")} AS em_max,
       CAST(NULL AS {DOUBLE}) AS em_res_power, -1 AS em_xel, CAST(NULL AS TEXT) AS o_ucd,
       CAST(NULL AS TEXT) AS pol_states, -1 AS pol_xel,
       s.telescope AS facility_name, s.instrument AS instrument_name,
       o.ra_pnt_deg AS ra_pnt, o.dec_pnt_deg AS dec_pnt, o.tstart_s AS tstart, o.tstop_s AS tstop,
       s.name AS store, o.id AS observation_id,
       CASE WHEN substr(f.path, 1, length(s.root_path) + 1) = s.root_path || '/'
            THEN substr(f.path, length(s.root_path) + 2) ELSE f.path END AS access_path
FROM observation o
JOIN data_store s ON s.id = o.store_id
LEFT JOIN (SELECT e.observation_id AS observation_id, min(e.id) AS hdu_id FROM hdu e WHERE e.hdu_type = 'events'
           GROUP BY e.observation_id) ev ON ev.observation_id = o.id
LEFT JOIN hdu h ON h.id = ev.hdu_id
LEFT JOIN hdu_file f ON f.id = h.file_id
"""


def _hea_view(t_intervals: str) -> str:
    """Revision 0014's obscore_hea with ``t_intervals`` as given."""
    return f"""
CREATE VIEW obscore_hea AS
SELECT {DID} AS obs_publisher_did, o.event_count AS ev_xel,
       CASE WHEN o.safe_energy_lo_tev > 0 THEN o.safe_energy_lo_tev * 1e12 END AS energy_min,
       CASE WHEN o.safe_energy_hi_tev > 0 THEN o.safe_energy_hi_tev * 1e12 END AS energy_max,
       CAST(NULL AS {DOUBLE}) AS s_ref_energy, CAST(NULL AS {DOUBLE}) AS em_ref_energy,
       CAST(NULL AS {DOUBLE}) AS s_ref_oaa, CAST(NULL AS {DOUBLE}) AS em_ref_oaa,
       {t_intervals} AS t_intervals,
       CASE WHEN upper(o.obs_mode) = 'DRIFT' THEN 'fixed-az-el-transit'
            WHEN o.ra_pnt_deg IS NOT NULL AND (o.obs_mode IS NULL OR upper(o.obs_mode) IN ('POINTING', 'WOBBLE'))
            THEN 'sidereal' END AS tracking_mode,
       CAST(NULL AS TEXT) AS pointing_mode, o.obs_mode AS obs_mode, o.event_type AS event_type,
       CAST('photon' AS TEXT) AS messenger_name, 22 AS messenger_pdgid,
       s.name AS store, o.obs_id AS obs_id, o.id AS observation_id
FROM observation o
JOIN data_store s ON s.id = o.store_id
"""


def _create_hea(t_intervals: str) -> None:
    statement = _hea_view(t_intervals)
    if op.get_bind().dialect.name == "sqlite":  # as revision 0014: a MATERIALIZED common table expression
        head, body = statement.split(" AS\n", 1)
        statement = f"{head} AS\nWITH v AS MATERIALIZED ({body}) SELECT * FROM v"
    op.execute(statement)


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
    op.execute("DROP VIEW obscore")
    op.execute(_obscore_view(GTI_TIMES))
    op.execute("DROP VIEW obscore_hea")
    _create_hea(T_INTERVALS[op.get_bind().dialect.name])


def downgrade() -> None:
    op.execute("DROP VIEW obscore")
    op.execute(_obscore_view(INDEX_TIMES))
    op.execute("DROP VIEW obscore_hea")
    _create_hea("CAST(NULL AS TEXT)")
    archive("gti_interval")
    op.drop_table('gti_interval')
