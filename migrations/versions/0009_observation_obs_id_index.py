"""observation obs_id index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

An index on observation (obs_id): an observation looked up by OBS_ID alone (``obscat obs
show``, ``--obs-id``, ``Catalog.observation``) is found through it instead of scanning every
row (0.21 s for 10^6 observations on SQLite); the unique (store_id, obs_id) index serves only
lookups that name the store.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_observation_obs_id', 'observation', ['obs_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_observation_obs_id', table_name='observation')
