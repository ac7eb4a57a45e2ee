"""``spinecare screen``: inputs, checks, the side file of bad rows, the worklists and the report,
through the command line as a user runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinecare.case import parse_case
from spinecare.cli import main
from spinecare.reasoning.engine import default_engine
from spinecare.screen.engines import get_engine
from spinecare.screen.report import WORKLISTS
from tests.screen.population import (
    care_of,
    population,
    table,
    write_csv,
    write_jsonl,
    write_parquet,
)


def engines() -> list[str]:
    names = ["python"]
    try:
        get_engine("duckdb")
        names.append("duckdb")
    except (ValueError, ImportError):
        pass
    return names


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["screen", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assessed(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    engine = default_engine()
    return [engine.assess(parse_case(c)) for c in cases]


def expected_worklists(cases: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each worklist's case ids, worked out from the assessments and the care columns."""
    out: dict[str, list[str]] = {w.id: [] for w in WORKLISTS}
    for i, (case, a) in enumerate(zip(cases, assessed(cases), strict=True)):
        referral, plan = care_of(i)
        bands = {c["code"]: c["likelihood"] for c in a["conditions"]}
        if a["triage"]["level"] in ("emergency", "urgent") and referral is not True:
            out["open_red_flags"].append(case["id"])
        if bands["degenerative_cervical_myelopathy"] in ("high", "moderate") \
                and referral is not True:
            out["dcm_without_referral"].append(case["id"])
        if bands["lumbar_spinal_stenosis"] in ("high", "moderate") and plan is not True:
            out["stenosis_without_plan"].append(case["id"])
    return out


def csv_ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [row["case_id"] for row in csv.DictReader(fh)]


def test_schema_lists_every_case_column_and_the_care_columns(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--schema")
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("patient.age  int64") and "0..120" in line for line in lines)
    assert any(line.startswith("exam.motor_deficits  list<") for line in lines)
    assert any(line.startswith("care.referral  bool") for line in lines)
    assert "JSON text" in out


@pytest.mark.parametrize("engine", engines())
@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_every_input_format_gives_one_row_per_case_in_order_with_its_assessment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str, fmt: str) -> None:
    cases = population(2)
    writer = {"parquet": write_parquet, "csv": write_csv, "jsonl": write_jsonl}[fmt]
    src = writer(tmp_path / f"in.{fmt}", cases)
    code, _, err = run(capsys, str(src), "--out", str(tmp_path / "out.parquet"),
                       "--engine", engine, "--batch-size", "7",
                       "--worklists", str(tmp_path / "lists"))
    assert code == 0, err
    assert f"{len(cases)} rows screened" in err
    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["case_id"] for r in out] == [c["id"] for c in cases]
    for row, a in zip(out, assessed(cases), strict=True):
        assert row["triage"] == a["triage"]["level"]
        assert row["red_flags"] == [f["code"] for f in a["red_flags"]]
        assert row["first_condition"] == a["conditions"][0]["code"]
    expected = expected_worklists(cases)
    if fmt == "jsonl":  # a case document has no care columns: every patient is "not recorded"
        return
    for w in WORKLISTS:
        assert csv_ids(tmp_path / "lists" / f"{w.id}.csv") == expected[w.id], w.id
    assert expected["open_red_flags"] and expected["dcm_without_referral"] \
        and expected["stenosis_without_plan"], "the population exercises every worklist"


def test_rows_without_a_case_id_are_named_after_their_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = population(1)
    t = table(cases)
    t = t.set_column(0, "case_id", pa.array([None, "given", *[None] * (len(cases) - 2)],
                                            pa.string()))
    pq.write_table(t, tmp_path / "in.parquet")
    code, _, err = run(capsys, str(tmp_path / "in.parquet"), "--out",
                       str(tmp_path / "out.parquet"), "--engine", "python", "--batch-size", "5")
    assert code == 0, err
    ids = pq.read_table(tmp_path / "out.parquet").column("case_id").to_pylist()
    assert ids[:3] == ["row-1", "given", "row-3"] and ids[-1] == f"row-{len(cases)}"


def test_an_unknown_column_and_a_wrong_type_exit_2_naming_each_and_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = table(population(1))
    t = t.append_column("symptoms.legpain", pa.array([True] * t.num_rows))
    index = t.column_names.index("patient.age")
    t = t.set_column(index, "patient.age", pa.array(["70"] * t.num_rows))
    pq.write_table(t, tmp_path / "in.parquet")
    code, out, err = run(capsys, str(tmp_path / "in.parquet"), "--out",
                         str(tmp_path / "out.parquet"), "--engine", "python")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert any("symptoms.legpain: is not a case field (did you mean symptoms.leg_pain?)" in x
               for x in lines), err
    assert any("patient.age: must be int64, not string" in x for x in lines), err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_a_value_out_of_range_names_the_column_and_its_first_bad_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = population(1)
    t = table(cases)
    ages = t.column("patient.age").to_pylist()
    ages[4] = ages[9] = 130
    t = t.set_column(t.column_names.index("patient.age"), "patient.age", pa.array(ages))
    pq.write_table(t, tmp_path / "in.parquet")
    code, _, err = run(capsys, str(tmp_path / "in.parquet"), "--out",
                       str(tmp_path / "out.parquet"), "--engine", "python")
    assert code == 2
    assert "patient.age (row 5 and 1 more): must be <= 120" in err, err
    assert not (tmp_path / "out.parquet").exists()


def test_csv_cells_of_the_wrong_type_name_their_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = population(1)
    src = write_csv(tmp_path / "in.csv", cases)
    lines = src.read_text().splitlines()
    header = next(csv.reader([lines[0]]))
    rows = [next(csv.reader([line])) for line in lines[1:]]
    rows[2][header.index("patient.age")] = "seventy"
    rows[3][header.index("exam.motor_deficits")] = "[{broken"
    rows[5][header.index("symptoms.saddle_anesthesia")] = "maybe"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    code, _, err = run(capsys, str(src), "--out", str(tmp_path / "out.parquet"),
                       "--engine", "python")
    assert code == 2
    assert "patient.age (row 3): must be a whole number, not 'seventy'" in err, err
    assert "exam.motor_deficits (row 4): is not JSON text" in err, err
    assert "symptoms.saddle_anesthesia (row 6): must be true or false, not 'maybe'" in err, err
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_skip_invalid_sets_bad_rows_aside_with_their_reasons_and_screens_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    cases = population(1)
    bad = {2, 7}
    if fmt == "parquet":
        t = table(cases)
        ages = t.column("patient.age").to_pylist()
        for i in bad:
            ages[i] = 150
        t = t.set_column(t.column_names.index("patient.age"), "patient.age", pa.array(ages))
        pq.write_table(t, tmp_path / "in.parquet")
        src = tmp_path / "in.parquet"
    else:
        broken = [dict(c) for c in cases]
        for i in bad:
            broken[i] = {**broken[i], "patient": {**broken[i]["patient"], "age": 150}}
        src = (write_csv if fmt == "csv" else write_jsonl)(tmp_path / f"in.{fmt}", broken)
    code, _, err = run(capsys, str(src), "--out", str(tmp_path / "out.parquet"),
                       "--engine", "python", "--skip-invalid", "--batch-size", "4")
    assert code == 2, err  # as `spinecare assess` on JSON Lines: the rest written, status 2
    ids = pq.read_table(tmp_path / "out.parquet").column("case_id").to_pylist()
    assert ids == [c["id"] for i, c in enumerate(cases) if i not in bad]
    side = [orjson.loads(line) for line in
            (tmp_path / "out.rejected.jsonl").read_bytes().splitlines()]
    assert [s["row"] for s in side] == [i + 1 for i in sorted(bad)]
    assert [s["case_id"] for s in side] == [cases[i]["id"] for i in sorted(bad)]
    assert all(any("patient.age" in r and "120" in r for r in s["reasons"]) for s in side), side
    assert "2 invalid rows set aside" in err


def write_export(folder: Path) -> Path:
    """A small Bulk Data export: two patients, their Observations in another file."""
    folder.mkdir()
    patients = [{"resourceType": "Patient", "id": pid} for pid in ("b", "a")]
    observations = [{"resourceType": "Observation", "id": f"o{i}",
                     "subject": {"reference": f"Patient/{pid}"}}
                    for i, pid in enumerate(("a", "b", "a"))]
    (folder / "Patient.ndjson").write_text("".join(json.dumps(p) + "\n" for p in patients))
    (folder / "Observation.ndjson").write_text(
        "".join(json.dumps(o) + "\n" for o in observations))
    return folder


def test_fhir_export_folders_say_plainly_when_the_mapping_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from spinecare.screen import inputs

    monkeypatch.setattr(inputs, "fhir_to_case", lambda: None)
    folder = write_export(tmp_path / "export")
    code, _, err = run(capsys, str(folder), "--out", str(tmp_path / "out.parquet"))
    assert code == 2 and "FHIR Bulk Data input is not available" in err


def test_a_fhir_export_is_grouped_by_patient_and_each_made_one_case(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from spinecare.screen import inputs

    seen: dict[str, list[str]] = {}

    def to_case(resources: list[dict[str, Any]], *, patient_id: str) -> Any:
        seen[patient_id] = sorted(f"{r['resourceType']}/{r['id']}" for r in resources)
        age = 40 + len(resources)
        return SimpleNamespace(case={"schema": "spinecare.case/1", "id": f"fhir-{patient_id}",
                                     "patient": {"age": age}})

    monkeypatch.setattr(inputs, "fhir_to_case", lambda: to_case)
    folder = write_export(tmp_path / "export")
    code, _, err = run(capsys, str(folder), "--out", str(tmp_path / "out.parquet"),
                       "--engine", "python")
    assert code == 0, err
    assert seen == {"a": ["Observation/o0", "Observation/o2", "Patient/a"],
                    "b": ["Observation/o1", "Patient/b"]}
    assert pq.read_table(tmp_path / "out.parquet").column("case_id").to_pylist() == [
        "fhir-a", "fhir-b"]


def test_the_report_counts_every_row_and_lists_the_worklists(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = population(2)
    src = write_parquet(tmp_path / "in.parquet", cases)
    code, _, err = run(capsys, str(src), "--out", str(tmp_path / "out.parquet"),
                       "--engine", "python", "--report", str(tmp_path / "report.html"))
    assert code == 0, err
    html = (tmp_path / "report.html").read_text()
    assert f'<dd id="rows">{len(cases)}</dd>' in html
    assert html.count("<svg") >= 2 and "<script" not in html and "http://" not in html.replace(
        "http://www.w3.org", "")
    assert "never a diagnosis" in html and "contact today" in html
    levels = [a["triage"]["level"] for a in assessed(cases)]
    for level in ("emergency", "urgent", "routine", "self_care"):
        assert (f'<tr data-level="{level}"><th scope="row">{level.replace("_", " ")}</th>'
                f'<td class="n">{levels.count(level)}</td>') in html


@pytest.mark.parametrize("argv, message", [
    (["--out", "x.csv"], "the output is Parquet"),
    (["--out", "out.parquet", "--master", "local[2]", "--engine", "python"],
     "--master: only with --engine spark"),
    (["--out", "out.parquet", "--rejected", "bad.jsonl"], "--rejected: only with"),
])
def test_misused_options_exit_2_with_a_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    src = write_parquet(tmp_path / "in.parquet", population(1))
    code, _, err = run(capsys, str(src), *argv)
    assert code == 2 and message in err, err


def test_the_engines_file_path_gives_the_output_and_worklists_of_the_batch_path(
        tmp_path: Path) -> None:
    from spinecare.screen.inputs import Input
    from spinecare.screen.report import Summary
    from spinecare.screen.run import screen_batches, screen_with_engine_file

    cases = population(2)
    src = write_parquet(tmp_path / "in.parquet", cases)
    engine = get_engine("python")
    results = {}
    for name, run_it in (("batches", screen_batches), ("file", screen_with_engine_file)):
        summary = Summary()
        summary.open(tmp_path / name)
        result = run_it(Input(str(src), batch_rows=5), engine, tmp_path / f"{name}.parquet",
                        summary=summary)
        summary.close(True)
        assert result.rows == len(cases)
        results[name] = (pq.read_table(tmp_path / f"{name}.parquet").to_pylist(),
                         summary.counts, summary.triage, summary.bands)
        for w in WORKLISTS:
            assert csv_ids(tmp_path / name / f"{w.id}.csv") == expected_worklists(cases)[w.id]
    assert results["batches"] == results["file"]
