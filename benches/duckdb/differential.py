"""Print, as JSON, DuckDB's answers to the top-1 rules of benches/duckdb/views.sql (both
formulations) on a snapshot directory, for tests/differential.rs to compare with occlens's.

usage: python differential.py SNAPSHOT_DIR
"""
import json
import pathlib
import sys

import duckdb

here = pathlib.Path(__file__).parent
con = duckdb.connect()
con.execute((here / "views.sql").read_text().replace("{dir}", sys.argv[1]))
queries = {
    "best_prediction": "SELECT occurrence_id, classification_id FROM bp_{v}",
    "cover_image": "SELECT occurrence_id, path FROM cover_{v}",
    "best_identification": "SELECT occurrence_id, identification_id FROM bi_{v}",
}
out = {}
for name, sql in queries.items():
    for variant in ("window", "argmax"):
        rows = con.execute(sql.format(v=variant) + " ORDER BY 1").fetchall()
        out[f"{name} {variant}"] = [list(r) for r in rows]
print(json.dumps(out))
