#!/usr/bin/env python3
"""occlens against DuckDB on the same snapshot, and the latency of pages, details and exports.

One command (from the repository root):

    python3 benches/compare.py                 # SF1: 1,000,000 occurrences
    python3 benches/compare.py --occurrences 100000 --runs 1
    python3 benches/compare.py --layout duckdb    # the same snapshot as DuckDB writes it

--layout rewrites the generated snapshot's files with another tool's defaults first
(benches/relayout.py: pyarrow, duckdb, or bigrowgroups of about 128 MB), so that occlens is
measured on Parquet it did not write; the default, occlens, measures its own layout.

It builds occlens (release), generates the snapshot once (target/bench-sf<N>), installs DuckDB
from PyPI into a virtualenv (target/bench-venv), runs every measurement as a fresh process
(wall time, best of --runs; peak RSS from wait4, worst of --runs), checks that occlens and
DuckDB computed the same list (row count and checksums of the key columns) and prints a
Markdown table, also written to target/bench-report.md.
"""
import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
DUCKDB = "duckdb==2.0.0"
PYARROW = "pyarrow==26.0.1"

# The full list view, summarised by the same checksums as benches/duckdb/list.sql.
LIST_SUMMARY = """SELECT count(*) AS n, sum(id) AS ids, sum(best_prediction_id) AS best_predictions,
  sum(best_identification_id) AS best_identifications, sum(detections_count) AS detections,
  sum(length(cover_image_path)) AS cover_chars, sum(date_part('epoch', duration)) AS duration_s,
  sum(length(determination_name)) AS name_chars, sum(date_part('epoch', event_start)) AS event_starts,
  sum(date_part('hour', first_appearance_time) * 3600 + date_part('minute', first_appearance_time) * 60
      + date_part('second', first_appearance_time)) AS first_times
FROM occurrence_list {where}"""
BEST_SUMMARY = "SELECT count(*) AS n, sum(classification_id) AS best_predictions FROM best_prediction"
# Decoding the columns the list view reads, and nothing else: the scan floor.
SCAN_FLOOR = """SELECT (SELECT sum(detection_id) + sum(algorithm_id) + count(score) + count(terminal) + sum(taxon_id)
                        + sum(id) FROM main_classification)
     + (SELECT sum(occurrence_id) + count(bbox) + count(path) + count("timestamp") + sum(id) FROM main_detection)
     + (SELECT sum(id) + count(determination_id) + count(event_id) + count(determination_score) FROM main_occurrence)
     + (SELECT sum(id) + count(withdrawn) + count(created_at) FROM main_identification) AS s"""


def run(cmd, **kw):
    """Run cmd to completion; return (seconds, peak RSS in MB, stdout)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"compare.py: {' '.join(map(str, cmd))} failed:\n{err.decode()}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def best_of(n, cmd):
    results = [run(cmd) for _ in range(n)]
    return min(r[0] for r in results), max(r[1] for r in results), results[0][2]


def csv_numbers(text):
    """The one data row of occlens's CSV output, as numbers."""
    row = text.strip().splitlines()[1].split(",")
    return [float(x) if x else None for x in row]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--occurrences", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--snapshot", help="use this snapshot directory instead of generating one")
    ap.add_argument("--layout", default="occlens", choices=["occlens", "pyarrow", "duckdb", "bigrowgroups"],
                    help="rewrite the snapshot with this tool's Parquet defaults first (benches/relayout.py)")
    args = ap.parse_args()

    print("building occlens (release)…", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "occlens"], cwd=ROOT, check=True)
    occlens = str(TARGET / "release" / "occlens")
    venv = TARGET / "bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", DUCKDB, PYARROW], check=True)
    snap = pathlib.Path(args.snapshot) if args.snapshot else TARGET / f"bench-sf-{args.occurrences}"
    if not (snap / "main_occurrence.parquet").exists():
        gen = run([occlens, "generate", "--out", str(snap), "--occurrences", str(args.occurrences)])
        print(f"generated {snap} in {gen[0]:.1f} s", file=sys.stderr)
    if args.layout != "occlens":
        laid = snap.with_name(f"{snap.name}-{args.layout}")
        if not (laid / ".complete").exists():
            subprocess.run([str(python), str(ROOT / "benches" / "relayout.py"), str(snap), str(laid), args.layout],
                           check=True)
        snap = laid
    # Everything but the request latencies computes from the snapshot's tables (--cache off).
    o = [occlens, "--cache", "off", "--snapshot", str(snap)]
    duck = [str(python), str(ROOT / "benches" / "duckdb" / "run.py"), str(snap)]
    rows = []

    def row(name, t, mb, base=None, note=""):
        ratio = f"{t / base[0]:.2f}×" if base else ""
        mem = f"{mb / base[1]:.2f}×" if base else ""
        rows.append((name, f"{t:.2f}", f"{mb:.0f}", ratio, mem, note))

    # 1. Full list view, and 4. best prediction alone: occlens vs DuckDB (faster formulation).
    for label, summary, query in [("full list view", LIST_SUMMARY.format(where=""), "list"),
                                  ("best prediction", BEST_SUMMARY, "best_prediction")]:
        ours = best_of(args.runs, o + ["sql", summary, "--format", "csv"])
        theirs = {v: best_of(args.runs, duck + [v, query]) for v in ["window", "argmax"]}
        variant, base = min(theirs.items(), key=lambda kv: kv[1][0])
        mine = csv_numbers(ours[2])
        other = [float(x) if x is not None else None for x in json.loads(base[2])[0]]
        same = mine == other
        if not same:
            sys.exit(f"compare.py: {label}: occlens {mine} != DuckDB {other}")
        for v, r in theirs.items():
            row(f"{label}: DuckDB ({v})", r[0], r[1])
        row(f"{label}: occlens", ours[0], ours[1], base, f"same {int(mine[0])} rows and checksums as DuckDB")
        if query == "list":
            list_view = ours
    floor = best_of(args.runs, o + ["sql", SCAN_FLOOR, "--format", "csv"])
    row("scan floor (decode the needed columns)", floor[0], floor[1])

    # 2. One page, 3. one detail: the whole `occlens api` process, each a fresh process (cold
    # in-process state), once reading the cache of derived tables (built once per snapshot
    # version, timed on its own row) and once computing everything from the snapshot.
    cache_dir = TARGET / "bench-cache"
    c = [occlens, "--snapshot", str(snap), "--cache-dir", str(cache_dir)]
    build = run(c + ["--cache", "refresh", "cache", "build"])
    row("build the cache (once per snapshot version)", build[0], build[1])
    requests = [(f"page ordering={o}", f"/api/v2/occurrences/?project_id=1&limit=25&ordering={o}")
                for o in ["-determination_score", "-first_appearance_timestamp", "-detections_count"]]
    requests += [("page offset=10000",
                  "/api/v2/occurrences/?project_id=1&limit=25&offset=10000&ordering=-first_appearance_timestamp"),
                 ("detail", "/api/v2/occurrences/1/")]
    for label, url in requests:
        cached = best_of(args.runs, c + ["api", url])
        computed = best_of(args.runs, o + ["api", url])
        if cached[2] != computed[2]:
            sys.exit(f"compare.py: {label}: the cached answer differs from the computed one")
        row(f"{label}, cache", cached[0], cached[1], computed, "same body as without the cache")
        row(f"{label}, no cache", computed[0], computed[1])

    # First requests on a new snapshot (issue 17: at most 1.5x the full list view): each run on
    # an empty cache directory of its own (made here, removed after), so that the request
    # builds the parts of the cache it reads and answers from them.
    first = [("list page", "/api/v2/occurrences/?project_id=1&limit=25"),
             ("detail", "/api/v2/occurrences/1/"),
             ("species list", "/api/v2/taxa/?project_id=1"),
             ("status summary", "/api/v2/status/summary/?project_id=1"),
             ("events list", "/api/v2/events/?project_id=1")]
    for label, url in first:
        results = []
        for _ in range(args.runs):
            fresh = pathlib.Path(tempfile.mkdtemp(prefix="bench-first-", dir=TARGET))
            try:
                results.append(run([occlens, "--snapshot", str(snap), "--cache-dir", str(fresh), "api", url]))
            finally:
                shutil.rmtree(fresh)
        best = (min(r[0] for r in results), max(r[1] for r in results))
        row(f"first {label} on a new snapshot", best[0], best[1], list_view, "vs the full list view (cache build included)")

    # The whole audit (issue 4), against the full list view.
    audit = best_of(args.runs, o + ["audit", "--format", "csv"])
    row("audit (all occurrences)", audit[0], audit[1], list_view, "vs the full list view")

    # Exports of project 1 (issue 3): every format, against the list view of the same rows.
    project_list = best_of(args.runs, o + ["sql", LIST_SUMMARY.format(where="WHERE project_id = 1"), "--format", "csv"])
    row("list view, project 1", project_list[0], project_list[1])
    out_dir = TARGET / "bench-exports"
    out_dir.mkdir(exist_ok=True)
    for fmt, ext in [("occurrences_simple_csv", "csv"), ("occurrences_api_json", "json"), ("ndjson", "ndjson"),
                     ("csv", "flat.csv"), ("parquet", "parquet"), ("dwca", "zip"), ("taxa_list_csv", "taxa.csv")]:
        t = best_of(1, o + ["export", "--format", fmt, "--project", "1", "--out", str(out_dir / f"p1.{ext}")])
        if fmt == "occurrences_simple_csv":
            row(f"export {fmt}, project 1", t[0], t[1], project_list, "vs the list view of project 1")
            row(f"export {fmt}, project 1", t[0], t[1], list_view, "vs the full list view")
        else:
            row(f"export {fmt}, project 1", t[0], t[1])

    head = ("operation", "seconds", "peak MB", "time vs baseline", "memory vs baseline", "note")
    lines = [
        f"{args.occurrences:,} occurrences, {args.layout} layout; {platform.machine()}, {os.cpu_count()} cores; "
        f"best of {args.runs} runs (exports: one run), each a fresh process. Ratios: occlens / DuckDB's faster formulation "
        f"(list, best prediction); audit and CSV export / the list view named in the note; "
        f"requests with the cache / the same request without it.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ] + ["| " + " | ".join(r) + " |" for r in rows]
    report = "\n".join(lines)
    (TARGET / "bench-report.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
