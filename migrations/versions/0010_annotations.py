"""annotation sets

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Per-run quality tables of observatories (data checks, weather grades, trigger rates) as
annotation sets: annotation_set (name, version, source file and its SHA-256, counts, key
column, duplicate rule), annotation_column (per column its kind, unit, categories and
aggregation) and grouping_annotation (the set versions a grouping's selection used). Each set's
values live in a table obscat creates at ingest, annotation_values_<set id>; a downgrade would
lose them, so it is refused while any set exists (`obscat annotate delete` them first).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import MigrationRefused
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('annotation_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('store', sa.String(length=200), nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('n_rows', sa.Integer(), nullable=False),
    sa.Column('n_matched', sa.Integer(), nullable=False),
    sa.Column('n_unmatched', sa.Integer(), nullable=False),
    sa.Column('key_column', sa.Text(), nullable=False),
    sa.Column('on_duplicate', sa.String(length=210), nullable=True),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('obscat_version', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_set')),
    sa.UniqueConstraint('name', 'version', name='uq_annotation_set_name_version')
    )
    op.create_table('annotation_column',
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=True),
    sa.Column('categories', JSON_TYPE, nullable=True),
    sa.Column('aggregate', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['annotation_set.id'], name=op.f('fk_annotation_column_set_id_annotation_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('set_id', 'position', name=op.f('pk_annotation_column'))
    )
    op.create_table('grouping_annotation',
    sa.Column('grouping_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['grouping_id'], ['grouping.id'], name=op.f('fk_grouping_annotation_grouping_id_grouping'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_id'], ['annotation_set.id'], name=op.f('fk_grouping_annotation_set_id_annotation_set'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('grouping_id', 'name', 'version', name=op.f('pk_grouping_annotation'))
    )
    with op.batch_alter_table('grouping_annotation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grouping_annotation_set_id'), ['set_id'], unique=False)


def downgrade() -> None:
    n = op.get_bind().execute(sa.text("SELECT count(*) FROM annotation_set")).scalar()
    if n:
        raise MigrationRefused(f"the database holds {n} annotation set{'s' if n != 1 else ''}, which revision "
                               "0009 cannot keep: delete them first (obscat annotate delete NAME)")
    with op.batch_alter_table('grouping_annotation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grouping_annotation_set_id'))
    op.drop_table('grouping_annotation')
    op.drop_table('annotation_column')
    op.drop_table('annotation_set')
