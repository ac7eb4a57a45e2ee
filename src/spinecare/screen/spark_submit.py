"""The entry point ``spark-submit`` runs on a cluster: the same compiled screen, read and written
by Spark where the data lives (shared storage: HDFS, S3, a network file system).

    spark-submit --master spark://HOST:7077 \\
        "$(python -m spinecare.screen.spark_submit --path)" \\
        /shared/population.parquet /shared/screen.parquet

The driver needs spinecare installed (the executors need only pyspark: the screen is one plan
of Spark Column expressions, with no Python function shipped to them). The input is Parquet
(or CSV, by its suffix) with the columns of ``spinecare screen --schema``; the output is a
Parquet data set (a folder, as Spark writes it) of the same columns ``spinecare screen``
writes. ``spinecare screen INPUT --out OUT --engine spark --master URL`` does the same from
one machine that can read the input, after checking it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spinecare.screen.spark_submit",
        description="Screen a Parquet or CSV table on Spark (run it with spark-submit).")
    parser.add_argument("--path", action="store_true",
                        help="print this file's path (what spark-submit is given) and exit")
    parser.add_argument("input", nargs="?", help="the input table (Parquet or CSV)")
    parser.add_argument("output", nargs="?", help="where the Parquet output goes")
    args = parser.parse_args(argv)
    if args.path:
        print(Path(__file__).resolve())
        return 0
    if not args.input or not args.output:
        parser.error("give INPUT and OUTPUT")
    from spinecare.screen.engines import get_engine

    fmt = "csv" if args.input.lower().endswith(".csv") else "parquet"
    from pyspark.sql import SparkSession

    # Under spark-submit the master and the configuration are the submitter's: the session is
    # made from them first, and the engine (which asks for a master) then finds it running.
    session = SparkSession.builder.appName("spinecare screen").getOrCreate()
    engine = get_engine("spark", master=session.sparkContext.master)
    rows = engine.screen_file(args.input, fmt, args.output)  # type: ignore[arg-type]
    print(f"spinecare screen (spark): {rows:,} rows screened into {args.output}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
