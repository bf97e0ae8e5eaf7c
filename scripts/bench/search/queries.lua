-- queries.lua - wrk script for scripts/bench/search/run.sh: each request asks GET /v1/search with
-- the next two-word query of the list (common and rare words of gen_archive's vocabulary, a word
-- with the phrase "benchmark message", none cached), newest first, 50 hits; prints percentiles
-- by p99.lua's done().
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
-- done(): the percentiles, as p99.lua prints them
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "../api/p99.lua")
