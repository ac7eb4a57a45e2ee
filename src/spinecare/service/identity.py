"""A patient's identity as the clinic records it: medical record number (MRN), date of birth,
contact phone and e-mail. All optional; a clinician of the care team edits them, and every
change is audited (ids only in the trail, never the values)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from spinecare.errors import Problem
from spinecare.service.errors import Invalid
from spinecare.service.patients import refuse_patient_writes, visible
from spinecare.store import records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import Patient, User

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What clinics print as a record number: letters, digits and a few separators.
_MRN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./_-]{0,63}")
# A number as people write it: digits, spaces, +, -, dots and brackets; 5 to 20 digits in all.
_PHONE = re.compile(r"\+?[0-9 ()./-]{5,39}")
# Deliberately loose (one @, a dot in the domain, no spaces): the clinic's mail server is the
# real check; a stricter pattern refuses real addresses.
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")


@dataclass(frozen=True)
class Identity:
    mrn: str = ""
    birth_date: str = ""
    """ISO 8601 (YYYY-MM-DD), as an HTML date input sends it."""
    phone: str = ""
    email: str = ""


def check(given: Identity, today: date) -> tuple[dict[str, object], list[Problem]]:
    """The column values for ``given`` (``None`` for an empty field), and a problem naming each
    field that is not valid."""
    problems: list[Problem] = []
    values: dict[str, object] = {}
    fields = {"mrn": given.mrn, "birth_date": given.birth_date, "phone": given.phone,
              "email": given.email}
    for name, raw in fields.items():
        text = raw.strip()
        values[name] = None
        if not text:
            continue
        if _CONTROL.search(text):
            problems.append(Problem(name, "must not contain control characters"))
            continue
        if name == "mrn" and not _MRN.fullmatch(text):
            problems.append(Problem(name, "give the record number as letters and digits "
                                          "(up to 64; spaces . / _ - allowed inside)"))
        elif name == "birth_date":
            try:
                born = date.fromisoformat(text)
            except ValueError:
                problems.append(Problem(name, "give the date of birth as YYYY-MM-DD"))
                continue
            if not date(1900, 1, 1) <= born <= today:
                problems.append(Problem(name, f"give a date of birth from 1900-01-01 to "
                                              f"{today.isoformat()}"))
                continue
            values[name] = born
            continue
        elif name == "phone" and not (_PHONE.fullmatch(text)
                                      and 5 <= sum(c.isdigit() for c in text) <= 20):
            problems.append(Problem(name, "give a phone number in digits (5 to 20), with + "
                                          "spaces or dashes if you like"))
        elif name == "email" and not (len(text) <= 254 and _EMAIL.fullmatch(text)):
            problems.append(Problem(name, "give an e-mail address such as name@example.org"))
        values[name] = text
    return values, problems


def update(db: Database, who: Principal, patient_id: str, given: Identity,
           today: date) -> Patient:
    """Store the identity fields a clinician entered (an empty field clears it). A date of
    birth also sets the year of birth, so the age the assessment uses agrees with it."""
    values, problems = check(given, today)
    with db.session() as session:
        patient = visible(session, who, patient_id, "patient.update")
        refuse_patient_writes(session, who, patient_id, "patient.update", "edit their record")
        if problems:
            raise Invalid("The patient's details are not valid", problems)
        for name, value in values.items():
            setattr(patient, name, value)
        if isinstance(values["birth_date"], date):
            patient.birth_year = values["birth_date"].year
        records.audit(session, who, "patient.update", patient_id=patient_id)
        session.flush()
        session.expunge(patient)
        return patient


def author(db: Database, user_id: int) -> str | None:
    """The sign-in name of the clinician who recorded a visit (for the report's heading), or
    ``None`` when the account has no name (a patient) or is gone. The caller has already read
    the visit under its own access check."""
    with db.session() as session:
        user = session.get(User, user_id)
        return user.username if user is not None and user.role != "patient" else None
