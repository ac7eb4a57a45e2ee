"""A clinic's licensed questionnaire wording (per installation, never shipped), and the
patient's identity fields (MRN, date of birth, phone, e-mail).

Revision ID: 0010_carepages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_carepages"
down_revision: str | None = "0008_language"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "instrument_texts",
        sa.Column("instrument", sa.String(64), primary_key=True),
        sa.Column("language", sa.String(8), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("licence", sa.String(500), nullable=False),
        sa.Column("text_json", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.Column("loaded_by", sa.String(200), nullable=False),
    )
    # Nullable with no default: the patients stored before keep every field they had.
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("mrn", sa.String(64)))
        batch.add_column(sa.Column("birth_date", sa.Date()))
        batch.add_column(sa.Column("phone", sa.String(40)))
        batch.add_column(sa.Column("email", sa.String(254)))


def downgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        for column in ("email", "phone", "birth_date", "mrn"):
            batch.drop_column(column)
    op.drop_table("instrument_texts")
