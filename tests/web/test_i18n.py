"""The pages in English and Spanish: the catalogue is complete and sound, the knowledge's Spanish
texts name real ids, the Spanish a patient reads is plain, and each way of choosing a language
(account, ``?lang=``, cookie, ``Accept-Language``) gives the page it should."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import textstat  # type: ignore[import-untyped]
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from spinecare.instruments.intake import intake_form
from spinecare.plan.rules import load_plan_rules
from spinecare.store.db import Database
from spinecare.store.models import AuditEvent, User
from spinecare.vocabulary import LANGUAGES
from spinecare.web.i18n import accepted, knowledge_translations
from tests.web.helpers import PASSWORD, add_clinician, add_patient, csrf_of, make_app

WEB = Path(__file__).resolve().parents[2] / "src" / "spinecare" / "web"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

# The templates a patient reads (and the base every page shares): their strings, and the
# knowledge texts of the intake, the stop symptoms and the emergency steps, are held to the
# reading level below.
PATIENT_TEMPLATES = ("base.html", "_advice.html", "_call.html", "_language.html",
                     "_question.html", "emergency.html", "error.html", "exercises.html",
                     "intake_done.html", "intake_start.html", "intake_step.html", "invite.html",
                     "my_home.html", "questionnaire.html", "questionnaire_done.html",
                     "stop.html")

# Fernández Huerta's reading ease for Spanish (Fernández Huerta J. Medidas sencillas de
# lecturabilidad. Consigna 1959;214:29-32), as textstat computes it: 206.84 - 60 x syllables
# per word - 1.02 x words per sentence. On his scale 60-70 is "normal" (about 12-13 years of
# age, the end of primary school) and 70-80 "fairly easy" [U: the scale's bands as published
# by legible.es, not checked against the 1959 paper]. The NHS aims patient text at a reading
# age of 9-11 (the education articles use Flesch-Kincaid grade 8); the nearest band is 70, so:
# the patient pages' Spanish as a whole at least 70, and no single longer text below 55 (one
# hard sentence in a short text can be read around; a long hard one cannot).
WHOLE_AT_LEAST = 70.0
ONE_TEXT_AT_LEAST = 55.0
LONG_TEXT_WORDS = 12


def _catalogue(language: str) -> Any:
    po = resources.files("spinecare.web") / "locales" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        return read_po(handle, locale=language)


def _extracted() -> dict[str, tuple[str, ...]]:
    """Every msgid of the web's templates and Python, as `make messages` extracts them, with
    the files it came from."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
    found: dict[str, tuple[str, ...]] = {}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for filename, _, message, _, _ in extract_from_dir(
            str(WEB), method_map, options_map=options, keywords=keywords):
        key = message if isinstance(message, str) else message[0]
        found[key] = (*found.get(key, ()), filename)
    return found


def _spanish(message: Any) -> list[str]:
    return [s for s in (message.string if isinstance(message.string, tuple)
                        else (message.string,))]


def test_every_extracted_msgid_has_a_spanish_translation() -> None:
    catalogue = _catalogue("es")
    extracted = _extracted()
    assert len(extracted) > 100
    missing = [m for m in extracted if m not in catalogue or not all(_spanish(catalogue[m]))]
    assert not missing, f"untranslated (run make messages, then translate): {missing}"


def test_the_catalogue_has_no_fuzzy_obsolete_or_stale_entries() -> None:
    catalogue = _catalogue("es")
    extracted = _extracted()
    assert not catalogue.obsolete
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries never reach a page: translate and unflag {fuzzy}"
    stale = [m.id for m in catalogue if m.id and
             (m.id if isinstance(m.id, str) else m.id[0]) not in extracted]
    assert not stale, f"no longer used (make messages drops them): {stale}"


def test_placeholders_are_the_same_in_every_msgid_and_its_translation() -> None:
    wrong = []
    for message in _catalogue("es"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = {name for i in ids for name in PLACEHOLDER.findall(i)}
        for text in _spanish(message):
            if set(PLACEHOLDER.findall(text)) != expected:
                wrong.append((message.id, text))
    assert not wrong


def test_a_wrong_placeholder_would_be_caught() -> None:
    # The check above, on a deliberately broken pair: it must see the difference.
    assert set(PLACEHOLDER.findall("Call %(number)s")) != \
        set(PLACEHOLDER.findall("Llame al %(numero)s"))


def test_the_urgent_care_advice_names_the_clinics_emergency_number_in_both_languages() -> None:
    catalogue = _catalogue("es")
    advice = [m for m in catalogue if isinstance(m.id, str)
              and m.id.startswith("Go to an emergency department or call")]
    assert len(advice) == 1
    assert "%(number)s" in advice[0].id and "%(number)s" in advice[0].string
    for word in ("orinar", "heces", "entre las piernas", "débiles", "urgencias"):
        assert word in advice[0].string


# --- the knowledge's Spanish -------------------------------------------------------------------


def test_the_spanish_knowledge_texts_name_real_ids_and_cover_the_intake() -> None:
    es = knowledge_translations("es")
    form = intake_form()
    links = {item.link_id for item, _ in form.walk()}
    options = {str(o.value) for item, _ in form.walk() for o in item.options}
    units = {u.code for item, _ in form.walk() for u in item.units}
    programme = load_plan_rules().programme
    stops = {s.id for s in programme.stop_symptoms}
    assert set(es["intake"]) == links
    assert set(es["intake_option"]) == options
    assert set(es["intake_unit"]) == units
    assert set(es["stop_symptom"]) == stops
    for kind, fields in (("stop_symptom", {"label", "message"}), ("intake", {"text"})):
        for key, entry in es[kind].items():
            assert set(entry) == fields, (kind, key)


def test_every_emergency_step_is_translated_step_for_step_with_the_clinics_number() -> None:
    import tomllib

    rules = tomllib.loads((resources.files("spinecare.knowledge") / "plan_rules.toml")
                          .read_text(encoding="utf-8"))
    english = {r["id"]: r["steps"] for r in rules["immediate"]}
    es = knowledge_translations("es")["immediate"]
    assert set(es) == set(english)
    for rule, steps in english.items():
        assert len(es[rule]["steps"]) == len(steps), rule
        for en, translated in zip(steps, es[rule]["steps"], strict=True):
            # The English lists the usual numbers; the Spanish names the clinic's own.
            assert ("999" in en) == ("{emergency_number}" in translated), (rule, en)


def test_every_exercise_name_is_translated_by_its_id() -> None:
    import tomllib

    exercises = tomllib.loads((resources.files("spinecare.knowledge") / "exercises.toml")
                              .read_text(encoding="utf-8"))["exercise"]
    assert set(knowledge_translations("es")["exercise"]) == set(exercises)


# --- reading level -----------------------------------------------------------------------------


def _patient_spanish() -> list[str]:
    catalogue = _catalogue("es")
    extracted = _extracted()
    texts = []
    for msgid, files in extracted.items():
        if any(Path(f).name in PATIENT_TEMPLATES for f in files) or \
                any(f.endswith(("patient.py", "intake.py")) for f in files):
            texts += _spanish(catalogue[msgid])
    es = knowledge_translations("es")
    texts += [e["text"] for e in es["intake"].values()]
    texts += [e[f] for e in es["stop_symptom"].values() for f in ("label", "message")]
    texts += [s for e in es["immediate"].values() for s in e["steps"]]
    # Placeholders read as one short word, as a name or a number would.
    return [PLACEHOLDER.sub("X", t).replace("{emergency_number}", "112") for t in texts]


def _ease(text: str) -> float:
    textstat.set_lang("es")
    try:
        return float(textstat.fernandez_huerta(text))
    finally:
        textstat.set_lang("en_US")


def test_the_spanish_a_patient_reads_is_plain_by_fernandez_huerta() -> None:
    texts = _patient_spanish()
    # A text without a full stop is a heading or a label: one sentence each.
    whole = " ".join(t if t.rstrip().endswith((".", "?", ":")) else t + "." for t in texts)
    assert _ease(whole) >= WHOLE_AT_LEAST, _ease(whole)
    hard = [(round(_ease(t), 1), t) for t in texts
            if len(t.split()) >= LONG_TEXT_WORDS and _ease(t) < ONE_TEXT_AT_LEAST]
    assert not hard


def test_the_reading_check_tells_hard_spanish_from_plain() -> None:
    plain = "Vaya ahora a urgencias. No conduzca usted. Pida a alguien que le lleve."
    hard = ("La sintomatología neurológica compatible con compresión radicular multinivel "
            "requiere valoración especializada preferentemente urgente e inmediata.")
    assert _ease(plain) >= WHOLE_AT_LEAST > ONE_TEXT_AT_LEAST > _ease(hard)


# --- choosing the language ---------------------------------------------------------------------


def test_accept_language_is_read_by_quality_and_order() -> None:
    assert accepted("es-ES,es;q=0.9,en;q=0.8") == ["es", "es", "en"]
    assert accepted("en;q=0.5, es") == ["es", "en"]
    assert accepted("es;q=0, en") == ["en"]
    assert accepted("fr;q=bad, de") == ["de"]
    assert accepted("") == []


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Database]:
    return make_app(tmp_path_factory.mktemp("i18n"))


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found
    return found.group(1)


def test_a_browser_asking_for_spanish_gets_the_sign_in_page_in_spanish(
        built: tuple[FastAPI, Database]) -> None:
    client = TestClient(built[0])
    page = client.get("/login", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert lang_of(page.text) == "es"
    assert "<h1>Entrar</h1>" in page.text and "Nombre de usuario" in page.text
    english = TestClient(built[0]).get("/login", headers={"Accept-Language": "fr, en;q=0.5"})
    assert lang_of(english.text) == "en" and "<h1>Sign in</h1>" in english.text
    assert lang_of(TestClient(built[0]).get("/login").text) == "en"


def test_lang_in_the_address_beats_the_browser_and_is_kept_in_a_cookie(
        built: tuple[FastAPI, Database]) -> None:
    client = TestClient(built[0], headers={"Accept-Language": "en"})
    page = client.get("/login?lang=es")
    assert lang_of(page.text) == "es"
    assert client.cookies.get("spinecare_lang") == "es"
    assert lang_of(client.get("/login").text) == "es"
    assert lang_of(client.get("/login?lang=en").text) == "en"
    assert lang_of(client.get("/login").text) == "en"
    # An unknown language in the address is ignored, not an error.
    r = client.get("/login?lang=xx")
    assert r.status_code == 200 and lang_of(r.text) == "en"


def test_the_footer_switch_links_each_language_by_its_own_name(
        built: tuple[FastAPI, Database]) -> None:
    page = TestClient(built[0]).get("/login").text
    assert '<a href="?lang=es" lang="es" hreflang="es">Español</a>' in page
    assert '<span aria-current="true" lang="en">English</span>' in page


_NUMBERS = itertools.count(1)


@pytest.fixture
def patient(built: tuple[FastAPI, Database]) -> Iterator[tuple[TestClient, str, int]]:
    from datetime import timedelta

    from spinecare.store.accounts import create_invitation
    from tests.web.helpers import SECRET

    app, db = built
    clinician = add_clinician(db, f"doc{next(_NUMBERS)}")
    pid = add_patient(db, clinician, "Lucía Fernández", 1950)
    with db.session() as session:
        token, _ = create_invitation(session, SECRET, pid, clinician, timedelta(days=1))
    client = TestClient(app, headers={"Accept-Language": "es"})
    form = client.get("/invite")
    r = client.post("/invite", data={"csrf_token": csrf_of(form.text), "code": token})
    assert r.url.path == "/my", r.text
    with db.session(read_only=True) as session:
        user_id = session.scalars(select(User.id).where(User.patient_id == pid)).one()
    yield client, pid, user_id
    client.close()


def test_a_spanish_patient_home_says_when_to_get_urgent_care_with_the_clinics_number(
        built: tuple[FastAPI, Database], patient: tuple[TestClient, str, int]) -> None:
    client, _, _ = patient
    home = client.get("/my").text
    assert lang_of(home) == "es"
    assert "Hola, Lucía Fernández" in home
    assert "Cuándo pedir ayuda enseguida" in home
    number = built[0].state.settings.clinic.emergency_number
    assert f"llame al número de emergencias {number}" in home
    assert "Pida ayuda ahora si nota algo de esto" in home  # the intake's notice
    assert "Responder preguntas sobre sus síntomas" in home


def test_a_spanish_intake_asks_in_spanish_and_stops_for_an_emergency_in_spanish(
        built: tuple[FastAPI, Database], patient: tuple[TestClient, str, int]) -> None:
    client, _, _ = patient
    r = client.get("/my/intake/step")
    assert "¿Ha notado algún cambio en la vejiga" in r.text
    assert "Nada de esto: la vejiga me funciona como siempre" in r.text
    assert "Pregunta 1 de unas" in r.text
    hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', r.text))
    r = client.post("/my/intake/step", data={**hidden, "question": "bladder",
                                             "action": "answer"})
    assert r.status_code == 422 and "Elija una respuesta" in r.text
    r = client.post("/my/intake/step", data={**hidden, "question": "bladder",
                                             "answer": "new_retention", "action": "answer"})
    assert "<h1>Vaya ahora a urgencias del hospital</h1>" in r.text
    number = built[0].state.settings.clinic.emergency_number
    assert f"llame a una ambulancia ({number})" in r.text
    assert "999 in the UK" not in r.text


def test_the_accounts_stored_language_beats_the_cookie_and_the_browser(
        built: tuple[FastAPI, Database], patient: tuple[TestClient, str, int]) -> None:
    client, _, user_id = patient
    _, db = built
    home = client.get("/my").text
    r = client.post("/language", data={"csrf_token": csrf_of(home), "language": "en",
                                       "next": "/my"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/my"
    with db.session(read_only=True) as session:
        assert session.get(User, user_id).language == "en"  # type: ignore[union-attr]
        events = session.scalars(select(AuditEvent.action).where(
            AuditEvent.actor_id == user_id)).all()
    assert "account.language" in events
    # A cookie and a browser both asking for Spanish: the account's English wins.
    client.cookies.set("spinecare_lang", "es")
    page = client.get("/my?lang=es", headers={"Accept-Language": "es"}).text
    assert lang_of(page) == "en" and "When to get help at once" in page


def test_the_language_form_refuses_an_unknown_language_and_a_foreign_next(
        built: tuple[FastAPI, Database], patient: tuple[TestClient, str, int]) -> None:
    client, _, _ = patient
    token = csrf_of(client.get("/my").text)
    r = client.post("/language", data={"csrf_token": token, "language": "xx"})
    assert r.status_code == 422 and "idiomas de la lista" in r.text
    r = client.post("/language", data={"csrf_token": token, "language": "es",
                                       "next": "//evil.example/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = client.post("/language", data={"language": "es"})
    assert r.status_code == 403


def test_dates_are_written_the_way_each_language_writes_them() -> None:
    from datetime import date

    from spinecare.web.i18n import date_text, number_text, percent_text

    assert date_text(date(2026, 12, 2), "en") == "02 Dec 2026"
    assert date_text(date(2026, 12, 2), "es") == "02 dic 2026"
    assert number_text(2.5, "es") == "2,5" and number_text(2.5, "en") == "2.5"
    assert percent_text(0.88, "en") == "88%" and percent_text(0.88, "es") == "88\xa0%"
    assert percent_text(0.999, "es") == "más del 99\xa0%"


def test_every_language_has_a_catalogue_and_a_name() -> None:
    from spinecare.web.i18n import LANGUAGE_NAMES, translations

    assert set(LANGUAGE_NAMES) == set(LANGUAGES)
    for language in LANGUAGES:
        assert translations(language).gettext("Sign in")
    assert translations("es").gettext("Sign in") == "Entrar"


def test_a_clinician_signing_in_with_a_stored_language_gets_it(
        built: tuple[FastAPI, Database]) -> None:
    app, db = built
    user_id = add_clinician(db, "dra.garcia")
    with db.session() as session:
        session.get(User, user_id).language = "es"  # type: ignore[union-attr]
    client = TestClient(app)
    page = client.get("/login")
    r = client.post("/login", data={"username": "dra.garcia", "password": PASSWORD,
                                    "csrf_token": csrf_of(page.text)})
    assert r.url.path == "/patients"
    assert lang_of(r.text) == "es" and "<h1>Sus pacientes</h1>" in r.text
    assert "Todavía no tiene pacientes." in r.text
    alerts = client.get("/alerts").text
    assert "<h1>Avisos</h1>" in alerts and "No hay avisos abiertos." in alerts
    assert "Añadir el paciente" in client.get("/patients/new").text
