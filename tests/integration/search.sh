#!/usr/bin/env bash
# search.sh - issue 16's search, retention and erasure through the real binary:
# - GET /v1/search and `mailagent search` in English, Chinese and Japanese, newest first with
#   highlighted snippets and cursor pages; a search with one enterprise's key never returns
#   another's mail; hostile queries get a 400 JSON error, never an FTS5 message;
# - each capture level leaves no body (metadata) or decoded attachment (no_attachments, metadata)
#   bytes in any file of the data directory, and no body text in the index (no_attachments keeps
#   the raw message, attachments encoded, as pipeline.c documents);
# - erasure by address (API, then CLI) and retention on the test clock (the retention thread of
#   `serve`) report counts and leave no byte of the mail in the database, its WAL, the index or
#   the blob store: every file under the data directory is scanned for unique marker words.
. "$(dirname "$0")/lib/common.sh"

write_config
clock_start 1800000000
ma init >/dev/null
key_of() { json_get - 'd["api_key"]["secret"]'; }
KEY=$(ma enterprise add --name Acme --domain acme.example --slug acme --json | key_of)
OTHER_KEY=$(ma enterprise add --name Globex --domain globex.example --slug globex --json | key_of)
ma enterprise add --name Initech --domain initech.example --slug initech >/dev/null
for e in acme globex initech; do ma settings "$e" archive_unmatched=on >/dev/null; done
ma settings globex capture_level=metadata >/dev/null
ma settings initech capture_level=no_attachments >/dev/null

# mail FILE FROM TO SUBJECT BODY [ATTACHMENT-NAME ATTACHMENT-TEXT]: a message (attachment base64).
n=0
mail() {
  n=$((n + 1))
  {
    printf 'From: %s\nTo: %s\nSubject: %s\nDate: Wed, 13 Jan 2027 10:%02d:00 +0000\n' "$2" "$3" "$4" "$n"
    printf 'Message-ID: <m%d@test.example>\nMIME-Version: 1.0\n' "$n"
    if [ $# -ge 7 ]; then
      printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n%s\n' "$5"
      printf -- '--b\nContent-Type: application/octet-stream; name="%s"\nContent-Disposition: attachment; filename="%s"\n' "$6" "$6"
      printf 'Content-Transfer-Encoding: base64\n\n%s\n--b--\n' "$(printf '%s' "$7" | base64 -w0)"
    else
      printf 'Content-Type: text/plain; charset=utf-8\n\n%s\n' "$5"
    fi
  } > "$1"
}
mail "$T/a1.eml" "Gone Person <gone@customer.example>" homer@acme.example "Invoice 17" \
  "Please pay the invoice. zzqj7eraseword" "invoice-17.pdf" "attachment bytes zzqj7eraseattach"
mail "$T/a2.eml" "keep@customer.example" homer@acme.example "Quarterly invoice" "The quarterly invoice is attached."
mail "$T/a3.eml" "li@example.cn" homer@acme.example "季度报告" "请查看附件中的第三季度销售报告。"
mail "$T/a4.eml" "sato@example.jp" homer@acme.example "会議のお知らせ" "東京都の事務所で来週の会議を行います。" \
  "議事録.txt" "ok"
mail "$T/a5.eml" "other@customer.example" "homer@acme.example, Gone <GONE@customer.example>" "Newsletter" \
  "gone is only a recipient here zzqj7secondword"
mail "$T/g1.eml" "carol@customer.example" bob@globex.example "Invoice for Globex" \
  "globex invoice body zzqj7metabody" "g.pdf" "globex attachment zzqj7metaattach"
mail "$T/i1.eml" "carol@customer.example" pat@initech.example "Initech invoice" \
  "initech body zzqj7noattbody" "i.pdf" "initech attachment zzqj7noattattach"
ma ingest acme -q "$T"/a1.eml "$T"/a2.eml "$T"/a3.eml "$T"/a4.eml "$T"/a5.eml
ma ingest globex -q "$T/g1.eml"
ma ingest initech -q "$T/i1.eml"

# scan WORD: how many files under the data directory hold WORD (any case) or its tail (the index
# stores a term after the prefix it shares with the term before it).
scan() { { grep -railF -e "$1" -e "${1:3}" "$T/data" 2>/dev/null || true; } | wc -l; }

# --- capture levels -----------------------------------------------------------------------------
assert_eq 0 "$(scan zzqj7metabody)" "metadata: no body bytes in any file"
assert_eq 0 "$(scan zzqj7metaattach)" "metadata: no attachment bytes in any file"
assert_eq 0 "$(scan zzqj7noattattach)" "no_attachments: no decoded attachment content in any file"
# (no_attachments keeps the raw message, so the attachment stays there in its transfer encoding)
assert_contains "$(cd "$T/data" && grep -ralF "$(printf '%s' 'initech attachment zzqj7noattattach' | base64 -w0)" . || true)" \
  "mailagent.db" "no_attachments: the raw copy keeps the encoded attachment"
assert_contains "$(cd "$T/data" && grep -railF zzqj7noattbody . || true)" "mailagent.db" "no_attachments: the body is kept"
assert_contains "$(cd "$T/data" && grep -railF zzqj7eraseattach . || true)" "mailagent.db" "full: the attachment is kept (the scan can see)"

start_serve
API=http://127.0.0.1:$API_PORT
# search KEY QUERY [EXTRA CURL ARGS]: GET /v1/search; sets STATUS and $T/body.
search() {
  local key=$1 q=$2; shift 2
  STATUS=$(curl -sS -o "$T/body" -w '%{http_code}' -G "$API/v1/search" -H "Authorization: Bearer $key" \
           --data-urlencode "q=$q" "$@")
}
ids() { json_get "$T/body" '" ".join(i["subject"] for i in d["items"])'; }

# --- search -------------------------------------------------------------------------------------
search "$KEY" invoice
assert_eq "200|Quarterly invoice Invoice 17" "$STATUS|$(ids)" "acme: invoice, newest first"
assert_contains "$(json_get "$T/body" 'd["items"][0]["highlight"]["subject"]')" "<mark>invoice</mark>" "highlighted subject"
assert_contains "$(json_get "$T/body" 'd["items"][1]["highlight"]["snippet"]')" "the <mark>invoice</mark>." "highlighted snippet"
search "$OTHER_KEY" invoice
assert_eq "200|Invoice for Globex" "$STATUS|$(ids)" "globex's key: only globex's mail"
search "$OTHER_KEY" quarterly
assert_eq "" "$(ids)" "globex's key never finds acme's words"
search "$KEY" globex
assert_eq "" "$(ids)" "acme's key never finds globex's words"
search "$OTHER_KEY" zzqj7metabody
assert_eq "" "$(ids)" "metadata capture: the body is not indexed"
search "$KEY" 销售报告
assert_eq "季度报告" "$(ids)" "Chinese: any two or more characters"
search "$KEY" 季度
assert_eq "季度报告" "$(ids)" "Chinese: two characters"
search "$KEY" 事務所
assert_eq "会議のお知らせ" "$(ids)" "Japanese"
search "$KEY" "file:議事録"
assert_eq "会議のお知らせ" "$(ids)" "Japanese attachment name"
search "$KEY" "from:gone@customer.example"
assert_eq "Invoice 17" "$(ids)" "from:"
search "$KEY" invoice --data-urlencode limit=1
assert_eq "Quarterly invoice" "$(ids)" "page 1"
cursor=$(json_get "$T/body" 'd["next_cursor"]')
search "$KEY" invoice --data-urlencode limit=1 --data-urlencode "cursor=$cursor"
assert_eq "Invoice 17|None" "$(ids)|$(json_get "$T/body" 'd["next_cursor"]')" "page 2, the last"
search "$KEY" invoice --data-urlencode order=relevance
assert_eq 200 "$STATUS" "order=relevance"

# hostile input: 400 with the JSON error, never FTS5's words
for q in '"' '( ) *' "$(printf 'x%.0s' $(seq 1 600))"; do
  search "$KEY" "$q"
  assert_eq "400 invalid_query" "$STATUS $(json_get "$T/body" 'd["error"]["code"]')" "refused query [${q:0:20}]"
  assert_not_contains "$(cat "$T/body")" "fts5" "no FTS5 message leaks"
done
STATUS=$(curl -sS -o "$T/body" -w '%{http_code}' "$API/v1/search?q=%FF%FE" -H "Authorization: Bearer $KEY")
assert_eq "400 invalid_query" "$STATUS $(json_get "$T/body" 'd["error"]["code"]')" "invalid UTF-8 refused"
search "$KEY" 'AND OR NOT NEAR(invoice x) "quarterly'
assert_eq "200" "$STATUS" "operators are plain words"
search "$KEY" invoice --data-urlencode cursor=abc
assert_eq "400 bad_cursor" "$STATUS $(json_get "$T/body" 'd["error"]["code"]')" "bad cursor"
search "$KEY" invoice --data-urlencode record=planet:1
assert_eq "400 invalid_query" "$STATUS $(json_get "$T/body" 'd["error"]["code"]')" "bad record"
STATUS=$(curl -sS -o "$T/body" -w '%{http_code}' "$API/v1/search" -H "Authorization: Bearer $KEY")
assert_eq "400 invalid_query" "$STATUS $(json_get "$T/body" 'd["error"]["code"]')" "q required"
STATUS=$(curl -sS -o /dev/null -w '%{http_code}' "$API/v1/search?q=invoice")
assert_eq 401 "$STATUS" "a key is required"

# the CLI: same hits, text with [marks]
assert_status 0 ma search acme quarterly invoice
assert_contains "$(cat "$T/last.out")" "Subject: [Quarterly] [invoice]" "CLI text marks matches"
assert_status 2 ma search acme '"'
assert_contains "$(cat "$T/last.err")" "no word to search for" "CLI: refused query"
assert_status 0 ma search --rebuild-index
assert_contains "$(cat "$T/last.out")" "index rebuilt: 7 messages" "rebuild beside a running serve"
assert_status 0 ma search acme 事務所 --json
assert_eq "会議のお知らせ" "$(json_get "$T/last.out" '" ".join(i["subject"] for i in d["items"])')" "found after the rebuild"
assert_status 0 ma search --compact-index
assert_status 2 ma search --compact-index acme

# --- erasure by address -------------------------------------------------------------------------
assert_eq 1 "$(scan zzqj7eraseword)" "before erasure the marker is in the database (the scan can see)"
STATUS=$(curl -sS -o "$T/body" -w '%{http_code}' -X POST "$API/v1/erasures" -H "Authorization: Bearer $OTHER_KEY" \
         -H 'Content-Type: application/json' -d '{"address": "gone@customer.example"}')
assert_eq "200 0" "$STATUS $(json_get "$T/body" 'd["messages"]')" "globex's key erases nothing of acme's"
STATUS=$(curl -sS -o "$T/body" -w '%{http_code}' -X POST "$API/v1/erasures" -H "Authorization: Bearer $KEY" \
         -H 'Content-Type: application/json' -d '{"address": "Gone@Customer.example"}')
assert_eq "200 2 2 2" "$STATUS $(json_get "$T/body" 'd["messages"], d["index_entries"], d["events"]')" \
  "API erasure: the sender's and the cc'd message, their index entries and events"
search "$KEY" invoice
assert_eq "Quarterly invoice" "$(ids)" "erased mail is not found"
for _ in $(seq 1 50); do
  [ "$(scan zzqj7eraseword)$(scan zzqj7eraseattach)$(scan zzqj7secondword)" == 000 ] && break
  sleep 0.2
done
assert_eq "0 0 0" "$(scan zzqj7eraseword) $(scan zzqj7eraseattach) $(scan zzqj7secondword)" \
  "after erasure no file (database, WAL, index, blobs) holds its body or attachment"
STATUS=$(curl -sS -o "$T/body" -w '%{http_code}' -X POST "$API/v1/erasures" -H "Authorization: Bearer $KEY" \
         -H 'Content-Type: application/json' -d '{"address": 7}')
assert_eq "422" "$STATUS" "erasure: bad body"
assert_status 0 ma erase acme --address li@example.cn --json
assert_eq "1" "$(json_get "$T/last.out" 'd["messages"]')" "CLI erasure counts"
assert_status 2 ma erase acme
assert_status 2 ma erase acme --address nobody

# --- retention on the test clock ------------------------------------------------------------------
assert_status 0 ma settings acme retention_days=30
clock_advance $((29 * 86400))
sleep 1.5
search "$KEY" 事務所
assert_eq "会議のお知らせ" "$(ids)" "29 days: still kept"
clock_advance $((2 * 86400))
for _ in $(seq 1 50); do
  search "$KEY" 事務所
  [ -z "$(ids)" ] && break
  sleep 0.2
done
assert_eq "" "$(ids)" "31 days: the retention thread deleted it"
search "$OTHER_KEY" invoice
assert_eq "Invoice for Globex" "$(ids)" "another enterprise's retention (none) keeps its mail"
for _ in $(seq 1 50); do
  grep -q "retention.*deleted 2 messages" "$T/serve.log" && [ "$(scan zzqj7noattbody)" == 1 ] && break
  sleep 0.2
done
assert_contains "$(cat "$T/serve.log")" "deleted 2 messages" "the run is logged with counts"
assert_eq 0 "$(grep -railF 'quarterly invoice is attached' "$T/data" | wc -l)" "expired mail leaves no bytes"
finish
