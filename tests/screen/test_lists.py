"""The list outputs (spinecare.screen.lists): the lists made from the query's condition and key
columns equal the lists SQL builds from the same candidates, across byte boundaries, with
unknown conditions, with no candidate present, and ordered by key."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spinecare.screen.compiler import DUCKDB, _list_sql
from spinecare.screen.engines import DuckDBEngine
from spinecare.screen.generate import generate_table
from spinecare.screen.lists import DICTIONARY, ListColumn, unpack

ROWS = 3_000


def _table(con: duckdb.DuckDBPyConnection, width: int) -> None:
    # three-valued columns: true, false and NULL in every column, differently per column
    cols = ", ".join(
        f"CASE (i * {2 * c + 1} + {c}) % 3 WHEN 0 THEN TRUE WHEN 1 THEN FALSE END AS b{c}"
        for c in range(width))
    con.execute(f"CREATE TABLE t AS SELECT i, {cols} FROM range({ROWS}) r(i)")


def _both(column: ListColumn) -> tuple[list[list[str]], list[list[str]]]:
    """The lists built in SQL, and unpacked from the packed columns."""
    with duckdb.connect() as con:
        _table(con, max(8, len(column.labels)))
        built = con.execute(f"SELECT {_list_sql(DUCKDB, column)} AS x FROM t ORDER BY i"
                            ).to_arrow_table().column("x").to_pylist()
        packed = ", ".join(f'{e} AS "{n}"' for n, e in zip(
            column.packed_names(), column.packed_sql(), strict=True)) or "1 AS nothing"
        table = con.execute(f"SELECT {packed} FROM t ORDER BY i").to_arrow_table()
    packed_columns = [table.column(n) for n in column.packed_names()]
    got = unpack(column, packed_columns, table.num_rows)
    assert got.type == pa.list_(pa.string())
    # the same lists as dictionary indices (what the file path writes)
    indexed = unpack(column, packed_columns, table.num_rows, dictionary=True)
    assert indexed.type == pa.list_(DICTIONARY)
    assert indexed.cast(got.type).equals(got)
    return built, got.to_pylist()


@pytest.mark.parametrize("width", [1, 7, 8, 9, 63, 200])
def test_unpacked_lists_equal_the_lists_sql_builds(width: int) -> None:
    column = ListColumn("x", tuple(f"name{c:03}" for c in range(width)),
                        tuple(f"b{c}" for c in range(width)))
    built, got = _both(column)
    assert got == built
    assert (any(got) and not all(got)) or width == 1  # the test sees full and empty lists


def test_a_keyed_list_is_ordered_by_key_and_leaves_out_null_keys() -> None:
    # keys that cross: the third candidate often comes first
    keys = ("CASE WHEN b0 THEN 5 END", "CASE WHEN b1 THEN 1 WHEN b2 THEN 9 END",
            "CASE WHEN b3 THEN 0 END", "CASE WHEN b4 THEN 7 END")
    column = ListColumn("x", ("a", "b", "c", "d"), keys, keyed=True)
    built, got = _both(column)
    assert got == built
    assert ["c", "b", "a"] in got or ["c", "a"] in got


def test_a_list_with_no_candidates_is_empty_in_every_row() -> None:
    got = unpack(ListColumn("x", (), ()), [], 4)
    assert got.to_pylist() == [[], [], [], []]
    indexed = unpack(ListColumn("x", (), ()), [], 4, dictionary=True)
    assert indexed.type == pa.list_(DICTIONARY)
    assert indexed.to_pylist() == [[], [], [], []]


def test_the_file_written_from_dictionary_lists_reads_back_as_plain_lists(
        tmp_path: Path) -> None:
    # the file path writes the lists as dictionary indices and records the plain schema: a
    # reader sees list<string>, as from a file written from plain lists
    engine = DuckDBEngine()
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(generate_table(500, seed=4), src)
    assert engine.screen_file(src, "parquet", out) == 500
    table = pq.read_table(out)
    assert table.schema == engine.schema
    plain = tmp_path / "plain.parquet"
    with pq.ParquetWriter(plain, engine.schema) as writer:
        writer.write_table(table)
    assert (pq.read_metadata(out).metadata[b"ARROW:schema"]
            == pq.read_metadata(plain).metadata[b"ARROW:schema"])
    assert pq.ParquetFile(out).schema.equals(pq.ParquetFile(plain).schema)
    assert any(table.column("rules").to_pylist())
    # statistics on every column but the lists (their least and greatest name is the same in
    # every row group)
    group = pq.read_metadata(out).row_group(0)
    stats = {group.column(i).path_in_schema.split(".list.")[0]: group.column(i).is_stats_set
             for i in range(group.num_columns)}
    assert stats == {n: n not in ("red_flags", "rules", "findings", "consider")
                     for n in engine.schema.names}


def test_a_wrong_unpacking_is_caught() -> None:
    # the names read one column off: the comparison must see it
    column = ListColumn("x", tuple(f"n{c}" for c in range(67)),
                        tuple(f"b{c}" for c in range(67)))
    shifted = ListColumn("x", ("spare", *column.labels[:-1]), column.whens)
    built, _ = _both(column)
    _, got = _both(shifted)
    assert got != built
