"""Strict loading of the knowledge files, shared by every knowledge family.

- :mod:`~spinecare.kb.problems`: problems collected across a whole load, each with file and key;
- :mod:`~spinecare.kb.model`: the strict base model and the shared field types;
- :mod:`~spinecare.kb.toml`: reading the packaged TOML files;
- :mod:`~spinecare.kb.citations`: the one citation model and loader.

The family models (assessment rules, treatments, plan rules, instruments) live beside the code
that applies them and load through these helpers.
"""

from __future__ import annotations

from spinecare.kb.citations import (
    CITATIONS_DIR,
    Citation,
    load_citation_folder,
    packaged_citations,
    parse_citations,
    unresolved_citations,
)
from spinecare.kb.model import (
    STRICT,
    CitationIds,
    Id,
    Ids,
    ReadOnlyMap,
    StrictModel,
    Text,
    Texts,
    Version,
    freeze,
    unique,
)
from spinecare.kb.problems import (
    KnowledgeFileError,
    KnowledgeProblem,
    Problems,
    validation_problems,
)
from spinecare.kb.toml import (
    KNOWLEDGE_PACKAGE,
    knowledge_dir,
    parse_toml,
    read_text,
    read_toml,
    toml_files,
    top_level_problems,
)

__all__ = [
    "CITATIONS_DIR",
    "KNOWLEDGE_PACKAGE",
    "STRICT",
    "Citation",
    "CitationIds",
    "Id",
    "Ids",
    "KnowledgeFileError",
    "KnowledgeProblem",
    "Problems",
    "ReadOnlyMap",
    "StrictModel",
    "Text",
    "Texts",
    "Version",
    "freeze",
    "knowledge_dir",
    "load_citation_folder",
    "packaged_citations",
    "parse_citations",
    "parse_toml",
    "read_text",
    "read_toml",
    "toml_files",
    "top_level_problems",
    "unique",
    "unresolved_citations",
    "validation_problems",
]
