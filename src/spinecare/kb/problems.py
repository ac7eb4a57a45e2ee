"""Problems found while loading knowledge, collected so one load reports every one of them.

A knowledge author fixing a file wants the whole list at once, each problem naming the file and
the key (``red_flags.toml: rf.ces.saddle: citations: unknown source 'x'``), not one error per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from spinecare.errors import KnowledgeError, Problem

__all__ = ["KnowledgeFileError", "KnowledgeProblem", "Problems", "validation_problems"]

_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class KnowledgeProblem:
    """One thing wrong in a knowledge file: the file, the key or item in it, and what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.path, self.message) if part)


class KnowledgeFileError(KnowledgeError):
    """Every problem one load found, each naming its file and key.

    ``file`` is the file of the first problem (usually the only file involved).
    """

    def __init__(self, problems: Iterable[KnowledgeProblem]):
        self.problems = tuple(problems)
        self.file = self.problems[0].file if self.problems else ""
        super().__init__("; ".join(map(str, self.problems)))

    @classmethod
    def in_file(cls, file: str, problems: Iterable[Problem]) -> KnowledgeFileError:
        """The problems of one file, given as paths inside it."""
        return cls(KnowledgeProblem(file, p.path, p.message) for p in problems)


def _loc(parts: Iterable[int | str]) -> str:
    return "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in parts).lstrip(".")


def validation_problems(error: ValidationError, prefix: str = "", sep: str = ".") -> list[Problem]:
    """A pydantic error as problems, one per failed check, with the key's path after ``prefix``.

    Unknown and missing keys get plain words; other messages lose pydantic's "Value error, ".
    """
    problems = []
    for detail in error.errors(include_url=False):
        loc = _loc(detail["loc"])
        if not prefix:
            path = loc
        elif not loc:
            path = prefix
        else:
            path = f"{prefix}{sep}{loc}" if not loc.startswith("[") else f"{prefix}{loc}"
        kind = detail["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "missing required key"
        else:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append(Problem(path, message))
    return problems


class Problems:
    """A collector: loaders add to it as they go and raise once, at the end, with everything."""

    def __init__(self) -> None:
        self._found: list[KnowledgeProblem] = []

    def add(self, file: str, path: str, message: str) -> None:
        self._found.append(KnowledgeProblem(file, path, message))

    def add_all(self, file: str, problems: Iterable[Problem]) -> None:
        for p in problems:
            self.add(file, p.path, p.message)

    def add_error(self, file: str, error: KnowledgeError) -> None:
        """Keep an error raised by a stricter check (an expression parser) and go on."""
        if isinstance(error, KnowledgeFileError):
            self._found.extend(error.problems)
        else:
            self.add(file, "", str(error))

    def validate(self, model: type[_M], data: Any, file: str, prefix: str = "",
                 sep: str = ".") -> _M | None:
        """``data`` as ``model``, or None with every problem recorded."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.add_all(file, validation_problems(exc, prefix, sep))
            return None

    def raise_if_any(self) -> None:
        if self._found:
            raise KnowledgeFileError(self._found)

    def __bool__(self) -> bool:
        return bool(self._found)

    def __iter__(self) -> Iterator[KnowledgeProblem]:
        return iter(tuple(self._found))
