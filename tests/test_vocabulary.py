"""The code lists are written once, in spinecare.vocabulary; the schemas and the knowledge files
are checked against them, so neither can grow a code the other lacks."""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Iterator
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pytest

from spinecare import vocabulary as v

SCHEMAS = ("assessment.schema.json", "case.schema.json", "plan.schema.json")

#: Every enum of the published schemas, by file and JSON pointer, with the vocabulary list it
#: must equal (same codes, same order; ``None`` is the schema's "not known" and not a code).
SCHEMA_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("assessment.schema.json", "/properties/triage/properties/level"): v.TRIAGE_LEVELS,
    ("assessment.schema.json", "/properties/red_flags/items/properties/code"): v.RED_FLAG_CODES,
    ("assessment.schema.json", "/properties/conditions/items/properties/code"): v.CONDITION_CODES,
    ("assessment.schema.json", "/properties/conditions/items/properties/likelihood"):
        v.LIKELIHOODS,
    ("assessment.schema.json", "/properties/low_back_pain_source"): v.LBP_SOURCES,
    ("plan.schema.json", "/$defs/level"): v.TRIAGE_LEVELS,
    ("plan.schema.json", "/$defs/urgency"): v.URGENCIES,
    ("plan.schema.json", "/$defs/red_flag"): v.RED_FLAG_CODES,
    ("plan.schema.json", "/$defs/condition"): v.CONDITION_CODES,
    ("plan.schema.json", "/$defs/evidence_grade"): v.EVIDENCE_GRADES,
    ("plan.schema.json", "/$defs/recommendation"): v.RECOMMENDATIONS,
    ("plan.schema.json", "/properties/based_on/properties/conditions/items/properties/likelihood"):
        v.PLAN_LIKELIHOODS,
    ("plan.schema.json", "/properties/based_on/properties/mjoa_band"): v.MJOA_BANDS,
    ("plan.schema.json", "/properties/investigations/items/properties/status"):
        v.INVESTIGATION_STATUSES,
    ("plan.schema.json", "/properties/first_line/items/properties/choice"): v.TREATMENT_CHOICES,
    ("plan.schema.json", "/properties/avoid/items/properties/basis"): v.AVOID_BASES,
    ("plan.schema.json", "/properties/review/items/properties/instrument"): v.REVIEW_INSTRUMENTS,
    ("plan.schema.json", "/properties/review/items/properties/pain_site"): v.PAIN_SITES,
    ("plan.schema.json", "/$defs/programme/properties/status"): v.PROGRAMME_STATUSES,
    ("plan.schema.json", "/$defs/programme/properties/pain/properties/site"): v.PAIN_SITES,
    ("plan.schema.json", "/$defs/programme/properties/exercises/items/properties/category"):
        v.EXERCISE_CATEGORIES,
}

#: Lists that are a deliberate part of a larger one, and why.
SUBSETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # a plan only builds on conditions at least moderately likely
    "plan likelihoods": (v.PLAN_LIKELIHOODS, v.LIKELIHOODS),
    # a review repeats outcome measures; the diagnostic rules are not tracked over time
    "review instruments": (v.REVIEW_INSTRUMENTS, v.INSTRUMENT_IDS),
}


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(files("spinecare.schemas").joinpath(name).read_text())
    return loaded


def _enums(node: Any, pointer: str = "") -> Iterator[tuple[str, list[Any]]]:
    if isinstance(node, dict):
        if "enum" in node:
            yield pointer, node["enum"]
        for key, value in node.items():
            yield from _enums(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _enums(value, f"{pointer}/{i}")


@pytest.mark.parametrize(("schema", "pointer"), list(SCHEMA_ENUMS))
def test_each_schema_enum_equals_its_vocabulary_list(schema: str, pointer: str) -> None:
    found = dict(_enums(_schema(schema)))
    assert pointer in found, f"{schema}{pointer} has no enum any more"
    assert tuple(code for code in found[pointer] if code is not None) == SCHEMA_ENUMS[
        (schema, pointer)]


@pytest.mark.parametrize("schema", ["assessment.schema.json", "plan.schema.json"])
def test_every_enum_of_the_output_schemas_is_checked_against_the_vocabulary(schema: str) -> None:
    # The case schema's enums belong to single fields of the case model and are checked there.
    unchecked = [p for p, _ in _enums(_schema(schema)) if (schema, p) not in SCHEMA_ENUMS]
    assert unchecked == []


@pytest.mark.parametrize("name", list(SUBSETS))
def test_a_narrower_list_stays_inside_the_list_it_narrows(name: str) -> None:
    narrow, wide = SUBSETS[name]
    assert set(narrow) < set(wide)


def test_every_list_is_free_of_repeats_and_matches_its_literal() -> None:
    from typing import get_args

    pairs = [(v.TriageLevel, v.TRIAGE_LEVELS), (v.RedFlagCode, v.RED_FLAG_CODES),
             (v.ConditionCode, v.CONDITION_CODES), (v.Urgency, v.URGENCIES),
             (v.InstrumentId, v.INSTRUMENT_IDS), (v.MjoaBand, v.MJOA_BANDS)]
    for literal, values in pairs:
        assert get_args(literal) == values
        assert len(set(values)) == len(values)


def test_triage_ranks_rise_with_urgency() -> None:
    assert [v.LEVEL_RANK[level] for level in v.TRIAGE_LEVELS] == [3, 2, 1, 0]


def test_the_vocabulary_imports_nothing_from_spinecare() -> None:
    source = Path(v.__file__).read_text(encoding="utf-8")
    imported = [n.module or "" for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import)
                 for a in n.names]
    assert [m for m in imported if m.split(".")[0] == "spinecare"] == []


# --- the knowledge files use only vocabulary codes -------------------------------------------

_PLAN_KEYS: dict[str, tuple[str, ...]] = {
    "triage": v.TRIAGE_LEVELS, "red_flags_any": v.RED_FLAG_CODES,
    "red_flags_none": v.RED_FLAG_CODES, "likely_any": v.CONDITION_CODES,
    "high_any": v.CONDITION_CODES, "unlikely_all": v.CONDITION_CODES,
    "condition": v.CONDITION_CODES, "urgency": v.URGENCIES, "status": v.INVESTIGATION_STATUSES,
    "choice": v.TREATMENT_CHOICES, "instrument": v.REVIEW_INSTRUMENTS,
    "pain_site": v.PAIN_SITES, "mjoa_band": v.MJOA_BANDS, "lbp_source": v.LBP_SOURCES,
    "tolerance": v.TOLERANCES, "citations": (), "basis": v.BASES,
}

#: Per knowledge file: the keys holding codes (a code or a list of codes) and their lists. An
#: empty list means "citation ids", checked against the citations folder elsewhere.
KEYS_BY_FILE: dict[str, dict[str, tuple[str, ...]]] = {
    "red_flags.toml": {"flag": v.RED_FLAG_CODES, "triage": v.TRIAGE_LEVELS, "basis": v.BASES},
    "triage.toml": {"level": v.TRIAGE_LEVELS, "basis": v.BASES},
    "lbp_source.toml": {"source": v.LBP_SOURCES, "basis": v.BASES},
    "conditions.toml": {"excluded_by": v.CONDITION_CODES, "basis": v.BASES},
    "prediction_rules.toml": {"basis": v.BASES},
    "treatments.toml": {"conditions": v.CONDITION_CODES, "evidence_grade": v.EVIDENCE_GRADES,
                        "recommendation": v.RECOMMENDATIONS, "verification": v.VERIFICATIONS},
    "exercises.toml": {"suits": v.CONDITION_CODES, "category": v.EXERCISE_CATEGORIES},
    "plan_rules.toml": _PLAN_KEYS,
}
_INSTRUMENT_KEYS = {"basis": v.BASES, "band_basis": v.BASES, "max_missing_basis": v.BASES,
                    "min_answered_basis": v.BASES, "verification": v.VERIFICATIONS,
                    "status": v.PUBLICATION_STATUSES, "enable_behavior": v.ENABLE_BEHAVIORS}


def _knowledge_dir() -> Path:
    with as_file(files("spinecare.knowledge")) as path:
        return Path(path)


def _coded_values(node: Any, keys: dict[str, tuple[str, ...]],
                  where: str = "") -> Iterator[tuple[str, str, tuple[str, ...]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}" if where else key
            allowed = keys.get(key)
            if allowed and isinstance(value, str):
                yield here, value, allowed
            elif allowed and isinstance(value, list) and all(isinstance(x, str) for x in value):
                yield from ((here, x, allowed) for x in value)
            else:
                yield from _coded_values(value, keys, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _coded_values(value, keys, f"{where}[{i}]")


def _stray_codes(path: Path, keys: dict[str, tuple[str, ...]]) -> list[str]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [f"{path.name}: {where}: {code!r}" for where, code, allowed in _coded_values(data, keys)
            if code not in allowed]


@pytest.mark.parametrize("name", list(KEYS_BY_FILE))
def test_the_knowledge_files_use_only_vocabulary_codes(name: str) -> None:
    assert _stray_codes(_knowledge_dir() / name, KEYS_BY_FILE[name]) == []


def test_the_instrument_files_and_citations_use_only_vocabulary_codes() -> None:
    folder = _knowledge_dir()
    stray = [s for p in sorted((folder / "instruments").glob("*.toml"))
             for s in _stray_codes(p, _INSTRUMENT_KEYS)]
    stray += [s for p in sorted((folder / "citations").glob("*.toml"))
              for s in _stray_codes(p, {"verification": v.VERIFICATIONS})]
    assert stray == []


def test_the_coded_keys_are_found_so_the_check_above_is_not_idle() -> None:
    # A renamed key would make the scan find nothing and pass; each file must yield codes.
    for name, keys in KEYS_BY_FILE.items():
        data = tomllib.loads((_knowledge_dir() / name).read_text(encoding="utf-8"))
        assert list(_coded_values(data, keys)), name


def test_a_stray_code_is_reported_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "red_flags.toml"
    bad.write_text('[[rule]]\nid = "rf.x"\nflag = "gout"\ntriage = "urgent"\n')
    assert _stray_codes(bad, KEYS_BY_FILE["red_flags.toml"]) == [
        "red_flags.toml: rule[0].flag: 'gout'"]


def test_every_condition_of_the_knowledge_is_a_condition_code() -> None:
    data = tomllib.loads((_knowledge_dir() / "conditions.toml").read_text(encoding="utf-8"))
    assert sorted(data["condition"]) == sorted(v.CONDITION_CODES)


def test_the_mjoa_bands_are_the_mjoa_file_s_band_codes() -> None:
    data = tomllib.loads((_knowledge_dir() / "instruments" / "mjoa.toml").read_text())
    assert {b["code"] for b in data["band"]} == set(v.MJOA_BANDS)


def test_the_registered_instruments_are_the_vocabulary_s_instrument_ids() -> None:
    from spinecare.instruments.registry import instruments

    assert sorted(instruments()) == sorted(v.INSTRUMENT_IDS)
