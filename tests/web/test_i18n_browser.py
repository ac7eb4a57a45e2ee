"""A Spanish-speaking patient on a phone (375 x 812), in Debian's chromium: the invitation, the
home page, a follow-up questionnaire and the intake's first question, all in Spanish, each page
checked with axe-core (no serious or critical violation, as every other page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.helpers import Server, add_clinician, add_patient, add_three_visits, make_app
from tests.web.test_browser import (
    NEEDS_BROWSER,
    check_page,
    invitation_link,
)

playwright_api = pytest.importorskip("playwright.sync_api")

PHONE = {"width": 375, "height": 812}

pytestmark = NEEDS_BROWSER


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    app, db = make_app(tmp_path_factory.mktemp("browser-es"))
    clinician = add_clinician(db, "dra.ruiz")
    with Server(app) as server:
        yield {"url": server.url, "db": db, "clinician": clinician,
               "emergency": app.state.settings.clinic.emergency_number}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots-es")


def spanish_phone(browser: Any) -> Any:
    # The phone's own language setting is what chooses Spanish: no ?lang= anywhere.
    context = browser.new_context(viewport=PHONE, bypass_csp=True, locale="es-ES",
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    return context.new_page()


def test_a_spanish_speaking_patient_signs_in_reads_home_and_answers_a_questionnaire(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    db = world["db"]
    pid = add_patient(db, world["clinician"], "Carmen López", 1948)
    add_three_visits(db, world["clinician"], pid)
    page = spanish_phone(browser)
    page.goto(invitation_link(db, world["url"], world["clinician"], pid))
    page.wait_for_url(re.compile(r".*/my$"))
    assert page.locator("html").get_attribute("lang") == "es"
    page.get_by_role("heading", name="Hola, Carmen López", level=1).wait_for()
    urgent = page.locator("aside.urgent-help").inner_text()
    assert "Cuándo pedir ayuda enseguida" in urgent
    assert f"número de emergencias {world['emergency']}" in urgent
    # Nothing wider than the phone: no sideways scrolling on any page of the walk.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_page(page, "es-patient-home", shots)

    page.get_by_role("link", name=re.compile(r"^Responder ahora")).first.click()
    page.wait_for_url(re.compile(r".*/my/questionnaires/\w+(\?form=.*)?$"))
    assert "Este cuestionario está en inglés" in page.locator("main").inner_text()
    assert page.locator("html").get_attribute("lang") == "es"
    check_page(page, "es-questionnaire", shots)
    page.get_by_role("button", name="Enviar mis respuestas").click()
    page.get_by_role("heading", level=1).wait_for()
    heading = page.get_by_role("heading", level=1).inner_text()
    if heading != "Gracias":
        # Not every item was optional: answer the first choice of each question, then send.
        assert "Revise sus respuestas" in page.locator("main").inner_text()
        for fieldset in page.locator("fieldset.question").all():
            fieldset.locator("input[type=radio]").first.check()
        page.get_by_role("button", name="Enviar mis respuestas").click()
    page.get_by_role("heading", name="Gracias", level=1).wait_for()
    check_page(page, "es-questionnaire-done", shots)

    page.get_by_role("link", name="Volver a su página").click()
    page.get_by_role("link", name="Responder preguntas sobre sus síntomas").click()
    page.get_by_role("button", name="Empezar las preguntas").click()
    page.get_by_label("Nada de esto: la vejiga me funciona como siempre").check()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_page(page, "es-intake-step", shots)
    page.get_by_role("button", name="Siguiente").click()
    assert "heces" in page.get_by_role("heading", level=1).inner_text()
    page.context.close()


def test_the_footer_switch_turns_a_spanish_page_into_english_and_keeps_it(
        browser: Any, world: dict[str, Any], shots: Path) -> None:
    page = spanish_phone(browser)
    page.goto(f"{world['url']}/login")
    page.get_by_role("heading", name="Entrar", level=1).wait_for()
    check_page(page, "es-login", shots)
    page.get_by_role("navigation", name="Idioma").get_by_role("link", name="English").click()
    page.get_by_role("heading", name="Sign in", level=1).wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{world['url']}/login")
    page.get_by_role("heading", name="Sign in", level=1).wait_for()
    page.context.close()
