"""The clinician's worklist: their patients, sorted and filtered by open alerts, triage,
overdue review and name, a page at a time. Only the patients shown are audited as read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from spinecare.service.errors import Forbidden
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.worklist import Filters, Sort, WorklistRow, worklist

PAGE_SIZES = (25, 50, 100)


def page(db: Database, who: Principal, filters: Filters, sort: Sort, now: datetime, *,
         limit: int, offset: int) -> tuple[Sequence[WorklistRow], int]:
    if who.role != "clinician":
        raise Forbidden("Only clinicians have a worklist")
    with db.session() as session:
        rows, total = worklist(session, who.user_id, filters, sort, now, limit=limit,
                               offset=offset)
        for row in rows:
            records.audit(session, who, "patient.list", patient_id=row.patient.id)
    return rows, total
