"""Patient education: articles as versioned knowledge data, loaded strictly, rendered with the
treatment knowledge merged in, and held to a measured reading level, in every language of the
library.

The articles live in ``spinecare/knowledge/education/`` (translations in a folder per language,
:mod:`spinecare.education.languages`); see :mod:`spinecare.education.library` for their
format, :mod:`spinecare.education.render` for the output and
:mod:`spinecare.education.readability` for the limits.
"""

from spinecare.education.languages import DEFAULT_LANGUAGE, LANGUAGES, Language
from spinecare.education.library import (
    Article,
    EducationLibrary,
    EducationLibraryError,
    Section,
    TreatmentSection,
    TreatmentWords,
    load_library,
    parse_article,
    uncovered_conditions,
)
from spinecare.education.readability import LIMITS, Limits, Reading, measure, reading_problems
from spinecare.education.render import EDUCATION_SCHEMA_ID, render_article, render_text

__all__ = [
    "DEFAULT_LANGUAGE",
    "EDUCATION_SCHEMA_ID",
    "LANGUAGES",
    "LIMITS",
    "Article",
    "EducationLibrary",
    "EducationLibraryError",
    "Language",
    "Limits",
    "Reading",
    "Section",
    "TreatmentSection",
    "TreatmentWords",
    "load_library",
    "measure",
    "parse_article",
    "reading_problems",
    "render_article",
    "render_text",
    "uncovered_conditions",
]
