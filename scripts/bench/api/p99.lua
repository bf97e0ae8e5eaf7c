-- p99.lua - wrk script: at the end prints the latency percentiles and request count on one line
-- each, in a form run.sh greps (times in milliseconds).
done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("requests %d errors %d\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
