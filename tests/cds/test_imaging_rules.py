"""The imaging knowledge (knowledge/imaging.toml): strict loading, code hygiene, and the
verdicts of imaging.md section 6.3 on the example cases."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

import pytest

from spinecare.case import parse_case
from spinecare.cds.imaging import (
    CPT,
    LOINC,
    imaging_knowledge,
    loinc_check_digit_ok,
    order_of,
    parse_imaging,
    rate,
)
from spinecare.errors import KnowledgeError
from spinecare.reasoning.engine import default_engine
from tests.cds.chart import CASES


def _raw() -> dict[str, Any]:
    return tomllib.loads(files("spinecare.knowledge").joinpath("imaging.toml").read_text())


def _verdict(case_name: str, system: str, code: str) -> tuple[str, str, str] | None:
    case = parse_case((CASES / f"{case_name}.case.json").read_bytes())
    order = order_of([{"system": system, "code": code}])
    assert order is not None
    rated = rate(order, default_engine().assess(case),
                 case.model_dump(mode="json", exclude_none=True))
    return None if rated is None else (rated.variant_id, rated.rating, rated.indicator)


@pytest.mark.parametrize(("case", "system", "code", "expected"), [
    # imaging.md 6.3: lumbar, 2 weeks, no flags -> LBP V1, UNA, warning
    ("simple-back-pain", CPT, "72148", ("acr_lbp_2021_v1", "UNA", "warning")),
    ("simple-back-pain", CPT, "72100", ("acr_lbp_2021_v1", "UNA", "warning")),
    # unspecified contrast is rated as without (imaging.md 5.2)
    ("simple-back-pain", LOINC, "24968-0", ("acr_lbp_2021_v1", "UNA", "warning")),
    # CES: MRI fits; radiographs instead of the emergency MRI are critical
    ("ces-retention", CPT, "72148", ("acr_lbp_2021_v4", "UA", "info")),
    ("ces-retention", CPT, "72110", ("acr_lbp_2021_v4", "UNA", "critical")),
    # myelopathy: MRI fits; radiographs alone usually not appropriate (verified: warning)
    ("back-pain-from-the-neck", CPT, "72141", ("acr_myelopathy_2021_v2", "UA", "info")),
    ("back-pain-from-the-neck", CPT, "72040", ("acr_myelopathy_2021_v2", "UNA", "warning")),
    # cancer or infection: MRI fits (LBP V7)
    ("suspected-metastasis", CPT, "72158", ("acr_lbp_2021_v7", "UA", "info")),
    # a year of symptoms, no flags: LBP V2, never more than information
    ("lss-classic", CPT, "72148", ("acr_lbp_2021_v2", "UNA", "info")),
])
def test_verdicts_follow_the_imaging_reference(case: str, system: str, code: str,
                                               expected: tuple[str, str, str]) -> None:
    assert _verdict(case, system, code) == expected


def test_cervical_advice_stays_informational_until_the_licensed_table_is_loaded() -> None:
    verdict = _verdict("cervical-radiculopathy", CPT, "72141")
    assert verdict is not None and verdict[2] == "info"
    for vid, variant in imaging_knowledge().variant.items():
        if vid.startswith("acr_cervical"):
            assert variant.una == "info" and variant.tag == "P"


def test_a_partly_verified_variant_never_warns() -> None:
    for variant in imaging_knowledge().variant.values():
        if variant.tag != "V":
            assert variant.una in ("info", "critical")
            assert not variant.suggest_delete


def test_every_route_names_a_variant_and_every_variant_is_reachable() -> None:
    k = imaging_knowledge()
    assert {r.variant for r in k.route} == set(k.variant)


def test_every_loinc_code_passes_its_check_digit_and_known_wrong_ones_fail() -> None:
    for order in imaging_knowledge().order.values():
        assert all(loinc_check_digit_ok(code) for code in order.loinc)
    for wrong in ("30797-1", "30798-9", "72100-5"):  # imaging.md 0.5: circulate, fail
        assert not loinc_check_digit_ok(wrong)


def test_an_unknown_key_in_the_knowledge_is_an_error_naming_it() -> None:
    raw = _raw()
    raw["variant"]["acr_lbp_2021_v1"]["rating"] = "typo"
    with pytest.raises(KnowledgeError, match=r"variant\.acr_lbp_2021_v1\.rating"):
        parse_imaging(raw)


def test_a_route_to_an_unknown_variant_is_an_error() -> None:
    raw = _raw()
    raw["route"][0]["variant"] = "acr_nothing"
    with pytest.raises(KnowledgeError, match="unknown variants"):
        parse_imaging(raw)


def test_a_code_in_two_orders_is_an_error() -> None:
    raw = _raw()
    raw["order"]["lumbar_ct_with"]["cpt"] = ["72148"]
    with pytest.raises(KnowledgeError, match="72148"):
        parse_imaging(raw)


def test_an_uncited_variant_is_an_error() -> None:
    raw = _raw()
    raw["variant"]["acr_lbp_2021_v1"]["citations"] = ["nobody2099"]
    with pytest.raises(KnowledgeError, match="nobody2099"):
        parse_imaging(raw)


def test_free_text_orders_are_never_matched() -> None:
    assert order_of([{"display": "MRI lumbar spine without contrast"}]) is None
    assert order_of(None) is None
