"""Questionnaire responses: scored by their instrument's own rules and stored with the score;
the patient intake, stored with its triage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.orm import Session

from spinecare.errors import Problem
from spinecare.instruments.answers import Response
from spinecare.instruments.cases import case_from_responses
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.registry import instruments
from spinecare.instruments.scoring import score_answers
from spinecare.reasoning.engine import default_engine
from spinecare.service import alerts, patients
from spinecare.service.errors import Invalid, NotFound
from spinecare.store import drafts, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.drafts import Draft
from spinecare.store.models import QuestionnaireResponse
from spinecare.store.once import Claim
from spinecare.store.stamps import utcnow


def submit(db: Database, who: Principal, patient_id: str, instrument: str,
           answers: dict[str, Any], *, claim: Claim | None = None) -> QuestionnaireResponse:
    """Score ``answers`` (by linkId) to ``instrument`` and store both. Patients may add their
    own; the scoring is :func:`spinecare.instruments.scoring.score_answers`."""
    with db.session() as session:
        patients.visible(session, who, patient_id, "questionnaire.create")
    known = instruments()
    if instrument not in known:
        raise Invalid("Invalid request", [Problem(
            "instrument", f"must be one of {', '.join(sorted(known))}")])
    try:
        score = score_answers(instrument, answers)
    except AnswerError as exc:
        raise Invalid("Invalid request", [Problem(f"answers.{p.path}", p.message)
                                          for p in exc.problems]) from None
    return _store(db, who, patient_id, instrument, answers, score,
                  _assessment(instrument, answers), claim)


def _assessment(instrument: str, answers: dict[str, Any]) -> dict[str, Any] | None:
    """The engine's assessment of what a patient's questionnaire says on its own (red flags
    and triage), or ``None`` when a case has no place for its answers."""
    try:
        case, _ = case_from_responses([Response(instrument, dict(answers))],
                                      case_id="questionnaire")
    except AnswerError:
        return None
    return default_engine().assess(case)


def save_intake(db: Database, who: Principal, answers: dict[str, Any],
                assessment: Mapping[str, Any], complete: bool) -> QuestionnaireResponse:
    """A patient's intake answers, stored with the triage their assessment reached."""
    if who.patient_id is None:
        raise NotFound("patient")
    return _store(db, who, who.patient_id, "intake", answers,
                  _intake_summary(assessment, complete), assessment)


def intake_draft(db: Database, who: Principal) -> Draft | None:
    """The patient's own intake answered so far, if one is open (audited as a read)."""
    if who.patient_id is None:
        raise NotFound("patient")
    with db.session() as session:
        patients.visible(session, who, who.patient_id, "intake.draft.read")
        found = drafts.load(session, who.patient_id)
        records.audit(session, who, "intake.draft.read", patient_id=who.patient_id,
                      outcome="ok" if found else "not_found")
    return found


def save_intake_step(db: Database, who: Principal, draft: Draft,
                     assessment: Mapping[str, Any] | None, *, finished: bool,
                     answers: dict[str, Any], claim: Claim | None = None,
                     where: str = "") -> str | None:
    """One step of the patient's intake, in one transaction with the form that sent it:
    the draft is kept; an emergency (``assessment`` at that level) or the last answer
    stores the intake as a response (with its alert) and closes the draft. The stored
    response's id, if one was stored. ``claim`` is spent with ``where`` plus that id."""
    if who.patient_id is None:
        raise NotFound("patient")
    patient_id = who.patient_id
    emergency = assessment is not None and assessment["triage"]["level"] == "emergency"
    with db.session() as session:
        patients.visible(session, who, patient_id, "intake.draft.save")
        stored: str | None = None
        if (emergency or finished) and assessment is not None:
            stored = _store_in(session, who, patient_id, "intake", answers,
                               _intake_summary(assessment, finished), assessment).id
            drafts.drop(session, patient_id)
        else:
            drafts.save(session, patient_id, draft, utcnow())
            records.audit(session, who, "intake.draft.save", patient_id=patient_id)
        if claim is not None:
            claim(session, where + (stored or ""))
    return stored


def restart_intake(db: Database, who: Principal, claim: Claim | None = None) -> None:
    """Throw away the patient's open intake (the answers stored before are kept)."""
    if who.patient_id is None:
        raise NotFound("patient")
    with db.session() as session:
        patients.visible(session, who, who.patient_id, "intake.draft.drop")
        drafts.drop(session, who.patient_id)
        records.audit(session, who, "intake.draft.drop", patient_id=who.patient_id)
        if claim is not None:
            claim(session, "")


def _intake_summary(assessment: Mapping[str, Any], complete: bool) -> dict[str, Any]:
    return {"triage": assessment["triage"]["level"], "complete": complete,
            "reasons": assessment["triage"]["reasons"],
            "red_flags": [f["code"] for f in assessment["red_flags"]]}


def _store(db: Database, who: Principal, patient_id: str, instrument: str,
           answers: dict[str, Any], score: dict[str, Any],
           assessment: Mapping[str, Any] | None,
           claim: Claim | None = None) -> QuestionnaireResponse:
    with db.session() as session:
        return _store_in(session, who, patient_id, instrument, answers, score, assessment,
                         claim)


def _store_in(session: Session, who: Principal, patient_id: str, instrument: str,
              answers: dict[str, Any], score: dict[str, Any],
              assessment: Mapping[str, Any] | None,
              claim: Claim | None = None) -> QuestionnaireResponse:
    """Store the response and, in the same transaction, the alert its assessment calls for:
    a stored red flag is never without its alert."""
    patients.visible(session, who, patient_id, "questionnaire.create")
    row = records.add_questionnaire_response(
        session, patient_id, who.user_id, instrument, orjson.dumps(answers).decode(),
        orjson.dumps(score).decode())
    records.audit(session, who, "questionnaire.create", patient_id=patient_id,
                  target_id=row.id)
    if assessment is not None:
        source = "intake" if instrument == "intake" else "questionnaire"
        alerts.raise_in(session, who, patient_id,
                        alerts.from_assessment(source, row.id, assessment))
    if claim is not None:
        claim(session, row.id)
    return row


def page(db: Database, who: Principal, patient_id: str, *, limit: int,
         offset: int) -> tuple[Sequence[QuestionnaireResponse], int]:
    """The patient's questionnaire responses, oldest first."""
    with db.session() as session:
        patients.visible(session, who, patient_id, "questionnaire.list")
        rows, total = records.list_questionnaire_responses(session, patient_id, limit=limit,
                                                           offset=offset)
        records.audit(session, who, "questionnaire.list", patient_id=patient_id)
    return rows, total
