"""A clinic's licensed questionnaire wording: loaded from the command line (by whoever runs
the installation), listed, and read when a patient answers at home. Loading is audited; the
wording itself is never shipped with spinecare (see :mod:`spinecare.instruments.texts`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from spinecare.instruments.errors import AnswerError
from spinecare.instruments.registry import instruments
from spinecare.instruments.texts import ClinicText, check_text, offered_to_patients
from spinecare.service.errors import Invalid
from spinecare.store import instrument_texts
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.store.models import InstrumentText
from spinecare.store.records import audit
from spinecare.store.stamps import utcnow


def load(db: Database, who: Principal | None, data: dict[str, Any],
         loaded_by: str) -> tuple[InstrumentText, bool]:
    """Check ``data`` against its instrument and store it (replacing the same instrument and
    language); ``True`` when an earlier text was replaced. Every problem is an
    :class:`Invalid` naming its path."""
    try:
        inst, text = check_text(data)
    except AnswerError as exc:
        raise Invalid("The questionnaire text does not fit its instrument",
                      exc.problems) from None
    with db.session() as session:
        row, replaced = instrument_texts.put(
            session, instrument=inst.id, language=text.language, version=text.version,
            licence=text.licence, text_json=text.model_dump_json(), loaded_at=utcnow(),
            loaded_by=loaded_by[:200])
        audit(session, who, "instrument_text.load", target_id=f"{inst.id}:{text.language}",
              reason=f"by {loaded_by}"[:200])
        session.expunge(row)
        return row, replaced


def listing(db: Database) -> Sequence[InstrumentText]:
    with db.session() as session:
        rows = instrument_texts.every(session)
        for row in rows:
            session.expunge(row)
        return rows


def loaded(db: Database) -> set[str]:
    """The instruments with a clinic text in any language."""
    return {row.instrument for row in listing(db)}


def offered(db: Database) -> set[str]:
    """The instruments a patient may answer at home on this installation."""
    texts = loaded(db)
    return {i for i, inst in instruments().items() if offered_to_patients(inst, texts)}


def text_for(db: Database, instrument: str, language: str) -> ClinicText | None:
    """The clinic's wording in ``language``, else in English, else in any loaded language
    (a questionnaire's words are its validation: never machine-translated)."""
    with db.session() as session:
        rows = {r.language: r.text_json for r in instrument_texts.of_instrument(session,
                                                                                 instrument)}
    for choice in (language, "en", *sorted(rows)):
        if choice in rows:
            return ClinicText.model_validate(orjson.loads(rows[choice]))
    return None
