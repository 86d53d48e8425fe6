#!/usr/bin/env python3
"""Whole-process latency of the endpoints other than occurrences (issue: species lists,
summaries, charts, stats, events, deployments), release build, cache built, OS file cache
warm. Each figure is the median of --runs fresh `occlens api` processes; the baseline in the
same run is one occurrence list page (the request the README's headline measures).

    python3 benches/endpoints.py --snapshot /tmp/sf1 [--bin target/release/occlens] [--runs 5]

Make an SF1 snapshot with `occlens generate --out /tmp/sf1 --occurrences 1000000`.
"""
import argparse
import statistics
import subprocess
import time

REQUESTS = [
    ("occurrence list page (baseline)", "/api/v2/occurrences/?project_id=1&limit=25", None),
    ("species list page", "/api/v2/taxa/?project_id=1", 0.150),
    ("species list, by -occurrences_count", "/api/v2/taxa/?project_id=1&ordering=-occurrences_count", 0.150),
    ("taxon detail", "/api/v2/taxa/{taxon}/?project_id=1", None),
    ("status summary", "/api/v2/status/summary/?project_id=1", 0.100),
    ("project charts", "/api/v2/projects/1/charts/", 0.300),
    ("model agreement", "/api/v2/occurrences/stats/model-agreement/?project_id=1", 0.300),
    ("top identifiers", "/api/v2/occurrences/stats/top-identifiers/?project_id=1", None),
    ("events page", "/api/v2/events/?project_id=1", None),
    ("event detail", "/api/v2/events/1/", None),
    ("deployments page", "/api/v2/deployments/?project_id=1", None),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--bin", default="target/release/occlens")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--as", dest="who", default="superuser")
    args = ap.parse_args()
    base = [args.bin, "--snapshot", args.snapshot]
    subprocess.run(base + ["cache", "build"], check=True, stdout=subprocess.DEVNULL)
    taxon = subprocess.run(
        base + ["sql", "--format", "csv", "SELECT determination_id FROM main_occurrence "
                "WHERE project_id = 1 AND determination_id IS NOT NULL LIMIT 1"],
        check=True, capture_output=True, text=True).stdout.split()[-1]
    rows = []
    for name, url, target in REQUESTS:
        url = url.format(taxon=taxon)
        cmd = base + ["api", "--as", args.who, url]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # warm the OS file cache
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            out = subprocess.run(cmd, stdout=subprocess.PIPE)
            times.append(time.perf_counter() - t)
            if out.returncode != 0:
                raise SystemExit(f"{url}: exit {out.returncode}")
        rows.append((name, url, statistics.median(times), target))
    baseline = rows[0][2]
    print("| request | seconds (median) | vs occurrence page | target |")
    print("|---|---|---|---|")
    for name, url, s, target in rows:
        mark = "" if target is None else (f"≤ {target:.3f} s " + ("met" if s <= target else "missed"))
        print(f"| {name} (`{url}`) | {s:.3f} | {s / baseline:.2f}× | {mark} |")


if __name__ == "__main__":
    main()
