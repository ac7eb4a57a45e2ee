"""Patient education: the articles a clinician sent to a patient, the patient's e-mail
address for telling them, and those e-mails with their delivery state.

Revision ID: 0007_education
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_education"
down_revision: str | None = "0006_cds"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "education_shares",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("article_id", sa.String(64), nullable=False),
        sa.Column("sent_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_education_shares_patient", "education_shares",
                    ["patient_id", "sent_at"])
    op.create_table(
        "patient_addresses",
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "education_emails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("articles", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.String(300)),
        sa.Column("sent_at", sa.DateTime),
    )
    op.create_index("ix_education_emails_due", "education_emails",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("education_emails", "patient_addresses", "education_shares"):
        op.drop_table(table)
