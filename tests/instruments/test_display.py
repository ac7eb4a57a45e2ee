"""Display code reads instrument names and scales from the registry: the links between the two."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinecare.errors import KnowledgeError
from spinecare.instruments.change import measures
from spinecare.instruments.display import measure_range, report_name, score_range, score_suffix
from spinecare.instruments.registry import Instrument
from spinecare.instruments.scoring import score_answers
from tests.instruments.conftest import REGISTRY, instrument_answers


@pytest.mark.parametrize("key", [m.key for m in measures()])
def test_every_tracked_measure_has_its_scale_in_the_registry(key: str) -> None:
    low, high = measure_range(key) or (None, None)
    assert low is not None and high is not None and low < high


@pytest.mark.parametrize("inst_id", [i for i in REGISTRY if REGISTRY[i].change.tracked])
@settings(max_examples=25, deadline=None, derandomize=True)
@given(data=st.data())
def test_a_score_stays_inside_the_range_the_display_draws(inst_id: str,
                                                           data: st.DataObject) -> None:
    inst = REGISTRY[inst_id]
    score = score_answers(inst_id, data.draw(instrument_answers(inst)))
    for m in (m for m in measures() if m.instrument == inst_id):
        value = score
        for part in m.path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            low, high = score_range(inst, m.key.partition(".")[2] or None)
            assert low <= value <= high, m.key


def test_the_suffix_follows_the_scoring_rule() -> None:
    assert [score_suffix(REGISTRY[i]) for i in ("odi", "ndi", "mjoa", "pain_nrs")] == \
        ["%", "%", "/18", "/10"]


def test_a_changed_scale_in_the_knowledge_reaches_the_display() -> None:
    mjoa = REGISTRY["mjoa"]
    assert mjoa.scoring.domains is not None
    domains = {**mjoa.scoring.domains, "micturition": 4}
    wider = mjoa.model_copy(update={"scoring": mjoa.scoring.model_copy(
        update={"domains": domains})})
    assert isinstance(wider, Instrument)
    assert score_suffix(wider) == "/19"
    assert score_range(wider, "micturition") == (0, 4)


def test_the_report_name_falls_back_to_the_short_name() -> None:
    assert report_name(REGISTRY["odi"]) == "ODI"
    assert report_name(REGISTRY["pain_nrs"]) == "Pain"


def test_a_part_the_instrument_does_not_have_has_no_range() -> None:
    with pytest.raises(KnowledgeError, match=r"zcq\.walking"):
        score_range(REGISTRY["zcq"], "walking")
    with pytest.raises(KnowledgeError, match="konno_sshq"):
        score_range(REGISTRY["konno_sshq"])
    assert measure_range("no_such_instrument.value") is None
