"""``spinecare screen --engine spark`` end to end on ``local[2]`` (as CI runs Spark): the output
equals the reference engine's, row for row, and the report's worklists come out the same."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from spinecare.cli import main
from spinecare.screen.engines import get_engine
from spinecare.screen.report import WORKLISTS
from tests.screen.population import population, write_parquet


def spark_available() -> bool:
    if shutil.which("java") is None:
        return False
    try:
        get_engine("spark", master="local[2]")
    except (ValueError, ImportError):
        return False
    return True


pytestmark = pytest.mark.skipif(not spark_available(),
                                reason="needs Java 17 and the spark engine (make test)")


def read(path: Path) -> list[dict[str, object]]:
    table = ds.dataset(str(path), format="parquet").to_table() if path.is_dir() \
        else pq.read_table(path)
    return list(table.to_pylist())


def test_spark_on_local_2_gives_the_reference_output_and_worklists(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "in.parquet", population(2))
    for engine in ("python", "spark"):
        argv = ["screen", str(src), "--out", str(tmp_path / f"{engine}.parquet"),
                "--engine", engine, "--worklists", str(tmp_path / engine)]
        if engine == "spark":
            argv += ["--master", "local[2]"]
        assert main(argv) == 0
    want, got = read(tmp_path / "python.parquet"), read(tmp_path / "spark.parquet")
    assert [r["case_id"] for r in got] == [r["case_id"] for r in want]
    for a, b in zip(want, got, strict=True):
        for key, value in a.items():
            if isinstance(value, float):
                assert math.isclose(value, b[key], abs_tol=1e-9), key
            else:
                assert b[key] == value, key
    for w in WORKLISTS:
        assert (tmp_path / "spark" / f"{w.id}.csv").read_text() == \
            (tmp_path / "python" / f"{w.id}.csv").read_text()
