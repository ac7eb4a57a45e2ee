"""The Spark engine against the reference on a small sample (Spark's start and its analysis of
the compiled plan cost a minute or more; the plan is the same as DuckDB's, in Spark SQL's
dialect, so the DuckDB differential covers the bulk). Runs on ``local[2]``; skipped, saying
why, where pyspark or Java is missing. ``-m spark`` selects it, ``-m 'not spark'`` leaves it
out."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from spinecare.screen.columns import rows_to_table
from spinecare.screen.engines import PythonEngine, SparkEngine
from spinecare.screen.generate import generate_table
from tests.screen.differential import disagreements
from tests.screen.test_differential import _one_unknown_each

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="pyspark is not installed (pip install 'spinecare[spark]')"),
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="no Java runtime (apt-get install openjdk-17-jre-headless)"),
]
SAMPLE_ROWS = 300


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("spinecare-screen-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_screens_a_sample_as_the_reference_assesses_it(spark: Any) -> None:
    examples = rows_to_table(_one_unknown_each())
    table = pa.concat_tables([examples, generate_table(SAMPLE_ROWS, seed=5)])
    expected = PythonEngine().screen_table(table)
    actual = SparkEngine(session=spark).screen_table(table)
    problems = disagreements(expected, actual)
    assert not problems, "\n".join(problems)
