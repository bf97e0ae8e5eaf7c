#!/usr/bin/python3
"""spf_suite_json.py SUITE.yml[.gz] - the openspf/RFC 7208 test suite as JSON for spf_suite.

Reads the YAML scenarios the way python3-spf's own driver (testspf.py) does and prints one JSON
array: [{"description", "zone": {name: [entry...]}, "tests": {id: {...}}}]. A zone entry is
"TIMEOUT" or [TYPE, VALUE]: TXT values are lists of strings, MX [preference, host], A, AAAA,
PTR, CNAME strings, VALUE "TIMEOUT" a time-out for that type only. As in testspf.py, SPF-type
records (RFC 4408's type 99, not used by RFC 7208) are copied to TXT when a name has no TXT
record, and "NONE" values are dropped."""
import gzip, json, sys
import yaml

def entries(records):
    out, txt, gen = [], [], True
    for m in records:
        if not isinstance(m, dict):
            out.append(m)          # "TIMEOUT"
            continue
        for t, v in m.items():
            if t in ("TXT", "SPF") and isinstance(v, str):
                v = [v]
            if t == "TXT":
                gen = False
            elif t == "SPF" and gen:
                txt.append(["TXT", v])
            if v != ["NONE"]:
                out.append([t, v])
    if gen:
        out.extend(txt)
    return out

def main():
    path = sys.argv[1]
    f = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    scenarios = []
    for s in yaml.safe_load_all(f):
        zone = {d.lower().rstrip("."): entries(r) for d, r in (s.get("zonedata") or {}).items()}
        tests = {}
        for tid, t in s["tests"].items():
            res = t["result"]
            tests[tid] = {
                "spec": str(t.get("spec", "")),
                "helo": str(t.get("helo", "")),
                "host": str(t["host"]),
                "mailfrom": str(t.get("mailfrom", "")),
                "result": res if isinstance(res, list) else [res],
                "explanation": t.get("explanation"),
            }
        scenarios.append({"description": s.get("description", ""), "zone": zone, "tests": tests})
    json.dump(scenarios, sys.stdout, ensure_ascii=False)

main()
