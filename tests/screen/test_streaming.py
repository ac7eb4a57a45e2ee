"""The DuckDB engine's file path streams: batch by batch into row groups, in order, each batch
reported to the progress callback; and the command draws a progress bar on a terminal only."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from spinecare.screen.engines import DuckDBEngine
from spinecare.screen.generate import generate_table
from tests.screen.differential import disagreements

ROWS = 4_500


def _input(tmp_path: Path) -> Path:
    src = tmp_path / "in.parquet"
    pq.write_table(generate_table(ROWS, seed=5), src)
    return src


def test_a_file_is_screened_in_batches_reported_as_they_are_written(tmp_path: Path) -> None:
    src, dst = _input(tmp_path), tmp_path / "out.parquet"
    engine = DuckDBEngine(batch_rows=1_000)
    seen: list[int] = []
    assert engine.screen_file(src, "parquet", dst, progress=seen.append) == ROWS
    assert seen == [1_000, 2_000, 3_000, 4_000, ROWS]
    assert pq.ParquetFile(dst).metadata.num_row_groups == 5
    # the same rows in the same order as the whole table screened at once
    expected = DuckDBEngine().screen_table(pq.read_table(src))
    assert not disagreements(expected, pq.read_table(dst))


def _screen(src: Path, dst: Path, stderr: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    return subprocess.Popen([sys.executable, "-m", "spinecare", "screen", str(src), "--out",
                             str(dst)], stdout=subprocess.DEVNULL, stderr=stderr, env=env)


def test_the_command_draws_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    src = _input(tmp_path)
    leader, follower = pty.openpty()
    proc = _screen(src, tmp_path / "out.parquet", follower)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65_536)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    text = drawn.decode("utf-8", "replace")
    # the screening phase's own line reaches every row (the checking phase's line is another;
    # a line is redrawn after a carriage return)
    lines = re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text))
    screening = [line for line in lines if line.startswith("screening (duckdb)")]
    assert screening and f"{ROWS}/{ROWS}" in screening[-1].replace(",", "")


def test_the_command_draws_no_progress_bar_into_a_pipe(tmp_path: Path) -> None:
    src = _input(tmp_path)
    proc = _screen(src, tmp_path / "out.parquet", subprocess.PIPE)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spinecare screen: 4,500 rows screened")
