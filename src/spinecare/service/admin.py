"""What only admins do: read the audit trail, create clinician and admin accounts."""

from __future__ import annotations

from collections.abc import Sequence

from spinecare.errors import Problem, SpinecareError
from spinecare.service.errors import Forbidden, Invalid
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal, Role
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, User


def _admin_only(who: Principal) -> None:
    if who.role != "admin":
        raise Forbidden("Only admins can do this")


def audit_trail(db: Database, who: Principal, *, patient_id: str | None, limit: int,
                offset: int) -> tuple[Sequence[AuditEvent], int]:
    """The audit trail, oldest first, of one patient or of everything."""
    _admin_only(who)
    with db.session() as session:
        rows, total = records.list_audit(session, patient_id=patient_id, limit=limit,
                                         offset=offset)
        records.audit(session, who, "audit.list", patient_id=patient_id)
    return rows, total


def create_user(db: Database, who: Principal, username: str, role: Role,
                password: str) -> User:
    """A clinician or admin account; a taken or unusable name is :class:`Invalid`."""
    _admin_only(who)
    # The account's own refusal rolls its session back; only then is it reported.
    try:
        with db.session() as session:
            user = accounts.create_user(session, username, role, password)
            records.audit(session, who, "user.create", target_id=str(user.id))
    except SpinecareError as exc:
        field = getattr(exc, "field", "username")
        raise Invalid("Invalid request", [Problem(field, str(exc))]) from None
    return user
