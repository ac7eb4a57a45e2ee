"""Which condition the differential names first when a picture points to a specific cause, or
to a cause the differential cannot estimate (knowledge 2026.12.3). Each rule is checked on a
small case written from its source, and on the same case without the finding that calls for it.
"""

from __future__ import annotations

from typing import Any

from spinecare.case import parse_case
from spinecare.reasoning.engine import assess

LIKELY = ("moderate", "high")


def run(age: int = 50, sex: str | None = None, **sections: Any) -> dict[str, Any]:
    patient: dict[str, Any] = {"age": age, **({"sex": sex} if sex else {})}
    doc: dict[str, Any] = {"schema": "spinecare.case/1", "id": "t", "patient": patient,
                           **sections}
    return assess(parse_case(doc))


def entry(a: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in a["conditions"] if c["code"] == code)


def first(a: dict[str, Any]) -> str | None:
    top = a["conditions"][0]
    return str(top["code"]) if top["likelihood"] in LIKELY else None


def order(a: dict[str, Any], *codes: str) -> list[int]:
    listed = [c["code"] for c in a["conditions"]]
    return [listed.index(code) for code in codes]


# --- the cause before the compression it causes (Darouiche 2006; NICE NG234) ---------------

ABSCESS = {"history": {"duration_weeks": 1, "course": "rapidly_worsening", "fever": True,
                       "immunosuppression": True},
           "symptoms": {"low_back_pain": True, "saddle_anesthesia": True}}


def test_an_abscess_picture_names_the_infection_before_the_cauda_equina_syndrome() -> None:
    a = run(age=54, **ABSCESS)
    assert first(a) == "spinal_infection"
    assert entry(a, "cauda_equina_syndrome")["likelihood"] == "moderate"
    infection, ces = order(a, "spinal_infection", "cauda_equina_syndrome")
    assert infection < ces < 3
    assert a["triage"]["level"] == "emergency"


def test_without_fever_the_saddle_numbness_is_the_cauda_equina_syndrome_first() -> None:
    a = run(age=54, history={**ABSCESS["history"], "fever": False,
                             "immunosuppression": False},
            symptoms=ABSCESS["symptoms"])
    assert first(a) == "cauda_equina_syndrome"


def test_in_cancer_the_cauda_equina_symptoms_name_the_malignancy_first() -> None:
    a = run(age=64, history={"cancer_history": True}, symptoms={"low_back_pain": True,
                                                                 "saddle_anesthesia": True})
    assert first(a) == "spinal_malignancy"
    assert {"malignancy", "cauda_equina_syndrome"} <= {f["code"] for f in a["red_flags"]}
    assert a["triage"]["level"] == "emergency"


# --- suspected cauda equina syndrome in known stenosis (GIRFT 2023) -------------------------

STENOSIS = {"history": {"duration_weeks": 104, "onset": "gradual", "course": "worsening"},
            "symptoms": {"low_back_pain": True, "leg_pain": "both", "claudication": True,
                         "relief_sitting": True}}


def test_new_retention_in_known_stenosis_names_the_cauda_equina_syndrome_first() -> None:
    a = run(age=78, history=STENOSIS["history"],
            symptoms={**STENOSIS["symptoms"], "bladder": "new_retention"})
    assert first(a) == "cauda_equina_syndrome"
    lss = entry(a, "lumbar_spinal_stenosis")
    assert lss["likelihood"] == "moderate"
    assert "lss.cap.cauda_equina_flag" in lss["rules"]


def test_the_same_stenosis_without_the_sacral_symptom_is_stenosis_first_and_high() -> None:
    a = run(age=78, history=STENOSIS["history"],
            symptoms={**STENOSIS["symptoms"], "bladder": "normal"})
    assert first(a) == "lumbar_spinal_stenosis"
    assert entry(a, "lumbar_spinal_stenosis")["likelihood"] == "high"


# --- a possible aortic aneurysm (NICE NG156) ------------------------------------------------

SUDDEN = {"history": {"duration_weeks": 0, "onset": "sudden", "course": "rapidly_worsening",
                      "smoker": True},
          "symptoms": {"low_back_pain": True}}
MUSCULOSKELETAL = ("vertebral_fracture", "lumbar_spinal_stenosis", "lumbar_radiculopathy",
                   "nonspecific_low_back_pain")


def test_sudden_back_pain_with_aneurysm_risk_leaves_no_spinal_label_likely() -> None:
    a = run(age=76, sex="male", **SUDDEN)
    assert "consider.aortic_aneurysm" in {x["id"] for x in a["consider"]}
    for code in MUSCULOSKELETAL:
        assert entry(a, code)["likelihood"] == "low", code
    assert "nslbp.cap.aneurysm_possible" in entry(a, "nonspecific_low_back_pain")["rules"]
    # the fracture flag (fragile bones, sudden pain) is still raised, and the level is kept
    assert "fracture" in {f["code"] for f in a["red_flags"]}
    assert a["triage"]["level"] == "emergency"


def test_the_same_pain_without_aneurysm_risk_keeps_the_spinal_labels() -> None:
    a = run(age=76, sex="female", history={**SUDDEN["history"], "smoker": False},
            symptoms=SUDDEN["symptoms"])
    assert "consider.aortic_aneurysm" not in {x["id"] for x in a["consider"]}
    assert entry(a, "vertebral_fracture")["likelihood"] == "moderate"
    assert "frac.cap.aneurysm_possible" not in entry(a, "vertebral_fracture")["rules"]


def test_a_fracture_seen_on_imaging_is_not_held_back_by_a_possible_aneurysm() -> None:
    a = run(age=76, sex="male", **SUDDEN,
            imaging=[{"modality": "xray", "region": "lumbar", "fracture": True}])
    assert entry(a, "vertebral_fracture")["likelihood"] == "high"
    assert first(a) == "vertebral_fracture"


def test_no_leg_pain_argues_against_vascular_claudication() -> None:
    history = {"peripheral_arterial_disease": True, "smoker": True}
    without = run(age=70, history=history, symptoms={"leg_pain": "none"})
    unknown = run(age=70, history=history)
    assert "vasc.no_leg_pain" in entry(without, "vascular_claudication")["rules"]
    assert "vasc.no_leg_pain" not in entry(unknown, "vascular_claudication")["rules"]
    assert (entry(without, "vascular_claudication")["probability"]
            < entry(unknown, "vascular_claudication")["probability"])


# --- limb ischaemia names the arterial cause (NHS Highland; GVG 2019) -----------------------

def test_acute_limb_ischaemia_names_vascular_disease_first() -> None:
    leg = {"leg_pain": "right", "leg_paresthesia": "right", "low_back_pain": False}
    history = {"duration_weeks": 0, "onset": "sudden", "course": "worsening"}
    a = run(age=69, history=history, symptoms=leg, exam={"pedal_pulses": "absent"})
    assert first(a) == "vascular_claudication"
    assert "vasc.floor.limb_threat" in entry(a, "vascular_claudication")["rules"]
    assert a["triage"]["level"] == "emergency"
    b = run(age=69, history=history, symptoms=leg, exam={"pedal_pulses": "present"})
    assert "vasc.floor.limb_threat" not in entry(b, "vascular_claudication")["rules"]


def test_critical_ischaemia_keeps_vascular_disease_likely_beside_a_neurogenic_story() -> None:
    # Postural relief and tolerated cycling argue for neurogenic claudication; an ABI below 0.40
    # is limb-threatening whatever else the legs do.
    symptoms = {"leg_pain": "left", "relief_sitting": True, "cycling_tolerated": True}
    a = run(age=72, symptoms=symptoms, exam={"ankle_brachial_index": 0.35})
    assert entry(a, "vascular_claudication")["likelihood"] in LIKELY
    assert "vasc.floor.limb_threat" in entry(a, "vascular_claudication")["rules"]
    b = run(age=72, symptoms=symptoms, exam={"ankle_brachial_index": 0.6})
    assert entry(b, "vascular_claudication")["likelihood"] == "low"


# --- a myelopathy picture in the young (clinical reference 5.2) ------------------------------

SPASTIC = {"history": {"duration_weeks": 2, "onset": "gradual", "course": "worsening"},
           "symptoms": {"leg_heaviness": True, "leg_paresthesia": "both", "gait_imbalance": True},
           "exam": {"gait": "spastic", "ankle_clonus": True, "lower_limb_hyperreflexia": True}}


def test_a_young_myelopathy_without_imaging_is_not_named_degenerative() -> None:
    a = run(age=26, **SPASTIC)
    dcm = entry(a, "degenerative_cervical_myelopathy")
    assert dcm["likelihood"] == "low"
    assert "dcm.cap.young_without_compression" in dcm["rules"]
    assert "myelopathy" in {f["code"] for f in a["red_flags"]}
    assert a["triage"]["level"] == "urgent"
    assert "consider.non_degenerative_myelopathy" in {x["id"] for x in a["consider"]}


def test_the_same_picture_at_sixty_or_with_cord_compression_stays_degenerative() -> None:
    assert entry(run(age=60, **SPASTIC), "degenerative_cervical_myelopathy")["likelihood"] == "high"
    scanned = run(age=26, **SPASTIC, imaging=[{"modality": "mri", "region": "cervical",
                                              "cord_compression": True}])
    dcm = entry(scanned, "degenerative_cervical_myelopathy")
    assert dcm["likelihood"] == "high"
    assert "dcm.cap.young_without_compression" not in dcm["rules"]


# --- diabetic distal symmetric neuropathy (Pop-Busui 2017) ----------------------------------

NEUROPATHY = {"history": {"duration_weeks": 150, "onset": "gradual", "course": "worsening",
                          "diabetes": True},
              "symptoms": {"leg_pain": "both", "leg_pain_below_knee": True,
                           "leg_paresthesia": "both", "claudication": False,
                           "relief_sitting": False, "worse_standing": False},
              "exam": {"achilles_reflex": "absent", "romberg": True,
                       "gait": "broad_based_unsteady", "pedal_pulses": "present"}}


def test_sensory_ataxia_in_diabetic_neuropathy_is_not_credited_to_stenosis() -> None:
    a = run(age=71, **NEUROPATHY)
    rules = entry(a, "lumbar_spinal_stenosis")["rules"]
    assert "lss.wide_gait" not in rules and "lss.romberg" not in rules
    assert first(a) == "peripheral_neuropathy"


def test_without_diabetes_the_wide_based_gait_still_counts_for_stenosis() -> None:
    a = run(age=71, history={**NEUROPATHY["history"], "diabetes": False},
            symptoms=NEUROPATHY["symptoms"], exam=NEUROPATHY["exam"])
    assert "lss.wide_gait" in entry(a, "lumbar_spinal_stenosis")["rules"]
    # unknown diabetes is not false: the ratio applies as before
    b = run(age=71, history={"duration_weeks": 150}, symptoms=NEUROPATHY["symptoms"],
            exam=NEUROPATHY["exam"])
    assert "lss.wide_gait" in entry(b, "lumbar_spinal_stenosis")["rules"]


def test_back_pain_beside_diabetic_neuropathy_names_the_neuropathy_first() -> None:
    symptoms = {"low_back_pain": True, "leg_pain": "none", "leg_paresthesia": "both",
                "claudication": False}
    history = {"duration_weeks": 80, "diabetes": True}
    a = run(age=58, history=history, symptoms=symptoms, exam={"achilles_reflex": "absent"})
    assert first(a) == "peripheral_neuropathy"
    assert entry(a, "nonspecific_low_back_pain")["likelihood"] == "moderate"
    b = run(age=58, history=history, symptoms=symptoms, exam={"achilles_reflex": "normal"})
    assert first(b) == "nonspecific_low_back_pain"


# --- hip osteoarthritis beside back pain (Altman 1991; NICE NG226) ---------------------------

def test_back_pain_with_a_painful_hip_names_hip_osteoarthritis_before_it() -> None:
    symptoms = {"low_back_pain": True, "leg_pain": "left", "leg_pain_below_knee": False}
    a = run(age=66, history={"duration_weeks": 30}, symptoms=symptoms,
            exam={"hip_rotation_pain": True})
    nslbp, hip = order(a, "nonspecific_low_back_pain", "hip_osteoarthritis")
    assert hip < nslbp
    assert "nslbp.cap.hip_picture" in entry(a, "nonspecific_low_back_pain")["rules"]
    b = run(age=66, history={"duration_weeks": 30}, symptoms=symptoms,
            exam={"hip_rotation_pain": False})
    assert first(b) == "nonspecific_low_back_pain"


def test_sciatica_in_both_legs_alone_does_not_hold_back_stenosis_or_radiculopathy() -> None:
    # The cauda equina flag is raised by new sciatica in both legs, but that is also the
    # stenosis picture: only a sacral symptom makes the degenerative labels provisional.
    a = run(age=45, history={"onset": "sudden", "duration_weeks": 1},
            symptoms={"low_back_pain": True, "leg_pain": "both", "bladder": "normal",
                      "saddle_anesthesia": False})
    assert "cauda_equina_syndrome" in {f["code"] for f in a["red_flags"]}
    for code, cap in (("lumbar_spinal_stenosis", "lss.cap.cauda_equina_flag"),
                      ("lumbar_radiculopathy", "lr.cap.cauda_equina_flag")):
        assert cap not in entry(a, code)["rules"]


# --- axial spondyloarthritis not yet excluded (NICE NG59, NG65) ------------------------------

def test_long_back_pain_from_before_45_keeps_the_non_specific_label_provisional() -> None:
    young = run(age=29, history={"duration_weeks": 30}, symptoms={"low_back_pain": True})
    nslbp = entry(young, "nonspecific_low_back_pain")
    assert nslbp["likelihood"] == "moderate"
    assert "nslbp.cap.axspa_possible" in nslbp["rules"]
    assert "consider.axial_spondyloarthritis" in {x["id"] for x in young["consider"]}
    older = run(age=52, history={"duration_weeks": 30}, symptoms={"low_back_pain": True})
    assert entry(older, "nonspecific_low_back_pain")["likelihood"] == "high"
    recent = run(age=29, history={"duration_weeks": 4}, symptoms={"low_back_pain": True})
    assert entry(recent, "nonspecific_low_back_pain")["likelihood"] == "high"


def test_relief_on_sitting_does_not_point_to_the_spine_when_the_hip_is_painful() -> None:
    # Weight-bearing hip pain eases on sitting as well (Altman's criteria work).
    symptoms = {"low_back_pain": False, "leg_pain": "left", "leg_pain_below_knee": False,
                "relief_sitting": True}
    a = run(age=61, symptoms=symptoms, exam={"hip_rotation_pain": True})
    assert "lss.no_pain_seated" not in entry(a, "lumbar_spinal_stenosis")["rules"]
    assert first(a) == "hip_osteoarthritis"
    b = run(age=61, symptoms=symptoms, exam={"hip_rotation_pain": False})
    assert "lss.no_pain_seated" in entry(b, "lumbar_spinal_stenosis")["rules"]
    assert first(b) == "lumbar_spinal_stenosis"
    # a neurogenic picture beyond sitting relief still leads, with the painful hip beside it
    both = run(age=79, symptoms={"low_back_pain": True, "leg_pain": "both",
                                 "leg_pain_exceeds_back_pain": True, "claudication": True,
                                 "relief_sitting": True},
               exam={"hip_rotation_pain": True})
    assert first(both) == "lumbar_spinal_stenosis"


# --- acute limb ischaemia (red-flags reference 7.1) -------------------------------------------

ISCHAEMIA = {"history": {"duration_weeks": 0, "onset": "sudden", "course": "rapidly_worsening",
                         "smoker": True, "peripheral_arterial_disease": True},
             "symptoms": {"low_back_pain": False, "leg_pain": "right",
                          "leg_pain_below_knee": True, "leg_paresthesia": "right",
                          "leg_weakness": "right"},
             "exam": {"pedal_pulses": "absent",
                      "motor_deficits": [{"limb": "leg", "side": "right", "myotome": "L5",
                                          "mrc_grade": 2}]}}


def test_sudden_leg_symptoms_with_absent_pulses_name_the_arterial_cause_first() -> None:
    a = run(age=74, sex="male", **ISCHAEMIA)
    assert a["triage"]["level"] == "emergency"
    assert first(a) == "vascular_claudication"
    sciatica = entry(a, "lumbar_radiculopathy")
    assert sciatica["likelihood"] == "moderate" and "lr.cap.limb_ischaemia" in sciatica["rules"]


def test_the_same_leg_with_its_pulses_felt_is_sciatica_first() -> None:
    a = run(age=74, sex="male", history=ISCHAEMIA["history"], symptoms=ISCHAEMIA["symptoms"],
            exam={**ISCHAEMIA["exam"], "pedal_pulses": "present"})
    assert first(a) == "lumbar_radiculopathy"
    assert entry(a, "lumbar_radiculopathy")["likelihood"] == "high"
    assert "lr.cap.limb_ischaemia" not in entry(a, "lumbar_radiculopathy")["rules"]
