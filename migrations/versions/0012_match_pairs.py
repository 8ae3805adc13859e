"""match pairs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Table match_pair: the OFF runs of each ON run of a stored match (a grouping of method
``match``), with their rank and distance.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('match_pair',
    sa.Column('grouping_id', sa.Integer(), nullable=False),
    sa.Column('on_observation_id', sa.Integer(), nullable=False),
    sa.Column('off_observation_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('distance', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['grouping_id'], ['grouping.id'], name=op.f('fk_match_pair_grouping_id_grouping'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['off_observation_id'], ['observation.id'], name=op.f('fk_match_pair_off_observation_id_observation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['on_observation_id'], ['observation.id'], name=op.f('fk_match_pair_on_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('grouping_id', 'on_observation_id', 'off_observation_id', name=op.f('pk_match_pair'))
    )
    with op.batch_alter_table('match_pair', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_pair_off_observation_id'), ['off_observation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_pair_on_observation_id'), ['on_observation_id'], unique=False)
    restore("match_pair")


def downgrade() -> None:
    archive("match_pair")
    with op.batch_alter_table('match_pair', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_pair_on_observation_id'))
        batch_op.drop_index(batch_op.f('ix_match_pair_off_observation_id'))
    op.drop_table('match_pair')
