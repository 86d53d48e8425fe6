"""Run one query of benches/duckdb/ on a snapshot directory and print its result as JSON.

usage: python run.py SNAPSHOT_DIR VARIANT QUERY   (VARIANT: window|argmax, QUERY: list|best_prediction)
"""
import json
import pathlib
import sys

import duckdb

here = pathlib.Path(__file__).parent
snapshot, variant, query = sys.argv[1:4]
con = duckdb.connect()
con.execute((here / "views.sql").read_text().replace("{dir}", snapshot))
sql = (here / f"{query}.sql").read_text().replace("{variant}", variant)
print(json.dumps([list(r) for r in con.execute(sql).fetchall()], default=float))
