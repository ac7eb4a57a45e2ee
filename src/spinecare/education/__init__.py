"""Patient education: articles as versioned knowledge data, loaded strictly, rendered with the
treatment knowledge merged in, and held to a measured reading level.

The articles live in ``spinecare/knowledge/education/``; see :mod:`spinecare.education.library`
for their format, :mod:`spinecare.education.render` for the output and
:mod:`spinecare.education.readability` for the limits.
"""

from spinecare.education.library import (
    Article,
    EducationLibrary,
    EducationLibraryError,
    Section,
    TreatmentSection,
    load_library,
    parse_article,
    uncovered_conditions,
)
from spinecare.education.readability import LIMITS, Limits, Reading, measure, reading_problems
from spinecare.education.render import EDUCATION_SCHEMA_ID, render_article, render_text

__all__ = [
    "EDUCATION_SCHEMA_ID",
    "LIMITS",
    "Article",
    "EducationLibrary",
    "EducationLibraryError",
    "Limits",
    "Reading",
    "Section",
    "TreatmentSection",
    "load_library",
    "measure",
    "parse_article",
    "reading_problems",
    "render_article",
    "render_text",
    "uncovered_conditions",
]
