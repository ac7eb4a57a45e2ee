"""The command line's shared input and output: bad input is lines on stderr and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spinecare.cli import io, main


def test_an_unreadable_file_is_one_problem_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone.json"
    with pytest.raises(io.InvalidInput) as caught:
        io.read_input(str(missing))
    assert caught.value.lines == [f"{missing}: cannot read: No such file or directory"]


def test_an_invalid_case_names_the_file_and_each_json_path(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"schema": "spinecare.case/1", "id": "x",
                                "patient": {"age": -5}}))
    with pytest.raises(io.InvalidInput) as caught:
        io.read_case(str(path))
    assert caught.value.lines == [f"{path}: patient.age: must be >= 0 (got -5)"]


def test_main_turns_invalid_input_into_exit_2_without_a_traceback(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "gone.json"
    assert main(["plan", str(missing)]) == io.EXIT_INVALID
    out, err = capsys.readouterr()
    assert out == "" and err == f"{missing}: cannot read: No such file or directory\n"


def test_json_is_written_indented_as_utf8_whatever_the_locale(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    io.write_json({"area": "mm²"})
    assert capsysbinary.readouterr().out == '{\n  "area": "mm²"\n}\n'.encode()
