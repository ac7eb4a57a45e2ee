"""`spinecare screen` on 10 million rows of Parquet, beside the floor and beside `spinecare assess`.

    make bench-screen                      # 10,000,000 rows
    BENCH_SCREEN_ROWS=1000000 make bench-screen
    BENCH_SCREEN_ENGINE=spark make bench-screen

1. The input: generated rows (``spinecare.screen.generate``, realistic rates of known and
   unknown fields), written once to ``.cache/bench/screen-N.parquet`` and reused.
2. The floor: DuckDB copying that Parquet to a new Parquet file (read and write, no logic), in
   a process of its own, written with the screen's writer settings (zstd level 3, 122,880 rows
   per row group: ``spinecare.screen.engines``). One difference: the screen writes no min/max
   statistics on its four list columns (they would prune nothing), the floor's ``COPY``
   writes them on every column.
3. The screen: ``spinecare screen INPUT --out OUT --engine duckdb`` as a user runs it (checks,
   batches, atomic output), in a process of its own.
4. ``spinecare assess --json`` on a JSON Lines sample of the same rows (BENCH_SCREEN_SAMPLE,
   default 20,000), its rate extrapolated to N rows.

Each process's wall time, CPU time and peak memory (its maximum resident set, from wait4) are
printed with the ratios. The machine is shared and loaded by others, so the wall times move
from run to run; the facts that do not (rows, file sizes, row groups) are printed beside them,
and the CPU times are less sensitive to load than the wall times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
BIN = Path(sys.executable).parent
GOAL_RATIO, GOAL_MEMORY = 3.0, 4 << 30


def measure(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak resident bytes of one process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def make_input(rows: int) -> Path:
    path = CACHE / f"screen-{rows}.parquet"
    if path.exists():
        print(f"input: {path} (cached)")
        return path
    from spinecare.screen.generate import write_parquet

    CACHE.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".partial")
    started = time.perf_counter()
    write_parquet(temp, rows, seed=12)
    os.replace(temp, path)
    print(f"input: generated {rows:,} rows into {path} in {time.perf_counter() - started:.0f} s")
    return path


def make_sample(src: Path, n: int, folder: Path) -> Path:
    """The first ``n`` rows of the input as JSON Lines of cases."""
    import orjson
    import pyarrow.parquet as pq

    from spinecare.screen.columns import row_to_case

    out = folder / "sample.jsonl"
    reader = pq.ParquetFile(src)
    lines: list[bytes] = []
    for batch in reader.iter_batches(batch_size=min(n, 65_536)):
        for i, row in enumerate(batch.to_pylist(), len(lines) + 1):
            lines.append(orjson.dumps(row_to_case(row, i)))
            if len(lines) >= n:
                break
        if len(lines) >= n:
            break
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


def floor_argv(src: Path, dst: Path) -> list[str]:
    """DuckDB copying the input, written as the screen writes its output: the same
    compression and level, the same rows per row group."""
    from spinecare.screen.engines import COMPRESSION, COMPRESSION_LEVEL, OUTPUT_ROWS

    query = (f"COPY (SELECT * FROM read_parquet('{src}')) TO '{dst}' (FORMAT parquet, "
             f"COMPRESSION {COMPRESSION}, COMPRESSION_LEVEL {COMPRESSION_LEVEL}, "
             f"ROW_GROUP_SIZE {OUTPUT_ROWS})")
    return [sys.executable, "-c", f"import duckdb; duckdb.connect().execute({query!r})"]


def main() -> None:
    import pyarrow.parquet as pq

    rows = int(os.environ.get("BENCH_SCREEN_ROWS", 10_000_000))
    sample = int(os.environ.get("BENCH_SCREEN_SAMPLE", 20_000))
    engine = os.environ.get("BENCH_SCREEN_ENGINE", "duckdb")
    src = make_input(rows)
    meta = pq.ParquetFile(src).metadata
    print(f"facts (the same on any machine): {meta.num_rows:,} rows, {meta.num_columns} "
          f"columns, {meta.num_row_groups} row groups, input {src.stat().st_size / 1e6:,.0f} MB")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(shared: wall times move with the load)")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        folder = Path(tmp)
        floor = measure(floor_argv(src, folder / "floor.parquet"))
        screen = measure([str(BIN / "spinecare"), "screen", str(src), "--out",
                          str(folder / "screen.parquet"), "--engine", engine])
        out_size = (folder / "screen.parquet").stat().st_size
        out_rows = pq.ParquetFile(folder / "screen.parquet").metadata.num_rows
        jsonl = make_sample(src, sample, folder)
        assess = measure([str(BIN / "spinecare"), "assess", "--json", str(jsonl)])
    assess_full = assess[0] * rows / sample
    print(f"output: {out_rows:,} rows, {out_size / 1e6:,.0f} MB")
    print(f"{'':28}{'wall s':>10}{'cpu s':>10}{'peak MiB':>10}{'rows/s':>14}")
    for name, (wall, cpu, peak), n in (
            ("floor (DuckDB copy)", floor, rows), (f"screen --engine {engine}", screen, rows),
            (f"assess, {sample:,} sample", assess, sample)):
        print(f"{name:28}{wall:10.1f}{cpu:10.1f}{peak / 2**20:10.0f}{n / wall:14,.0f}")
    # judged by CPU as well as wall time: on a shared machine the wall times move with others'
    # load (both run on every core: the floor's copy on DuckDB's threads, the screen's parts
    # on a query per core beside its checking, unpacking and writing)
    for what, ratio in (("wall", screen[0] / floor[0]), ("cpu", screen[1] / floor[1])):
        print(f"screen / floor by {what}: {ratio:.2f}x (goal: within {GOAL_RATIO:.0f}x) "
              f"{'met' if ratio <= GOAL_RATIO else 'NOT met'}")
    print(f"screen peak memory: {screen[2] / 2**30:.2f} GiB (goal: under "
          f"{GOAL_MEMORY / 2**30:.0f} GiB) {'met' if screen[2] < GOAL_MEMORY else 'NOT met'}")
    print(f"assess over {rows:,} rows (extrapolated from the sample): {assess_full:,.0f} s; "
          f"screen is {assess_full / screen[0]:.1f}x faster")


if __name__ == "__main__":
    main()
