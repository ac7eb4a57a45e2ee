"""The clinic's licensed questionnaire wording, one row per instrument and language, kept for
this installation only. Plain functions over a :class:`Session`; the caller owns the
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from spinecare.store.models import InstrumentText


def put(session: Session, *, instrument: str, language: str, version: str, licence: str,
        text_json: str, loaded_at: datetime, loaded_by: str) -> tuple[InstrumentText, bool]:
    """Store (or replace) one text; ``True`` when it replaced an earlier one."""
    row = session.get(InstrumentText, (instrument, language))
    replaced = row is not None
    if row is None:
        row = InstrumentText(instrument=instrument, language=language)
        session.add(row)
    row.version, row.licence, row.text_json = version, licence, text_json
    row.loaded_at, row.loaded_by = loaded_at, loaded_by
    session.flush()
    return row, replaced


def every(session: Session) -> Sequence[InstrumentText]:
    return session.scalars(select(InstrumentText).order_by(InstrumentText.instrument,
                                                           InstrumentText.language)).all()


def of_instrument(session: Session, instrument: str) -> Sequence[InstrumentText]:
    return session.scalars(select(InstrumentText)
                           .where(InstrumentText.instrument == instrument)).all()
