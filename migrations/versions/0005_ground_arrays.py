"""ground arrays

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Ground particle arrays (HAWC, SWGO, LHAASO-style) and stores split by event type:
observation columns event_type, event_class, obs_block_id, irf_name; the pointing
(ra_pnt_deg, dec_pnt_deg and the derived ux, uy, uz, sky_zone) and the times
(tstart_s, tstop_s) may be NULL.  A downgrade is refused while any observation
has them NULL (the older schema cannot hold it): remove those stores first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import MigrationRefused, archive, restore

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NULLABLE = (('ra_pnt_deg', sa.Double()), ('dec_pnt_deg', sa.Double()), ('tstart_s', sa.Double()),
            ('tstop_s', sa.Double()), ('ux', sa.Double()), ('uy', sa.Double()), ('uz', sa.Double()),
            ('sky_zone', sa.Integer()))
COLUMNS = ("id", "event_type", "event_class", "obs_block_id", "irf_name")

# SQLite rebuilds the table to change a column's nullability, and will not rename a table a
# view uses: the view of revision 0001 is dropped around the rebuild.
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
    op.execute("DROP VIEW hdu_location")
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_type', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('event_class', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('obs_block_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('irf_name', sa.Text(), nullable=True))
        for name, type_ in NULLABLE:
            batch_op.alter_column(name, existing_type=type_, nullable=True)
    op.execute(HDU_LOCATION_VIEW)
    restore("observation", key="id", suffix="_0005")


def downgrade() -> None:
    bind = op.get_bind()
    nulls = " OR ".join(f"{name} IS NULL" for name, _ in NULLABLE)
    stores = bind.execute(sa.text(f"SELECT DISTINCT s.name FROM observation o JOIN data_store s ON s.id = o.store_id "
                                  f"WHERE {nulls} ORDER BY s.name")).scalars().all()  # fmt: skip
    if stores:
        raise MigrationRefused(f"cannot downgrade below 0005: stores {', '.join(map(repr, stores))} have observations "
                                 "without a sky pointing or times, which revision 0004 cannot hold; remove them first")
    if bind.execute(sa.text(f"SELECT count(*) FROM observation WHERE "
                            f"{' OR '.join(f'{c} IS NOT NULL' for c in COLUMNS[1:])}")).scalar():  # fmt: skip
        archive("observation", COLUMNS, suffix="_0005")
    op.execute("DROP VIEW hdu_location")
    with op.batch_alter_table('observation', schema=None) as batch_op:
        for name, type_ in NULLABLE:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.drop_column('irf_name')
        batch_op.drop_column('obs_block_id')
        batch_op.drop_column('event_class')
        batch_op.drop_column('event_type')
    op.execute(HDU_LOCATION_VIEW)
