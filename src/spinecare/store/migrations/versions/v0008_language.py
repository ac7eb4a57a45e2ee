"""The language an account chose for its pages (none until it chooses: the browser decides).

Revision ID: 0008_language
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_language"
down_revision: str | None = "0007_education"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # A nullable column with no default: existing accounts keep following their browser.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(8)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
