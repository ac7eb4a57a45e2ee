"""The instrument commands: ``spinecare instruments list|show|to-case`` and ``spinecare score``.

Most run in-process through ``spinecare.cli.main``; two run as real subprocesses to check what
a user sees and that loading the command module stays light.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spinecare.cli import main
from spinecare.instruments.fhir import check_questionnaire, questionnaire_response
from tests.conftest import CASES
from tests.instruments.conftest import REGISTRY


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_list_prints_one_instrument_a_line_id_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "instruments", "list")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(REGISTRY)
    assert "wording under licence" in next(line for line in lines if line.startswith("odi "))


def test_list_json_is_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "instruments", "list", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)] == list(REGISTRY)


@pytest.mark.parametrize("form_id", [*REGISTRY, "intake"])
def test_show_fhir_prints_a_valid_questionnaire(capsys: pytest.CaptureFixture[str],
                                                form_id: str) -> None:
    code, out, _ = run(capsys, "instruments", "show", form_id, "--fhir")
    assert code == 0
    doc = json.loads(out)
    assert doc["resourceType"] == "Questionnaire" and check_questionnaire(doc) == []


def test_show_fhir_takes_a_canonical_base(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "instruments", "show", "odi", "--fhir", "--base",
                       "https://clinic.example/fhir/")
    assert code == 0 and json.loads(out)["url"] == "https://clinic.example/fhir/Questionnaire/odi"


def test_show_describes_an_instrument_with_its_sources_and_unverified_values(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "instruments", "show", "ndi")
    assert code == 0
    assert "Vernon" in out and "not verified" in out and "82226-2" in out


def test_show_intake_lists_its_questions_with_their_conditions(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "instruments", "show", "intake")
    assert code == 0
    assert "symptoms.claudication" in out and "(only if claudication = true)" in out


def test_show_an_unknown_instrument_exits_2_with_a_suggestion(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "instruments", "show", "odj")
    assert code == 2 and out == "" and "did you mean odi?" in err


def test_score_a_plain_answers_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", {"questionnaire": "odi",
                                      "answers": [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]})
    code, out, err = run(capsys, "score", path)
    assert (code, err) == (0, "")
    assert "odi: 32.0% - moderate disability (10 of 10 answered)" in out
    code, out, _ = run(capsys, "score", "--json", path)
    assert json.loads(out)["administrations"][0]["scores"]["odi"]["value"] == 32.0


def test_score_a_fhir_response_and_an_array_of_responses(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    qr = questionnaire_response("zcq", {"overall_result": 1, "pain_relief": 2,
                                        "walking_ability": 2, "daily_activities": 1,
                                        "leg_strength": 2, "steadiness": 2})
    konno = {"questionnaire": "konno_sshq", "answers": {
        i.link_id: True for i in REGISTRY["konno_sshq"].item[:4]}}
    path = write(tmp_path, "visit.json", [qr, konno])
    code, out, _ = run(capsys, "score", "--json", path)
    assert code == 0
    scores = json.loads(out)["administrations"][0]["scores"]
    assert scores["zcq"]["satisfaction"] == 1.67
    assert scores["zcq"]["satisfaction_band"] == "satisfied"
    assert scores["konno_sshq"]["result"] == "positive" and "caution" in scores["konno_sshq"]


def test_score_several_files_reports_the_change_from_the_first(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", {"questionnaire": "odi", "date": "2026-01-10",
                                   "answers": [3, 2, 3, 4, 2, 3, 2, None, 2, 3]})
    b = write(tmp_path, "b.json", {"questionnaire": "odi", "date": "2026-04-10",
                                   "answers": [1, 1, 2, 2, 1, 2, 1, None, 1, 2]})
    code, out, _ = run(capsys, "score", a, b)
    assert code == 0
    assert "odi: 53.3 -> 28.9 (" in out and "IMPROVED" in out
    code, out, _ = run(capsys, "score", "--json", a, b)
    assert json.loads(out)["change"]["odi"]["status"] == "improved"


def test_score_files_out_of_date_order_exits_2_naming_the_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", {"questionnaire": "odi", "date": "2026-04-10", "answers": {}})
    b = write(tmp_path, "b.json", {"questionnaire": "odi", "date": "2026-01-10", "answers": {}})
    code, out, err = run(capsys, "score", a, b)
    assert code == 2 and out == ""
    assert err.startswith(f"{b}: date: ")


def test_invalid_answers_exit_2_with_one_line_per_problem_naming_file_and_path(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    qr = questionnaire_response("odi", {"walking": 3, "sitting": 1})
    qr["item"][0]["answer"][0]["valueCoding"]["code"] = "9"
    qr["item"][1]["answer"][0]["valueCoding"]["code"] = "8"
    path = write(tmp_path, "bad.json", qr)
    code, out, err = run(capsys, "score", path)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"{path}: item[0].answer[0].valueCoding.code: walking: code '9' is not an answer "
        "option; expected one of 0, 1, 2, 3, 4, 5",
        f"{path}: item[1].answer[0].valueCoding.code: sitting: code '8' is not an answer "
        "option; expected one of 0, 1, 2, 3, 4, 5"]


def test_broken_json_and_missing_files_exit_2(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = run(capsys, "score", str(broken), str(tmp_path / "absent.json"))
    assert code == 2
    assert f"{broken}: (document): is not valid JSON" in err
    assert f"{tmp_path / 'absent.json'}: cannot read" in err


def test_the_intake_is_not_scored(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, "intake.json", {"questionnaire": "intake", "answers": {}})
    code, _, err = run(capsys, "score", path)
    assert code == 2 and "to-case" in err


def test_to_case_builds_a_case_the_engine_can_assess(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    from spinecare.case import parse_case
    from spinecare.instruments.cases import responses_from_case

    case = parse_case((CASES / "lss-classic.case.json").read_text())
    responses, _ = responses_from_case(case)
    paths = [write(tmp_path, f"{r.questionnaire}.json",
                   questionnaire_response(r.questionnaire, r.answers)) for r in responses]
    code, out, err = run(capsys, "instruments", "to-case", *paths, "--id", "lss-classic",
                         "--age", "68", "--sex", "male")
    assert (code, err) == (0, "")
    rebuilt = parse_case(out)
    assert rebuilt.symptoms == case.symptoms and rebuilt.instruments == case.instruments
    case_path = write(tmp_path, "case.json", json.loads(out))
    code, out, _ = run(capsys, "assess", "--json", case_path)
    assert code == 0 and json.loads(out)["scores"]["odi"]["value"] == 38.0


def test_to_case_with_an_incomplete_mjoa_exits_2(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    path = write(tmp_path, "mjoa.json", {"questionnaire": "mjoa",
                                         "answers": {"micturition": 3}})
    code, out, err = run(capsys, "instruments", "to-case", path, "--id", "x")
    assert code == 2 and out == "" and f"{path}: mjoa: mjoa: no answer for" in err


def _subprocess(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True,
                          timeout=60, check=False)


def test_a_real_run_reads_standard_input_and_never_shows_a_traceback() -> None:
    r = _subprocess("-m", "spinecare", "score", "-",
                    stdin=b'{"questionnaire": "ndi", "answers": {"driving": "yes"}}')
    assert r.returncode == 2
    assert r.stderr.decode() == ("<stdin>: answers.driving: driving: must be one of 0, 1, 2, "
                                 "3, 4, 5 (got 'yes')\n")


def test_loading_the_command_module_imports_nothing_heavy() -> None:
    code = ("import sys, spinecare.cli.instruments as c; "
            "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'fhir', "
            "'orjson', 'spinecare'))))")
    r = _subprocess("-c", code)
    assert r.returncode == 0
    assert r.stdout.decode().strip() == ("['spinecare', 'spinecare.cli', "
                                         "'spinecare.cli.assess', 'spinecare.cli.audit', "
                                         "'spinecare.cli.cds', 'spinecare.cli.db', "
                                         "'spinecare.cli.explain', 'spinecare.cli.fhir', "
                                         "'spinecare.cli.instruments', 'spinecare.cli.io', "
                                         "'spinecare.cli.knowledge', "
                                         "'spinecare.cli.plan', 'spinecare.cli.screen', "
                                         "'spinecare.cli.serve', 'spinecare.errors']")


def test_score_json_names_the_software_and_knowledge_versions(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from spinecare import __version__
    from spinecare.reasoning.knowledge import default_knowledge

    path = write(tmp_path, "a.json", {"questionnaire": "pain_nrs", "answers": {"leg": 6}})
    code, out, _ = run(capsys, "score", "--json", path)
    assert code == 0
    assert json.loads(out)["versions"] == {"spinecare": __version__,
                                           "knowledge": default_knowledge().version}
