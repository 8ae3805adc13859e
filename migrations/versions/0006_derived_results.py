"""derived results

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

What makes derived results safe from ingest and checkable against their files:
table pointing (the pointing at mid-time, moved out of observation's columns
tmid_gti_mjd, zen_tmid_deg, alt_tmid_deg, az_tmid_deg, rows kept both ways),
hdu_file.size_bytes and mtime_ns (each file's version at ingest),
grouping.members_removed (members a re-ingest deleted with their observations),
and table file_use (the file versions, with a CRC-32 of their bytes, each
feature value set and each pointing result was computed from).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


POINTING = ("tmid_gti_mjd", "zen_tmid_deg", "alt_tmid_deg", "az_tmid_deg")


def upgrade() -> None:
    op.create_table('pointing',
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('tmid_gti_mjd', sa.Double(), nullable=True),
    sa.Column('zen_tmid_deg', sa.Double(), nullable=True),
    sa.Column('alt_tmid_deg', sa.Double(), nullable=True),
    sa.Column('az_tmid_deg', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_pointing_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('observation_id', name=op.f('pk_pointing'))
    )
    listed = ", ".join(POINTING)
    computed = " OR ".join(f"{c} IS NOT NULL" for c in POINTING)
    op.execute(f"INSERT INTO pointing (observation_id, {listed}) SELECT id, {listed} FROM observation WHERE {computed}")
    op.execute("DROP VIEW hdu_location")
    with op.batch_alter_table('observation', schema=None) as batch_op:
        for column in reversed(POINTING):
            batch_op.drop_column(column)
    op.execute(HDU_LOCATION_VIEW)
    with op.batch_alter_table('hdu_file', schema=None) as batch_op:
        batch_op.add_column(sa.Column('size_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('mtime_ns', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('grouping', schema=None) as batch_op:
        batch_op.add_column(sa.Column('members_removed', sa.Integer(), nullable=True))
    op.create_table('file_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('feature_set_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=True),
    sa.Column('crc32', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['feature_set_id'], ['feature_set.id'], name=op.f('fk_file_use_feature_set_id_feature_set'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_file_use_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_file_use'))
    )
    with op.batch_alter_table('file_use', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_file_use_observation_id'), ['observation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_file_use_feature_set_id'), ['feature_set_id'], unique=False)
    restore("hdu_file", key="id", suffix="_0006")
    restore("grouping", key="id", suffix="_0006")
    restore("file_use")


def downgrade() -> None:
    archive("file_use")
    archive("hdu_file", ("id", "size_bytes", "mtime_ns"), suffix="_0006")
    archive("grouping", ("id", "members_removed"), suffix="_0006")
    with op.batch_alter_table('file_use', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_file_use_feature_set_id'))
        batch_op.drop_index(batch_op.f('ix_file_use_observation_id'))
    op.drop_table('file_use')
    op.execute("DROP VIEW hdu_location")
    with op.batch_alter_table('grouping', schema=None) as batch_op:
        batch_op.drop_column('members_removed')
    with op.batch_alter_table('hdu_file', schema=None) as batch_op:
        batch_op.drop_column('mtime_ns')
        batch_op.drop_column('size_bytes')
    # the pointing goes back into the columns of revision 0004 (the upgrade above moves it out again)
    with op.batch_alter_table('observation', schema=None) as batch_op:
        for column in POINTING:
            batch_op.add_column(sa.Column(column, sa.Double(), nullable=True))
    assignments = ", ".join(f"{c} = (SELECT p.{c} FROM pointing p WHERE p.observation_id = observation.id)"
                            for c in POINTING)  # fmt: skip
    op.execute(f"UPDATE observation SET {assignments} WHERE id IN (SELECT observation_id FROM pointing)")
    op.drop_table('pointing')
    op.execute(HDU_LOCATION_VIEW)


# SQLite rebuilds observation and hdu_file to drop their columns, and will not rename a table
# a view uses: the view of revision 0001 is dropped around the rebuilds (as in 0004).
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
