"""Alerts to the care team, their e-mails and the clinicians' alert addresses; the worklist
entries the clinician's list sorts and filters on, filled in for the patients already stored.

Revision ID: 0005
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# LEVEL_RANK + 1 as it was when this revision was written (a migration must not change with
# the code that follows it).
_RANK = {"self_care": 1, "routine": 2, "urgent": 3, "emergency": 4}
_NEVER = datetime(9999, 12, 31)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(32)),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("flags_json", sa.Text, nullable=False),
        sa.Column("reasons_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("last_reported_at", sa.DateTime, nullable=False),
        sa.Column("queued_at", sa.DateTime),
        sa.Column("acknowledged_at", sa.DateTime),
        sa.Column("acknowledged_by", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("acknowledgement", sa.Text),
    )
    op.create_index("ix_alerts_patient_open", "alerts", ["patient_id", "acknowledged_at"])
    op.create_index("ix_alerts_queue", "alerts", ["acknowledged_at", "queued_at"])
    op.create_table(
        "alert_emails",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(32), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("last_error", sa.String(300)),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("alert_id", "user_id", name="uq_alert_emails_alert_user"),
    )
    op.create_index("ix_alert_emails_due", "alert_emails", ["status", "next_attempt_at"])
    op.create_table(
        "alert_addresses",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    entries = op.create_table(
        "worklist_entries",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("patient_id", sa.String(32), sa.ForeignKey("patients.id"), primary_key=True),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("visit_count", sa.Integer, nullable=False),
        sa.Column("last_visit_at", sa.DateTime),
        sa.Column("triage", sa.String(16)),
        sa.Column("triage_order", sa.Integer, nullable=False),
        sa.Column("review_due_at", sa.DateTime),
        sa.Column("review_order", sa.DateTime, nullable=False),
        sa.Column("open_alerts", sa.Integer, nullable=False),
        sa.Column("alert_level", sa.String(16)),
        sa.Column("alert_order", sa.Integer, nullable=False),
        sa.Column("oldest_open_alert_at", sa.DateTime),
    )
    op.create_index("ix_worklist_priority", "worklist_entries",
                    ["user_id", "alert_order", "triage_order", "review_order", "name_key",
                     "patient_id"])
    op.create_index("ix_worklist_name", "worklist_entries", ["user_id", "name_key",
                                                              "patient_id"])
    op.create_index("ix_worklist_triage", "worklist_entries",
                    ["user_id", "triage_order", "name_key", "patient_id"])
    op.create_index("ix_worklist_review", "worklist_entries",
                    ["user_id", "review_order", "name_key", "patient_id"])
    op.create_index("ix_worklist_patient", "worklist_entries", ["patient_id"])
    assert entries is not None
    _fill_worklists(entries)


def _fill_worklists(entries: sa.Table) -> None:
    """A worklist entry per care-team member of every stored patient, from the patient's latest
    visit."""
    bind = op.get_bind()
    rows: list[dict[str, Any]] = []
    team = bind.execute(sa.text(
        "SELECT care_team.user_id, patients.id, patients.display_name FROM care_team "
        "JOIN patients ON patients.id = care_team.patient_id")).all()
    for user_id, patient_id, name in team:
        count = bind.execute(sa.text("SELECT count(*) FROM visits WHERE patient_id = :p"),
                             {"p": patient_id}).scalar() or 0
        latest = bind.execute(sa.text(
            "SELECT created_at, assessment_json, plan_json FROM visits WHERE patient_id = :p "
            "ORDER BY created_at DESC, id DESC LIMIT 1"), {"p": patient_id}).first()
        row: dict[str, Any] = {"user_id": user_id, "patient_id": patient_id,
                               "name_key": name.lower(), "visit_count": count,
                               "last_visit_at": None, "triage": None, "triage_order": 4,
                               "review_due_at": None, "review_order": _NEVER, "open_alerts": 0,
                               "alert_level": None, "alert_order": 4,
                               "oldest_open_alert_at": None}
        if latest is not None:
            at = latest[0] if isinstance(latest[0], datetime) else \
                datetime.fromisoformat(str(latest[0]))
            level = json.loads(latest[1])["triage"]["level"]
            # The plan's first follow-up, as spinecare.service.reviews.next_review reads it.
            weeks = [w for item in json.loads(latest[2]).get("review", [])
                     for w in item.get("weeks", [])]
            due = at + timedelta(weeks=min(weeks)) if weeks else None
            row.update(last_visit_at=at, triage=level, triage_order=4 - _RANK.get(level, 0),
                       review_due_at=due, review_order=due or _NEVER)
        rows.append(row)
    if rows:
        op.bulk_insert(entries, rows)


def downgrade() -> None:
    for table in ("worklist_entries", "alert_addresses", "alert_emails", "alerts"):
        op.drop_table(table)
