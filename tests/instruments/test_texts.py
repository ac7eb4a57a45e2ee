"""A clinic's licensed wording: which instruments need it, how a text is checked against its
instrument, and the form a patient then answers; ``spinecare instruments load-text`` and
``texts`` on a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spinecare.cli import main
from spinecare.instruments.errors import AnswerError
from spinecare.instruments.registry import instrument, instruments
from spinecare.instruments.texts import (
    check_text,
    offered_to_patients,
    parse_text,
    patient_form,
    required_items,
)


def full_text(instrument_id: str) -> dict[str, Any]:
    """Made-up wording for every item and option (the real wording is under licence)."""
    inst = instrument(instrument_id)
    return {"instrument": inst.id, "version": inst.version, "language": "en",
            "licence": "Clinic licence ref. 1", "instructions": "Tick one box per section.",
            "gates": {g: f"Gate {g}?" for g in inst.gate},
            "item": [{"link_id": i.link_id, "text": f"Section {n}",
                      "options": [f"Statement {n}.{m}" for m in
                                  range(1, len(inst.scale_of(i).options) + 1)]}
                     for n, i in enumerate(inst.item, 1)]}


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(AnswerError) as caught:
        check_text(data)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("inst", list(instruments().values()), ids=lambda i: i.id)
def test_every_instrument_says_whose_wording_a_patient_reads(inst: Any) -> None:
    assert inst.patient_wording in ("shipped", "clinic_text")
    assert inst.licence.strip()
    if inst.wording == "withheld":
        # Withheld wording is never shown to a patient from the package.
        assert inst.patient_wording == "clinic_text"


def test_licensed_and_unverified_wordings_wait_for_the_clinic_and_free_ones_are_shipped() -> None:
    needs_text = {i.id for i in instruments().values() if i.patient_wording == "clinic_text"}
    assert needs_text == {"odi", "ndi", "zcq"}
    assert instrument("pain_nrs").patient_wording == "shipped"
    assert instrument("konno_sshq").patient_wording == "shipped"
    assert offered_to_patients(instrument("pain_nrs"), set())
    assert not offered_to_patients(instrument("odi"), set())
    assert offered_to_patients(instrument("odi"), {"odi"})
    assert not offered_to_patients(instrument("mjoa"), {"mjoa"})  # rated by a clinician


def test_withheld_wording_marked_as_shipped_is_refused_at_load() -> None:
    from spinecare.instruments.registry import Instrument

    data = instrument("odi").model_dump()
    data["patient_wording"] = "shipped"
    with pytest.raises(ValueError, match="withheld wording cannot be shipped"):
        Instrument.model_validate(data)


def test_a_complete_text_is_accepted_and_rewords_every_item_and_option() -> None:
    inst, text = check_text(full_text("odi"))
    form = patient_form(inst, text)
    questions = form.questions()
    assert questions["pain_intensity"].text == "Section 1"
    assert [o.display for o in questions["pain_intensity"].options][:2] == [
        "Statement 1.1", "Statement 1.2"]
    # The values scored are the registry's, whatever the words.
    assert [o.value for o in questions["pain_intensity"].options] == [0, 1, 2, 3, 4, 5]
    shown = " ".join(i.text for i, _ in form.walk())
    assert "record which statement" not in shown and "Tick one box" in shown
    assert form.copyright == "Clinic licence ref. 1"


def test_without_a_text_the_form_is_the_registrys() -> None:
    form = patient_form(instrument("odi"), None)
    assert "record which statement" in form.items[0].text


def test_a_missing_item_a_wrong_option_count_and_an_unknown_item_are_all_named() -> None:
    data = full_text("odi")
    del data["item"][9]  # travelling
    data["item"][0]["options"] = data["item"][0]["options"][:5]
    data["item"].append({"link_id": "golf", "text": "Golf", "options": []})
    found = problems_of(data)
    assert "item: no wording for item 'travelling' (Travelling)" in found
    assert ("item[0].options: item 'pain_intensity' has 6 answer options (from a list), "
            "not 5") in found
    assert any(p.startswith("item[9].link_id: ODI has no item 'golf'") for p in found)


def test_another_version_an_unknown_key_and_a_clinician_scale_are_refused() -> None:
    data = full_text("odi")
    data["version"] = "2.0"
    assert problems_of(data) == ["version: the registry scores ODI version 2.1a, not '2.0'"]
    data = {**full_text("odi"), "colour": "blue"}
    assert problems_of(data) == ["colour: Extra inputs are not permitted"]
    mjoa = instrument("mjoa")
    data = {"instrument": "mjoa", "version": mjoa.version, "language": "en",
            "licence": "x licence", "instructions": "x",
            "item": [{"link_id": i.link_id, "text": "x",
                      "options": ["x"] * len(mjoa.scale_of(i).options)} for i in mjoa.item]}
    assert problems_of(data) == ["instrument: mJOA is rated by a clinician and never shown to "
                                 "patients"]


def test_a_gate_needs_its_wording_and_numbers_take_no_options() -> None:
    data = full_text("zcq")
    data["gates"] = {}
    assert "gates: no wording for the question 'after_treatment'" in problems_of(data)
    data = full_text("pain_nrs")
    data["item"][0]["options"] = ["none", "some"]
    assert problems_of(data) == ["item[0].options: item 'back' is answered with a number: "
                                 "give no options"]


def test_text_files_are_read_as_toml_or_json() -> None:
    assert parse_text(b'instrument = "odi"\n', "odi.toml") == {"instrument": "odi"}
    assert parse_text(b'{"instrument": "odi"}', "odi.json") == {"instrument": "odi"}
    with pytest.raises(AnswerError, match="is not valid TOML"):
        parse_text(b"instrument = ", "odi.toml")


def test_items_a_patient_may_skip_come_from_the_instruments_own_instructions() -> None:
    assert required_items(instrument("pain_nrs")) == set()
    assert "driving" not in required_items(instrument("ndi"))
    assert "sex_life" not in required_items(instrument("odi"))
    assert {"pain_intensity", "travelling"} <= required_items(instrument("odi"))
    assert "after_treatment" in required_items(instrument("zcq"))


def test_load_text_stores_the_wording_and_texts_lists_it(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    url = f"sqlite:///{tmp_path / 'texts.db'}"
    good = tmp_path / "odi.json"
    good.write_text(json.dumps(full_text("odi")))
    assert main(["instruments", "load-text", "odi", str(good), "--database", url]) == 0
    out = capsys.readouterr()
    assert "loaded the en wording of odi version 2.1a" in out.out
    assert main(["instruments", "load-text", "odi", str(good), "--database", url]) == 0
    assert "replaced the en wording of odi" in capsys.readouterr().out
    assert main(["instruments", "texts", "--database", url]) == 0
    listed = capsys.readouterr()
    assert listed.out.startswith("odi\ten\tversion 2.1a\t")
    assert "clinician-entered only until their licensed wording is loaded: ndi, zcq" in listed.err


def test_load_text_reports_every_problem_by_path_and_stores_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'texts.db'}"
    data = full_text("ndi")
    del data["item"][0]
    data["item"][1]["options"] = []
    bad = tmp_path / "ndi.toml"
    bad.write_text(json.dumps(data))  # JSON text in a .toml file: read by its first brace
    assert main(["instruments", "load-text", "ndi", str(bad), "--database", url]) == 2
    err = capsys.readouterr().err.splitlines()
    assert f"{bad}: item: no wording for item 'pain_intensity' (Pain intensity)" in err
    assert any(line.startswith(f"{bad}: item[1].options: item 'lifting' has 6") for line in err)
    assert "Traceback" not in "\n".join(err)
    assert main(["instruments", "texts", "--database", url]) == 0
    assert capsys.readouterr().out == ""
    other = tmp_path / "odi.json"
    other.write_text(json.dumps(full_text("odi")))
    assert main(["instruments", "load-text", "ndi", str(other), "--database", url]) == 2
    assert "the file is for 'odi', not 'ndi'" in capsys.readouterr().err
