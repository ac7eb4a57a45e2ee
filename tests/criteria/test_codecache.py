"""The cache of compiled knowledge: a hit gives the same program without compiling, and nothing
wrong with the cache (corrupt, another user's, unwritable, turned off) changes a result."""

from __future__ import annotations

import importlib.util
import marshal
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from spinecare.case import parse_case
from spinecare.criteria import codecache
from spinecare.reasoning.engine import Engine

SOURCE = "def _program(x):\n    return x * 2  # double\n"
NAME = "<spinecare test program>"
MAGIC = importlib.util.MAGIC_NUMBER


def run(code: Any, value: int) -> int:
    ns: dict[str, Any] = {}
    exec(code, ns)
    return int(ns["_program"](value))


def entries(where: Path) -> list[Path]:
    return sorted(where.glob("*.code"))


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "code"
    monkeypatch.setenv(codecache.ENV, str(where))
    return where


def no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled although the cache holds the program")

    monkeypatch.setattr(codecache, "compile", refuse, raising=False)


def test_second_use_reads_the_cache_instead_of_compiling(cache: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(codecache.compiled(SOURCE, NAME), 21) == 42
    assert len(entries(cache)) == 1
    no_compiling(monkeypatch)
    code = codecache.compiled(SOURCE, NAME)
    assert code.co_filename == NAME
    assert run(code, 4) == 8


def test_another_source_or_file_name_is_another_entry(cache: Path) -> None:
    codecache.compiled(SOURCE, NAME)
    other = codecache.compiled(SOURCE.replace("* 2", "* 3"), NAME)
    renamed = codecache.compiled(SOURCE, "<another name>")
    assert run(other, 2) == 6 and renamed.co_filename == "<another name>"
    assert len(entries(cache)) == 3


@pytest.mark.parametrize("damage", [b"", b"\x00" * 7, b"not code at all"])
def test_a_damaged_entry_is_compiled_afresh_and_replaced(cache: Path, damage: bytes) -> None:
    codecache.compiled(SOURCE, NAME)
    (entry,) = entries(cache)
    entry.write_bytes(damage if not damage.startswith(b"n") else
                      MAGIC + damage)
    assert run(codecache.compiled(SOURCE, NAME), 5) == 10
    assert entry.read_bytes() != damage


def test_an_entry_holding_other_code_is_not_used(cache: Path) -> None:
    codecache.compiled(SOURCE, NAME)
    (entry,) = entries(cache)
    # a hash collision cannot happen by chance, but the entry must still name this program
    entry.write_bytes(MAGIC + marshal.dumps(compile("x = 1", "<other>", "exec")))
    assert run(codecache.compiled(SOURCE, NAME), 1) == 2


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="no file permissions to check")
def test_a_folder_or_entry_others_may_write_is_not_read(cache: Path) -> None:
    codecache.compiled(SOURCE, NAME)
    (entry,) = entries(cache)
    good = entry.read_bytes()
    planted = MAGIC + marshal.dumps(compile(SOURCE.replace("* 2", "* 100"), NAME, "exec"))

    def plant(mode: int) -> None:
        entry.write_bytes(planted)
        entry.chmod(mode)

    plant(0o600)
    cache.chmod(0o777)
    assert run(codecache.compiled(SOURCE, NAME), 1) == 2  # the planted code is not run
    cache.chmod(0o700)
    plant(0o666)
    assert run(codecache.compiled(SOURCE, NAME), 1) == 2
    assert entry.read_bytes() == good  # and the suspect entry was replaced
    plant(0o600)
    assert run(codecache.compiled(SOURCE, NAME), 1) == 100  # private: read (the test can fail)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0,
                    reason="root writes into a read-only folder")
def test_an_unwritable_folder_only_means_compiling_each_time(cache: Path) -> None:
    cache.mkdir(mode=0o500)
    assert run(codecache.compiled(SOURCE, NAME), 3) == 6
    assert entries(cache) == []


def test_a_folder_that_cannot_exist_only_means_compiling(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(codecache.ENV, str(blocker / "code"))
    assert run(codecache.compiled(SOURCE, NAME), 3) == 6


@pytest.mark.parametrize("value", ["off", "", "  OFF "])
def test_turned_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   value: str) -> None:
    monkeypatch.setenv(codecache.ENV, value)
    monkeypatch.chdir(tmp_path)
    assert codecache.folder() is None
    assert run(codecache.compiled(SOURCE, NAME), 3) == 6
    assert list(tmp_path.iterdir()) == []


def test_default_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(codecache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert codecache.folder() == tmp_path / "spinecare" / "code"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert codecache.folder() == tmp_path / "home" / ".cache" / "spinecare" / "code"


def test_only_the_newest_entries_are_kept(cache: Path) -> None:
    for i in range(codecache.KEEP + 5):
        codecache.compiled(SOURCE.replace("* 2", f"* {i}"), NAME)
        newest = entries(cache)
        for age, old in enumerate(sorted(newest, key=lambda p: p.stat().st_mtime)):
            os.utime(old, (1_000_000 + age, 1_000_000 + age))
    assert len(entries(cache)) == codecache.KEEP
    # the last one compiled is among those kept (a hit, not a recompilation)
    kept = codecache.compiled(SOURCE.replace("* 2", f"* {codecache.KEEP + 4}"), NAME)
    assert run(kept, 1) == codecache.KEEP + 4
    assert len(entries(cache)) == codecache.KEEP


def test_a_temporary_file_left_by_a_stopped_writer_is_removed(cache: Path) -> None:
    cache.mkdir(mode=0o700)
    stale, fresh = cache / ".tmp-stale.code", cache / ".tmp-fresh.code"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    os.utime(stale, (1_000_000, 1_000_000))
    codecache.compiled(SOURCE, NAME)
    assert not stale.exists() and fresh.exists()


def test_the_engine_from_the_cache_assesses_as_the_compiled_one(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = parse_case((Path(__file__).parent.parent / "data" / "cases").glob("*.case.json")
                      .__next__().read_bytes())
    first = Engine().assess(case)
    assert len(entries(cache)) >= 1
    no_compiling(monkeypatch)
    assert Engine().assess(case) == first
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
