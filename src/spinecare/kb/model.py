"""The strict base model and the field types the knowledge families share."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WrapSerializer,
)

__all__ = [
    "STRICT",
    "CitationIds",
    "Id",
    "Ids",
    "ReadOnlyMap",
    "StrictModel",
    "Text",
    "Texts",
    "Version",
    "freeze",
    "unique",
]

_K = TypeVar("_K", bound=str)
_V = TypeVar("_V")
_T = TypeVar("_T")


#: Knowledge as loaded: unknown keys are errors, types are not coerced, values are frozen.
STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


class StrictModel(BaseModel):
    """The base of the knowledge models. A family whose models keep list defaults declares
    ``model_config = STRICT`` on its own ``BaseModel`` subclass instead, so that linters see a
    pydantic model (whose defaults are copied per instance)."""

    model_config = STRICT


def freeze(value: Any) -> Any:
    """TOML arrays arrive as lists; models that hold tuples need them as tuples."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return {k: freeze(v) for k, v in value.items()}
    return value


def unique(values: tuple[_T, ...]) -> tuple[_T, ...]:
    """``values`` unchanged, or a ValueError naming the entries given more than once."""
    seen: set[_T] = set()
    repeated: list[_T] = []
    for value in values:
        if value in seen:
            repeated.append(value)
        seen.add(value)
    if repeated:
        raise ValueError(f"repeated entries: {', '.join(map(str, repeated))}")
    return values


def _read_only(value: Mapping[_K, _V]) -> Mapping[_K, _V]:
    # Loaded knowledge is cached and shared; a caller must not be able to edit it in place.
    return MappingProxyType(dict(value))


def _as_dict(value: Mapping[str, Any], handler: SerializerFunctionWrapHandler) -> Any:
    return handler(dict(value))


ReadOnlyMap = Annotated[Mapping[_K, _V], AfterValidator(_read_only), WrapSerializer(_as_dict)]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(pattern=r"\S")]
Version = Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{1,2}\.\d+$")]
Ids = Annotated[tuple[Id, ...], AfterValidator(unique)]
CitationIds = Annotated[tuple[Id, ...], Field(min_length=1), AfterValidator(unique)]
Texts = Annotated[tuple[Text, ...], Field(min_length=1), AfterValidator(unique)]
