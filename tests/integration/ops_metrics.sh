#!/usr/bin/env bash
# ops_metrics.sh - /metrics as an operator's Prometheus reads it: skipped messages by reason, SMTP
# replies and API answers by class, webhook attempts by outcome, mailagent_build_info with the
# versions, process metrics; every family announced once (HELP, TYPE) and every series unique.
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
INBOUND=$(json_get "$T/ent.json" 'd["inbound_address"]')
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null
start_serve

# SMTP: EHLO (2xx), an unknown recipient (5xx), QUIT (2xx).
python3 - "$SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("metrics.test")
s.mail("a@b.example")
code, _ = s.rcpt("nobody@nowhere.example")
assert code >= 500, code
s.quit()
PY
# API: 200, 404, 401.
curl -s -o /dev/null "http://127.0.0.1:$API_PORT/healthz"
curl -s -o /dev/null -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/records/contact/NOPE"
curl -s -o /dev/null "http://127.0.0.1:$API_PORT/v1/settings"
# Pipeline: one archived, the same again (duplicate), one internal only.
cat > "$T/internal.eml" <<'M'
From: Homer <homer@acme.example>
To: Marge <marge@acme.example>
Subject: Lunch
Date: Wed, 04 Sep 2024 10:00:00 +0000
Message-ID: <lunch@acme.example>

Noon?
M
for f in "$FIXTURES_DIR/walkthrough/quote-request.eml" "$FIXTURES_DIR/walkthrough/quote-request.eml" "$T/internal.eml"; do
  swaks --server "127.0.0.1:$SMTP_PORT" --from homer@acme.example --to "$INBOUND" --data "$f" >"$T/swaks.log" 2>&1 \
    || { cat "$T/swaks.log"; fail "swaks"; }
done
metric() { awk -v k="$1" '$1 == k {print $2}' "$T/metrics.txt"; }
for _ in $(seq 1 100); do
  curl -s "http://127.0.0.1:$API_PORT/metrics" >"$T/metrics.txt"
  [ "$(metric 'mailagent_messages_skipped_total{reason="internal_only"}')" = 1 ] && break
  sleep 0.1
done
assert_eq 1 "$(metric 'mailagent_messages_archived_total')" "one message archived"
assert_eq 1 "$(metric 'mailagent_messages_skipped_total{reason="duplicate"}')" "the second copy counted as a duplicate"
assert_eq 1 "$(metric 'mailagent_messages_skipped_total{reason="internal_only"}')" "the internal message counted as internal_only"
gt0() { local v; v=$(metric "$1"); [ -n "$v" ] && [ "${v%.*}" -gt 0 ] && pass "$1 = $v" || fail "$1 = [$v], want > 0"; }
gt0 'mailagent_smtp_replies_total{class="2xx"}'
gt0 'mailagent_smtp_replies_total{class="5xx"}'
gt0 'mailagent_api_responses_total{class="2xx"}'
gt0 'mailagent_api_responses_total{class="4xx"}'
gt0 process_resident_memory_bytes
gt0 process_open_fds
gt0 process_start_time_seconds
assert_eq 1 "$(grep -c '^mailagent_webhook_attempts_total{outcome="delivered"} ' "$T/metrics.txt")" "webhook attempts by outcome"
assert_contains "$(grep '^mailagent_build_info' "$T/metrics.txt")" "version=\"$("$MAILAGENT" version --json | json_get - 'd["version"]')\"" "build_info names the version"
assert_contains "$(grep '^mailagent_build_info' "$T/metrics.txt")" 'gmime="3.' "build_info names the libraries"
for r in duplicate archiving_off unreadable internal_only no_matching_record other; do
  [ -n "$(metric "mailagent_messages_skipped_total{reason=\"$r\"}")" ] && pass "skip reason $r exposed" || fail "no skip reason $r"
done
python3 - "$T/metrics.txt" <<'PY' > "$T/format.out"
import re, sys
helps, types, series, problems = {}, {}, set(), []
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        name = line.split()[2]; helps[name] = helps.get(name, 0) + 1
    elif line.startswith("# TYPE "):
        name = line.split()[2]; types[name] = types.get(name, 0) + 1
    elif line:
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$', line)
        if not m: problems.append("bad line: " + line); continue
        if (m.group(1), m.group(2)) in series: problems.append("duplicate series: " + line)
        series.add((m.group(1), m.group(2)))
problems += ["HELP twice: " + n for n, c in helps.items() if c > 1] + ["TYPE twice: " + n for n, c in types.items() if c > 1]
print("\n".join(problems))
PY
assert_eq "" "$(cat "$T/format.out")" "the exposition is well formed: one HELP/TYPE per family, unique series"
finish
