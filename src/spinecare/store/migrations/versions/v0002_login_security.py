"""Login security and a tamper-evident audit trail.

- ``users.username_key``: the username's comparison key (NFKC, case-folded, confusables folded
  to one skeleton), unique, so that ``Alice``, ``ALICE`` and a Cyrillic ``аlice`` cannot sit
  beside ``alice``. Existing accounts get their key here; should two existing names fold to
  one key, the older keeps it and the newer keeps signing in by its exact name (key NULL).
- ``login_throttle``: failed-login counters per account, per source address and per pair,
  in the database so that every worker sees the same counts.
- ``audit_events``: the source address, the reason of a refusal, the attempted username of a
  failed login, and the hash chain (each event stores its predecessor's hash and its own).
  Existing events are chained here, in id order. On SQLite a trigger also refuses an INSERT
  that would replace a row (``REPLACE INTO``, ``INSERT OR REPLACE``): REPLACE deletes the old
  row without firing DELETE triggers.

Revision ID: 0002_login_security
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_login_security"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_APPEND_ONLY = "the audit trail is append-only"


def upgrade() -> None:
    # The folding and the hash are the running code's: the same functions the service uses, so
    # a key computed here matches one computed at sign-in.
    from spinecare.store.chain import GENESIS, event_hash
    from spinecare.store.usernames import username_key

    bind = op.get_bind()
    dialect = bind.dialect.name

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_key", sa.String(150)))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("username_key", sa.String))
    taken: set[str] = set()
    for user_id, username in bind.execute(
            sa.select(users.c.id, users.c.username).where(users.c.username.is_not(None))
            .order_by(users.c.id)).all():
        key = username_key(username)
        if key in taken:
            continue
        taken.add(key)
        bind.execute(users.update().where(users.c.id == user_id).values(username_key=key))
    op.create_index("ux_users_username_key", "users", ["username_key"], unique=True)

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", sa.DateTime, nullable=False),
        sa.Column("locked_until", sa.DateTime),
    )
    op.create_index("ix_login_throttle_last_failure", "login_throttle", ["last_failure"])

    # The append-only triggers refuse the UPDATEs that chain the existing events: lift them
    # for the length of this transaction only.
    if dialect == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_events_no_{event}")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("address", sa.String(64)))
        batch.add_column(sa.Column("reason", sa.String(200)))
        batch.add_column(sa.Column("username", sa.String(150)))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
    # Typed as the model types them, so each value is hashed as the service will read it back.
    events = sa.table(
        "audit_events", sa.column("id", sa.Integer), sa.column("at", sa.DateTime),
        sa.column("actor_id", sa.Integer),
        *(sa.column(name, sa.String) for name in (
            "actor_role", "action", "patient_id", "target_id", "outcome", "address", "reason",
            "username", "prev_hash", "hash")))
    previous = GENESIS
    for row in bind.execute(sa.select(events).order_by(events.c.id)).mappings().all():
        content = dict(row)
        content["prev_hash"] = previous
        digest = event_hash(content)
        bind.execute(events.update().where(events.c.id == row["id"])
                     .values(prev_hash=previous, hash=digest))
        previous = digest
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON "
                       f"audit_events BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")
        op.execute("CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events "
                   "WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id) "
                   f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_replace")
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER audit_events_no_{event}")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    with op.batch_alter_table("audit_events") as batch:
        for name in ("hash", "prev_hash", "username", "reason", "address"):
            batch.drop_column(name)
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON "
                       f"audit_events BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    op.drop_table("login_throttle")
    op.drop_index("ux_users_username_key", "users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("username_key")
