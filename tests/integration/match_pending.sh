#!/usr/bin/env bash
# match_pending.sh - late re-matching (issue 16) through the real binary, on the test clock:
# - mail with no matching record is held (pending_days, default 14) and `pending list` says why;
# - importing the contact afterwards (CLI) archives it with exactly one activity, linked with its
#   reason; importing again creates nothing more; deleting the contact unlinks the mail, which
#   leaves the archive for the pending store, and re-creating it brings it back; recent archived
#   (unlinked) mail is linked when its contact arrives; an account imported later (API PUT) takes
#   held mail by domain;
# - pending_days=0 holds nothing; held mail past its window is purged (`pending purge`, and serve by
#   itself), its raw blob with it; deleting the enterprise leaves no held row or blob.
. "$(dirname "$0")/lib/common.sh"

write_config
clock_start 1725271200 # 2024-09-02T10:00:00Z
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --domain acme.example --slug acme --json | json_get - 'd["api_key"]["secret"]')
ma employee add acme homer@acme.example >/dev/null
DB=$T/data/mailagent.db
assert_status 0 ma rules add acme '{"name":"All mail","object_types":["contact","account"],"action":{"activity_type":"email"}}'
sql() { /usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$DB" "$1"; }

mail() { # mail FILE FROM MESSAGE-ID
  printf 'From: Someone <%s>\r\nTo: Homer <homer@acme.example>\r\nSubject: Order %s\r\nDate: Mon, 02 Sep 2024 09:00:00 +0000\r\nMessage-ID: <%s>\r\n\r\nPlease send 20 hammocks.\r\n' \
    "$2" "$3" "$3" > "$1"
}
mail "$T/carol.eml" carol@customer.example carol-1@customer.example
assert_status 0 ma ingest acme "$T/carol.eml" --json --explain
assert_eq "skipped no_matching_record True" "$(json_get "$T/last.out" 'd["result"]+" "+d["reason"]+" "+str(d["held"])')" "unmatched mail held"
assert_eq "carol@customer.example True" "$(json_get "$T/last.out" '",".join(d["explain"]["external"])+" "+str(d["explain"]["held"])')" \
  "ingest --explain names the participants no record matched"
assert_status 0 ma pending list acme --json
assert_eq "no_matching_record carol@customer.example 2024-09-16T10:00:00Z" \
  "$(json_get "$T/last.out" 'd["items"][0]["reason"]+" "+",".join(d["items"][0]["participants"])+" "+d["items"][0]["expires_at"]')" \
  "pending list says why, with whom, until when"
assert_eq 0 "$(sql 'select count(*) from messages')" "nothing archived yet"

# The contact arrives a day later: the held mail is archived, linked, with one activity.
clock_advance 86400
echo '{"type":"contact","id":"C17","name":"Carol","emails":["Carol@Customer.example"]}' > "$T/c17.jsonl"
assert_status 0 ma records import acme "$T/c17.jsonl" --json
assert_eq 1 "$(json_get "$T/last.out" 'd["held_archived"]')" "import archives the held mail"
assert_status 0 ma timeline acme contact C17 --json
assert_eq "activity message" "$(json_get "$T/last.out" '" ".join(sorted(i["kind"] for i in d["items"]))')" \
  "the mail and exactly one activity on C17's timeline"
msg=$(sql 'select id from messages')
assert_status 0 ma explain acme "$msg" --json
assert_eq "from carol@customer.example = contact C17" "$(json_get "$T/last.out" 'd["links"][0]["reason"]')" "linked with its reason"
assert_status 0 ma pending list acme --json
assert_eq 0 "$(json_get "$T/last.out" 'len(d["items"])')" "released from the pending store"
echo '{"type":"contact","id":"C17","name":"Carol Smith","emails":["carol@customer.example"]}' > "$T/c17b.jsonl"
assert_status 0 ma records import acme "$T/c17b.jsonl" --json
assert_eq "0 1 1" "$(json_get "$T/last.out" 'd["held_archived"]') $(sql 'select count(*) from activities') $(sql 'select count(*) from messages')" \
  "a second import creates nothing more"

# A deleted record unlinks: the mail linked to nothing else leaves the archive and is held again;
# re-creating the contact brings it back with one activity.
echo '{"type":"contact","id":"C17","deleted":true}' > "$T/c17-del.jsonl"
assert_status 0 ma records import acme "$T/c17-del.jsonl" --json
assert_eq "1 1" "$(json_get "$T/last.out" 'd["unlinked"]') $(json_get "$T/last.out" 'd["returned_to_pending"]')" "deletion unlinks"
assert_eq "0 0" "$(sql 'select count(*) from messages') $(sql "select count(*) from timeline where record_id='C17'")" \
  "the unlinked mail left the archive"
assert_status 0 ma pending list acme --json
assert_eq "record_deleted carol@customer.example" "$(json_get "$T/last.out" 'd["items"][0]["reason"]+" "+",".join(d["items"][0]["participants"])')" \
  "held again, saying why"
assert_status 0 ma records import acme "$T/c17.jsonl" --json
assert_eq "1 1 1" "$(json_get "$T/last.out" 'd["held_archived"]') $(sql 'select count(*) from messages') $(sql 'select count(*) from activities')" \
  "re-created: archived again with one activity"

# Recent archived mail is linked when a record that matches it arrives (archive_unmatched on here).
assert_status 0 ma settings acme archive_unmatched=on
mail "$T/ivy.eml" ivy@customer.example ivy-1@customer.example
assert_status 0 ma ingest acme "$T/ivy.eml" --json
ivy=$(json_get "$T/last.out" 'd["id"]')
assert_eq 0 "$(sql "select count(*) from message_links where message_id='$ivy'")" "archived unlinked"
echo '{"type":"contact","id":"C18","name":"Ivy","emails":["ivy@customer.example"]}' > "$T/c18.jsonl"
assert_status 0 ma records import acme "$T/c18.jsonl" --json
assert_eq 1 "$(json_get "$T/last.out" 'd["relinked"]')" "the import relinks the archived mail"
assert_eq "contact:C18 from ivy@customer.example = contact C18 1" \
  "$(sql "select 'contact:'||record_id||' '||reason from message_links where message_id='$ivy'") $(sql "select count(*) from activities where message_id='$ivy'")" \
  "linked with its reason and one activity"
assert_status 0 ma records import acme "$T/c18.jsonl" --json
assert_eq "0 1" "$(json_get "$T/last.out" 'd["relinked"]') $(sql "select count(*) from activities where message_id='$ivy'")" "no second activity"
assert_status 0 ma settings acme archive_unmatched=off

# By domain, through the API: an account for customer2.example takes held mail from anyone there.
mail "$T/dan.eml" dan@customer2.example dan-1@customer2.example
assert_status 0 ma ingest acme "$T/dan.eml"
start_serve
API=http://127.0.0.1:$API_PORT
code=$(curl -sS -o "$T/put.json" -w '%{http_code}' -X PUT -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  --data '{"name":"Customer Two","domains":["customer2.example"]}' "$API/v1/records/account/A3")
assert_eq 201 "$code" "PUT account"
assert_eq "domain customer2.example = account A3" \
  "$(sql "select reason from message_links where record_id='A3'")" "held mail archived by domain, with its reason"
assert_eq 3 "$(sql 'select count(*) from activities')" "one activity for the account"

# pending_days=0: nothing held. Then a 1-day window, purged by serve once the clock passes it.
assert_status 0 ma settings acme pending_days=0
mail "$T/eve.eml" eve@nowhere.example eve-1@nowhere.example
assert_status 0 ma ingest acme "$T/eve.eml" --json
assert_eq "False" "$(json_get "$T/last.out" 'str(d["held"])')" "pending_days=0 holds nothing"
assert_status 0 ma settings acme pending_days=14 capture_level=metadata
mail "$T/eve2.eml" eve@nowhere.example eve-2@nowhere.example
assert_status 0 ma ingest acme "$T/eve2.eml" --json
assert_eq "False" "$(json_get "$T/last.out" 'str(d["held"])')" "capture_level=metadata holds nothing (no raw copy anywhere)"
assert_status 0 ma settings acme pending_days=1 capture_level=full
mail "$T/fay.eml" fay@nowhere.example fay-1@nowhere.example
assert_status 0 ma ingest acme "$T/fay.eml" --json
assert_eq "True 1" "$(json_get "$T/last.out" 'str(d["held"])') $(sql 'select count(*) from pending_messages')" "held for a day"
blobs_held=$(sql 'select count(*) from blobs')
clock_advance $((86400 + 60))
for _ in $(seq 1 50); do [ "$(sql 'select count(*) from pending_messages')" == 0 ] && break; sleep 0.2; done
assert_eq 0 "$(sql 'select count(*) from pending_messages')" "serve purged the expired held mail"
assert_eq $((blobs_held - 1)) "$(sql 'select count(*) from blobs')" "its raw blob went with it"
stop_serve

mail "$T/gus.eml" gus@nowhere.example gus-1@nowhere.example
assert_status 0 ma ingest acme "$T/gus.eml"
assert_status 0 ma pending purge --json
assert_eq 0 "$(json_get "$T/last.out" 'd["purged"]')" "not yet expired: kept"
clock_advance $((86400 + 1))
assert_status 0 ma pending purge
assert_eq "1 held message purged" "$(cat "$T/last.out")" "pending purge"

# Erasure by address (data-protection requests) reaches held mail too, with its raw copy.
mail "$T/ida.eml" ida@nowhere.example ida-1@nowhere.example
assert_status 0 ma ingest acme "$T/ida.eml"
assert_eq 1 "$(sql "select count(*) from pending_participants where address = 'ida@nowhere.example'")" "ida's mail is held"
blobs_before=$(sql 'select count(*) from blobs')
assert_status 0 ma erase acme --address IDA@nowhere.example --json
assert_eq "1 0" "$(json_get "$T/last.out" 'd["held"]') $(json_get "$T/last.out" 'd["messages"]')" "erasure counts the held message"
assert_eq "0 $((blobs_before - 1))" "$(sql "select count(*) from pending_messages m join pending_participants p on p.pending_id = m.id where p.address = 'ida@nowhere.example'") $(sql 'select count(*) from blobs')" \
  "the held message and its raw blob are gone"

# relink_days bounds how far back archived mail is linked again: 0 links none; with 2, mail of
# three days ago stays unlinked while today's is linked.
assert_status 0 ma settings acme archive_unmatched=on relink_days=0
mail "$T/jan.eml" jan@customer.example jan-1@customer.example
assert_status 0 ma ingest acme "$T/jan.eml" --json
jan=$(json_get "$T/last.out" 'd["id"]')
echo '{"type":"contact","id":"C19","name":"Jan","emails":["jan@customer.example"]}' > "$T/c19.jsonl"
assert_status 0 ma records import acme "$T/c19.jsonl" --json
assert_eq "0 0" "$(json_get "$T/last.out" 'd["relinked"]') $(sql "select count(*) from message_links where message_id='$jan'")" \
  "relink_days=0: archived mail is not linked again"
assert_status 0 ma settings acme relink_days=2
mail "$T/kim1.eml" kim@customer.example kim-1@customer.example
assert_status 0 ma ingest acme "$T/kim1.eml" --json
kim1=$(json_get "$T/last.out" 'd["id"]')
clock_advance $((3 * 86400))
mail "$T/kim2.eml" kim@customer.example kim-2@customer.example
assert_status 0 ma ingest acme "$T/kim2.eml" --json
kim2=$(json_get "$T/last.out" 'd["id"]')
echo '{"type":"contact","id":"C20","name":"Kim","emails":["kim@customer.example"]}' > "$T/c20.jsonl"
assert_status 0 ma records import acme "$T/c20.jsonl" --json
assert_eq "1 0 1" "$(json_get "$T/last.out" 'd["relinked"]') $(sql "select count(*) from message_links where message_id='$kim1'") $(sql "select count(*) from message_links where message_id='$kim2'")" \
  "relink_days=2: the message of three days ago stays unlinked, today's is linked"
assert_status 0 ma settings acme archive_unmatched=off relink_days=default

# Enterprise deletion clears held mail and its blobs.
mail "$T/hal.eml" hal@nowhere.example hal-1@nowhere.example
assert_status 0 ma ingest acme "$T/hal.eml"
assert_eq 1 "$(sql 'select count(*) from pending_messages')" "held before deletion"
assert_status 0 ma enterprise delete acme --confirm acme
assert_eq "0 0 0" "$(sql 'select count(*) from pending_messages') $(sql 'select count(*) from pending_participants') $(sql 'select count(*) from blobs')" \
  "deletion leaves no held row or blob"
finish
