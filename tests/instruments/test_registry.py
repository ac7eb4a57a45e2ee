"""Contract tests over every registered instrument, and the strictness of the loader.

Each check runs over the whole registry, so a new instrument cannot skip it.
"""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

import pytest

from spinecare.errors import KnowledgeError
from spinecare.instruments.registry import NOT_INSTRUMENTS, instrument, load_instruments
from spinecare.reasoning.knowledge import EXPERT, default_knowledge
from tests.conftest import broken_copy
from tests.instruments.conftest import INSTRUMENT_IDS, REGISTRY

CITATIONS = default_knowledge().citations


def _folder() -> Path:
    with as_file(files("spinecare.knowledge").joinpath("instruments")) as path:
        return Path(path)


def _all_cited(inst_id: str) -> list[tuple[str, list[str], str | None]]:
    """(what, citation ids, basis) for every cited value of an instrument."""
    i = REGISTRY[inst_id]
    has_mcid = i.change.mcid_absolute is not None or i.change.mcid_percent is not None
    out = [("instrument", i.cite, None), ("bands", i.band_cite, i.band_basis),
           ("change", i.change.cite, i.change.basis if has_mcid else None)]
    out += [(f"change.{k}", mc.cite, mc.basis) for k, mc in i.change.subscales.items()]
    out += [(f"subscale {k} bands", sub.band_cite, sub.band_basis)
            for k, sub in (i.scoring.subscales or {}).items()]
    return out


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
def test_every_cited_id_resolves_in_the_citations_folder(inst_id: str) -> None:
    for what, cite, _ in _all_cited(inst_id):
        for cid in cite:
            assert cid == EXPERT or cid in CITATIONS, (inst_id, what, cid)


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
def test_no_value_claims_more_support_than_its_sources_give(inst_id: str) -> None:
    # A value citing an unverified source must not be marked "published".
    for what, cite, basis in _all_cited(inst_id):
        tags = {CITATIONS[c].verification for c in cite if c != EXPERT}
        if "U" in tags and basis is not None:
            assert basis != "published", (inst_id, what)
        if basis is not None and basis != "expert_judgement" and what != "instrument":
            assert cite, f"{inst_id}: {what} has a {basis} basis but cites nothing"


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
def test_every_instrument_states_licence_wording_and_instructions(inst_id: str) -> None:
    i = REGISTRY[inst_id]
    assert i.licence and i.instructions
    if i.wording == "withheld":
        assert "licen" in i.licence.lower()


@pytest.mark.parametrize("inst_id", INSTRUMENT_IDS)
def test_every_standard_code_carries_its_verification_tag(inst_id: str) -> None:
    i = REGISTRY[inst_id]
    codings = [c for c in (i.code, i.score_code, *(x.code for x in i.item)) if c is not None]
    for c in codings:
        assert c.system == "http://loinc.org"
        assert c.verification in ("V", "P", "U")
        if c.verification == "U":
            assert any(c.code in u for u in i.unverified()), c.code


def test_loinc_codes_have_valid_check_digits() -> None:
    # LOINC's mod-10 check digit catches a mistyped code even where the code is unverified.
    def check_digit(number: str) -> int:
        digits = [int(d) for d in reversed(number)]
        total = 0
        for n, d in enumerate(digits):
            if n % 2 == 0:
                d *= 2
                d = d - 9 if d > 9 else d
            total += d
        return (10 - total % 10) % 10

    for i in REGISTRY.values():
        for c in (i.code, i.score_code, *(x.code for x in i.item)):
            if c is not None:
                number, digit = c.code.split("-")
                assert check_digit(number) == int(digit), (i.id, c.code)


def test_every_toml_file_in_the_folder_is_loaded_by_a_loader() -> None:
    names = {p.name for p in _folder().glob("*.toml")}
    assert names == {f"{i}.toml" for i in REGISTRY} | NOT_INSTRUMENTS


def test_the_issue_s_instruments_are_all_registered() -> None:
    assert {"odi", "ndi", "mjoa", "zcq", "pain_nrs", "cook_lss_cpr", "cook_myelopathy_cpr",
            "konno_sshq"} <= set(REGISTRY)
    assert set(REGISTRY["zcq"].scoring.subscales or {}) == {
        "symptom_severity", "physical_function", "satisfaction"}


def test_an_unknown_instrument_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(KnowledgeError, match="odi"):
        instrument("oswestry")


def test_unverified_values_are_listed_where_the_data_flags_them() -> None:
    assert "scoring rule (unverified)" in REGISTRY["konno_sshq"].unverified()
    assert "MCID (unverified)" in REGISTRY["ndi"].unverified()
    assert REGISTRY["konno_sshq"].status == "draft"


# --- the loader refuses broken data, naming the file and the item ----------------------------


def _broken(tmp_path: Path, file: str, old: str, new: str) -> Path:
    return broken_copy(_folder(), tmp_path / "instruments", file, old, new)


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("odi.toml", 'short_name = "ODI"', 'short_name = "ODI"\nshortname = "x"', "shortname"),
    ("odi.toml", 'wording = "withheld"', 'wording = "secret"', "wording"),
    ("odi.toml", 'scale = "statement"', 'scale = "statements"', "unknown scale"),
    ("odi.toml", "items = 10", "items = 11", "percent_of_answered"),
    ("odi.toml", "link_id = \"lifting\"", "link_id = \"walking\"", "link ids must be unique"),
    ("ndi.toml", "{ value = 5, code = \"5\"", "{ value = 6, code = \"5\"", "item_min"),
    ("zcq.toml", 'enabled_by = "after_treatment"', 'enabled_by = "treated"', "not a gate"),
    ("zcq.toml", "min_answered = 6", "min_answered = 8", "symptom_severity"),
    ("mjoa.toml", "micturition = 3 }", "micturition = 4 }", "micturition"),
    ("cook_lss_cpr.toml", "rule_out_at_most = 0", "rule_out_at_most = 4", "rule_out_at_most"),
    ("cook_lss_cpr.toml", 'from_case = "symptoms.relief_sitting"',
     'from_case = "symptoms.relief_siting"', "relief_siting"),
    ("konno_sshq.toml", "{ core = 4 }", "{ core = 5 }", "criterion"),
    ("pain_nrs.toml", "improved_by = \"percent\"\n", "improved_by = \"percent\"\n"
     "mcid_percent_typo = 1\n", "mcid_percent_typo"),
])
def test_the_loader_rejects_broken_data_naming_the_file(tmp_path: Path, file: str, old: str,
                                                        new: str, message: str) -> None:
    from importlib.resources.abc import Traversable

    folder: Traversable = _broken(tmp_path, file, old, new)  # type: ignore[assignment]
    with pytest.raises(KnowledgeError) as caught:
        load_instruments(folder)
    assert file in str(caught.value)
    assert message in str(caught.value)


def test_the_packaged_data_loads_cleanly_from_a_copy(tmp_path: Path) -> None:
    # The harness above must be able to pass: an unmodified copy loads.
    from importlib.resources.abc import Traversable

    target = tmp_path / "instruments"
    shutil.copytree(_folder(), target)
    folder: Traversable = target  # type: ignore[assignment]
    assert set(load_instruments(folder)) == set(REGISTRY)
