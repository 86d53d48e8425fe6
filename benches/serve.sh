#!/usr/bin/env bash
# Load test of `occlens serve` (not a test): start the server on SNAPSHOT with its cache built,
# drive it with wrk on loopback with a mix of list pages (three orderings, offsets up to
# 10,000, a deployment filter, verified=false) and details, at concurrency 1, 8 and 32, each
# for SECONDS; print p50/p95/p99, throughput, error counts and the server's peak memory.
#
# usage: benches/serve.sh SNAPSHOT [SECONDS]     (OCCLENS_BIN: default target/release/occlens;
#        OCCLENS_IN_MEMORY: the server's --in-memory, default lists; OCCLENS_RESPONSE_CACHE: its
#        --response-cache, default 128M: the targets repeat, so after the first pass every
#        answer is a remembered one; 0 computes every answer)
set -euo pipefail
snapshot=$1
seconds=${2:-20}
bin=${OCCLENS_BIN:-${CARGO_TARGET_DIR:-target}/release/occlens}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v wrk >/dev/null; then
  echo "installing wrk (apt-get)" >&2
  apt-get install -y wrk >/dev/null 2>&1 || sudo apt-get install -y wrk >/dev/null
fi
work=$(mktemp -d)
trap 'kill -TERM $server 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" --snapshot "$snapshot" --cache-dir "$work/cache" cache build >&2
"$bin" --snapshot "$snapshot" --cache-dir "$work/cache" serve --listen 127.0.0.1:0 --quiet \
  --max-in-flight 8 --max-queued 1024 --in-memory "${OCCLENS_IN_MEMORY:-lists}" \
  --response-cache "${OCCLENS_RESPONSE_CACHE:-128M}" 2> "$work/server.log" &
server=$!
for _ in $(seq 600); do
  grep -q "serving http://" "$work/server.log" && break
  sleep 0.1
done
base=$(grep -o "http://[0-9.:]*" "$work/server.log" | head -1)
echo "server $base (pid $server)" >&2
project=$("$bin" --snapshot "$snapshot" sql --format csv \
  "SELECT project_id FROM occurrence_list GROUP BY 1 ORDER BY count(*) DESC LIMIT 1" | tail -1)
deployment=$("$bin" --snapshot "$snapshot" sql --format csv \
  "SELECT deployment_id FROM occurrence_list WHERE project_id = $project GROUP BY 1 ORDER BY count(*) DESC LIMIT 1" | tail -1)
{
  for ordering in -determination_score created_at -detections_count; do
    for offset in 0 100 1000 5000 10000; do
      echo "/api/v2/occurrences/?project_id=$project&ordering=$ordering&limit=25&offset=$offset"
    done
    echo "/api/v2/occurrences/?project_id=$project&ordering=$ordering&deployment=$deployment"
    echo "/api/v2/occurrences/?project_id=$project&ordering=$ordering&verified=false&offset=500"
  done
  curl -s "$base/api/v2/occurrences/?project_id=$project&limit=100&offset=200" |
    python3 -c 'import json,sys; [print("/api/v2/occurrences/%d/?project_id=%s" % (r["id"], sys.argv[1])) for r in json.load(sys.stdin)["results"][:21]]' "$project"
} > "$work/urls.txt"
echo "$(wc -l < "$work/urls.txt") targets (half list pages, half details)" >&2
for c in 1 8 32; do
  threads=$(( c < 2 ? 1 : 2 ))
  result=$(OCCLENS_URLS="$work/urls.txt" wrk -t "$threads" -c "$c" -d "${seconds}s" --timeout 10s \
    -s "$here/serve.lua" "$base" | tail -1)
  echo "{\"concurrency\": $c, \"result\": $result}"
done
peak=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
echo "{\"server_peak_rss_mib\": $(( peak / 1024 ))}"
kill -TERM "$server"
wait "$server" || true
