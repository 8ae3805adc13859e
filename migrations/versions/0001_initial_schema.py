"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Tables data_store, observation, hdu_file and hdu, and the view hdu_location.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
HDU_LOCATION_VIEW = """
CREATE VIEW hdu_location AS
SELECT s.name AS store, o.obs_id AS obs_id, h.hdu_type AS hdu_type,
       h.hdu_class AS hdu_class, h.hdu_name AS hdu_name, f.path AS path,
       f.exists_at_ingest AS exists_at_ingest, h.size_bytes AS size_bytes,
       h.observation_id AS observation_id, h.id AS hdu_id
FROM hdu h
JOIN observation o ON o.id = h.observation_id
JOIN data_store s ON s.id = o.store_id
JOIN hdu_file f ON f.id = h.file_id
"""


def upgrade() -> None:
    op.create_table('data_store',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('root_path', sa.Text(), nullable=False),
    sa.Column('obs_index_path', sa.Text(), nullable=False),
    sa.Column('obs_index_sha256', sa.String(length=64), nullable=False),
    sa.Column('hdu_index_path', sa.Text(), nullable=False),
    sa.Column('hdu_index_sha256', sa.String(length=64), nullable=False),
    sa.Column('hduvers', sa.Text(), nullable=True),
    sa.Column('telescope', sa.Text(), nullable=True),
    sa.Column('instrument', sa.Text(), nullable=True),
    sa.Column('geolon_deg', sa.Double(), nullable=True),
    sa.Column('geolat_deg', sa.Double(), nullable=True),
    sa.Column('altitude_m', sa.Double(), nullable=True),
    sa.Column('mjdrefi', sa.Integer(), nullable=True),
    sa.Column('mjdreff', sa.Double(), nullable=True),
    sa.Column('timesys', sa.Text(), nullable=True),
    sa.Column('timeunit', sa.Text(), nullable=True),
    sa.Column('timeref', sa.Text(), nullable=True),
    sa.Column('time_reference_source', sa.Text(), nullable=True),
    sa.Column('header', JSON_TYPE, nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('obscat_version', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_store')),
    sa.UniqueConstraint('name', name=op.f('uq_data_store_name'))
    )
    op.create_table('hdu_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('exists_at_ingest', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['data_store.id'], name=op.f('fk_hdu_file_store_id_data_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hdu_file')),
    sa.UniqueConstraint('store_id', 'path', name=op.f('uq_hdu_file_store_id'))
    )
    op.create_table('observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('obs_id', sa.BigInteger(), nullable=False),
    sa.Column('obs_mode', sa.Text(), nullable=True),
    sa.Column('ra_pnt_deg', sa.Double(), nullable=False),
    sa.Column('dec_pnt_deg', sa.Double(), nullable=False),
    sa.Column('glon_pnt_deg', sa.Double(), nullable=True),
    sa.Column('glat_pnt_deg', sa.Double(), nullable=True),
    sa.Column('zen_pnt_deg', sa.Double(), nullable=True),
    sa.Column('alt_pnt_deg', sa.Double(), nullable=True),
    sa.Column('az_pnt_deg', sa.Double(), nullable=True),
    sa.Column('object', sa.Text(), nullable=True),
    sa.Column('ra_obj_deg', sa.Double(), nullable=True),
    sa.Column('dec_obj_deg', sa.Double(), nullable=True),
    sa.Column('tstart_s', sa.Double(), nullable=False),
    sa.Column('tstop_s', sa.Double(), nullable=False),
    sa.Column('ontime_s', sa.Double(), nullable=True),
    sa.Column('livetime_s', sa.Double(), nullable=True),
    sa.Column('deadc', sa.Double(), nullable=True),
    sa.Column('date_obs', sa.Text(), nullable=True),
    sa.Column('time_obs', sa.Text(), nullable=True),
    sa.Column('date_end', sa.Text(), nullable=True),
    sa.Column('time_end', sa.Text(), nullable=True),
    sa.Column('tmid_index_mjd', sa.Double(), nullable=True),
    sa.Column('tmid_str', sa.Text(), nullable=True),
    sa.Column('tstart_mjd', sa.Double(), nullable=True),
    sa.Column('tstop_mjd', sa.Double(), nullable=True),
    sa.Column('tmid_mjd', sa.Double(), nullable=True),
    sa.Column('tstart_utc', sa.String(length=32), nullable=True),
    sa.Column('tstop_utc', sa.String(length=32), nullable=True),
    sa.Column('tmid_utc', sa.String(length=32), nullable=True),
    sa.Column('n_tels', sa.Integer(), nullable=True),
    sa.Column('tellist', sa.Text(), nullable=True),
    sa.Column('quality', sa.Integer(), nullable=True),
    sa.Column('event_count', sa.BigInteger(), nullable=True),
    sa.Column('event_ra_median_deg', sa.Double(), nullable=True),
    sa.Column('event_dec_median_deg', sa.Double(), nullable=True),
    sa.Column('event_energy_median_tev', sa.Double(), nullable=True),
    sa.Column('event_time_min_s', sa.Double(), nullable=True),
    sa.Column('event_time_max_s', sa.Double(), nullable=True),
    sa.Column('muoneff', sa.Double(), nullable=True),
    sa.Column('nsblevel', sa.Double(), nullable=True),
    sa.Column('bkg_scale', sa.Double(), nullable=True),
    sa.Column('trgrate_hz', sa.Double(), nullable=True),
    sa.Column('ztrgrate_hz', sa.Double(), nullable=True),
    sa.Column('brokpix', sa.Double(), nullable=True),
    sa.Column('airtemp_degc', sa.Double(), nullable=True),
    sa.Column('pressure_hpa', sa.Double(), nullable=True),
    sa.Column('relhum', sa.Double(), nullable=True),
    sa.Column('safe_energy_lo_tev', sa.Double(), nullable=True),
    sa.Column('safe_energy_hi_tev', sa.Double(), nullable=True),
    sa.Column('extra', JSON_TYPE, nullable=False),
    sa.Column('ux', sa.Double(), nullable=False),
    sa.Column('uy', sa.Double(), nullable=False),
    sa.Column('uz', sa.Double(), nullable=False),
    sa.Column('sky_zone', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['data_store.id'], name=op.f('fk_observation_store_id_data_store'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_observation')),
    sa.UniqueConstraint('store_id', 'obs_id', name=op.f('uq_observation_store_id'))
    )
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.create_index('ix_observation_sky_zone_ra', ['sky_zone', 'ra_pnt_deg'], unique=False)

    op.create_table('hdu',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('hdu_type', sa.String(length=32), nullable=False),
    sa.Column('hdu_class', sa.String(length=32), nullable=False),
    sa.Column('hdu_name', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['file_id'], ['hdu_file.id'], name=op.f('fk_hdu_file_id_hdu_file'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_hdu_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hdu'))
    )
    with op.batch_alter_table('hdu', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hdu_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hdu_observation_id'), ['observation_id'], unique=False)

    op.execute(HDU_LOCATION_VIEW)
    for table in TABLES:  # rows an earlier downgrade archived, parents first
        restore(table)


TABLES = ("data_store", "hdu_file", "observation", "hdu")


def downgrade() -> None:
    for table in TABLES:
        archive(table)
    op.execute("DROP VIEW hdu_location")
    with op.batch_alter_table('hdu', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hdu_observation_id'))
        batch_op.drop_index(batch_op.f('ix_hdu_file_id'))

    op.drop_table('hdu')
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index('ix_observation_sky_zone_ra')

    op.drop_table('observation')
    op.drop_table('hdu_file')
    op.drop_table('data_store')
