"""``spinecare assess --jobs``: a batch shared among worker processes gives the same bytes, in
the same order, with the same problem lines, as one process."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from spinecare.cli import assess as assess_cli
from spinecare.reasoning.engine import default_engine
from tests.conftest import CASES, load_json


def _batch(seed: int, n: int) -> bytes:
    """Valid cases, invalid ones, blank lines and a line that is not JSON, shuffled."""
    rng = random.Random(seed)
    cases = [load_json(p) for p in sorted(CASES.glob("*.case.json"))]
    lines: list[str] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.08:
            lines.append(json.dumps({"schema": "spinecare.case/1", "id": f"bad-{i}",
                                     "patient": {"age": -i - 1}}))
        elif roll < 0.1:
            lines.append("" if roll < 0.09 else "{not json")
        else:
            case = dict(rng.choice(cases), id=f"case-{i}")
            lines.append(json.dumps(case))
    return ("\n".join(lines) + "\n").encode()


def _one_process(data: bytes, tmp_path: Path, capfd: pytest.CaptureFixture[str]
                 ) -> tuple[int, bytes, str]:
    out_path = tmp_path / "one.out"
    with open(out_path, "wb") as out:
        status = assess_cli.assess_lines(default_engine(), enumerate(data.split(b"\n"), 1),
                                         "batch.jsonl", True, out)
    return status, out_path.read_bytes(), capfd.readouterr().err


@pytest.mark.parametrize(("jobs", "block"), [(2, 4096), (3, 1500), (2, 200)])
def test_workers_write_what_one_process_writes(jobs: int, block: int, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Small blocks, so that every worker has many turns, some blocks hold no whole line (a
    # line longer than a block) and invalid lines fall in every worker's share.
    data = _batch(jobs * block, 120)
    status, expected, expected_err = _one_process(data, tmp_path, capfd)
    assert status == 2 and expected_err.count("\n") >= 5
    monkeypatch.setattr(assess_cli, "BLOCK_BYTES", block)
    out_path = tmp_path / "jobs.out"
    with open(out_path, "wb") as out:
        got = assess_cli.assess_in_workers(default_engine(), data, "batch.jsonl", True, out,
                                           jobs)
    assert got == status
    assert out_path.read_bytes() == expected
    assert capfd.readouterr().err == expected_err


def test_a_valid_batch_in_workers_exits_zero(tmp_path: Path) -> None:
    cases = [load_json(p) for p in sorted(CASES.glob("*.case.json"))]
    batch = tmp_path / "cases.jsonl"
    batch.write_text("".join(json.dumps(c) + "\n" for c in cases * 3))
    one = subprocess.run([sys.executable, "-m", "spinecare", "assess", str(batch)],
                         capture_output=True, timeout=120, check=False)
    two = subprocess.run([sys.executable, "-m", "spinecare", "assess", "--jobs", "2",
                          str(batch)], capture_output=True, timeout=120, check=False)
    assert (one.returncode, two.returncode) == (0, 0)
    assert two.stdout == one.stdout and two.stdout.count(b"TRIAGE") == 3 * len(cases)
    assert two.stderr == b""


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_jobs_must_be_a_positive_number_or_auto(value: str) -> None:
    r = subprocess.run([sys.executable, "-m", "spinecare", "assess", "--jobs", value,
                        str(CASES / "lss-classic.case.json")], capture_output=True, timeout=60,
                       check=False)
    assert r.returncode == 2
    assert b"--jobs" in r.stderr and b"Traceback" not in r.stderr


def test_auto_is_the_processors_this_process_may_use() -> None:
    assert assess_cli._jobs("auto") >= 1
    assert assess_cli._jobs("3") == 3


def test_a_named_pipe_is_read_as_a_stream(tmp_path: Path) -> None:
    # A pipe cannot be mapped into memory: the batch runs in one process, whatever --jobs says.
    import os
    import threading

    fifo = tmp_path / "cases.jsonl"
    os.mkfifo(fifo)
    body = "".join(json.dumps(dict(load_json(p), id=f"c{i}")) + "\n"
                   for i, p in enumerate(sorted(CASES.glob("*.case.json"))))

    def feed() -> None:
        with open(fifo, "w") as fh:
            fh.write(body)

    writer = threading.Thread(target=feed)
    writer.start()
    r = subprocess.run([sys.executable, "-m", "spinecare", "assess", "--json", "--jobs", "2",
                        str(fifo)], capture_output=True, timeout=120, check=False)
    writer.join()
    assert r.returncode == 0
    assert [json.loads(line)["case_id"] for line in r.stdout.splitlines()] == [
        f"c{i}" for i in range(body.count("\n"))]


def test_a_worker_that_fails_stops_the_batch_instead_of_leaving_the_others_waiting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from spinecare.errors import SpinecareError

    # The second block fails in its worker; the first worker, holding the third block, waits
    # for the second's turn, which never comes. The batch must end with an error, not hang.
    data = _batch(5, 60)
    monkeypatch.setattr(assess_cli, "BLOCK_BYTES", 2048)
    real = assess_cli._assess_numbered
    second = assess_cli._cut(data, 1)

    def failing(engine: object, chunk: bytes, as_json: bool) -> object:
        if data.startswith(chunk, second):
            raise RuntimeError("a broken block")
        return real(engine, chunk, as_json)  # type: ignore[arg-type]

    monkeypatch.setattr(assess_cli, "_assess_numbered", failing)

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("the batch hung after a worker failed")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with open(tmp_path / "out", "wb") as out, pytest.raises(SpinecareError, match="worker"):
            assess_cli.assess_in_workers(default_engine(), data, "batch.jsonl", True, out, 2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
