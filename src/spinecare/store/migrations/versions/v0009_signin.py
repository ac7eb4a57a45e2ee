"""Forms that hold state: one-time form tokens, intake drafts kept on the server, and patient
sign-in links sent by e-mail (with their outbox).

Revision ID: 0009_signin
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_signin"
down_revision: str | None = "0008_language"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "form_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("purpose", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
        sa.Column("location", sa.String(500)),
    )
    op.create_index("ix_form_tokens_expires", "form_tokens", ["expires_at"])
    op.create_table(
        "intake_drafts",
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), primary_key=True),
        sa.Column("answers_json", sa.Text, nullable=False),
        sa.Column("skipped_json", sa.Text, nullable=False),
        sa.Column("order_json", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "signin_links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("requested_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
        sa.Column("cancelled_at", sa.DateTime),
    )
    op.create_index("ix_signin_links_patient", "signin_links", ["patient_id"])
    op.create_table(
        "signin_emails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("link_id", sa.String(32), sa.ForeignKey("signin_links.id"), nullable=False),
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.String(300)),
        sa.Column("sent_at", sa.DateTime),
    )
    op.create_index("ix_signin_emails_due", "signin_emails", ["status", "next_attempt_at"])


def downgrade() -> None:
    for table in ("signin_emails", "signin_links", "intake_drafts", "form_tokens"):
        op.drop_table(table)
