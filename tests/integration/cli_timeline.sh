#!/usr/bin/env bash
# cli_timeline.sh - `mailagent timeline`: newest first, filters (direction, since/until, thread,
# attachments), cursor paging to the end, JSON page shape, and errors (unknown record, bad cursor,
# bad options).
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme >/dev/null
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null

cat > "$T/2-reply.eml" <<'M'
From: Homer Simpson <homer@acme.example>
To: Hank Scorpio <hank@globex.example>
Subject: Re: Quote for 500 hammocks
Date: Tue, 03 Sep 2024 09:00:00 +0000
Message-ID: <reply-1@acme.example>
In-Reply-To: <quote-500-hammocks@globex.example>
References: <quote-500-hammocks@globex.example>

Hank, the quote is 25,000 dollars.
M
cat > "$T/3-other.eml" <<'M'
From: Mindy Simmons <mindy@globex.example>
To: homer@acme.example
Subject: Lunch?
Date: Thu, 05 Sep 2024 12:00:00 +0000
Message-ID: <lunch@globex.example>

Lunch on Friday?
M
# A rule turns quote mail on opportunities into activities, shown beside their message.
ma rules add acme '{"name":"Quotes","object_types":["opportunity"],"conditions":[{"field":"subject","op":"contains","value":"quote"}],"action":{"activity_type":"email","title":"Quote: {{subject}}"}}' >/dev/null
assert_status 0 ma ingest acme "$FIXTURES_DIR/walkthrough/quote-request.eml" "$T/2-reply.eml" "$T/3-other.eml"

# Newest first; Mindy's lunch mail is not on Hank's timeline.
assert_status 0 ma timeline acme contact CON-1 --json
assert_eq "Re: Quote for 500 hammocks|Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "contact timeline newest first"
assert_eq "outbound inbound" "$(json_get "$T/last.out" '" ".join(i["direction"] for i in d["items"])')" "directions"
assert_eq "None" "$(json_get "$T/last.out" 'd["next_cursor"]')" "single page: next_cursor null"
thread=$(json_get "$T/last.out" 'd["items"][0]["thread_id"]')
assert_eq "$thread" "$(json_get "$T/last.out" 'd["items"][1]["thread_id"]')" "the reply joined the thread"
assert_eq "hank@globex.example" "$(json_get "$T/last.out" 'd["items"][0]["to"][0]["address"]')" "to as {name,address}"

# The account sees all three, newest first.
assert_status 0 ma timeline acme account ACC-1 --json
assert_eq "Lunch?|Re: Quote for 500 hammocks|Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "account timeline"

# Text output.
assert_status 0 ma timeline acme contact CON-1
out=$(cat "$T/last.out")
assert_contains "$out" "2024-09-03T09:00:00Z  outbound  message" "text: date and direction"
assert_contains "$out" "thread $thread" "text: thread id"
assert_contains "$out" "To:      Hank Scorpio <hank@globex.example>" "text: to"
assert_contains "$out" "Files:   hammock-specs.csv" "text: attachment names"
assert_contains "$out" "| Hank, the quote is 25,000 dollars." "text: snippet"

# Activities interleave: each just before (newer than) its message.
assert_status 0 ma timeline acme opportunity OPP-1 --json
# (Mindy's lunch mail is linked through the account's only open opportunity; no quote, no activity.)
assert_eq "message activity:email message activity:email message" \
  "$(json_get "$T/last.out" '" ".join(i["kind"] + (":" + i["activity_type"] if i["kind"] == "activity" else "") for i in d["items"])')" "activities interleaved"
assert_eq "Quote: Re: Quote for 500 hammocks" "$(json_get "$T/last.out" 'd["items"][1]["title"]')" "activity title"
assert_status 0 ma timeline acme opportunity OPP-1
assert_contains "$(cat "$T/last.out")" "activity  " "text shows activities"
assert_contains "$(cat "$T/last.out")" "email \"Quote: Quote for 500 hammocks\" on opportunity OPP-1 (rule Quotes" "text activity line"

# Filters.
assert_status 0 ma timeline acme account ACC-1 --direction out --json
assert_eq "Re: Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "--direction out"
assert_status 0 ma timeline acme account ACC-1 --direction in --json
assert_eq 2 "$(json_get "$T/last.out" 'len(d["items"])')" "--direction in"
assert_status 0 ma timeline acme account ACC-1 --since 2024-09-03 --json
assert_eq "Lunch?|Re: Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "--since"
assert_status 0 ma timeline acme account ACC-1 --until 2024-09-03 --json
assert_eq "Re: Quote for 500 hammocks|Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "--until with a bare date includes that day"
assert_status 0 ma timeline acme account ACC-1 --until 2024-09-03T09:00:00Z --json
assert_eq "Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "--until with a time is exclusive"
assert_status 0 ma timeline acme account ACC-1 --thread "$thread" --json
assert_eq 2 "$(json_get "$T/last.out" 'len(d["items"])')" "--thread"
assert_status 0 ma timeline acme account ACC-1 --attachments yes --json
assert_eq "Quote for 500 hammocks" "$(json_get "$T/last.out" '"|".join(i["subject"] for i in d["items"])')" "--attachments yes"

# Paging with the cursor walks every item once, then stops.
seen=""; cursor=""
for page in 1 2 3 4; do
  if [ -n "$cursor" ]; then ma timeline acme account ACC-1 --limit 1 --cursor "$cursor" --json > "$T/page.json"
  else ma timeline acme account ACC-1 --limit 1 --json > "$T/page.json"; fi
  seen="$seen$(json_get "$T/page.json" '"".join(i["subject"] + ";" for i in d["items"])')"
  cursor=$(json_get "$T/page.json" 'd["next_cursor"] or ""')
  [ -z "$cursor" ] && break
done
assert_eq "Lunch?;Re: Quote for 500 hammocks;Quote for 500 hammocks;" "$seen" "cursor paging visits each item once"
assert_eq 3 "$page" "three pages of one"
assert_status 0 ma timeline acme account ACC-1 --limit 2
assert_contains "$(cat "$T/last.out")" "more: --cursor " "text output tells how to continue"

# No mail yet, unknown record, bad input.
assert_status 0 ma timeline acme lead LEAD-1
assert_contains "$(cat "$T/last.out")" "no messages" "record without mail"
assert_status 2 ma timeline acme contact NOPE
assert_contains "$(cat "$T/last.err")" "no contact \"NOPE\"" "unknown record"
assert_status 2 ma timeline acme contact CON-1 --cursor garbage
assert_contains "$(cat "$T/last.err")" "--cursor" "bad cursor named"
assert_status 2 ma timeline acme person CON-1
assert_status 2 ma timeline acme contact CON-1 --direction sideways
assert_status 2 ma timeline acme contact CON-1 --since yesterday
assert_status 2 ma timeline acme contact CON-1 --limit 0
assert_status 2 ma timeline acme contact
assert_status 0 ma timeline --help
finish
