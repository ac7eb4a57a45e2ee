"""Taking access away: one-time password resets, and invitations that can be cancelled.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0002_login_security"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_by", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(sa.Column("cancelled_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("cancelled_at")
    op.drop_index("ix_password_resets_user_id", "password_resets")
    op.drop_table("password_resets")
