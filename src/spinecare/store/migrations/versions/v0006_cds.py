"""CDS Hooks: the registered clients (EHRs) with their key sets, the JWT ids already seen (replay),
the cards issued and the feedback on them.

Revision ID: 0006_cds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_cds"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cds_clients",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("iss", sa.String(500), nullable=False, unique=True),
        sa.Column("jwks_url", sa.String(2000)),
        sa.Column("jwks_json", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "cds_jtis",
        sa.Column("iss", sa.String(500), primary_key=True),
        sa.Column("jti", sa.String(200), primary_key=True),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_cds_jtis_expires", "cds_jtis", ["expires_at"])
    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("card_type", sa.String(64), nullable=False),
        sa.Column("iss", sa.String(500), nullable=False),
        sa.Column("hook_instance", sa.String(100), nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("card_uuid", sa.String(36), sa.ForeignKey("cds_cards.uuid"), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_json", sa.Text),
        sa.Column("override_system", sa.String(500)),
        sa.Column("override_code", sa.String(200)),
        sa.Column("user_comment", sa.Text),
        sa.Column("outcome_at", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("iss", sa.String(500), nullable=False),
    )
    op.create_index("ix_cds_feedback_card", "cds_feedback", ["card_uuid"])


def downgrade() -> None:
    for table in ("cds_feedback", "cds_cards", "cds_jtis", "cds_clients"):
        op.drop_table(table)
