"""pointing at mid-time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Observation columns tmid_gti_mjd, zen_tmid_deg, alt_tmid_deg, az_tmid_deg: the
pointing at mid-time, filled by `obscat pointing`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tmid_gti_mjd', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('zen_tmid_deg', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('alt_tmid_deg', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('az_tmid_deg', sa.Double(), nullable=True))
    restore("observation", key="id", suffix="_0004")


COLUMNS = ("id", "tmid_gti_mjd", "zen_tmid_deg", "alt_tmid_deg", "az_tmid_deg")


# SQLite rebuilds the table to drop columns, and will not rename a table a view uses:
# the view of revision 0001 is dropped around the rebuild.
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


def downgrade() -> None:
    archive("observation", COLUMNS, suffix="_0004")
    op.execute("DROP VIEW hdu_location")
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_column('az_tmid_deg')
        batch_op.drop_column('alt_tmid_deg')
        batch_op.drop_column('zen_tmid_deg')
        batch_op.drop_column('tmid_gti_mjd')
    op.execute(HDU_LOCATION_VIEW)
