"""The command line of CONTRACT.md section 3, run as a real subprocess."""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CASES, load_json


def spinecare(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "spinecare", *args], input=stdin,
                          capture_output=True, timeout=60, check=False)


def test_the_report_starts_with_the_triage_level_and_its_reasons() -> None:
    r = spinecare("assess", str(CASES / "ces-retention.case.json"))
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    first = next(line for line in lines[1:] if line.strip())
    assert first.startswith("TRIAGE  EMERGENCY")
    assert "rf.ces.saddle_anaesthesia" in r.stdout.decode()
    assert "Todd NV" in r.stdout.decode()


def test_json_output_is_the_assessment() -> None:
    r = spinecare("assess", "--json", str(CASES / "lss-classic.case.json"))
    assert r.returncode == 0
    a = json.loads(r.stdout)
    assert a["schema"] == "spinecare.assessment/1"
    assert a["case_id"] == "lss-classic"
    assert a["scores"]["odi"]["value"] == 38.0


def test_json_lines_are_assessed_in_order_and_invalid_lines_reported(tmp_path: Path) -> None:
    good = [load_json(CASES / f"{n}.case.json") for n in ("lss-classic", "simple-back-pain")]
    batch = tmp_path / "cases.jsonl"
    batch.write_text("\n".join([json.dumps(good[0]),
                                json.dumps({"schema": "spinecare.case/1", "id": "bad",
                                            "patient": {"age": -1}}),
                                json.dumps(good[1])]) + "\n")
    r = spinecare("assess", "--json", str(batch))
    assert r.returncode == 2
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [a["case_id"] for a in out] == ["lss-classic", "simple-back-pain"]
    assert r.stderr.decode() == f"{batch}:2: patient.age: must be >= 0 (got -1)\n"


def test_a_case_can_come_from_standard_input() -> None:
    r = spinecare("assess", "--json", "-", stdin=(CASES / "dcm-moderate.case.json").read_bytes())
    assert r.returncode == 0
    assert json.loads(r.stdout)["triage"]["level"] == "urgent"


def test_json_lines_can_come_from_standard_input() -> None:
    lines = b"\n".join(json.dumps(load_json(p)).encode()
                       for p in sorted(CASES.glob("*.case.json")))
    r = spinecare("assess", "--json", "-", stdin=lines)
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == len(list(CASES.glob("*.case.json")))


@pytest.mark.parametrize("path", sorted((CASES / "invalid").glob("*.case.json")),
                         ids=lambda p: p.name)
def test_invalid_input_exits_2_naming_the_path_without_a_traceback(path: Path) -> None:
    expected = load_json(path.with_name(path.name.replace(".case.", ".expect.")))
    r = spinecare("assess", str(path))
    assert r.returncode == 2
    err = r.stderr.decode()
    assert expected["error_mentions"] in err
    assert str(path) in err
    assert "Traceback" not in err
    assert r.stdout == b""


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    r = spinecare("assess", str(tmp_path / "nope.json"))
    assert r.returncode == 2
    assert "cannot read" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()


def test_broken_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"schema": "spinecare.case/1", "id": ')
    r = spinecare("assess", str(path))
    assert r.returncode == 2
    assert "not valid JSON" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()


def test_knowledge_coverage_lists_every_criterion_with_its_rule_and_the_gaps() -> None:
    r = spinecare("knowledge", "coverage", "--json")
    assert r.returncode == 0, r.stderr
    table = json.loads(r.stdout)
    saddle = next(row for row in table["criteria"] if row["id"] == "ces.saddle_reported")
    assert saddle["rules"] == ["rf.ces.saddle_anaesthesia"]
    assert (saddle["given"], saddle["without"], saddle["holds"]) == ("emergency", "routine", True)
    assert all(row["holds"] and row["rules"] for row in table["criteria"])
    assert any(g["reference"] == "2.4" for g in table["gaps"])
    text = spinecare("knowledge", "coverage").stdout.decode()
    assert "rf.malignancy.cord_compression: ok" in text
    assert "Not expressible in the case yet:" in text


def test_knowledge_native_says_why_it_cannot_build_without_a_traceback() -> None:
    r = subprocess.run([sys.executable, "-m", "spinecare", "knowledge", "native"],
                       capture_output=True, timeout=60, check=False,
                       env={**os.environ, "SPINECARE_CACHE_DIR": "off"})
    assert r.returncode == 1
    assert r.stderr.decode().startswith("spinecare: the native build failed: the compiled-code "
                                        "cache is off")
    assert b"Traceback" not in r.stderr and r.stdout == b""


@pytest.mark.skipif(os.environ.get("SPINECARE_EXPECT_NATIVE") != "1",
                    reason="make test builds the extension first (make native)")
def test_knowledge_native_finds_what_make_native_built() -> None:
    r = spinecare("knowledge", "native")
    assert r.returncode == 0 and r.stdout.decode().startswith("already built: ")
    assert r.stdout.decode().strip().endswith(importlib.machinery.EXTENSION_SUFFIXES[0])


def test_explain_prints_the_article_for_a_condition_with_grades_from_the_treatment_knowledge(
) -> None:
    r = spinecare("explain", "lumbar_spinal_stenosis", "--json")
    assert r.returncode == 0, r.stderr
    article = json.loads(r.stdout)
    assert article["condition"] == "lumbar_spinal_stenosis"
    assert article["sections"][0]["name"] == "urgent"
    evidence = json.loads(spinecare("evidence", "nsaids", "--json").stdout)
    shown = next(t for s in article["sections"] if s["name"] == "treatments"
                 for t in s["treatments"] if t["id"] == "nsaids")
    verdict = next(v for v in evidence["verdicts"] if v["condition"] == "lumbar_spinal_stenosis")
    assert shown["evidence_grade"] == verdict["evidence_grade"]
    text = spinecare("explain", "lumbar spinal stenosis").stdout.decode()
    assert text.startswith("LUMBAR SPINAL STENOSIS") and "WHEN TO GET HELP AT ONCE" in text


def test_explain_names_the_articles_on_a_treatment_and_suggests_for_an_unknown_topic() -> None:
    r = spinecare("explain", "nsaids")
    assert r.returncode == 0 and "lumbar_spinal_stenosis" in r.stdout.decode()
    bad = spinecare("explain", "stenosis")
    assert bad.returncode == 2 and b"did you mean lumbar_spinal_stenosis" in bad.stderr
    assert b"Traceback" not in bad.stderr
