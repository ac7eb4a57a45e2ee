"""The instrument registry: one versioned TOML file per instrument in ``knowledge/instruments``."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spinecare.errors import KnowledgeError
from spinecare.reasoning.knowledge import Basis


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Band(_Strict):
    upto: float
    code: str
    label: str


class Subscale(_Strict):
    items: int
    item_min: int
    item_max: int
    min_answered: int


class Scoring(_Strict):
    kind: Literal["percent_of_answered", "sum_of_domains", "subscale_means", "ratings"]
    items: int | None = None
    item_min: int | None = None
    item_max: int | None = None
    decimals: int = 1
    max_missing: int | None = None
    max_missing_basis: Basis | None = None
    band_on: Literal["value", "raw_equivalent"] = "value"
    raw_equivalent_divisor: float | None = None
    domains: dict[str, int] | None = None
    subscales: dict[str, Subscale] | None = None
    ratings: list[str] | None = None


class Change(_Strict):
    higher_is_worse: bool
    mcid_absolute: float | None = None
    mcid_percent: float | None = None
    cite: list[str] = []
    basis: Basis = "published"


class Instrument(_Strict):
    id: str
    name: str
    version: str
    cite: Annotated[list[str], Field(min_length=1)]
    licence: str
    band_cite: list[str] = []
    band_basis: Basis | None = None
    scoring: Scoring
    band: list[Band] = []
    change: Change

    def band_for(self, value: float) -> Band | None:
        """The first band whose inclusive upper bound holds ``value``."""
        for b in self.band:
            if value <= b.upto:
                return b
        return None


@lru_cache(maxsize=1)
def instruments() -> dict[str, Instrument]:
    """Every registered instrument by id, loaded once."""
    folder = files("spinecare.knowledge").joinpath("instruments")
    out: dict[str, Instrument] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        where = f"instruments/{entry.name}"
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            inst = Instrument.model_validate(data)
        except (tomllib.TOMLDecodeError, ValidationError) as exc:
            raise KnowledgeError(f"{where}: {exc}") from None
        if inst.id in out or f"{inst.id}.toml" != entry.name:
            raise KnowledgeError(f"{where}: id {inst.id!r} must be unique and match the file")
        uptos = [b.upto for b in inst.band]
        if uptos != sorted(uptos):
            raise KnowledgeError(f"{where}: bands must be in increasing order")
        out[inst.id] = inst
    return out
