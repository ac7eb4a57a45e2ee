"""Shared fixtures for the care-plan knowledge tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from spinecare.plan.knowledge import (
    EXPERT_JUDGEMENT,
    Citation,
    ExerciseLibrary,
    TreatmentBase,
    load_exercises,
    load_treatments,
    parse_citations,
)

#: Ids the core engineer defines in ``knowledge/citations/core.toml``. Care data may cite them
#: without defining them; ``care.toml`` must never define them.
CORE_IDS = frozenset(
    {
        "fairbank2000",
        "vernon1991",
        "vernon2008",
        "tetreault2017",
        "tetreault2015",
        "kato2015",
        "stucki1996",
        "farrar2001",
        "ostelo2008",
        "konno2007_dst",
        "konno2007_sshq",
        "sugioka2008",
        "cook2011",
        "cook2010",
        "fogarty2018",
        "katz1995",
        "suri2010",
        "nadeau2013",
        "downie2013",
        "henschke2013",
        "fehlings2017_aospine",
        "nass2011",
        "nice_ng59",
        "chou2011",
        "wilson2013",
        "todd_sbns_bass",
        "girft_ces2023",
        "kreiner2013",
        "deyo2001",
        "expert_judgement",
    }
)

CITATIONS_DIR = Path(str(files("spinecare.knowledge") / "citations"))
CARE_FILE = CITATIONS_DIR / "care.toml"

TableWriter = Callable[[str, Mapping[str, Any]], str]


@pytest.fixture(scope="session")
def treatments() -> TreatmentBase:
    return load_treatments()


@pytest.fixture(scope="session")
def exercises() -> ExerciseLibrary:
    return load_exercises()


@pytest.fixture(scope="session")
def care_citations() -> Mapping[str, Citation]:
    return parse_citations(CARE_FILE.read_text(encoding="utf-8"), source=CARE_FILE.name)


@pytest.fixture(scope="session")
def citations_dir() -> Path:
    return CITATIONS_DIR


@pytest.fixture(scope="session")
def core_ids() -> frozenset[str]:
    return CORE_IDS


@pytest.fixture(scope="session")
def known_ids(care_citations: Mapping[str, Citation]) -> frozenset[str]:
    """Ids a care item may cite while core.toml may still be missing."""
    return frozenset(care_citations) | CORE_IDS | {EXPERT_JUDGEMENT}


def toml_value(value: Any) -> str:
    """Just enough TOML for test snippets: strings, ints, lists and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def toml_table(header: str, fields: Mapping[str, Any]) -> str:
    lines = [f"[{header}]", *(f"{k} = {toml_value(v)}" for k, v in fields.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def table() -> TableWriter:
    """Write one ``[header]`` TOML table for a test snippet."""
    return toml_table


# ---------------------------------------------------------------------------------------------
# Care plans
# ---------------------------------------------------------------------------------------------

CASES_DIR = Path(__file__).parent.parent / "data" / "cases"
EXAMPLE_CASES = sorted(p.name.removesuffix(".case.json") for p in CASES_DIR.glob("*.case.json"))


def case_document(name: str, **changes: Mapping[str, Any]) -> dict[str, Any]:
    """An example case as a dict, with ``section={field: value}`` changes applied."""
    doc: dict[str, Any] = json.loads((CASES_DIR / f"{name}.case.json").read_text())
    for section, fields in changes.items():
        doc.setdefault(section, {}).update(fields)
    return doc


def plan_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The plan for a case document, made as the command line makes it."""
    import orjson

    from spinecare.case import parse_case
    from spinecare.plan.planner import make_plan
    from spinecare.reasoning.engine import default_engine

    case = parse_case(orjson.dumps(doc))
    plan: dict[str, Any] = make_plan(case, default_engine().assess(case))
    return plan


@pytest.fixture(scope="session")
def plan_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        files("spinecare.schemas").joinpath("plan.schema.json").read_text()
    )
    return schema


@pytest.fixture(scope="session")
def plan_validator(plan_schema: dict[str, Any]) -> Any:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(plan_schema)
    return jsonschema.Draft202012Validator(plan_schema)


@pytest.fixture(scope="session")
def example_plans() -> dict[str, dict[str, Any]]:
    return {name: plan_of(case_document(name)) for name in EXAMPLE_CASES}
