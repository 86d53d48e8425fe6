#!/usr/bin/env python3
"""Local against a Ballista cluster on this machine: the full list view, the audit, a taxa list,
an archive and the cache build.

    python3 benches/cluster.py --snapshot DIR [--runs 2] [--executors 1,2] [--memory-limit 4G]
                               [--skip-parquet] [--skip-cache]

Runs each operation as a fresh `occlens` process: once locally (`--cache off`), then on a
cluster of one scheduler and 1, then 2, executors started by this script on 127.0.0.1 (each
its own `occlens cluster …` process). One executor gets every core (`--vcores` = cores);
two executors share them (`--vcores` = cores / 2 each), so every configuration has the same
task slots as the local run has partitions: on one machine this measures the cluster's
overhead (planning on the scheduler, shuffles through files and Arrow Flight, results
streamed back), not a speed-up.

Operations: the full list view summarised by checksums (the executors compute everything,
the client receives one row), the full list view written to Parquet by the client (every row
streams back, ordered by id), the audit (CSV report), project 1's taxa_list_csv (to standard
output), project 1's dwca archive and `cache build` (into a new cache directory each run; not `--cache off`, which it
refuses). Every cluster run's output (the checksums, the Parquet file, the audit's report,
the taxa list, the archive's members, the cache's files) must be byte for byte the local run's.

Wall time of the client: best of --runs. Peak memory of each process: the client's from
GNU time (/usr/bin/time); the scheduler's and each executor's from VmHWM in /proc, reset before every run
(`clear_refs` 5, which needs to own the process or be root). Executors' file writes: the
growth of write_bytes in /proc/PID/io over one run (shuffle and spill files). Run it with a
Python that has pyarrow (compare.py's virtualenv) to compare Parquet files by rows when
their bytes differ. Prints a Markdown table, also
written to $CARGO_TARGET_DIR/bench-cluster.md.

OCCLENS_BIN: the binary (default $CARGO_TARGET_DIR/release/occlens, built with the default
`cluster` feature: `cargo build --release --locked`).
"""
import argparse
import hashlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = os.environ.get("OCCLENS_BIN", str(TARGET / "release" / "occlens"))

# Checksums of the full list view (benches/compare.py's, in integers: a sum of floats may
# differ in its last bits with the order of partial sums, which a cluster changes).
LIST_SUMMARY = """SELECT count(*) AS n, sum(id) AS ids, sum(best_prediction_id) AS best_predictions,
  sum(best_identification_id) AS best_identifications, sum(detections_count) AS detections,
  sum(length(cover_image_path)) AS cover_chars,
  sum(CAST(date_part('epoch', duration) AS BIGINT)) AS duration_s,
  sum(length(determination_name)) AS name_chars,
  sum(CAST(date_part('epoch', event_start) AS BIGINT)) AS event_starts
FROM occurrence_list"""
FULL_LIST = "SELECT * FROM occurrence_list ORDER BY id"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, limit=60):
    deadline = time.time() + limit
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"cluster.py: {what} did not listen on {port} within {limit} s")


def peak_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Cluster:
    """A scheduler and `n` executors, each an occlens process."""

    def __init__(self, n, cores, memory_limit, tmp):
        self.port = free_port()
        self.procs = []
        env = dict(os.environ, TMPDIR=tmp)
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.scheduler = subprocess.Popen(
            [BIN, "cluster", "scheduler", "--port", str(self.port)], **quiet)
        wait_port(self.port, "the scheduler")
        self.executors = []
        vcores = max(1, cores // n)
        for _ in range(n):
            flight, grpc = free_port(), free_port()
            memory = ["--memory-limit", memory_limit] if memory_limit else []
            self.executors.append(subprocess.Popen(
                [BIN] + memory + ["cluster", "executor", "--scheduler", f"127.0.0.1:{self.port}",
                                  "--port", str(flight), "--grpc-port", str(grpc),
                                  "--vcores", str(vcores)], **quiet))
            wait_port(flight, "an executor")
        time.sleep(1.0)  # registration follows the listening socket
        self.url = f"df://127.0.0.1:{self.port}"
        self.work = tmp

    def processes(self):
        return [("scheduler", self.scheduler)] + [
            (f"executor {i + 1}", e) for i, e in enumerate(self.executors)]

    def stop(self):
        for _, p in self.processes():
            p.terminate()
        for _, p in self.processes():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def written(pid):
    """Bytes the process has written to files (/proc/PID/io write_bytes): an executor's shuffle
    and spill files (its results go to the network)."""
    for line in open(f"/proc/{pid}/io"):
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def same_parquet(a, b):
    """Whether two Parquet files hold the same rows in the same order: the same bytes, or (page
    boundaries may follow batch sizes) the same table read by pyarrow when it is installed."""
    if file_digest(a) == file_digest(b):
        return True
    try:
        import pyarrow.parquet as pq
    except ImportError:
        sys.exit("cluster.py: the Parquet files differ in bytes; install pyarrow to compare their rows")
    return pq.read_table(a).equals(pq.read_table(b))


def dir_digest(path):
    """One digest of every file under `path`: its path below `path` and its bytes."""
    h = hashlib.sha256()
    for f in sorted(pathlib.Path(path).rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes())
    return "dir:" + h.hexdigest()


def zip_digest(path):
    """One digest of a zip archive's members (names and bytes, in order): an archive's own
    timestamps are the moment it was written."""
    h = hashlib.sha256()
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            h.update(name.encode() + b"\0" + z.read(name))
    return "zip:" + h.hexdigest()


def timed(cmd, runs, cluster=None, out=None, reference=None):
    """Best wall time of `runs` fresh client processes; the peak of every process (MB, worst of
    the runs), with the bytes the executors wrote to files in one run (MB) as "shuffle"; the
    output's digest (the same every run). With `out`, the command writes that file: it is
    compared with `reference` (or kept as the reference when there is none), then removed."""
    best, peaks, digest = None, {}, None
    for _ in range(runs):
        if cluster:
            before = sum(written(e.pid) for e in cluster.executors)
            for _, p in cluster.processes():
                reset_peak(p.pid)
        # The client's peak from GNU time, not from wait4: a child's ru_maxrss starts at the
        # size of this script at fork (exec keeps it), which pyarrow's comparisons grow to
        # hundreds of MB; the client that time forks starts from time's.
        peak_file = tempfile.NamedTemporaryFile(prefix="occlens-bench-peak-", delete=False)
        peak_file.close()
        start = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", peak_file.name] + cmd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        h = hashlib.sha256()
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
            h.update(chunk)
        err = p.stderr.read()
        _, status, _ = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - start
        with open(peak_file.name) as f:
            lines = f.read().split()
        os.remove(peak_file.name)
        if os.waitstatus_to_exitcode(status) != 0:
            if cluster is None:
                sys.exit(f"cluster.py: {' '.join(cmd)} failed:\n{err.decode()}")
            # A cluster run that fails (e.g. Resources exhausted under --memory-limit) is a row.
            return None, {"error": err.decode().strip().splitlines()[-1][:160]}, None
        best = seconds if best is None else min(best, seconds)
        peaks["client"] = max(peaks.get("client", 0), int(lines[-1]) / 1024)
        if cluster:
            for name, q in cluster.processes():
                peaks[name] = max(peaks.get(name, 0), peak_mb(q.pid))
            peaks["shuffle"] = (sum(written(e.pid) for e in cluster.executors) - before) / 1e6
        d = h.hexdigest()
        if out and out.endswith(".zip"):
            # An archive (dwca): compared by its members, removed after each run.
            d = zip_digest(out)
            os.remove(out)
        elif out and os.path.isdir(out):
            # A directory (the cache build's): compared by digest, removed after each run.
            d = dir_digest(out)
            shutil.rmtree(out)
        elif out:
            if reference is None:
                reference = out + ".reference"
                os.rename(out, reference)
                d = reference
            else:
                d = reference if same_parquet(out, reference) else "differs"
                os.remove(out)
        if digest is not None and d != digest:
            sys.exit(f"cluster.py: {' '.join(cmd)}: two runs gave different output")
        digest = d
    return best, peaks, digest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshot", required=True)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--executors", default="1,2")
    ap.add_argument("--memory-limit", help="each executor's --memory-limit (default: none)")
    ap.add_argument("--partitions", default="default",
                    help="comma-separated partition counts the cluster runs are planned with "
                         "(DATAFUSION_EXECUTION_TARGET_PARTITIONS; default: the client's cores)")
    ap.add_argument("--skip-parquet", action="store_true", help="leave out the Parquet export of the full list")
    ap.add_argument("--skip-cache", action="store_true", help="leave out the cache build")
    args = ap.parse_args()
    cores = os.cpu_count() or 2
    snap = str(pathlib.Path(args.snapshot).resolve())
    work = tempfile.mkdtemp(prefix="occlens-bench-cluster-")
    outdir = tempfile.mkdtemp(prefix="occlens-bench-out-")
    out = os.path.join(outdir, "list.parquet")
    cache = os.path.join(outdir, "cache")
    archive = os.path.join(outdir, "p1.zip")
    operations = [("full list view (checksums)", ["sql", LIST_SUMMARY, "--format", "csv"], None),
                  ("audit (CSV report)", ["audit", "--format", "csv"], None),
                  ("taxa_list_csv, project 1", ["export", "--format", "taxa_list_csv", "--project", "1",
                                                "--out", "-"], None),
                  ("dwca, project 1", ["export", "--format", "dwca", "--project", "1", "--packaged-at",
                                       "2026-11-21T00:00:00", "--out", archive], archive)]
    if not args.skip_parquet:
        operations.insert(1, ("full list view → Parquet", ["sql", FULL_LIST, "--out", out, "--overwrite"], out))
    if not args.skip_cache:
        operations.append(("cache build", ["--cache-dir", cache, "cache", "build"], cache))
    rows = []
    local = {}
    for name, cmd, path in operations:
        off = [] if "cache" in cmd else ["--cache", "off"]
        t, peaks, digest = timed([BIN] + off + ["--snapshot", snap] + cmd, args.runs, out=path)
        local[name] = (t, peaks["client"], digest)
        rows.append((name, "local", f"{t:.2f}", "", f"{peaks['client']:.0f}", "", "", "", ""))
        print(rows[-1], file=sys.stderr)
    for n in [int(x) for x in args.executors.split(",")]:
        cluster = Cluster(n, cores, args.memory_limit, work)
        try:
            for partitions in args.partitions.split(","):
                env = [] if partitions == "default" else ["env", f"DATAFUSION_EXECUTION_TARGET_PARTITIONS={partitions}"]
                where = f"cluster, {n} executor{'s' if n > 1 else ''}" + (
                    "" if partitions == "default" else f", {partitions} partition{'s' if partitions != '1' else ''}")
                for name, cmd, path in operations:
                    reference = local[name][2] if path else None
                    t, peaks, digest = timed(env + [BIN, "--snapshot", snap, "--cluster", cluster.url] + cmd,
                                             args.runs, cluster, out=path, reference=reference)
                    if t is None:
                        rows.append((name, where, "failed", "", "", "", "", "", peaks["error"]))
                        print(rows[-1], file=sys.stderr)
                        continue
                    same = "yes" if digest == local[name][2] else "**no**"
                    executors = " / ".join(f"{peaks[k]:.0f}" for k in sorted(peaks) if k.startswith("executor"))
                    rows.append((name, where, f"{t:.2f}", f"{t / local[name][0]:.2f}×", f"{peaks['client']:.0f}",
                                 f"{peaks['scheduler']:.0f}", executors, f"{peaks['shuffle']:.0f}", same))
                    print(rows[-1], file=sys.stderr)
        finally:
            cluster.stop()
    for name, _, path in operations:
        if path and os.path.isfile(local[name][2]):
            os.remove(local[name][2])
    for d in (work, outdir):
        if not os.listdir(d):
            os.rmdir(d)
    head = ("operation", "where", "seconds", "vs local", "client peak MB", "scheduler peak MB",
            "executor peak MB", "executors' file writes MB", "output as local")
    lines = [
        f"{snap}; {cores} cores; best of {args.runs} runs, each a fresh client process; executors' "
        f"--memory-limit: {args.memory_limit or 'none'}; output as local: the same checksums, report or Parquet rows.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ] + ["| " + " | ".join(r) + " |" for r in rows]
    report = "\n".join(lines)
    TARGET.mkdir(parents=True, exist_ok=True)
    (TARGET / "bench-cluster.md").write_text(report + "\n")
    print(report)


if __name__ == "__main__":
    main()
