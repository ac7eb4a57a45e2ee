"""A visit's documents from a submitted case, and a patient's outcomes from stored visits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from spinecare.case import parse_case
from spinecare.instruments.change import change_over_time
from spinecare.plan.planner import make_plan
from spinecare.reasoning.engine import default_engine
from spinecare.service.reviews import first_review_after
from spinecare.store.models import QuestionnaireResponse, Visit
from spinecare.store.records import NewVisit


def prepare_visit(body: bytes) -> NewVisit:
    """Validate, assess and plan one case (raises :class:`~spinecare.errors.CaseError`)."""
    case = parse_case(body)
    engine = default_engine()
    assessment = engine.assess(case)
    plan = make_plan(case, assessment)
    # The case is kept as validated (aliases, explicit fields only), not as the raw bytes:
    # formatting differences must not matter, and nothing unvalidated is stored.
    case_doc = case.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return NewVisit(
        case_json=orjson.dumps(case_doc).decode(),
        assessment_json=orjson.dumps(assessment).decode(),
        plan_json=orjson.dumps(plan).decode(),
        engine_version=engine.versions["engine"],
        knowledge_version=engine.versions["knowledge"],
        request_hash=hashlib.sha256(orjson.dumps(case_doc, option=orjson.OPT_SORT_KEYS))
        .hexdigest(),
        triage=assessment["triage"]["level"],
        review_after=first_review_after(plan),
    )


def outcomes(visits: Sequence[Visit]) -> dict[str, Any]:
    """Every tracked measure across the visits (oldest first): its series, change from the
    baseline and whether each change passes the minimal clinically important difference,
    by the instruments' own rules (:func:`spinecare.instruments.change.change_over_time`)."""
    scores = [orjson.loads(v.assessment_json).get("scores", {}) for v in visits]
    dates = [v.created_at.isoformat() + "Z" for v in visits]
    measures = change_over_time(scores, dates=dates)
    ids = [v.id for v in visits]
    for measure in measures.values():
        for point in (*measure["series"], measure["baseline"], *measure["changes"]):
            point["visit_id"] = ids[point["index"]]
    return {"visits": len(visits), "measures": measures}


def outcomes_with_home_answers(visits: Sequence[Visit],
                               responses: Sequence[QuestionnaireResponse]) -> dict[str, Any]:
    """Like :func:`outcomes`, with the questionnaires the patient answered at home as points
    of their own, all in time order: each point has its date, and ``source`` says whether it
    came from a visit (``visit_id``) or from home (``response_id``)."""
    points: list[tuple[datetime, dict[str, Any], str, str]] = []
    for v in visits:
        points.append((v.created_at, orjson.loads(v.assessment_json).get("scores", {}),
                       "visit", v.id))
    for r in responses:
        if r.instrument == "intake":
            continue
        points.append((r.created_at, {r.instrument: orjson.loads(r.score_json)}, "home", r.id))
    points.sort(key=lambda p: p[0])
    measures = change_over_time([p[1] for p in points],
                                dates=[p[0].isoformat() + "Z" for p in points])
    for measure in measures.values():
        for point in (*measure["series"], measure["baseline"], *measure["changes"]):
            _, _, source, row_id = points[point["index"]]
            point["source"] = source
            point["visit_id" if source == "visit" else "response_id"] = row_id
    return {"points": len(points), "measures": measures}
