#!/usr/bin/env python3
"""The JSON exports against the CSV export of the same project (issue 13's table).

    python3 benches/exports.py --snapshot DIR [--project 1] [--runs 2] [--binary PATH]
                               [--compare-with OTHER_BINARY]

Each export runs as a fresh process with `--cache off`, writing to a file under the target
directory: `occurrences_simple_csv` (the baseline), `ndjson --shape list`, `ndjson --shape
detail` and `occurrences_api_json`. Reported: wall time (best of --runs), peak RSS (worst of
--runs, from wait4), the output's size, and each time as a ratio to the CSV export measured in
the same run. With --compare-with, the other binary's outputs must be byte-identical (its
times are reported too, for a before/after table).

Use a snapshot occlens did not write (benches/relayout.py SRC DST duckdb|pyarrow): users'
snapshots will not have occlens's page layout.
"""
import argparse
import filecmp
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from compare import ROOT, TARGET, run  # noqa: E402

EXPORTS = [
    ("occurrences_simple_csv", [], "csv"),
    ("ndjson --shape list", ["--shape", "list"], "list.ndjson"),
    ("ndjson --shape detail", ["--shape", "detail"], "detail.ndjson"),
    ("occurrences_api_json", [], "json"),
]


def measure(binary, snapshot, project, runs, tag):
    """{label: (seconds, peak MB, path)} for every export, each the best of `runs`."""
    out_dir = TARGET / "bench-exports"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for label, extra, ext in EXPORTS:
        fmt = label.split()[0]
        path = out_dir / f"{tag}-p{project}.{ext}"
        best = None
        for _ in range(runs):
            if path.exists():
                path.unlink()
            cmd = [binary, "--snapshot", snapshot, "--cache", "off", "export", "--format", fmt,
                   "--project", str(project), *extra, "--out", str(path)]
            seconds, mb, _ = run(cmd)
            best = (seconds, mb) if best is None else (min(best[0], seconds), max(best[1], mb))
        results[label] = (best[0], best[1], path)
        print(f"{tag}: {label}: {best[0]:.2f} s, {best[1]:.0f} MB", file=sys.stderr)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--project", type=int, default=1)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--binary", default=str(TARGET / "release" / "occlens"))
    ap.add_argument("--compare-with", help="another occlens binary (e.g. an earlier commit's)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the exported files (under target/bench-exports; about 8 GB a binary at SF1)")
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"exports.py: no binary at {args.binary} (cargo build --release, from {ROOT})")
    this = measure(args.binary, args.snapshot, args.project, args.runs, "this")
    other = None
    if args.compare_with:
        other = measure(args.compare_with, args.snapshot, args.project, args.runs, "other")
    csv = this["occurrences_simple_csv"][0]
    head = ["export", "seconds", "peak MB", "MB written", "vs CSV"]
    if other:
        head += ["other binary: seconds", "peak MB", "vs CSV", "same bytes"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for label, _, _ in EXPORTS:
        s, mb, path = this[label]
        row = [label, f"{s:.2f}", f"{mb:.0f}", f"{path.stat().st_size / 1e6:.0f}", f"{s / csv:.2f}×"]
        if other:
            os_, omb, opath = other[label]
            ocsv = other["occurrences_simple_csv"][0]
            same = filecmp.cmp(path, opath, shallow=False)
            row += [f"{os_:.2f}", f"{omb:.0f}", f"{os_ / ocsv:.2f}×", "yes" if same else "NO"]
        print("| " + " | ".join(row) + " |")
    if not args.keep:
        for results in (this, other or {}):
            for _, _, path in results.values():
                path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
