"""The small hierarchy of errors spinecare raises. Each points at a field or a knowledge item."""

from __future__ import annotations

from dataclasses import dataclass


class SpinecareError(Exception):
    """Base of every error spinecare raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a JSON path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class CaseError(SpinecareError, ValueError):
    """A case that does not validate; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class KnowledgeError(SpinecareError, ValueError):
    """A knowledge file that breaks its own rules; the message names the file and item."""
