"""Home-exercise sessions as the patient logged them (``spinecare.plan`` ProgrammeLog)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from spinecare.errors import Problem
from spinecare.plan.programme import LogError, parse_logs
from spinecare.service import alerts, patients
from spinecare.service.errors import Invalid
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import ExerciseLog
from spinecare.store.once import Claim


def add(db: Database, who: Principal, patient_id: str,
        entry: Mapping[str, Any], *, claim: Claim | None = None) -> ExerciseLog:
    """Validate one logged session and store it. Patients may add their own."""
    with db.session() as session:
        patients.visible(session, who, patient_id, "exercise_log.create")
    try:
        (log,) = parse_logs([entry])
    except LogError as exc:
        # One log is checked as the first of a list: its problems are named from its root.
        raise Invalid("Invalid request", [Problem(p.path.removeprefix("logs[0]").lstrip(".")
                                                  or "(document)", p.message)
                                          for p in exc.problems]) from None
    with db.session() as session:
        patients.visible(session, who, patient_id, "exercise_log.create")
        row = records.add_exercise_log(session, patient_id, who.user_id,
                                       orjson.dumps(log.model_dump(mode="json")).decode())
        records.audit(session, who, "exercise_log.create", patient_id=patient_id,
                      target_id=row.id)
        alerts.raise_in(session, who, patient_id,
                        alerts.from_stop_symptoms(row.id, log.symptoms))
        if claim is not None:
            claim(session, row.id)
        return row


def page(db: Database, who: Principal, patient_id: str, *, limit: int,
         offset: int) -> tuple[Sequence[ExerciseLog], int]:
    """The patient's logged sessions, oldest first."""
    with db.session() as session:
        patients.visible(session, who, patient_id, "exercise_log.list")
        rows, total = records.list_exercise_logs(session, patient_id, limit=limit,
                                                 offset=offset)
        records.audit(session, who, "exercise_log.list", patient_id=patient_id)
    return rows, total
