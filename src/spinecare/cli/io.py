"""Input and output shared by every command: one way to read a file or standard input, to
write JSON and text, and to report bad input.

Bad input is never a traceback: a command raises :class:`InvalidInput` (or reports problems as
it goes, for a stream it keeps reading) and :func:`spinecare.cli.main` prints one line per
problem, ``WHERE: json.path: message``, and exits with :data:`EXIT_INVALID`.

Import nothing heavy at module level: every ``spinecare`` invocation loads this module, and a
command that only prints help must not pay for orjson, pydantic or the knowledge.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

if TYPE_CHECKING:
    from spinecare.case import Case
    from spinecare.errors import Problem

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID = 0, 1, 2

#: What ``register`` functions receive: the ``spinecare`` parser's subcommand table.
#: (argparse names the type only privately; this is the one place that spells it.)
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class InvalidInput(Exception):
    """Input a command cannot use; ``lines`` are the problems, one a line, already located."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__("; ".join(self.lines))


def source_name(path: str) -> str:
    """How messages name an input: its path, or ``<stdin>`` for ``-``."""
    return "<stdin>" if path == "-" else path


def read_input(path: str) -> bytes:
    """The bytes of ``path``, or of standard input for ``-``; :class:`InvalidInput` when the file
    cannot be read."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InvalidInput([cannot_read(path, exc)]) from None


def cannot_read(path: str, exc: OSError) -> str:
    """The problem line for a file that cannot be opened or read."""
    return f"{source_name(path)}: cannot read: {exc.strerror}"


def problem_lines(where: str, problems: Iterable[Problem]) -> list[str]:
    """One line per problem: ``WHERE: json.path: message``."""
    return [f"{where}: {p.path}: {p.message}" for p in problems]


def report(lines: Iterable[str]) -> None:
    """Write problem (or note) lines to standard error as they are found."""
    _emit(sys.stderr, "".join(line + "\n" for line in lines))


def read_case(path: str) -> Case:
    """The case in ``path`` (``-``: standard input), validated; :class:`InvalidInput` naming the
    file and each problem's JSON path otherwise."""
    from spinecare.case import parse_case
    from spinecare.errors import CaseError

    data = read_input(path)
    try:
        return parse_case(data)
    except CaseError as exc:
        raise InvalidInput(problem_lines(source_name(path), exc.problems)) from None


def json_bytes(doc: Any) -> bytes:
    """``doc`` as indented JSON, the form every ``--json`` output takes."""
    import orjson

    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def write_json(doc: Any) -> None:
    """Print ``doc`` as indented JSON and a newline."""
    _emit_bytes(sys.stdout, json_bytes(doc) + b"\n")


def write_text(text: str) -> None:
    """Print ``text`` exactly as given."""
    _emit(sys.stdout, text)


def write_line(text: str) -> None:
    """Print ``text`` ending in one newline."""
    _emit(sys.stdout, text if text.endswith("\n") else text + "\n")


def _emit(stream: TextIO, text: str) -> None:
    _emit_bytes(stream, text.encode())


def _emit_bytes(stream: TextIO, data: bytes) -> None:
    # Output is UTF-8 whatever the locale, as the JSON is. Text written through the stream
    # itself goes first; flushing after lets a long-running command (serve) show its lines.
    stream.flush()
    stream.buffer.write(data)
    stream.buffer.flush()
