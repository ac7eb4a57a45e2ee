"""Shared paths and helpers for the education library tests.

Article ids are read from the files on disk, not from the index, so an article that someone
adds without listing it is still tested (and the listing test fails for it).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from spinecare.education.library import INDEX_FILE

EDUCATION_DIR = Path(str(files("spinecare.knowledge") / "education"))
KNOWLEDGE_DIR = EDUCATION_DIR.parent

ARTICLE_IDS = sorted(p.stem for p in EDUCATION_DIR.glob("*.toml") if p.name != INDEX_FILE)
