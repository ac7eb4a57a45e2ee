"""The plan rules rewritten from structured selectors to criteria text make the same plans.

``tests/data/plan_digests_selector_format.json`` holds the SHA-256 of the plan JSON of every
example case and vignette, made by the selector-format rules (commit 5f89cdd). The text-format
rules must give byte-identical plans. (Transitional: the plan changes that follow this rewrite
replace this test.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from spinecare.case import parse_case
from spinecare.plan.planner import make_plan
from spinecare.reasoning.engine import default_engine

DATA = Path(__file__).parent.parent / "data"
DIGESTS: dict[str, str] = json.loads((DATA / "plan_digests_selector_format.json").read_text())


def _document(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / name).read_text())
    return doc["case"] if name.startswith("vignettes/") else doc


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_text_rules_give_the_plan_the_selector_rules_gave(name: str) -> None:
    case = parse_case(orjson.dumps(_document(name)))
    plan = make_plan(case, default_engine().assess(case))
    assert hashlib.sha256(orjson.dumps(plan)).hexdigest() == DIGESTS[name]
