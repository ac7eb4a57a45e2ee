"""The reference engine: each row assessed as ``spinecare assess`` assesses its case."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq

from spinecare.case import parse_case
from spinecare.reasoning.engine import default_engine
from spinecare.screen.columns import case_to_row, rows_to_table
from spinecare.screen.engines import get_engine
from spinecare.screen.output import OUTPUT_SCHEMA, assessment_to_row
from spinecare.vocabulary import CONDITION_CODES
from tests.conftest import CASES

DOCS = [orjson.loads(p.read_bytes()) for p in sorted(CASES.glob("*.case.json"))]


def test_the_output_schema_has_a_probability_and_a_band_per_condition() -> None:
    for code in CONDITION_CODES:
        assert OUTPUT_SCHEMA.field(f"p.{code}").type == "double"
        assert OUTPUT_SCHEMA.field(f"band.{code}").type == "string"
    assert OUTPUT_SCHEMA.names[:4] == ["case_id", "triage", "red_flags", "first_condition"]
    assert OUTPUT_SCHEMA.names[-4:] == ["low_back_pain_source", "rules", "findings", "consider"]


def test_each_row_is_the_assessment_of_its_case_in_order() -> None:
    table = rows_to_table(case_to_row(d) for d in DOCS)
    out = get_engine("python").screen_table(table)
    assert out.schema == OUTPUT_SCHEMA and out.num_rows == len(DOCS)
    engine = default_engine()
    for doc, row in zip(DOCS, out.to_pylist(), strict=True):
        case = parse_case(doc)
        assessment = engine.assess(case)
        true = [n for n, v in engine.findings(case).items() if v is True]
        assert row == assessment_to_row(case.id, assessment, findings=true)
        assert row["case_id"] == doc["id"]
        assert row["triage"] == assessment["triage"]["level"]
        assert row["first_condition"] == assessment["conditions"][0]["code"]
        assert set(assessment["triage"]["rules"]) <= set(row["rules"])


def test_a_case_with_a_red_flag_is_screened_as_the_assessment_says() -> None:
    doc = {"schema": "spinecare.case/1", "id": "ces", "patient": {"age": 50},
           "symptoms": {"low_back_pain": True, "saddle_anesthesia": True}}
    (row,) = get_engine("python").screen_table(rows_to_table([case_to_row(doc)])).to_pylist()
    assert row["triage"] == "emergency"
    assert "cauda_equina_syndrome" in row["red_flags"]
    assert row["rules"] == sorted(set(row["rules"]))


def test_a_parquet_file_is_screened_into_a_parquet_file(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(rows_to_table(case_to_row(d) for d in DOCS), src)
    seen: list[int] = []
    assert get_engine("python").screen_file(src, "parquet", dst, progress=seen.append) == len(DOCS)
    out = pq.read_table(dst)
    assert out.schema == OUTPUT_SCHEMA and out.column("case_id").to_pylist() == [
        d["id"] for d in DOCS]
    assert seen[-1] == len(DOCS)
