"""Run one query of benches/duckdb/ on a snapshot directory and print its result as JSON.

usage: python run.py SNAPSHOT_DIR VARIANT QUERY [CONDITION]
       (VARIANT: window|argmax, QUERY: list|best_prediction; CONDITION: on the list's
       occurrences, e.g. "project_id = 1")
"""
import json
import pathlib
import sys

import duckdb

here = pathlib.Path(__file__).parent
snapshot, variant, query = sys.argv[1:4]
con = duckdb.connect()
con.execute((here / "views.sql").read_text().replace("{dir}", snapshot))
condition = sys.argv[4] if len(sys.argv) > 4 else ""
sql = (here / f"{query}.sql").read_text().replace("{variant}", variant)
sql = sql.replace("{and}", f"AND l.{condition}" if condition else "")
print(json.dumps([list(r) for r in con.execute(sql).fetchall()], default=float))
