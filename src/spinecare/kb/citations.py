"""The sources the knowledge cites: one model and one loader for ``knowledge/citations/*.toml``.

Two loaders used to read this folder with different rules. This one keeps the stricter of each:
text fields must not be blank, a year lies in 1900-2100, a DOI, PMID and URL must look like one,
unknown keys are errors, every entry is a table, ``expert_judgement`` is reserved (it marks the
absence of a source), and an id may be defined in one file only. Every problem in every file is
reported in one error.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Set
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Annotated

from pydantic import Field, StringConstraints

from spinecare.kb.model import StrictModel, Text, freeze
from spinecare.kb.problems import KnowledgeFileError, Problems
from spinecare.kb.toml import knowledge_dir, parse_toml, read_text, toml_files
from spinecare.vocabulary import EXPERT_JUDGEMENT, Verification

__all__ = [
    "CITATIONS_DIR",
    "Citation",
    "load_citation_folder",
    "packaged_citations",
    "parse_citations",
    "unresolved_citations",
]

CITATIONS_DIR = "citations"


class Citation(StrictModel):
    """One source, as described in ``knowledge/citations/README.md``."""

    authors: Text
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    title: Text | None = None
    journal: Text
    volume: Text | None = None
    issue: Text | None = None
    pages: Text | None = None
    doi: Annotated[str, StringConstraints(pattern=r"^10\.\d{4,9}/\S+$")] | None = None
    pmid: Annotated[str, StringConstraints(pattern=r"^\d{1,9}$")] | None = None
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    verification: Verification
    note: Text | None = None

    def short(self) -> str:
        """``Suri P et al. 2010, JAMA 304(23):2628-36``."""
        first = self.authors.split(",")[0].strip()
        many = "," in self.authors
        who = f"{first} et al." if many and "et al" not in first else first
        where = self.journal
        if self.volume:
            where += f" {self.volume}"
            if self.issue:
                where += f"({self.issue})"
            if self.pages:
                where += f":{self.pages}"
        elif self.pages:
            where += f" {self.pages}"
        year = f" {self.year}" if self.year else ""
        return f"{who}{year}, {where}"


def _collect(text: str, file: str, problems: Problems) -> dict[str, Citation]:
    citations: dict[str, Citation] = {}
    for key, raw in parse_toml(text, file).items():
        if key == EXPERT_JUDGEMENT:
            problems.add(file, key, "reserved id: expert judgement is not a source")
        elif not isinstance(raw, dict):
            problems.add(file, key, "must be a table")
        elif (citation := problems.validate(Citation, freeze(raw), file, key)) is not None:
            citations[key] = citation
    return citations


def parse_citations(text: str, *, source: str) -> dict[str, Citation]:
    """One citations file (a table per source, keyed by its id), given as TOML text."""
    problems = Problems()
    citations = _collect(text, source, problems)
    problems.raise_if_any()
    return citations


def load_citation_folder(folder: Traversable, label: str = "") -> Mapping[str, Citation]:
    """Every source in every ``*.toml`` of ``folder``; ids must be unique across the files.

    ``label`` is put before each file name in problems (``citations/``), where the folder is
    read as part of a larger load.
    """
    problems = Problems()
    merged: dict[str, Citation] = {}
    origin: dict[str, str] = {}
    for entry in toml_files(folder):
        file = f"{label}{entry.name}"
        try:
            found = _collect(read_text(entry, file), file, problems)
        except KnowledgeFileError as exc:
            problems.add_error(file, exc)
            continue
        for key, citation in found.items():
            if key in merged:
                problems.add(file, key, f"id already defined in {origin[key]}")
                continue
            merged[key] = citation
            origin[key] = file
    problems.raise_if_any()
    return MappingProxyType(merged)


@functools.lru_cache(maxsize=1)
def packaged_citations() -> Mapping[str, Citation]:
    """The sources shipped with spinecare (read once, then cached)."""
    return load_citation_folder(knowledge_dir() / CITATIONS_DIR)


def unresolved_citations(
    cited: Mapping[str, Iterable[str]], known: Set[str]
) -> dict[str, tuple[str, ...]]:
    """Per item path, the cited ids that are neither in ``known`` nor ``expert_judgement``."""
    missing = {
        item: tuple(sorted(set(ids) - known - {EXPERT_JUDGEMENT})) for item, ids in cited.items()
    }
    return {item: ids for item, ids in missing.items() if ids}
