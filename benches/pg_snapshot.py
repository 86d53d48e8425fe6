#!/usr/bin/env python3
"""`occlens snapshot --from postgres://…` against `psql \\copy … TO csv` of the same tables.

One command (from the repository root; needs PostgreSQL's server binaries, as .ci/run installs):

    python3 benches/pg_snapshot.py                       # SF1: 1,000,000 occurrences
    python3 benches/pg_snapshot.py --snapshot /tmp/s100k # any generated snapshot

It builds occlens (release), generates the snapshot if needed (target/bench-sf-N), starts a
PostgreSQL server in $TMPDIR/occlens-bench-pg (as the postgres user when run as root), creates the
schema of tests/pg/antenna.sql and loads the snapshot (DuckDB from PyPI, in target/bench-venv,
turns each Parquet file into PostgreSQL CSV; psql \\copy loads it). Then it times, as fresh
processes, (a) psql \\copy (SELECT * FROM t ORDER BY id) TO 'file' CSV for every table, one
psql per table, summed, and (b) occlens snapshot of the same tables and columns
(--classification-arrays keep --include-pii), with peak RSS, and prints a Markdown table
(also written to target/bench-pg-report.md).
"""
import argparse
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
DUCKDB = "duckdb==2.0.0"
PG_TYPES = {"VARCHAR": "character varying", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision",
            "BOOLEAN": "boolean", "TIMESTAMP WITH TIME ZONE": "timestamp with time zone", "DATE": "date",
            "DOUBLE[]": "double precision[]", "VARCHAR[]": "character varying[]"}
TABLES = [
    "main_occurrence", "main_detection", "main_classification", "main_identification", "main_taxon",
    "ml_algorithm", "ml_algorithmcategorymap", "main_sourceimage", "main_event", "main_deployment",
    "main_project", "main_project_default_filters_include_taxa", "main_project_default_filters_exclude_taxa",
    "main_sourceimagecollection", "main_sourceimagecollection_images", "main_taxalist", "main_taxalist_taxa",
    "main_taxalist_projects", "main_taxon_projects", "main_userprojectmembership", "main_site", "main_device",
    "users_user",
]


def run(cmd, **kw):
    """Run cmd; return (seconds, peak RSS MB of the process tree's largest child)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"pg_snapshot.py: {' '.join(map(str, cmd))} failed:\n{err.decode()}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def as_postgres(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


def pg_bin():
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    if out.returncode == 0 and (pathlib.Path(out.stdout.strip()) / "initdb").exists():
        return pathlib.Path(out.stdout.strip())
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        sys.exit("pg_snapshot.py: no PostgreSQL server binaries (apt-get install postgresql)")
    return found[-1].parent


def to_csv_sql(python, parquet, csv):
    """A DuckDB COPY writing `parquet` as PostgreSQL CSV (lists as array literals, UTC times)."""
    import json
    cols = json.loads(subprocess.run(
        [python, "-c", f"import duckdb,json;print(json.dumps(duckdb.sql(\"DESCRIBE SELECT * FROM read_parquet('{parquet}')\").fetchall()))"],
        capture_output=True, text=True, check=True).stdout)
    exprs = []
    for name, typ, *_ in cols:
        q = f'"{name}"'
        if typ.endswith("[]"):
            item = "'\"' || replace(replace(CAST(x AS VARCHAR), '\\', '\\\\'), '\"', '\\\"') || '\"'"
            exprs.append(f"'{{' || array_to_string(list_transform({q}, lambda x: {item}), ',') || '}}' AS {q}")
        else:
            exprs.append(q)
    names = [(c[0], c[1]) for c in cols]
    return names, f"SET TimeZone='UTC'; COPY (SELECT {', '.join(exprs)} FROM read_parquet('{parquet}')) TO '{csv}' (HEADER false)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--occurrences", type=int, default=1_000_000)
    ap.add_argument("--snapshot", help="a generated snapshot directory to load")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "occlens"], cwd=ROOT, check=True)
    occlens = str(TARGET / "release" / "occlens")
    venv = TARGET / "bench-venv"
    python = str(venv / "bin" / "python")
    if not pathlib.Path(python).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", DUCKDB], check=True)
    snap = pathlib.Path(args.snapshot) if args.snapshot else TARGET / f"bench-sf-{args.occurrences}"
    if not (snap / "main_occurrence.parquet").exists():
        subprocess.run([occlens, "generate", "--out", str(snap), "--occurrences", str(args.occurrences)], check=True)

    # Under the system temp dir: the postgres user must reach it (a home directory may be closed).
    work = pathlib.Path(tempfile.gettempdir()) / "occlens-bench-pg"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.chmod(work, 0o777)
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
    bindir = pg_bin()
    subprocess.run(as_postgres([str(bindir / "initdb"), "-D", str(work / "data"), "-U", "postgres", "--auth=trust",
                                "-E", "UTF8", "--no-locale"]), check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(as_postgres([str(bindir / "postgres"), "-D", str(work / "data"), "-p", str(port),
                                           "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={work}",
                                           "-c", "fsync=off", "-c", "shared_buffers=1GB"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        for _ in range(200):
            if subprocess.run(["psql", url, "-c", "SELECT 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(["psql", url, "-q", "-f", str(ROOT / "tests/pg/antenna.sql")], check=True, capture_output=True)
        csv_dir = work / "load"
        csv_dir.mkdir()
        os.chmod(csv_dir, 0o777)
        started = time.perf_counter()
        loaded = []
        for t in TABLES:
            parquet = snap / f"{t}.parquet"
            if not parquet.exists():
                continue
            csv = csv_dir / f"{t}.csv"
            names, sql = to_csv_sql(python, parquet, csv)
            subprocess.run([python, "-c", f"import duckdb; duckdb.sql({sql!r})"], check=True)
            # Columns the generator writes beyond tests/pg/antenna.sql (e.g. DwC-A licence fields).
            for name, typ in names:
                pg = PG_TYPES.get(typ, "text")
                subprocess.run(["psql", url, "-q", "-c", f'ALTER TABLE {t} ADD COLUMN IF NOT EXISTS "{name}" {pg}'],
                               check=True, capture_output=True)
            cols = ", ".join(f'"{n}"' for n, _ in names)
            subprocess.run(["psql", url, "-q", "-c", f"\\copy {t} ({cols}) FROM '{csv}' CSV"], check=True)
            csv.unlink()
            loaded.append(t)
        subprocess.run(["psql", url, "-q", "-c", "VACUUM ANALYZE"], check=True)
        print(f"loaded {len(loaded)} tables in {time.perf_counter() - started:.0f} s", file=sys.stderr)

        out = work / "psql-out"
        out.mkdir()
        total, peak = 0.0, 0.0
        for t in loaded:
            sec, mb = run(["psql", url, "-q", "-c", f"\\copy (SELECT * FROM {t} ORDER BY id) TO '{out / (t + '.csv')}' CSV"])
            total, peak = total + sec, max(peak, mb)
        csv_bytes = sum(f.stat().st_size for f in out.iterdir())
        shutil.rmtree(out)
        ours = run([occlens, "snapshot", "--from", url, "--out", str(work / "snap"),
                    "--classification-arrays", "keep", "--include-pii"])
        parquet_bytes = sum(f.stat().st_size for f in (work / "snap").rglob("*.parquet"))
        rows = [
            ("psql \\copy … TO csv, every table", f"{total:.2f}", f"{peak:.0f}", "", f"{csv_bytes / 1e6:.0f} MB of CSV"),
            ("occlens snapshot", f"{ours[0]:.2f}", f"{ours[1]:.0f}", f"{ours[0] / total:.2f}×", f"{parquet_bytes / 1e6:.0f} MB of Parquet"),
        ]
        head = ("operation", "seconds", "peak MB", "time vs psql", "output")
        report = "\n".join([
            f"{snap.name}: {len(loaded)} tables; each a fresh process; psql peak is the largest of its processes.",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ] + ["| " + " | ".join(r) + " |" for r in rows])
        (TARGET / "bench-pg-report.md").write_text(report + "\n")
        print(report)
    finally:
        subprocess.run(as_postgres([str(bindir / "pg_ctl"), "-D", str(work / "data"), "-m", "fast", "stop"]),
                       capture_output=True)
        server.wait()


if __name__ == "__main__":
    main()
