"""``spinecare fhir to-case``: the case on standard output, problems on standard error, exit
status per the contract (2 for input that is not a Bundle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinecare.case import parse_case
from spinecare.cli import main
from spinecare.cli.io import EXIT_INVALID, EXIT_OK
from tests.conftest import CASES
from tests.fhir.bundles import bundle, case_bundle, observation, patient


def _write(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_to_case_prints_a_valid_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = parse_case((CASES / "dcm-moderate.case.json").read_bytes())
    path = _write(tmp_path, case_bundle(case))
    assert main(["fhir", "to-case", path, "--on", "2026-12-02", "--id", "dcm"]) == EXIT_OK
    out, err = capsys.readouterr()
    printed = parse_case(out)
    assert printed.id == "dcm" and printed.patient.age == case.patient.age
    assert printed.exam.hoffmann is True and err == ""


def test_sources_and_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = observation("o2", "exam.hoffmann", True)
    unknown["code"]["coding"][0]["system"] = "http://example.org/local"
    path = _write(tmp_path, bundle(patient(60), observation("o1", "exam.babinski", True),
                                   unknown))
    assert main(["fhir", "to-case", path, "--sources"]) == EXIT_OK
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["sources"]["exam.babinski"] == ["Observation/o1"]
    assert doc["case"]["exam"] == {"babinski": True}
    assert err == (f"{path}: Observation/o2: unknown code http://example.org/local|exam.hoffmann"
                   ": ignored\n")
    assert main(["fhir", "to-case", path, "--strict"]) == EXIT_INVALID


def test_not_a_bundle_exits_2_naming_the_field(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, patient(60))
    assert main(["fhir", "to-case", path]) == EXIT_INVALID
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"{path}: resourceType: must be Bundle (got 'Patient'); give a Bundle, or a "
                   "list of resources\n")


def test_bad_json_and_bad_date_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "b.json"
    path.write_text("{")
    assert main(["fhir", "to-case", str(path)]) == EXIT_INVALID
    assert "(document): is not valid JSON" in capsys.readouterr().err
    assert main(["fhir", "to-case", str(path), "--on", "yesterday"]) == EXIT_INVALID
    assert "--on: must be a date" in capsys.readouterr().err
