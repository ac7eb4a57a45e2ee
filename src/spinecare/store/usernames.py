"""Usernames as people read them: two names that look the same are the same name.

- :func:`canonical`: NFKC (fullwidth and styled letters become plain ones), then case-folded
  (``ALICE`` and ``Alice`` are ``alice``), then NFKC again (folding can undo it). This is the
  form shown in the audit trail for a failed sign-in.
- :func:`username_key`: the canonical name with every non-ASCII character that Unicode lists
  as confusable with Latin letters or digits folded to them (Unicode's confusables data, as
  shipped by ``confusable-homoglyphs``): a Cyrillic ``аlice`` has the key ``alice``. Accounts
  are unique by key, and sign-in looks the key up, so a lookalike can neither be created beside
  an account nor be a second way into it.

ASCII characters are never folded into each other (``l`` and ``1``, ``rn`` and ``m``): those
names are told apart by every font a clinic uses, and folding them would refuse ordinary names.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from confusable_homoglyphs import confusables

MAX_LENGTH = 150


def canonical(username: str) -> str:
    """The name as compared and recorded: stripped, NFKC, case-folded."""
    name = unicodedata.normalize("NFKC", username.strip()).casefold()
    return unicodedata.normalize("NFKC", name)


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=["latin", "common"])
    for candidate in found[0]["homoglyphs"] if found else ():
        glyph: str = candidate["c"]
        if glyph.isascii() and glyph.isprintable():
            return glyph.casefold()
    return char


def username_key(username: str) -> str:
    """The key two lookalike names share (see the module's docstring)."""
    return "".join(c if c.isascii() else _fold(c) for c in canonical(username))


def problem(username: str) -> str | None:
    """Why ``username`` cannot be an account's name, or ``None``."""
    name = username.strip()
    if not name or len(name) > MAX_LENGTH:
        return f"the username must have 1 to {MAX_LENGTH} characters"
    if not name.isprintable():
        return "the username must not contain control characters"
    if len(username_key(name)) > MAX_LENGTH:
        return f"the username must have 1 to {MAX_LENGTH} characters"
    return None
