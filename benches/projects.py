#!/usr/bin/env python3
"""Per-project cost (issue 17): does a project's export cost follow the project's size?

    python3 benches/projects.py --snapshot DIR [--runs 2] [--binary PATH] [--python VENV_PYTHON]

Every command is a fresh process with `--cache off`, or with `--cache built` reading the cache
of derived tables that the script builds first (in its own directory; the state after a
snapshot's first request); wall time, best of --runs; peak RSS from wait4, worst of --runs:
- the full export: `occlens sql 'SELECT * FROM occurrence_nested ORDER BY id' --out F.parquet`
  (the rows and columns of `export --format parquet`, every project);
- each project's `export --format parquet --project P`, with f = the project's share of
  main_occurrence and the target (f + 0.1) × the full export;
- each project's list view as DuckDB computes it (benches/duckdb/list.sql with the project's
  filter, the faster of its two formulations, one process per project), beside occlens's
  export and occlens's list view of the project (`sql` over occurrence_list, the same
  checksums, which must agree with DuckDB's).

--python is a Python with duckdb (compare.py's virtualenv, target/bench-venv); without it,
the DuckDB columns are left out. Use a snapshot occlens did not write (benches/relayout.py).
"""
import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from compare import LIST_SUMMARY, ROOT, TARGET, best_of, csv_numbers, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--binary", default=str(TARGET / "release" / "occlens"))
    ap.add_argument("--python", help="a Python with duckdb installed (e.g. target/bench-venv/bin/python)")
    ap.add_argument("--cache", choices=["off", "built"], default="off",
                    help="off: every command computes from the snapshot; built: from the cache, built first")
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"projects.py: no binary at {args.binary} (cargo build --release, from {ROOT})")
    out_dir = TARGET / "bench-projects"
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.cache == "built":
        os.environ["OCCLENS_CACHE_DIR"] = str(out_dir / "cache")
        o = [args.binary, "--snapshot", args.snapshot]
        run(o + ["cache", "build"])
    else:
        o = [args.binary, "--cache", "off", "--snapshot", args.snapshot]

    counts = run(o + ["sql", "SELECT project_id, count(*) AS n FROM main_occurrence GROUP BY project_id "
                               "ORDER BY project_id", "--format", "csv"])[2]
    shares = {}
    for line in counts.strip().splitlines()[1:]:
        p, n = line.split(",")
        if p:
            shares[int(p)] = int(n)
    total = sum(shares.values())

    def timed(cmd, out=None):
        def once():
            if out and out.exists():
                out.unlink()
            return run(cmd)
        results = [once() for _ in range(args.runs)]
        return min(r[0] for r in results), max(r[1] for r in results), results[0][2]

    full_out = out_dir / "all.parquet"
    full = timed(o + ["sql", "SELECT * FROM occurrence_nested ORDER BY id", "--out", str(full_out)], full_out)
    print(f"full export: {full[0]:.2f} s, {full[1]:.0f} MB", file=sys.stderr)

    duck = None
    if args.python:
        duck = [args.python, str(ROOT / "benches" / "duckdb" / "run.py"), args.snapshot]

    head = ["project", "share f", "export s", "peak MB", "vs full export", "target (f + 0.1)",
            "occlens list view s"]
    if duck:
        head += ["DuckDB list view s", "export vs DuckDB"]
    rows = []
    sums = {"export": 0.0, "list": 0.0, "duck": 0.0}
    for p, n in sorted(shares.items()):
        f = n / total
        out = out_dir / f"p{p}.parquet"
        exp = timed(o + ["export", "--format", "parquet", "--project", str(p), "--out", str(out)], out)
        where = f"WHERE project_id = {p}"
        lst = best_of(args.runs, o + ["sql", LIST_SUMMARY.format(where=where), "--format", "csv"])
        sums["export"] += exp[0]
        sums["list"] += lst[0]
        row = [str(p), f"{f:.3f}", f"{exp[0]:.2f}", f"{exp[1]:.0f}", f"{exp[0] / full[0]:.2f}×",
               f"{f + 0.1:.2f}× " + ("met" if exp[0] / full[0] <= f + 0.1 else "not met"), f"{lst[0]:.2f}"]
        if duck:
            theirs = {}
            for variant in ["window", "argmax"]:
                theirs[variant] = best_of(args.runs, duck + [variant, "list", f"project_id = {p}"])
            variant, base = min(theirs.items(), key=lambda kv: kv[1][0])
            mine = csv_numbers(lst[2])
            other = [float(x) if x is not None else None for x in json.loads(base[2])[0]]
            if mine != other:
                sys.exit(f"projects.py: project {p}: occlens {mine} != DuckDB {other}")
            sums["duck"] += base[0]
            row += [f"{base[0]:.2f} ({variant})", f"{exp[0] / base[0]:.2f}×"]
        rows.append(row)
        print(" | ".join(row), file=sys.stderr)
    total_row = ["all, one process each", "1.000", f"{sums['export']:.2f}", "", "", "", f"{sums['list']:.2f}"]
    if duck:
        ratio = sums["export"] / sums["duck"]
        total_row += [f"{sums['duck']:.2f}", f"{ratio:.2f}× (target ≤ 0.80×: {'met' if ratio <= 0.8 else 'not met'})"]
    rows.append(total_row)

    print(f"cache {args.cache}; full export (every project, occurrence_nested → Parquet): "
          f"{full[0]:.2f} s, {full[1]:.0f} MB\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
