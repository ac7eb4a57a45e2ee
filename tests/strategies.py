"""Hypothesis strategies: schema-valid cases generated from the case JSON Schema itself.

The generator reads the subset of JSON Schema the case schema uses (objects with closed
properties, enums, typed unions with null, numeric bounds, string lengths and patterns, arrays
with bounds), so a change to the schema changes what is generated.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import regress
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

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


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    # JSON Schema patterns are ECMA-262 regular expressions: there "$" does not match before a
    # trailing newline, while Python's re (jsonschema's default) does and accepts "L5\n".
    if validator.is_type(instance, "string") and regress.Regex(pattern).find(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
"""Draft 2020-12 with ECMA-262 semantics for ``pattern``, as the case schema means it."""

CASE_VALIDATOR = EcmaValidator(CASE_SCHEMA)

valid_case_documents: st.SearchStrategy[dict[str, Any]] = from_schema(CASE_SCHEMA)
