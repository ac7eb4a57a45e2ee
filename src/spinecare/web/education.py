"""Patient education pages: the library and one article (anyone signed in), and the
clinician's printout and sending of articles to a patient. Which articles a patient should read
is the use case's (:mod:`spinecare.service.education`); these routes parse and render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.education import Language, render_article
from spinecare.education.patient import treatment_anchor
from spinecare.http.mailer import wake
from spinecare.http.routing import translating_route
from spinecare.service import education, patients
from spinecare.service.errors import Invalid
from spinecare.store.accounts import Principal
from spinecare.vocabulary import LANGUAGES
from spinecare.web import once
from spinecare.web.i18n import N_, gettext_of, language_of
from spinecare.web.pages import (
    WebError,
    check_csrf,
    clinician,
    db_of,
    from_service,
    redirect,
    render,
    settings_of,
    signed_in,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
Clinician = Annotated[Principal, Depends(clinician)]


async def reader(request: Request) -> Principal:
    """Anyone signed in: a patient reads their articles, a clinician what they hand out."""
    who = await signed_in(request)
    if who is None:
        raise WebError(401, N_("Please sign in again"),
                       N_("Please sign in to read the articles."))
    return who


Reader = Annotated[Principal, Depends(reader)]


def _rendered(article_id: str, language: Language) -> dict[str, Any]:
    # The article in the page's language: its headings and treatment words come from the
    # rendered document, so an article not yet translated is English throughout (and marked so).
    found = education.article(article_id, language)
    return render_article(found, education.library(language))


@router.get("/articles")
async def library_page(request: Request, who: Reader) -> Response:
    lib = education.library(language_of(request))
    _ = gettext_of(request)
    return render(request, "articles.html", title=_("Read about your back and neck"),
                  patient_page=True, articles=list(lib.articles.values()), library=lib)


@router.get("/articles/{article_id}")
async def article_page(request: Request, article_id: str, who: Reader) -> Response:
    doc = await run_in_threadpool(_rendered, article_id, language_of(request))
    return render(request, "article.html", title=doc["title"], patient_page=True, doc=doc,
                  anchor=treatment_anchor)


@router.post("/patients/{patient_id}/articles")
async def print_or_send(request: Request, patient_id: str, who: Clinician) -> Response:
    """The chosen articles: a printout (``action=print``) or sent to the patient."""
    form = await request.form()
    check_csrf(request, form)
    chosen = [a for a in form.getlist("article") if isinstance(a, str)]
    db = db_of(request)
    if form.get("action") == "print":
        # The printout is in the language the clinician chose for the patient (the box
        # offers every language, the patient's account's own chosen); an unknown one is the
        # page's.
        asked = form.get("language")
        language = asked if isinstance(asked, str) and asked in LANGUAGES \
            else language_of(request)
        try:
            p, articles = await run_in_threadpool(education.printout, db, who, patient_id,
                                                  chosen, language)
        except Invalid:
            raise WebError(422, N_("Choose the articles to print"),
                           N_("Tick at least one article on the patient's page.")) from None
        lib = education.library(language)
        docs = [render_article(a, lib) for a in articles]
        # The printout is the patient's document, so all of it is in their language.
        request.state.language = language
        _ = gettext_of(request)
        return render(request, "articles_print.html",
                      title=_("Reading for %(name)s") % {"name": p.display_name},
                      patient_page=True, patient=p, docs=docs, anchor=treatment_anchor,
                      clinic=settings_of(request).clinic)
    raw_email = form.get("email")
    email = raw_email if isinstance(raw_email, str) else None
    settings = settings_of(request)
    ticket = await once.posted(request, form, f"education.send:{patient_id}",
                               lambda n: f"/patients/{patient_id}?sent={n}#education")
    if ticket is None:
        # Someone else's patient is "not found" first, whatever the form.
        await run_in_threadpool(patients.require, db, who, patient_id, "education.send")
        raise WebError(409, N_("This form has expired"), once.STALE)
    try:
        sent = await run_in_threadpool(
            lambda: education.send(db, who, patient_id, chosen, email,
                                   email_on=settings.smtp is not None, claim=ticket.claim))
    except Invalid as exc:
        messages = "; ".join(f"{pr.path}: {pr.message}" for pr in exc.problems)
        raise WebError(422, N_("Please check the articles and the e-mail address"),
                       messages + ".") from None
    if sent.emailed:
        wake(request)
    return redirect(f"/patients/{patient_id}?sent={len(sent.articles)}"
                    f"{'&emailed=1' if sent.emailed else ''}#education")
