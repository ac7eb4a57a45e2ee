"""Patient education over the API: the library, one article (``spinecare.education/1`` JSON, or
a FHIR R4 DocumentReference with ``?format=fhir`` or ``Accept: application/fhir+json``), a
patient's own articles, and sending articles to a patient. Every route needs a token; a
patient outside the caller's reach is 404, as everywhere."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from spinecare.api.deps import DB, AppSettings, Caller
from spinecare.api.errors import JSONBytes, from_service
from spinecare.api.openapi import json_responses
from spinecare.education import Article, render_article
from spinecare.education.fhir import document_reference, sent_bundle
from spinecare.education.patient import TreatmentReading
from spinecare.http.language import preferred
from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.service import education
from spinecare.service.education import PatientArticles
from spinecare.vocabulary import DEFAULT_LANGUAGE, Language

router = APIRouter(prefix="/api/v1", route_class=translating_route(from_service),
                   tags=["education"])

FHIR_JSON = "application/fhir+json"


class SendIn(BaseModel):
    """Articles to send to a patient; ``email`` absent keeps the patient's stored address,
    ``""`` removes it, anything else replaces it."""

    model_config = ConfigDict(extra="forbid")

    articles: Annotated[list[Annotated[str, Field(max_length=64)]],
                        Field(min_length=1, max_length=education.MAX_ARTICLES)]
    email: Annotated[str, Field(max_length=320)] | None = None


def _summary(a: Article) -> dict[str, Any]:
    return {"id": a.id, "title": a.title, "language": a.language, "kind": a.kind,
            "condition": a.condition,
            "summary": a.summary, "reviewed": a.reviewed.isoformat(),
            "href": f"/api/v1/education/articles/{a.id}"}


def _json(data: Any, media_type: str = "application/json",
          language: str | None = None) -> Response:
    response = JSONBytes(orjson.dumps(data), media_type=media_type)
    if language is not None:
        response.headers["Content-Language"] = language
    return response


def reader_language(
    lang: Annotated[Language | None, Query(
        description="the language of the articles' text; without it, the first language "
                    "of Accept-Language that the library has, else English")] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Language:
    """``?lang=`` decides (an unknown one is a 422 naming ``lang``); then Accept-Language."""
    return lang or preferred(accept_language) or DEFAULT_LANGUAGE


ReaderLanguage = Annotated[Language, Depends(reader_language)]


def _wants_fhir(format: str | None, accept: str | None) -> bool:
    """``?format=`` decides; without it, an Accept header naming FHIR JSON."""
    return format == "fhir" or (format is None and accept is not None and FHIR_JSON in accept)


@router.get("/education/articles", responses=json_responses(401, ok=(200, "the library")))
def list_articles(who: Caller, language: ReaderLanguage) -> Response:
    """Every article of the library, in its reading order, with the library's version, in
    the reader's language (each item's ``language`` says which: an article not yet translated
    is English)."""
    lib = education.library(language)
    items = [_summary(a) for a in lib.articles.values()]
    return _json({"items": items, "total": len(items), "version": lib.version,
                  "standard": lib.standard, "language": language}, language=language)


@router.get("/education/articles/{article_id}",
            responses={**json_responses(401, 404, 422, ok=(200, "the article")),
                       200: {"description": "the article as spinecare.education/1, or a "
                                            "FHIR R4 DocumentReference",
                             "content": {"application/json": {"schema": {"type": "object"}},
                                         FHIR_JSON: {"schema": {"type": "object"}}}}})
def get_article(article_id: str, who: Caller, language: ReaderLanguage,
                format: Literal["json", "fhir"] | None = None,
                accept: Annotated[str | None, Header()] = None) -> Response:
    """One article in the reader's language: its sections in reading order, its treatments
    with their grades from the treatment knowledge, its sources and review date. ``language``
    in the result (and the DocumentReference's) is the text's own: English for an article
    not yet translated."""
    doc = render_article(education.article(article_id, language), education.library(language))
    if _wants_fhir(format, accept):
        return _json(document_reference(doc), FHIR_JSON, language=doc["language"])
    return _json(doc, language=doc["language"])


def _treatment(t: TreatmentReading) -> dict[str, Any]:
    return {"treatment": t.treatment_id, "name": t.name, "stance": t.stance,
            "article": t.article.id if t.article else None,
            "anchor": t.anchor if t.article else None}


def patient_articles_json(found: PatientArticles,
                          language: Language = DEFAULT_LANGUAGE) -> dict[str, Any]:
    r = found.reading
    lib = education.library(language)
    return {
        "patient_id": found.patient.id,
        "urgent": ({"article": r.urgent.article.id,
                    "paragraphs": list(r.urgent.section.paragraphs),
                    "points": list(r.urgent.section.points)} if r and r.urgent else None),
        "conditions": [{"condition": c.condition, "likelihood": c.likelihood,
                        "article": c.article.id} for c in (r.conditions if r else ())],
        "treatments": [_treatment(t) for t in (r.treatments if r else ())],
        "sent": [{"article": s.article.id, "sent_at": s.sent_at.isoformat() + "Z",
                  "sent_by": s.sent_by} for s in found.sent],
        "items": [_summary(lib.articles[a]) for a in found.article_ids()],
        "total": len(found.article_ids()),
        "language": language,
    }


@router.get("/patients/{patient_id}/education",
            responses=json_responses(401, 404, 422, ok=(200, "the patient's articles")))
def get_patient_articles(patient_id: str, who: Caller, db: DB, language: ReaderLanguage,
                         format: Literal["json", "fhir"] | None = None,
                         accept: Annotated[str | None, Header()] = None) -> Response:
    """The patient's own articles: the urgent-care advice that fits their latest assessment,
    their likely conditions' articles, their plan's treatments (suggested, not suggested,
    where guidelines differ) and what their care team sent, then every article once. As FHIR
    (``?format=fhir`` or ``Accept: application/fhir+json``): the articles the care team sent,
    as a Bundle of Communications."""
    found = education.of_patient(db, who, patient_id, language)
    if _wants_fhir(format, accept):
        return _json(sent_bundle(found.patient.id, [
            (s.article.id, s.article.title, s.sent_at.isoformat(timespec="seconds") + "Z")
            for s in found.sent]), FHIR_JSON, language=language)
    return _json(patient_articles_json(found, language), language=language)


@router.post("/patients/{patient_id}/education/send",
             responses=json_responses(401, 403, 404, 422, ok=(200, "what was sent")))
def send_articles(request: Request, patient_id: str, body: SendIn, who: Caller, db: DB,
                  settings: AppSettings) -> Response:
    """Send articles to the patient's home (a clinician of their care team only), and tell
    the patient by e-mail when e-mail is on and they have an address."""
    sent = education.send(db, who, patient_id, body.articles, body.email,
                          email_on=settings.smtp is not None)
    if sent.emailed:
        wake(request)
    return _json({"patient_id": patient_id, "articles": [a.id for a in sent.articles],
                  "emailed": sent.emailed})

