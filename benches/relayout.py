"""Rewrite a snapshot's Parquet files the way another tool writes them by default (not a test).

usage: python relayout.py SRC DST LAYOUT [--halve-scores]

LAYOUT:
  pyarrow       pyarrow.parquet.write_table's defaults (row groups of 1,048,576 rows, snappy,
                no page index)
  duckdb        DuckDB's `COPY … TO … (FORMAT parquet)` defaults (row groups of 122,880 rows)
  bigrowgroups  pyarrow with row groups of about 128 MB of Arrow data (Spark's block size)

--halve-scores also halves every stored `determination_score` of main_occurrence, so that
nearly every occurrence's stored determination differs from the one Antenna's rule gives: the
audit's worst case (a database after a bad migration).

Every table keeps its name, rows, row order and schema; the manifest (`_snapshot.json`) is
left out, as snapshots from other tools have none; `.complete` is written last. Needs pyarrow
and duckdb (compare.py installs both into its virtualenv).
"""
import pathlib
import sys

import duckdb
import pyarrow.parquet as pq

src, dst, layout = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
halve = "--halve-scores" in sys.argv[4:]
if layout not in ("pyarrow", "duckdb", "bigrowgroups"):
    sys.exit(f"relayout.py: unknown layout {layout!r} (expected pyarrow, duckdb or bigrowgroups)")
if halve and layout == "duckdb":
    sys.exit("relayout.py: --halve-scores works with the pyarrow layouts")
dst.mkdir(parents=True, exist_ok=True)
con = duckdb.connect()
for f in sorted(src.rglob("*.parquet")):
    out = dst / f.relative_to(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if layout == "duckdb":
        con.execute(f"COPY (SELECT * FROM read_parquet('{f}')) TO '{tmp}' (FORMAT parquet)")
    else:
        table = pq.read_table(f)
        if halve and f.stem == "main_occurrence":
            import pyarrow.compute as pc
            i = table.schema.get_field_index("determination_score")
            table = table.set_column(i, table.schema.field(i),
                                     pc.multiply(table.column(i), 0.5).cast(table.schema.field(i).type))
        if layout == "pyarrow":
            pq.write_table(table, tmp)
        else:
            per_row = max(1, table.nbytes // max(1, table.num_rows))
            pq.write_table(table, tmp, row_group_size=max(1, (128 << 20) // per_row))
    tmp.rename(out)
    print(f"{out}: {pq.ParquetFile(out).metadata.num_row_groups} row groups", file=sys.stderr)
(dst / ".complete").write_text("")
