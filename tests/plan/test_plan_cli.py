"""``spinecare plan`` and ``spinecare evidence``, run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.plan.conftest import CASES_DIR


def spinecare(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "spinecare", *args], input=stdin,
                          capture_output=True, timeout=60, check=False)


def test_an_emergency_plan_report_opens_with_the_emergency_department() -> None:
    r = spinecare("plan", str(CASES_DIR / "ces-retention.case.json"))
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.decode().splitlines() if line.strip()]
    assert lines[0] == "spinecare care plan: ces-retention"
    assert lines[1] == "WHAT TO DO NOW"
    assert lines[2].startswith("  1. Go to the emergency department (A&E) now.")
    text = r.stdout.decode()
    assert "SEEK CARE NOW IF" in text
    assert "girft_ces2023" in text


def test_plan_json_is_the_schema_valid_plan(plan_validator: Any) -> None:
    r = spinecare("plan", "--json", str(CASES_DIR / "dcm-moderate.case.json"))
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert list(plan_validator.iter_errors(plan)) == []
    assert plan["referral"][0]["rule"] == "ref.dcm.surgical_assessment"


def test_the_readable_plan_shows_what_is_not_needed() -> None:
    r = spinecare("plan", str(CASES_DIR / "simple-back-pain.case.json"))
    assert r.returncode == 0
    assert "X-ray, MRI or CT scan of the back: NOT needed" in r.stdout.decode()


def test_a_plan_can_come_from_standard_input() -> None:
    r = spinecare("plan", "--json", "-", stdin=(CASES_DIR / "lss-classic.case.json").read_bytes())
    assert r.returncode == 0
    assert json.loads(r.stdout)["case_id"] == "lss-classic"


@pytest.mark.parametrize("path", sorted((CASES_DIR / "invalid").glob("*.case.json")),
                         ids=lambda p: p.name)
def test_an_invalid_case_exits_2_with_the_same_lines_as_assess(path: Path) -> None:
    plan = spinecare("plan", str(path))
    assess = spinecare("assess", str(path))
    assert plan.returncode == 2
    assert plan.stdout == b""
    assert plan.stderr == assess.stderr
    assert b"Traceback" not in plan.stderr
    assert all(line.startswith(f"{path}: ".encode()) for line in plan.stderr.splitlines())


def test_a_missing_case_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.case.json"
    r = spinecare("plan", str(missing))
    assert r.returncode == 2
    assert r.stderr.decode().startswith(f"{missing}: cannot read")


def test_evidence_prints_grades_claims_and_sources() -> None:
    r = spinecare("evidence", "stem_cell_injection")
    assert r.returncode == 0
    text = r.stdout.decode()
    assert "lumbar_spinal_stenosis: insufficient evidence; not approved" in text
    assert "97%" in text
    assert "fda_regenerative:" in text


def test_evidence_json_is_the_evidence_document() -> None:
    r = spinecare("evidence", "--json", "decompression_surgery")
    assert r.returncode == 0
    e = json.loads(r.stdout)
    assert (e["schema"], e["treatment"]) == ("spinecare.evidence/1", "decompression_surgery")


def test_an_unknown_treatment_exits_2_listing_close_matches() -> None:
    # ("stem-cells" is an alias now, found directly.)
    r = spinecare("evidence", "stem-cel")
    assert r.returncode == 2
    assert r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("unknown treatment 'stem-cel'. Close matches: stem_cell_injection")
    assert "Traceback" not in err


def test_evidence_list_names_every_treatment() -> None:
    r = spinecare("evidence", "--list")
    assert r.returncode == 0
    ids = [line.split(":")[0] for line in r.stdout.decode().splitlines()]
    assert "stem_cell_injection" in ids and "nsaids" in ids
