"""selection json

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

grouping.selection_json: a grouping's selection as canonical JSON, which re-runs to the same
observations. Groupings made before keep their Python repr in grouping.selection (NULL for new
ones). A downgrade archives the JSON; the upgrade puts it back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from migration_archive import archive, restore

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('grouping', schema=None) as batch_op:
        batch_op.add_column(sa.Column('selection_json', sa.Text(), nullable=True))
    restore("grouping", key="id", suffix="_0007")


def downgrade() -> None:
    archive("grouping", ("id", "selection_json"), suffix="_0007")
    with op.batch_alter_table('grouping', schema=None) as batch_op:
        batch_op.drop_column('selection_json')
