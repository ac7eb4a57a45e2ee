"""When a clinician ended a patient's own access (none: not ended, or given back by a new
invitation).

Revision ID: 0011_access_ended
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_access_ended"
down_revision: str | None = "0010_carepages"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("access_ended_at", sa.DateTime()))


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("access_ended_at")
