"""groupings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Tables grouping (a labelled partition of observations and how it was made) and
group_member (one observation's label).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table('grouping',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('params', JSON_TYPE, nullable=False),
    sa.Column('selection', sa.Text(), nullable=True),
    sa.Column('feature_set_id', sa.Integer(), nullable=True),
    sa.Column('summary', JSON_TYPE, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('obscat_version', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['feature_set_id'], ['feature_set.id'], name=op.f('fk_grouping_feature_set_id_feature_set'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grouping')),
    sa.UniqueConstraint('name', name=op.f('uq_grouping_name'))
    )
    op.create_table('group_member',
    sa.Column('grouping_id', sa.Integer(), nullable=False),
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['grouping_id'], ['grouping.id'], name=op.f('fk_group_member_grouping_id_grouping'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_group_member_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('grouping_id', 'observation_id', name=op.f('pk_group_member'))
    )
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_member_observation_id'), ['observation_id'], unique=False)
    restore("grouping")
    restore("group_member")


def downgrade() -> None:
    archive("grouping")
    archive("group_member")
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_member_observation_id'))

    op.drop_table('group_member')
    op.drop_table('grouping')
