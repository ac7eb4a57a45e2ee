"""Visits: a case assessed and planned, stored with both; reading them back; their outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from spinecare.case import parse_case
from spinecare.errors import CaseError
from spinecare.reasoning.engine import default_engine
from spinecare.service import alerts, patients
from spinecare.service.clinical import outcomes as measure_outcomes
from spinecare.service.clinical import prepare_visit
from spinecare.service.errors import Conflict, Invalid, NotFound
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Patient, QuestionnaireResponse, Visit
from spinecare.store.once import Claim


@dataclass(frozen=True)
class Prefill:
    """What a new visit's form starts from: the last visit and the patient's intakes."""

    patient: Patient
    visits: Sequence[Visit]
    intakes: Sequence[QuestionnaireResponse]


def create(db: Database, who: Principal, patient_id: str, case: bytes,
           idempotency_key: str | None = None, *,
           claim: Claim | None = None) -> tuple[Visit, bool]:
    """Assess and plan ``case`` (JSON) and store both as the patient's visit: the visit and
    whether it is new. A repeated ``idempotency_key`` (per patient) gives back the first
    visit, and :class:`Conflict` when it came with another case. ``claim`` spends the form
    that asked for the visit, in the visit's own transaction (:mod:`spinecare.store.once`)."""
    # The clinical work runs outside any write transaction; only a refusal is written first.
    with db.session(read_only=True) as session:
        seen = records.visible_patient(session, who, patient_id) is not None
    if not seen or who.role == "patient":
        with db.session() as session:
            patients.visible(session, who, patient_id, "visit.create")
            patients.refuse_patient_writes(session, who, patient_id, "visit.create",
                                           "add visits")
    try:
        new = prepare_visit(case)
    except CaseError as exc:
        with db.session() as session:
            records.audit(session, who, "visit.create", patient_id=patient_id,
                          outcome="invalid", reason="invalid case at " + ", ".join(
                              p.path for p in exc.problems[:5]))
        raise Invalid("Invalid case", exc.problems) from None
    try:
        with db.session() as session:
            visit, created = records.add_visit(session, patient_id, who.user_id, new,
                                               idempotency_key=idempotency_key)
            records.audit(session, who, "visit.create" if created else "visit.replay",
                          patient_id=patient_id, target_id=visit.id)
            if created and claim is not None:
                claim(session, visit.id)
            if created:
                alerts.raise_in(session, who, patient_id, alerts.from_assessment(
                    "visit", visit.id, orjson.loads(new.assessment_json)))
    except records.IdempotencyConflict:
        raise Conflict("Idempotency-Key was already used for a different case") from None
    return visit, created


def page(db: Database, who: Principal, patient_id: str, *, limit: int,
         offset: int) -> tuple[Sequence[Visit], int]:
    """The patient's visits, oldest first."""
    with db.session() as session:
        patients.visible(session, who, patient_id, "visit.list")
        rows, total = records.list_visits(session, patient_id, limit=limit, offset=offset)
        records.audit(session, who, "visit.list", patient_id=patient_id)
    return rows, total


def get(db: Database, who: Principal, patient_id: str,
        visit_id: str) -> tuple[Patient, Visit]:
    """One visit of the patient, with the patient; a missing visit is audited as
    ``not_found``."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "visit.read")
        visit = records.get_visit(session, patient_id, visit_id)
        records.audit(session, who, "visit.read", patient_id=patient_id, target_id=visit_id[:64],
                      outcome="ok" if visit else "not_found")
    if visit is None:
        raise NotFound("visit")
    return patient, visit


def outcomes(db: Database, who: Principal, patient_id: str) -> dict[str, Any]:
    """Per measure: its scores over the visits and their change from the baseline
    (:func:`spinecare.service.clinical.outcomes`)."""
    with db.session() as session:
        patients.visible(session, who, patient_id, "outcomes.read")
        rows, _ = records.list_visits(session, patient_id)
        records.audit(session, who, "outcomes.read", patient_id=patient_id)
    return {"patient_id": patient_id, **measure_outcomes(rows)}


def prefill(db: Database, who: Principal, patient_id: str) -> Prefill:
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "visit.prefill")
        visits, _ = records.list_visits(session, patient_id)
        # Only finished intakes: one left half-way (or stopped by an emergency) must not
        # take the place of the history a finished one gave.
        intakes = [r for r in patients.responses(session, patient_id)
                   if r.instrument == "intake" and _finished(r)]
        records.audit(session, who, "visit.prefill", patient_id=patient_id)
    return Prefill(patient, visits, intakes)


def _finished(row: QuestionnaireResponse) -> bool:
    return bool(orjson.loads(row.score_json).get("complete", False))


def assess(case: bytes | dict[str, Any]) -> dict[str, Any]:
    """The assessment of a case (JSON bytes or a document), storing nothing; an invalid case
    raises :class:`Invalid`."""
    try:
        parsed = parse_case(case)
    except CaseError as exc:
        raise Invalid("Invalid case", exc.problems) from None
    return default_engine().assess(parsed)
