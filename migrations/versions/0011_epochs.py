"""epochs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Instrument epochs (``obscat epochs load``): ``epoch`` holds each named epoch (a time range
and/or an OBS_ID range within a scope), ``observation_epoch`` the epoch each observation falls
in, kept up to date when epochs are loaded or deleted and when stores are ingested.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('epoch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('store', sa.String(length=200), nullable=True),
    sa.Column('telescope', sa.Text(), nullable=True),
    sa.Column('instrument', sa.Text(), nullable=True),
    sa.Column('start_mjd', sa.Double(), nullable=True),
    sa.Column('stop_mjd', sa.Double(), nullable=True),
    sa.Column('first_obs_id', sa.BigInteger(), nullable=True),
    sa.Column('last_obs_id', sa.BigInteger(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('obscat_version', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_epoch')),
    sa.UniqueConstraint('name', name=op.f('uq_epoch_name'))
    )
    op.create_table('observation_epoch',
    sa.Column('observation_id', sa.Integer(), nullable=False),
    sa.Column('epoch_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['epoch_id'], ['epoch.id'], name=op.f('fk_observation_epoch_epoch_id_epoch'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['observation_id'], ['observation.id'], name=op.f('fk_observation_epoch_observation_id_observation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('observation_id', name=op.f('pk_observation_epoch'))
    )
    with op.batch_alter_table('observation_epoch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_observation_epoch_epoch_id'), ['epoch_id'], unique=False)
    restore("epoch")
    restore("observation_epoch")


def downgrade() -> None:
    archive("epoch")
    archive("observation_epoch")
    with op.batch_alter_table('observation_epoch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observation_epoch_epoch_id'))
    op.drop_table('observation_epoch')
    op.drop_table('epoch')
