"""Reading the packaged knowledge files: TOML only, every failure naming the file."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping, Set
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from spinecare.errors import Problem
from spinecare.kb.problems import KnowledgeFileError, KnowledgeProblem, Problems

__all__ = ["KNOWLEDGE_PACKAGE", "knowledge_dir", "parse_toml", "read_text", "read_toml",
           "toml_files", "top_level_problems"]

KNOWLEDGE_PACKAGE = "spinecare.knowledge"


def knowledge_dir() -> Traversable:
    """The packaged knowledge folder."""
    return files(KNOWLEDGE_PACKAGE)


def read_text(resource: Traversable, file: str) -> str:
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KnowledgeFileError([KnowledgeProblem(file, "(file)", "not found")]) from exc


def parse_toml(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeFileError(
            [KnowledgeProblem(file, "(file)", f"not valid TOML: {exc}")]) from exc


def read_toml(resource: Traversable, file: str, problems: Problems | None = None
              ) -> dict[str, Any]:
    """The TOML document at ``resource``. With ``problems``, a missing or broken file is recorded
    there (and read as empty) so the loader goes on to the other files."""
    try:
        return parse_toml(read_text(resource, file), file)
    except KnowledgeFileError as exc:
        if problems is None:
            raise
        problems.add_error(file, exc)
        return {}


def toml_files(folder: Traversable, skip: Set[str] = frozenset()) -> Iterator[Traversable]:
    """The ``*.toml`` files of ``folder`` in name order, so problems come in a stable order."""
    entries = (e for e in folder.iterdir()
               if e.is_file() and e.name.endswith(".toml") and e.name not in skip)
    yield from sorted(entries, key=lambda e: e.name)


def top_level_problems(data: Mapping[str, Any], allowed: Set[str],
                       required: Set[str] = frozenset()) -> list[Problem]:
    """A problem for every top-level key not allowed and every required key missing."""
    found = [Problem(key, "unknown key") for key in data if key not in allowed]
    found += [Problem(key, "missing required key") for key in sorted(required - set(data))]
    return found
