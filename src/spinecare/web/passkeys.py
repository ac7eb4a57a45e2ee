"""Passkeys from the patient's pages: add one on this device, see and remove them, and sign
in with one from the sign-in page. The rules (challenges, counters, ended access, audit) are
the use cases' (:mod:`spinecare.service.passkeys`).

Each page carries its WebAuthn options (with a challenge made for this browser) in a data
attribute; ``/static/passkeys.js`` hands them to the browser and sends the browser's answer
back in an ordinary form, so the answer is a page or a redirect like any other form's.
Without JavaScript, or on a browser without passkeys, the pages say so and the e-mailed link
still works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from spinecare.http.routing import translating_route
from spinecare.service import passkeys
from spinecare.service.passkeys import PasskeyRefused, RelyingParty
from spinecare.store.accounts import Principal
from spinecare.store.passkeys import Challenges
from spinecare.web.forms import without_control
from spinecare.web.i18n import N_, gettext_of
from spinecare.web.once import owner_of
from spinecare.web.pages import (
    check_csrf,
    db_of,
    from_service,
    patient,
    redirect,
    render,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=translating_route(from_service))
PatientUser = Annotated[Principal, Depends(patient)]

#: What went wrong, as the patient reads it (msgids), by the use case's reason.
REFUSED = {
    "expired": N_("This took too long, or the page was sent twice. Nothing was changed. "
                  "Please try again."),
    "unknown": N_("This passkey is not known here. It may have been removed. Please sign in "
                  "with an e-mail link instead, then add a passkey again."),
    "ended": N_("Your clinic has ended your access to these pages. Please call your clinic "
                "if you think this is wrong."),
    "invalid": N_("The passkey could not be checked. Please try again, or sign in with an "
                  "e-mail link."),
    "duplicate": N_("This passkey is already in use."),
    "unavailable": N_("Passkeys work only when this site is opened by its name, not by a "
                      "number address. Please use the e-mail link."),
}

#: What the browser reports, said by the page's script (msgids, sent with the page).
BROWSER_MESSAGES = {
    "cancelled": N_("The passkey was not used: it was cancelled, or it took too long. You "
                    "can try again."),
    "exists": N_("This device already has a passkey for your pages."),
    "unsupported": N_("This browser cannot use passkeys. Please use the e-mail link."),
    "failed": N_("Something went wrong with the passkey. Please try again, or use the "
                 "e-mail link."),
}

DONE = {"added": N_("Your passkey was added. Next time, you can sign in with it."),
        "removed": N_("The passkey was removed. It no longer signs you in."),
        "gone": N_("This passkey was removed already.")}

# A device's likely name, from its browser's description of itself (only a suggestion: the
# patient can name it as they like).
_DEVICES: tuple[tuple[str, str], ...] = (
    ("iPhone", N_("iPhone")), ("iPad", N_("iPad")), ("Android", N_("Android phone")),
    ("Windows", N_("Windows computer")), ("Macintosh", N_("Mac")), ("CrOS", N_("Chromebook")),
    ("Linux", N_("Linux computer")))


def relying_party(request: Request) -> RelyingParty:
    """The relying party this request's page signs for: the configured id, else the host
    name the browser asked for; the pages' own origin and the public address as origins."""
    settings = settings_of(request)
    host = request.url.hostname or ""
    public = urlsplit(settings.public_url)
    origins = {f"{request.url.scheme}://{request.url.netloc}",
               f"{public.scheme}://{public.netloc}"}
    return RelyingParty(id=(settings.passkey_rp_id or host).lower(), name="spinecare",
                        origins=tuple(sorted(origins)))


def challenges_of(request: Request) -> Challenges:
    """Challenges signed with this service's secret."""
    return Challenges(settings_of(request).secret_key)


def device_name(request: Request, _: Callable[[str], str]) -> str:
    agent = request.headers.get("user-agent", "")
    for marker, name in _DEVICES:
        if re.search(re.escape(marker), agent):
            return _(name)
    return _("My passkey")


def refusal_text(_: Callable[[str], str], why: str) -> str:
    return _(REFUSED[why])


def browser_messages(_: Callable[[str], str]) -> dict[str, str]:
    return {key: _(text) for key, text in BROWSER_MESSAGES.items()}


# --- the patient's passkeys ---------------------------------------------------------------------


async def _passkeys_page(request: Request, who: Principal, *, error: str | None = None,
                         status_code: int = 200, done: str = "") -> Response:
    db, rp, owner = db_of(request), relying_party(request), owner_of(request)
    rows = await run_in_threadpool(passkeys.mine, db, who)
    options = (await run_in_threadpool(lambda: passkeys.registration_options(
        db, who, rp, owner, challenges=challenges_of(request))) if rp.usable else None)
    _ = gettext_of(request)
    return render(request, "passkeys.html", status_code=status_code, title=_("Your passkeys"),
                  patient_page=True, passkeys=rows, options=options, error=error,
                  done=_(DONE[done]) if done in DONE else "",
                  unavailable=refusal_text(_, "unavailable"), messages=browser_messages(_),
                  suggested=device_name(request, _))


@router.get("/my/passkeys")
async def passkeys_page(request: Request, who: PatientUser, done: str = "") -> Response:
    return await _passkeys_page(request, who, done=done)


@router.post("/my/passkeys")
async def add_passkey(request: Request, who: PatientUser) -> Response:
    form = await request.form()
    check_csrf(request, form)
    credential = str(form.get("credential") or "")
    name = without_control(str(form.get("name") or "")).strip()[:100]
    _ = gettext_of(request)
    if not name:
        name = device_name(request, _)
    if not credential:
        unsupported = BROWSER_MESSAGES["unsupported"]
        return await _passkeys_page(request, who, status_code=422, error=_(unsupported))
    db, rp, owner = db_of(request), relying_party(request), owner_of(request)
    try:
        await run_in_threadpool(lambda: passkeys.add(db, who, rp, owner, credential, name,
                                                     challenges=challenges_of(request)))
    except PasskeyRefused as exc:
        return await _passkeys_page(request, who, status_code=422,
                                    error=refusal_text(_, exc.why))
    return redirect("/my/passkeys?done=added")


@router.post("/my/passkeys/{passkey_id}/remove")
async def remove_passkey(request: Request, passkey_id: int, who: PatientUser) -> Response:
    form = await request.form()
    check_csrf(request, form)
    removed = await run_in_threadpool(passkeys.remove, db_of(request), who, passkey_id)
    return redirect("/my/passkeys?done=" + ("removed" if removed else "gone"))


# --- signing in with a passkey ------------------------------------------------------------------


async def signin_options(request: Request) -> str | None:
    """The sign-in page's passkey options (``None`` where passkeys cannot work)."""
    rp = relying_party(request)
    if not rp.usable:
        return None
    # Signed, not stored: no database work, so no thread either.
    return passkeys.signin_options(rp, owner_of(request), challenges=challenges_of(request))
