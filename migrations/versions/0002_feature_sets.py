"""feature sets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Tables feature_set (parameters of one IRF-feature computation) and
feature_value (one value per observation and feature, NULL with a reason).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('feature_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('params', JSON_TYPE, nullable=False),
    sa.Column('params_sha256', sa.String(length=64), nullable=False),
    sa.Column('energy_true_tev', sa.Double(), nullable=False),
    sa.Column('position_ra_deg', sa.Double(), nullable=True),
    sa.Column('position_dec_deg', sa.Double(), nullable=True),
    sa.Column('fixed_offset_deg', sa.Double(), nullable=True),
    sa.Column('containment_fraction', sa.Double(), nullable=False),
    sa.Column('aeff_threshold_fraction', sa.Double(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('obscat_version', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_set')),
    sa.UniqueConstraint('name', name=op.f('uq_feature_set_name')),
    sa.UniqueConstraint('params_sha256', name=op.f('uq_feature_set_params_sha256'))
    )
    op.create_table('feature_value',
    sa.Column('feature_set_id', sa.Integer(), nullable=False),
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('feature', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Double(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('null_reason', sa.Text(), nullable=True),
    sa.Column('offset_deg', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['feature_set_id'], ['feature_set.id'], name=op.f('fk_feature_value_feature_set_id_feature_set'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_feature_value_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feature_set_id', 'observation_id', 'feature', name=op.f('pk_feature_value'))
    )
    with op.batch_alter_table('feature_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feature_value_observation_id'), ['observation_id'], unique=False)
    restore("feature_set")
    restore("feature_value")


def downgrade() -> None:
    archive("feature_set")
    archive("feature_value")
    with op.batch_alter_table('feature_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feature_value_observation_id'))

    op.drop_table('feature_value')
    op.drop_table('feature_set')
