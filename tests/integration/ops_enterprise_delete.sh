#!/usr/bin/env bash
# ops_enterprise_delete.sh - deleting an enterprise removes every row that is its (found by scanning
# the whole database afterwards: every table, every text column) and every blob no other
# enterprise's message references, while a blob shared by digest with another enterprise and
# that enterprise's data stay whole. The confirmation is the slug typed again (CLI and API); the
# deletion itself stays in the audit log.
. "$(dirname "$0")/lib/common.sh"

write_config
ADMIN=$(ma init | grep -o 'maa_[0-9a-f]\{64\}')
for e in acme globex; do
  ma enterprise add --name "$e" --domain "$e.example" --slug "$e" --json >"$T/$e.json"
  ma employee add "$e" "homer@$e.example" >/dev/null
  ma records import "$e" "$FIXTURES_DIR/walkthrough/records.jsonl" --quiet >/dev/null
  ma rules add "$e" '{"name":"All","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null
done
ACME=$(json_get "$T/acme.json" 'd["id"]'); GLOBEX=$(json_get "$T/globex.json" 'd["id"]')
# A customer sends both the same file (one blob, shared by digest); acme also gets one of its own.
python3 - "$T" <<'PY'
import sys
from email.message import EmailMessage
def mail(to, mid, files):
    m = EmailMessage()
    m["From"] = "Ada Customer <ada@customer.example>"; m["To"] = to
    m["Subject"] = "Files " + mid; m["Date"] = "Wed, 04 Sep 2024 10:00:00 +0000"; m["Message-ID"] = "<%s@customer.example>" % mid
    m.set_content("Attached.")
    for name, data in files:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(m)
shared = ("shared.bin", b"the same bytes for both enterprises " * 32)
open(sys.argv[1] + "/acme.eml", "wb").write(mail("homer@acme.example", "a1", [shared, ("acme-only.bin", b"acme only " * 64)]))
open(sys.argv[1] + "/globex.eml", "wb").write(mail("homer@globex.example", "g1", [shared]))
PY
for e in acme globex; do
  ma settings "$e" archive_unmatched=on >/dev/null
  ma ingest "$e" "$FIXTURES_DIR/walkthrough/quote-request.eml" "$T/$e.eml" --quiet >/dev/null
done
DB=$T/data/mailagent.db
blobs_before=$(sqlite3 "$DB" 'SELECT count(*) FROM blobs')
globex_before=$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE enterprise_id = '$GLOBEX'")
shared=$(sqlite3 "$DB" "SELECT DISTINCT sha256 FROM attachments WHERE filename = 'shared.bin'")
only=$(sqlite3 "$DB" "SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.filename = 'acme-only.bin'")

assert_status 2 ma enterprise delete acme
assert_contains "$(cat "$T/last.err")" "--confirm acme" "without the slug typed again: refused, saying how"
assert_status 2 ma enterprise delete acme --confirm globex
assert_status 0 ma enterprise delete acme --confirm acme

# Scan: no table keeps a row that names acme, except the audit entry of its deletion.
python3 - "$DB" "$ACME" <<'PY' >"$T/scan.txt"
import sqlite3, sys
db, ent = sqlite3.connect(sys.argv[1]), sys.argv[2]
# virtual tables (the search index) need their module to be read; their shadow tables are scanned
for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                           " AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'"):
    cols = [c[1] for c in db.execute("PRAGMA table_info(\"%s\")" % table)]
    for col in cols:
        for row in db.execute("SELECT * FROM \"%s\" WHERE CAST(\"%s\" AS TEXT) LIKE ?" % (table, col), ("%" + ent + "%",)):
            if table == "audit" and "enterprise.delete" in row: continue
            print(table, col, row[:4])
PY
assert_eq "" "$(cat "$T/scan.txt")" "no row anywhere names the deleted enterprise"
assert_eq 1 "$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE action = 'enterprise.delete' AND target = '$ACME' AND enterprise_id IS NULL")" \
  "the deletion is in the audit log"
assert_eq 1 "$(sqlite3 "$DB" "SELECT count(*) FROM blobs WHERE sha256 = '$shared'")" "a blob globex also has stays"
assert_eq 0 "$(sqlite3 "$DB" "SELECT count(*) FROM blobs WHERE sha256 = '$only'")" "a blob only acme had is gone"
assert_eq 0 "$(sqlite3 "$DB" "SELECT count(*) FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM messages WHERE raw_sha256 = b.sha256) AND NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = b.sha256)")" \
  "no blob is left without a reference"
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM blobs')" -lt "$blobs_before" ] && pass "blobs were removed" || fail "no blob removed"
assert_eq "$globex_before" "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE enterprise_id = '$GLOBEX'")" "globex's mail is whole"
[ "$globex_before" -ge 1 ] && pass "globex had mail ($globex_before)" || fail "globex archived nothing"
assert_status 2 ma enterprise show acme
assert_eq "" "$(sqlite3 "$DB" 'PRAGMA foreign_key_check')" "no dangling reference"

# The API: the same confirmation, then 204; the enterprise's key stops working at once.
start_serve
GKEY=$(json_get "$T/globex.json" 'd["api_key"]["secret"]')
code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" "http://127.0.0.1:$API_PORT$3"; }
assert_eq 200 "$(code "$GKEY" GET /v1/settings)" "globex's key works"
assert_eq 400 "$(code "$ADMIN" DELETE /v1/enterprises/globex)" "DELETE without ?confirm is refused"
assert_eq 204 "$(code "$ADMIN" DELETE "/v1/enterprises/globex?confirm=globex")" "DELETE with ?confirm=slug deletes"
assert_eq 401 "$(code "$GKEY" GET /v1/settings)" "its key is gone with it"
assert_eq 404 "$(code "$ADMIN" GET /v1/enterprises/globex)" "the enterprise is gone"

assert_eq "0 0" "$(sqlite3 "$DB" 'SELECT count(*) FROM messages') $(sqlite3 "$DB" 'SELECT count(*) FROM blobs')" "no message and no blob is left"
finish
