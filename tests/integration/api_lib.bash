# api_lib.bash - sourced by tests/integration/api_*.sh (after lib/common.sh; not a test itself, so
# it does not end in .sh). Runs the curl examples of docs/api.md VERBATIM: each example is the ```sh
# block after a `<!-- example: NAME -->` marker, evaluated with curl wrapped to append the status.
#
# api_setup: init, two enterprises (acme with KEY, globex with OTHER_KEY), the walk-through records
# in both, one archived message for acme, then `mailagent serve`. Exports API, KEY, OTHER_KEY,
# ADMIN_KEY.

API_DOC=$SRC_DIR/docs/api.md

# api_example NAME: prints the example's shell text (fails the test when the marker is missing).
api_example() {
  /usr/bin/python3 - "$API_DOC" "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"<!-- example: " + re.escape(sys.argv[2]) + r" -->\s*\n```sh\n(.*?)^```", text, re.S | re.M)
if not m:
    sys.exit("no example " + sys.argv[2] + " in docs/api.md")
sys.stdout.write(m.group(1))
PY
}

# curl as the examples call it, with the HTTP status appended on a line of its own.
curl() { command curl -w '\n%{http_code}' "$@"; }

# run_example NAME: runs the example; sets STATUS and BODY (BODY also in $T/body).
run_example() {
  local code out
  code=$(api_example "$1") || { fail "example $1 missing from docs/api.md"; STATUS=0; BODY=; return 0; }
  out=$(eval "$code" 2>"$T/curl.err") || true
  STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
  [ "$BODY" == "$out" ] && BODY=""
  printf '%s' "$BODY" >"$T/body"
}

# expect_example NAME STATUS [PYTHON_EXPR WANT]...: runs the example, checks the status and, for
# each pair, that the Python expression over the JSON body d prints WANT.
expect_example() {
  local name=$1 want=$2; shift 2
  run_example "$name"
  assert_eq "$want" "$STATUS" "example $name: status"
  while [ $# -ge 2 ]; do
    assert_eq "$2" "$(json_get "$T/body" "($1)" 2>&1)" "example $name: $1"
    shift 2
  done
}

# req METHOD PATH KEY [BODY]: a request outside the examples (negative cases); sets STATUS, BODY.
req() {
  local out args=(-sS -X "$1" "$API$2")
  [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-H "Content-Type: application/json" --data-binary "$4")
  out=$(curl "${args[@]}" 2>"$T/curl.err") || true
  STATUS=${out##*$'\n'}
  BODY=${out%$'\n'*}
  [ "$BODY" == "$out" ] && BODY=""
  printf '%s' "$BODY" >"$T/body"
}

# expect_error METHOD PATH KEY BODY|- STATUS CODE WHAT: a JSON error with that status and code.
expect_error() {
  if [ "$4" == "-" ]; then req "$1" "$2" "$3"; else req "$1" "$2" "$3" "$4"; fi
  assert_eq "$5 $6" "$STATUS $(json_get "$T/body" 'd["error"]["code"]' 2>/dev/null)" "$7"
}

api_setup() {
  local out
  write_config "[api]" "max_body=65536"
  # write_config already wrote an [api] section; GKeyFile merges repeated groups.
  out=$(ma init 2>&1) || { fail "init: $out"; return 1; }
  ADMIN_KEY=$(grep -o 'maa_[0-9a-f]*' <<<"$out" | head -1)
  KEY=$(ma enterprise add --name "Acme Hammocks" --domain acme.example --slug acme --json |
        json_get - 'd["api_key"]["secret"]')
  OTHER_KEY=$(ma enterprise add --name "Globex Corp" --domain globex.test --slug globex --json |
              json_get - 'd["api_key"]["secret"]')
  ma employee add acme homer@acme.example --name "Homer Simpson" >/dev/null
  ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null
  ma records import globex "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null
  ma ingest acme "$FIXTURES_DIR/walkthrough/quote-request.eml" >/dev/null
  start_serve
  API=http://127.0.0.1:$API_PORT
  export API KEY OTHER_KEY ADMIN_KEY
  [ -n "$ADMIN_KEY" ] && [ -n "$KEY" ] && [ -n "$OTHER_KEY" ]
}
