"""An interrupted screen leaves no output: a real process, stopped mid-run by a real signal.

The run is caught in the middle by waiting until the process holds its unnamed output file
open (``O_TMPFILE``: ``/proc/PID/fd`` shows it as ``#INODE (deleted)`` in the output folder)
and has screened a first batch; then Ctrl-C (SIGINT), ``kill`` (SIGTERM) or ``kill -9``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.screen.population import population, write_jsonl

ROOT = Path(__file__).resolve().parents[2]


def as_from_a_terminal() -> None:
    """Ctrl-C's signal handled as in a terminal: a process started by a launcher that ignores
    SIGINT (a shell script's background job, nohup) inherits the ignoring, and Python then
    installs no KeyboardInterrupt for it, so the run would go on to the end (seen: exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def output_open(pid: int, folder: Path) -> bool:
    """Whether ``pid`` holds a not-yet-named file in ``folder`` open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(f"{folder}/") and ("(deleted)" in target or "/#" in target):
            return True
    return False


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                            (signal.SIGKILL, -9)])
def test_a_run_stopped_by_a_signal_leaves_no_output_at_all(
        tmp_path: Path, signum: int, status: int) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", population(400))  # ~ 8,800 cases, slow engine
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    lists = out_dir / "lists"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spinecare", "screen", str(src), "--out",
         str(out_dir / "screen.parquet"), "--engine", "python", "--batch-size", "50",
         "--report", str(out_dir / "report.html"), "--worklists", str(lists)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=as_from_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while not output_open(proc.pid, out_dir):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never opened its output"
            time.sleep(0.02)
        time.sleep(0.5)  # well into the run: batches written to the unnamed file
        assert proc.poll() is None, "the run ended before it could be interrupted"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    if signum != signal.SIGKILL:
        assert b"no output was written" in err and b"Traceback" not in err
    left = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*"))
    assert left in ([], ["lists"]), left  # not a byte of output, not even a temporary file


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                            (signal.SIGKILL, -9)])
def test_the_engines_own_query_stopped_by_a_signal_leaves_no_output(
        tmp_path: Path, signum: int, status: int) -> None:
    """DuckDB writes the output itself under a hidden temporary name: Ctrl-C and SIGTERM remove
    it at once; after kill -9 only that hidden name can remain, never the output, and the next
    run into the folder removes it."""
    from spinecare.screen.generate import write_parquet

    src = tmp_path / "in.parquet"
    write_parquet(src, 60_000, seed=3)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "screen.parquet"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    argv = [sys.executable, "-m", "spinecare", "screen", str(src), "--out", str(out),
            "--engine", "duckdb"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=as_from_a_terminal)
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".partial") for p in out_dir.iterdir()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the query never started writing"
            time.sleep(0.02)
        time.sleep(0.3)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        started = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        assert time.monotonic() - started < 10, "the signal did not stop the query at once"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    assert not out.exists()
    left = [p.name for p in out_dir.iterdir()]
    if signum == signal.SIGKILL:
        assert all(name.startswith(".screen.parquet.") for name in left), left
        from spinecare.screen.atomic import remove_stale_partials

        remove_stale_partials(out)  # what the next run into the folder does first
        assert list(out_dir.iterdir()) == []
    else:
        assert left == [] and b"no output was written" in err, (left, err)


def test_a_problem_found_while_duckdb_screens_stops_it_and_is_the_error(tmp_path: Path) -> None:
    """DuckDB screens while the input is checked: a bad value in the last rows, found while the
    query runs, stops it; the run exits 2 naming the column and row, leaves nothing behind and
    ends cleanly (no abort from a query left running)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spinecare.screen.generate import generate_table

    table = generate_table(300_000, seed=4)
    ages = table.column("patient.age").to_pylist()
    ages[-2] = 130
    table = table.set_column(table.column_names.index("patient.age"), "patient.age",
                             pa.array(ages, pa.int64()))
    src = tmp_path / "in.parquet"
    pq.write_table(table, src, row_group_size=50_000)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "spinecare", "screen", str(src), "--out",
                           str(out_dir / "screen.parquet"), "--batch-size", "10000"],
                          capture_output=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert b"patient.age (row 299999): must be <= 120" in proc.stderr, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert list(out_dir.iterdir()) == []
