"""An education article as a FHIR R4 ``DocumentReference``.

A library article is a document about no one in particular, so it is a DocumentReference
without a ``subject``. An article a care team sent to a patient is a message with a
recipient, so those are ``Communication`` resources (:func:`sent_bundle`) whose payload refers
to the article's DocumentReference. The document itself travels twice in ``content``: as
plain text (what ``spinecare explain`` prints, for any FHIR client to show) and as the
``spinecare.education/1`` JSON (for a client that lays it out itself).

Only elements that exist in R4 (4.0.1) are used, so the resource is valid R4 and R4B; it is
checked with the ``fhir.resources.R4B`` model before it leaves (as the instruments'
Questionnaires are, :mod:`spinecare.instruments.fhir`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from spinecare.education.render import render_text
from spinecare.errors import KnowledgeError

__all__ = [
    "ARTICLE_SYSTEM", "LIBRARY_VERSION_SYSTEM", "document_reference", "fhir_id", "sent_bundle",
]

#: Our identifier system for article ids, and the tag system carrying the library's version.
ARTICLE_SYSTEM = "urn:spinecare:education:article"
LIBRARY_VERSION_SYSTEM = "urn:spinecare:education:library-version"


def fhir_id(article_id: str) -> str:
    """A FHIR ``id`` for an article id: ids allow ``[A-Za-z0-9-.]`` only, no underscore."""
    return article_id.replace("_", "-")


def _data(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def document_reference(doc: Mapping[str, Any], *, language: str | None = None) -> dict[str, Any]:
    """The rendered article ``doc`` (:func:`spinecare.education.render_article`) as a
    validated DocumentReference (a JSON-ready dict). Its ``language`` (the resource's and each
    attachment's, BCP 47) is the article's own unless ``language`` says otherwise."""
    from fhir.resources.R4B.documentreference import DocumentReference

    language = str(doc.get("language", "en")) if language is None else language

    reviewed = str(doc["reviewed"])
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": fhir_id(str(doc["id"])),
        "language": language,
        "meta": {"tag": [{"system": LIBRARY_VERSION_SYSTEM,
                          "code": str(doc["versions"]["education"])}]},
        "identifier": [{"system": ARTICLE_SYSTEM, "value": str(doc["id"])}],
        "status": "current",
        "docStatus": "final",
        "type": {"text": "Patient education article"},
        "category": [{"text": str(doc["kind"])}],
        "date": f"{reviewed}T00:00:00Z",
        "description": str(doc["summary"]),
        "content": [
            {"attachment": {"contentType": "text/plain; charset=utf-8", "language": language,
                            "title": str(doc["title"]), "creation": reviewed,
                            "data": _data(render_text(doc).encode("utf-8"))}},
            {"attachment": {"contentType": "application/json", "language": language,
                            "title": str(doc["title"]), "creation": reviewed,
                            "data": _data(orjson.dumps(dict(doc)))}},
        ],
    }
    try:
        DocumentReference.model_validate(resource)
    except ValidationError as exc:
        raise KnowledgeError(f"article {doc['id']}: not a valid DocumentReference: "
                             f"{exc.errors(include_url=False)}") from exc
    return resource


def sent_bundle(patient_id: str, sent: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The articles a care team sent to a patient as a FHIR R4 ``Bundle`` (``collection``) of
    ``Communication`` resources, each ``(article id, title, sent at, ISO 8601 UTC)``: a message
    from the care team to the patient whose payload refers to the article's DocumentReference.
    Checked with the ``fhir.resources.R4B`` model."""
    from fhir.resources.R4B.bundle import Bundle

    patient = f"Patient/{patient_id}"
    entries = []
    for n, (article_id, title, sent_at) in enumerate(sent):
        entries.append({"resource": {
            "resourceType": "Communication",
            "id": f"sent-{n + 1}",
            "status": "completed",
            "category": [{"text": "Patient education"}],
            "subject": {"reference": patient},
            "recipient": [{"reference": patient}],
            "sent": sent_at,
            "payload": [{"contentReference": {
                "reference": f"DocumentReference/{fhir_id(article_id)}", "display": title}}],
        }})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    try:
        Bundle.model_validate(bundle)
    except ValidationError as exc:
        raise KnowledgeError(f"sent articles: not a valid Bundle: "
                             f"{exc.errors(include_url=False)}") from exc
    return bundle
