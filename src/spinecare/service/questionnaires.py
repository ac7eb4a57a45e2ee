"""Questionnaire responses: scored by their instrument's own rules and stored with the score;
the patient intake, stored with its triage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from spinecare.errors import Problem
from spinecare.instruments.answers import Response
from spinecare.instruments.cases import case_from_responses
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.registry import instruments
from spinecare.instruments.scoring import score_answers
from spinecare.reasoning.engine import default_engine
from spinecare.service import alerts, patients
from spinecare.service.errors import Invalid, NotFound
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import QuestionnaireResponse


def submit(db: Database, who: Principal, patient_id: str, instrument: str,
           answers: dict[str, Any]) -> QuestionnaireResponse:
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
                  _assessment(instrument, answers))


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
    summary = {"triage": assessment["triage"]["level"], "complete": complete,
               "reasons": assessment["triage"]["reasons"],
               "red_flags": [f["code"] for f in assessment["red_flags"]]}
    return _store(db, who, who.patient_id, "intake", answers, summary, assessment)


def _store(db: Database, who: Principal, patient_id: str, instrument: str,
           answers: dict[str, Any], score: dict[str, Any],
           assessment: Mapping[str, Any] | None) -> QuestionnaireResponse:
    """Store the response and, in the same transaction, the alert its assessment calls for:
    a stored red flag is never without its alert."""
    with db.session() as session:
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
