-- queries.lua - wrk script for scripts/bench/search/run.sh: each request asks GET /v1/search with
-- the next two-word query of the list (common and rare words of gen_archive's vocabulary, a word
-- with the phrase "benchmark message", none cached), newest first, 50 hits; prints percentiles
-- as p99.lua does.
local queries = {
  "benchmark+w0001", "w0003+w0010", "w0500+w1500", "w0042+message", "synthetic+w0777",
  "w0000+w0002", "w0123+w0456", "customer+w0020", "w1999+benchmark", "w0007+w0008",
}
local i = 0
request = function()
  i = i + 1
  local q = queries[(i % #queries) + 1]
  return wrk.format("GET", "/v1/search?limit=50&q=" .. q)
end
done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("requests %d errors %d\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
