-- wrk script for benches/serve.sh: cycle through the request targets of $OCCLENS_URLS (one
-- path?query per line), each connection from its own offset; print one JSON summary line.
local targets = {}
for line in io.lines(os.getenv("OCCLENS_URLS")) do
  if #line > 0 then targets[#targets + 1] = line end
end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("start", counter * 7919)
end

function init(args)
  i = start or 0
end

function request()
  i = i + 1
  return wrk.format("GET", targets[(i % #targets) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, e.status, e.connect + e.read + e.write + e.timeout))
end
