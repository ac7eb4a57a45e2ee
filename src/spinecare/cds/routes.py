"""The CDS Hooks 2.0 endpoints under ``/cds-services``: discovery, one endpoint per service,
and each service's feedback. Every call must carry the client's signed JWT
(:mod:`spinecare.cds.security`); a refusal is a 401 with a JSON ``detail`` saying what failed.
Bodies are JSON exactly as the specification gives them; errors are
``{"detail": ..., "problems": [{"path", "message"}]}`` as in the rest of the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.case import parse_case
from spinecare.cds import imaging
from spinecare.cds.cards import Card, imaging_card, triage_cards
from spinecare.cds.chart import Chart, ChartUnavailable, chart_case
from spinecare.cds.config import CdsSettings
from spinecare.cds.fhirserver import FhirFetcher, Unobtainable, check_server, render
from spinecare.cds.requests import (
    BadRequest,
    HookRequest,
    parse_feedback,
    parse_hook_request,
    resources_of,
)
from spinecare.cds.security import (
    ClientKeys,
    KeySets,
    Refused,
    algorithm,
    bearer,
    unverified_issuer,
    verify,
)
from spinecare.cds.services import IMAGING, SERVICES, TRIAGE, Service, discovery
from spinecare.errors import CaseError, Problem
from spinecare.http.deps import get_db, get_settings
from spinecare.reasoning.engine import default_engine
from spinecare.service import cds as use_case
from spinecare.service.errors import Invalid, NotAuthenticated
from spinecare.store.cds import IssuedCard

#: The parts of a case that hold clinical findings (the rest is who the patient is).
CLINICAL_SECTIONS = ("history", "symptoms", "exam", "instruments", "imaging")

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"], include_in_schema=False)


class CdsState:
    """What the routes share: the settings, the key sets' cache, the FHIR client."""

    def __init__(self, settings: CdsSettings):
        # Broken imaging knowledge stops the app now, naming the file and key, not at the
        # first order.
        imaging.imaging_knowledge()
        self.settings = settings
        self.keys = KeySets(settings)
        self.fetcher = FhirFetcher(settings)

    def close(self) -> None:
        self.keys.close()
        self.fetcher.close()


def _state(request: Request) -> CdsState:
    state: CdsState = request.app.state.cds
    return state


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=dict(headers or {}),
                    media_type="application/json")


def _error(status: int, detail: str, problems: list[Problem] | None = None) -> Response:
    body: dict[str, Any] = {"detail": detail}
    if problems is not None:
        body["problems"] = [{"path": p.path, "message": p.message} for p in problems]
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return _json(body, status, headers)


def _cors(request: Request, response: Response) -> Response:
    origin = request.headers.get("origin")
    if origin and origin in _state(request).settings.cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _authenticate(request: Request, audience: str, what: str, *, admit: bool = True
                  ) -> use_case.Token:
    """The verified caller of ``audience`` (sync: reads the database and may fetch the
    client's key set); with ``admit``, its JWT is accepted once now (else the caller must
    pass it to :func:`use_case.record_cards`)."""
    state = _state(request)
    token = bearer(request.headers.get("authorization"))
    iss, header = unverified_issuer(token)
    alg = algorithm(header, state.settings)
    source = use_case.client_keys(get_db(request), iss)
    if source is None:
        raise Refused("The JWT's iss is not a registered client")
    key = state.keys.key(ClientKeys(source.iss, source.jwks_url, source.jwks_json,
                                    source.version), header.get("kid"), alg)
    caller = verify(token, header, key, iss=iss, audience=audience, settings=state.settings)
    checked = use_case.Token(caller.iss, caller.jti, caller.expires_at)
    if admit:
        try:
            use_case.admit(get_db(request), checked, what)
        except NotAuthenticated as exc:
            raise Refused(str(exc)) from None
    return checked


def _url(request: Request, path: str) -> str:
    return f"{get_settings(request).public_url}{path}"


@router.options("")
@router.options("/{service_id}")
@router.options("/{service_id}/feedback")
async def preflight(request: Request) -> Response:
    """CORS preflight for browser-based clients (the CDS Hooks sandbox) on the allowlist."""
    response = Response(status_code=204)
    if request.headers.get("origin") in _state(request).settings.cors_origins:
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return _cors(request, response)


@router.get("")
async def discover(request: Request) -> Response:
    """The discovery document: every service, its hook and its prefetch templates."""
    try:
        await run_in_threadpool(_authenticate, request, _url(request, "/cds-services"),
                                "cds.discovery")
    except Refused as exc:
        return _cors(request, _error(401, str(exc)))
    return _cors(request, _json(discovery()))


def _is_error(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def _prefetch(state: CdsState, service: Service, hook: HookRequest
              ) -> tuple[dict[str, Any], list[str]]:
    """The prefetch the service needs, and notes for the card: what the client sent, the rest
    read from its FHIR server (412 when that is not possible). A key the client answered with
    an OperationOutcome (its own error) is read again from the FHIR server when there is one,
    else left out and noted."""
    given = dict(hook.prefetch or {})
    errors = sorted(key for key in service.prefetch if _is_error(given.get(key)))
    missing = {key: template for key, template in service.prefetch.items()
               if key not in given or (key in errors and hook.fhirServer)}
    notes = [f"prefetch {key}: the EHR reported an error; not used" for key in errors
             if key not in missing]
    if not missing:
        return given, notes
    if not hook.fhirServer:
        raise Unobtainable(f"prefetch {', '.join(sorted(missing))} missing and no fhirServer "
                           "to read it from")
    try:
        base = check_server(hook.fhirServer, state.settings)
    except ValueError as exc:
        raise Unobtainable(f"fhirServer {exc}") from None
    paths = {}
    for key, template in missing.items():
        path = render(template, hook.context)
        if path is None:
            raise Unobtainable(f"prefetch {key} needs a context field the request lacks")
        paths[key] = path
    token = hook.fhirAuthorization.access_token if hook.fhirAuthorization else None
    given.update(state.fetcher.fetch(base, token, paths))
    return given, notes


def _assess(prefetch: Mapping[str, Any], patient_id: str
            ) -> tuple[dict[str, Any], dict[str, Any], Chart]:
    chart = chart_case(resources_of(prefetch), patient_id)
    case = parse_case(orjson.dumps(chart.case))
    return (default_engine().assess(case), case.model_dump(mode="json", exclude_none=True),
            chart)


def _draft_orders(hook: HookRequest) -> list[tuple[str | None, str]]:
    """``(reference, order id)`` of the spine-imaging ServiceRequests the hook is about:
    the selected ones on order-select, every draft on order-sign (a draft without an id is
    rated, but cannot be offered for deletion)."""
    bundle = hook.context.get("draftOrders")
    entries = bundle.get("entry") if isinstance(bundle, dict) else None
    selections = hook.context.get("selections")
    chosen = set(selections) if hook.hook == "order-select" and isinstance(selections, list) \
        else None
    out = []
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "ServiceRequest":
            continue
        rid = resource.get("id")
        ref = f"ServiceRequest/{rid}" if isinstance(rid, str) and rid else None
        if chosen is not None and ref not in chosen:
            continue
        code = resource.get("code")
        order_id = imaging.order_of(code.get("coding") if isinstance(code, dict) else None)
        if order_id is not None:
            out.append((ref, order_id))
    return out


def _answer(request: Request, service: Service, body: bytes) -> Response:
    state = _state(request)
    what = f"cds.{service.id}"
    try:
        caller = _authenticate(request, _url(request, f"/cds-services/{service.id}"), what,
                               admit=False)
    except Refused as exc:
        return _error(401, str(exc))
    try:
        return _serve(request, state, service, body, caller)
    except NotAuthenticated as exc:
        return _error(401, str(exc))


def _serve(request: Request, state: CdsState, service: Service, body: bytes,
           caller: use_case.Token) -> Response:
    """The answer to an authenticated call. The JWT is admitted (once only) in the same
    transaction that records the cards; before that when the FHIR server must be read, so that
    a replayed token never makes spinecare call it."""
    admitting: use_case.Token | None = caller
    try:
        hook = parse_hook_request(body)
    except BadRequest as exc:
        return _error(422, "Invalid request", exc.problems)
    if hook.hook not in service.hooks:
        return _error(422, "Invalid request", [Problem(
            "hook", f"this service answers {' and '.join(service.hooks)}")])
    if not isinstance(hook.context.get("patientId"), str):
        return _error(422, "Invalid request", [Problem("context.patientId",
                                                       "is required (a string)")])
    orders: list[tuple[str | None, str]] = []
    if service is IMAGING:
        orders = _draft_orders(hook)
        if not orders:  # nothing this service rates: no chart needed
            use_case.record_cards(get_db(request), caller.iss, service.id, hook.hookInstance,
                                  [], admitting=caller)
            return _json({"cards": []})
    sent = hook.prefetch or {}
    if hook.fhirServer and any(key not in sent or _is_error(sent[key])
                               for key in service.prefetch):
        use_case.admit(get_db(request), caller, f"cds.{service.id}")
        admitting = None
    try:
        prefetch, notes = _prefetch(state, service, hook)
        assessment, case, chart = _assess(prefetch, hook.context["patientId"])
    except Unobtainable as exc:
        return _error(412, f"The FHIR data this service needs is unavailable: {exc}")
    except ChartUnavailable as exc:
        return _error(412, f"The chart cannot be read: {exc}")
    except CaseError as exc:
        return _error(412, "The chart does not make a valid case", list(exc.problems))
    cards: list[Card]
    if service is TRIAGE and not any(case.get(s) for s in CLINICAL_SECTIONS):
        cards = []  # only demographics known: nothing to say, rather than a routine triage
    elif service is TRIAGE:
        cards = triage_cards(assessment, get_settings(request).public_url,
                             [*notes, *chart.problems], chart.sources)
    else:
        cards = []
        for ref, order_id in orders:
            rated = imaging.rate(order_id, assessment, case)
            if rated is not None:
                cards.append(imaging_card(rated, ref))
    use_case.record_cards(get_db(request), caller.iss, service.id, hook.hookInstance,
                          [IssuedCard(c.uuid, c.card_type) for c in cards],
                          admitting=admitting)
    return _json({"cards": [c.body for c in cards]})


@router.post("/{service_id}")
async def call(service_id: str, request: Request) -> Response:
    """Call one service with a hook's context (and prefetch): its cards."""
    service = SERVICES.get(service_id)
    if service is None:
        return _cors(request, _error(404, "No such CDS service"))
    body = await request.body()
    return _cors(request, await run_in_threadpool(_answer, request, service, body))


def _feedback(request: Request, service: Service, body: bytes) -> Response:
    try:
        caller = _authenticate(request, _url(request, f"/cds-services/{service.id}/feedback"),
                               "cds.feedback")
    except Refused as exc:
        return _error(401, str(exc))
    try:
        parsed = parse_feedback(body)
    except BadRequest as exc:
        return _error(422, "Invalid request", exc.problems)
    items = [use_case.FeedbackItem(
        card=f.card, outcome=f.outcome,
        accepted=tuple(s.id for s in f.acceptedSuggestions or ()),
        override_system=f.overrideReason.reason.system
        if f.overrideReason and f.overrideReason.reason else None,
        override_code=f.overrideReason.reason.code
        if f.overrideReason and f.overrideReason.reason else None,
        user_comment=f.overrideReason.userComment if f.overrideReason else None,
        outcome_at=f.outcome_at()) for f in parsed.feedback]
    try:
        use_case.feedback(get_db(request), caller.iss, service.id, items)
    except Invalid as exc:
        return _error(422, exc.detail, exc.problems)
    return Response(status_code=200)


@router.post("/{service_id}/feedback")
async def feedback(service_id: str, request: Request) -> Response:
    """Feedback on cards: accepted suggestions, overrides and their reasons."""
    service = SERVICES.get(service_id)
    if service is None:
        return _cors(request, _error(404, "No such CDS service"))
    body = await request.body()
    return _cors(request, await run_in_threadpool(_feedback, request, service, body))
