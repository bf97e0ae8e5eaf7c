-- uncached.lua - wrk script: every request asks for the same timeline page with a different
-- (always satisfied) `since` bound, so no answer can come from the API's page cache. Reports like
-- p99.lua.
local counter = 0
local base = 946684800 -- 2000-01-01T00:00:00Z, before every message of the benchmark archive
request = function()
  counter = counter + 1
  local since = os.date("!%Y-%m-%dT%H:%M:%SZ", base + counter)
  return wrk.format("GET", wrk.path .. "&since=" .. since)
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("requests %d errors %d\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
