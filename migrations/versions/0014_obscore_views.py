"""IVOA ObsCore views

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

Views obscore (ObsCore 1.1), obscore_hea (the High-Energy extension, joined on
obs_publisher_did) and obscore_feature_set (the ObsCore values of each stored feature set:
s_resolution from psf-radius, em_res_power from edisp-res, the reference energy and offsets).
They hold what SQL computes from the catalogue alone; ``Catalog.obscore`` adds the publisher's
authority, base URL, collection and field of view (docs/obscore.md).

The views read data_store, observation, hdu, hdu_file, feature_set and feature_value: on
SQLite, a later revision that rebuilds one of these tables (batch_alter_table) drops the views
around the rebuild and creates them again, as revision 0004 does for hdu_location.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: h c in eV m, from the exact SI values of h, c and e (a frozen literal: revisions import nothing).
HC_EV_M = 6.62607015e-34 * 299792458 / 1.602176634e-19
DOUBLE = "DOUBLE PRECISION"
#: The publisher DID the views give: ``Catalog.obscore`` replaces the placeholder authority.
DID = "'ivo://obscat.invalid/' || s.name || '?' || CAST(o.obs_id AS TEXT)"


def _wavelength(energy_tev: str) -> str:
    """SQL for the wavelength (m) of a photon of ``energy_tev`` TeV: h c / E, NULL unless E > 0."""
    return f"CASE WHEN {energy_tev} > 0 THEN CAST({HC_EV_M!r} AS {DOUBLE}) / ({energy_tev} * 1e12) END"


OBSCORE_VIEW = f"""
CREATE VIEW obscore AS
SELECT CAST('event' AS TEXT) AS dataproduct_type, 2 AS calib_level, s.name AS obs_collection,
       o.obs_id AS obs_id, {DID} AS obs_publisher_did,
       CASE WHEN f.path IS NOT NULL THEN 'file://' || f.path END AS access_url,
       CASE WHEN f.path IS NOT NULL THEN CAST('application/fits' AS TEXT) END AS access_format,
       (f.size_bytes + 999) / 1000 AS access_estsize,
       o.object AS target_name, o.ra_pnt_deg AS s_ra, o.dec_pnt_deg AS s_dec,
       CAST(NULL AS {DOUBLE}) AS s_fov, CAST(NULL AS TEXT) AS s_region,
       CAST(NULL AS {DOUBLE}) AS s_resolution, -1 AS s_xel1, -1 AS s_xel2,
       o.tstart_mjd AS t_min, o.tstop_mjd AS t_max, o.livetime_s AS t_exptime,
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

OBSCORE_HEA_VIEW = f"""
CREATE VIEW obscore_hea AS
SELECT {DID} AS obs_publisher_did, o.event_count AS ev_xel,
       CASE WHEN o.safe_energy_lo_tev > 0 THEN o.safe_energy_lo_tev * 1e12 END AS energy_min,
       CASE WHEN o.safe_energy_hi_tev > 0 THEN o.safe_energy_hi_tev * 1e12 END AS energy_max,
       CAST(NULL AS {DOUBLE}) AS s_ref_energy, CAST(NULL AS {DOUBLE}) AS em_ref_energy,
       CAST(NULL AS {DOUBLE}) AS s_ref_oaa, CAST(NULL AS {DOUBLE}) AS em_ref_oaa,
       CAST(NULL AS TEXT) AS t_intervals,
       CASE WHEN upper(o.obs_mode) = 'DRIFT' THEN 'fixed-az-el-transit'
            WHEN o.ra_pnt_deg IS NOT NULL AND (o.obs_mode IS NULL OR upper(o.obs_mode) IN ('POINTING', 'WOBBLE'))
            THEN 'sidereal' END AS tracking_mode,
       CAST(NULL AS TEXT) AS pointing_mode, o.obs_mode AS obs_mode, o.event_type AS event_type,
       CAST('photon' AS TEXT) AS messenger_name, 22 AS messenger_pdgid,
       s.name AS store, o.obs_id AS obs_id, o.id AS observation_id
FROM observation o
JOIN data_store s ON s.id = o.store_id
"""

OBSCORE_FEATURE_SET_VIEW = """
CREATE VIEW obscore_feature_set AS
SELECT fs.name AS feature_set, v.observation_id AS observation_id,
       max(CASE WHEN v.feature = 'psf-radius' THEN v.value * 3600 END) AS s_resolution,
       max(CASE WHEN v.feature = 'edisp-res' AND v.value > 0 THEN 1 / v.value END) AS em_res_power,
       max(CASE WHEN v.feature = 'energy-threshold' AND v.value > 0 THEN v.value * 1e12 END) AS energy_threshold,
       max(CASE WHEN v.feature = 'psf-radius' AND v.value IS NOT NULL THEN fs.energy_true_tev * 1e12 END)
           AS s_ref_energy,
       max(CASE WHEN v.feature = 'edisp-res' AND v.value > 0 THEN fs.energy_true_tev * 1e12 END) AS em_ref_energy,
       max(CASE WHEN v.feature = 'psf-radius' AND v.value IS NOT NULL THEN v.offset_deg END) AS s_ref_oaa,
       max(CASE WHEN v.feature = 'edisp-res' AND v.value > 0 THEN v.offset_deg END) AS em_ref_oaa
FROM feature_value v
JOIN feature_set fs ON fs.id = v.feature_set_id
GROUP BY fs.name, v.observation_id
"""

VIEWS = {"obscore": OBSCORE_VIEW, "obscore_hea": OBSCORE_HEA_VIEW, "obscore_feature_set": OBSCORE_FEATURE_SET_VIEW}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, statement in VIEWS.items():
        if sqlite and name == "obscore_hea":
            statement = _materialized(statement)
        op.execute(statement)


def _materialized(statement: str) -> str:
    """The view as a MATERIALIZED common table expression (SQLite): joined on obs_publisher_did, an
    expression, SQLite would otherwise compare every pair of rows (hours for 10^5 observations);
    materialized, it indexes the result automatically (0.6 s). PostgreSQL hash-joins the plain view."""
    head, body = statement.split(" AS\n", 1)
    return f"{head} AS\nWITH v AS MATERIALIZED ({body}) SELECT * FROM v"


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
