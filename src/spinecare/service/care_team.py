"""A patient's care team: the clinicians who may see them."""

from __future__ import annotations

from spinecare.errors import Problem
from spinecare.service import patients
from spinecare.service.errors import Invalid
from spinecare.service.patients import PatientWithTeam
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database


def add(db: Database, who: Principal, patient_id: str, username: str) -> PatientWithTeam:
    """Add the active clinician ``username`` to the team of a patient the caller sees."""
    with db.session() as session:
        patient = patients.visible(session, who, patient_id, "care_team.add")
        patients.refuse_patient_writes(session, who, patient_id, "care_team.add",
                                       "change their care team")
        if not records.add_to_care_team(session, patient_id, username):
            raise Invalid("Invalid request", [Problem("username", "is not an active clinician")])
        records.audit(session, who, "care_team.add", patient_id=patient_id)
        return PatientWithTeam(patient, records.care_team(session, patient_id))
