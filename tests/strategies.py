"""Hypothesis strategies: schema-valid cases generated from the case JSON Schema itself.

The generator reads the subset of JSON Schema the case schema uses (objects with closed
properties, enums, typed unions with null, numeric bounds, string lengths and patterns, arrays
with bounds), so a change to the schema changes what is generated.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from hypothesis import strategies as st

CASE_SCHEMA: dict[str, Any] = json.loads(
    files("spinecare.schemas").joinpath("case.schema.json").read_text())


def _of_type(schema: dict[str, Any], kind: str) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "number":
        lo, hi = schema.get("minimum", -1e6), schema.get("maximum", 1e6)
        return st.integers(int(lo), int(hi)) | st.floats(lo, hi, allow_nan=False)
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"].replace("$", r"\Z"), fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 20))
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(from_schema(schema["items"]), min_size=low,
                        max_size=schema.get("maxItems", low + 3))
    if kind == "object":
        return _object(schema)
    raise ValueError(kind)


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries(
        {k: from_schema(v) for k, v in props.items() if k in required},
        optional={k: from_schema(v) for k, v in props.items() if k not in required},
    )


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid under ``schema`` (the subset of JSON Schema used by the case schema)."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if kinds is None:
        return st.none()
    if isinstance(kinds, str):
        kinds = [kinds]
    return st.one_of([_of_type(schema, k) for k in kinds])


def _ecma_safe(doc: Any) -> bool:
    # JSON Schema patterns are ECMA-262, where "$" does not match before a trailing newline;
    # Python's re (used by the jsonschema validator) does, so it accepts "L5\n" wrongly.
    if isinstance(doc, dict):
        return all(_ecma_safe(v) for v in doc.values())
    if isinstance(doc, list):
        return all(_ecma_safe(v) for v in doc)
    return not (isinstance(doc, str) and doc.endswith("\n"))


valid_case_documents: st.SearchStrategy[dict[str, Any]] = from_schema(CASE_SCHEMA)
