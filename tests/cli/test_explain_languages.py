"""``spinecare explain --lang``: the education library in another language, run as a real
subprocess; the grades it prints are those of ``spinecare evidence`` in every language."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spinecare import education
from spinecare.cli import main
from tests.education.conftest import EDUCATION_DIR


def spinecare(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "spinecare", *args],
                          capture_output=True, timeout=60, check=False)


def test_explain_in_spanish_prints_the_spanish_article_with_the_grades_of_spinecare_evidence(
) -> None:
    r = spinecare("explain", "lumbar_spinal_stenosis", "--lang", "es", "--json")
    assert r.returncode == 0, r.stderr
    article = json.loads(r.stdout)
    assert article["language"] == "es"
    assert article["title"] == "Estenosis de la columna lumbar"
    assert article["sections"][0]["heading"] == "Cuándo pedir ayuda enseguida"
    evidence = json.loads(spinecare("evidence", "nsaids", "--json").stdout)
    shown = next(t for s in article["sections"] if s["name"] == "treatments"
                 for t in s["treatments"] if t["id"] == "nsaids")
    verdict = next(v for v in evidence["verdicts"] if v["condition"] == "lumbar_spinal_stenosis")
    assert (shown["evidence_grade"], shown["recommendation"]) == (
        verdict["evidence_grade"], verdict["recommendation"])
    assert shown["name"] == "Antiinflamatorios para el dolor (AINE)"
    assert r.stderr == b""  # complete translation: no fallback note


def test_explain_in_spanish_as_text_has_spanish_headings_and_says_it_is_not_a_diagnosis() -> None:
    r = spinecare("explain", "cauda equina syndrome", "--lang", "es")
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert text.startswith("SÍNDROME DE LA COLA DE CABALLO")
    assert "CUÁNDO PEDIR AYUDA ENSEGUIDA" in text and "112" in text
    assert text.rstrip().endswith("Información para pacientes, no es un diagnóstico.")


def test_explain_lists_and_names_treatments_in_spanish() -> None:
    listing = spinecare("explain", "--list", "--lang", "es").stdout.decode()
    assert "lumbar_radiculopathy: Ciática (radiculopatía lumbar)" in listing
    r = spinecare("explain", "massage", "--lang", "es")
    assert r.returncode == 0
    assert r.stdout.decode().startswith("Masaje: se trata en")


def test_english_stays_the_default() -> None:
    r = spinecare("explain", "spinal_infection", "--json")
    assert json.loads(r.stdout)["language"] == "en"


def test_an_unknown_language_is_one_line_naming_the_languages_and_exit_2() -> None:
    r = spinecare("explain", "lumbar_spinal_stenosis", "--lang", "fr")
    assert r.returncode == 2
    assert r.stderr.decode() == (
        "spinecare explain: --lang: unknown language 'fr' (the library has en, es)\n")


def test_an_article_not_yet_translated_is_printed_in_english_with_a_note(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    # A library in which one Spanish article is missing, served where the command loads it.
    folder = tmp_path / "education"
    shutil.copytree(EDUCATION_DIR, folder)
    (folder / "es" / "spinal_infection.toml").unlink()
    partial = education.load_library(folder, language="es")
    monkeypatch.setattr(education, "load_library", lambda **_: partial)
    assert main(["explain", "spinal_infection", "--lang", "es", "--json"]) == 0
    out, err = capsysbinary.readouterr()
    assert json.loads(out)["language"] == "en"
    assert err.decode() == (
        "spinecare explain: spinal_infection has no translation into es (español) yet; "
        "printing it in English\n")
    # The translated articles of the same library are still Spanish, with no note.
    assert main(["explain", "spinal_malignancy", "--lang", "es", "--json"]) == 0
    out, err = capsysbinary.readouterr()
    assert json.loads(out)["language"] == "es" and err == b""
