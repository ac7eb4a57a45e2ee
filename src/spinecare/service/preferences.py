"""An account's own settings that change how its pages read: the page language."""

from __future__ import annotations

from spinecare.errors import Problem
from spinecare.service.errors import Invalid
from spinecare.store import accounts, records
from spinecare.store.accounts import Principal
from spinecare.store.db import Database
from spinecare.vocabulary import LANGUAGES


def set_language(db: Database, who: Principal, language: str) -> str | None:
    """Store the caller's page language (an empty string: forget it, and let the browser
    choose again). Audited; refused, naming the field, for a language the pages lack."""
    language = language.strip()
    if language and language not in LANGUAGES:
        raise Invalid("Invalid request",
                      [Problem("language", f"must be one of {', '.join(LANGUAGES)}")])
    with db.session() as session:
        accounts.set_language(session, who.user_id, language or None)
        records.audit(session, who, "account.language", target_id=str(who.user_id))
    return language or None
