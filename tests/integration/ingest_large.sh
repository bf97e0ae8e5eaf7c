#!/usr/bin/env bash
# ingest_large.sh - a large message is archived without holding its parts whole (issue 15):
# `mailagent ingest` of a ~24 MB message whose body is one ~17 MB base64 attachment, and of a
# ~24 MB plain text message. The attachment is hashed and measured by decoding it in pieces and
# streamed into the blob store (storage_blob_put_stream); the text is cut at the parser's 4 MB
# max_text. Asserts: the stored attachment is the original (digest, size, the blob's length), the
# text is cut with a warning and the raw blob keeps every octet; and peak RSS (the kernel's
# maximum resident set, /usr/bin/time) grows over the ingest of a 1 KB message by a bound that does
# not depend on the message's size: `ingest` maps the file and parses it through its descriptor
# (raw.h), the attachment and the raw blob stream through a 1 MB page cache (the blob store's
# streamed write), so the attachment message may cost 8 MB (it measured 3.7 MB; before: the
# message's size plus SQLite's 16 MB page cache, 41 MB), and the text message 20 MB: the 4 MB text
# held by the parser and twice by the search index's insert, the pages of its 4 MB body row, and
# slack (it measured 16 MB; before: 60 MB). Reading either message whole (24 MB) breaks the bound.
source "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example >/dev/null
ma employee add acme alice@acme.example >/dev/null
ma settings acme archive_unmatched=on >/dev/null
# Under -DSANITIZE=ON, ASan's quarantine keeps freed blocks, so the peak would follow every octet
# that went through a buffer: keep it small (as smtp_spool_files.sh does).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }

/usr/bin/python3 - "$T" <<'PY'
import base64, hashlib, random, sys
t = sys.argv[1]
head = b"From: sender@client.example\r\nTo: alice@acme.example\r\nMIME-Version: 1.0\r\n"
open(t + "/small.eml", "wb").write(head + b"Subject: small\r\n\r\n" + b"a small body\r\n" * 50)
rng = random.Random(15)
data = rng.randbytes(17 * 1000 * 1000)
b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
open(t + "/att.eml", "wb").write(
    head + b"Subject: one big attachment\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
    b"--BB\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    b"--BB\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + b64 + b"--BB--\r\n")
open(t + "/att.sha256", "w").write(hashlib.sha256(data).hexdigest())
line = b"y" * 98 + b"\r\n"
open(t + "/text.eml", "wb").write(head + b"Subject: a long text\r\n\r\n" + line * 240000)
PY

# peak_kb FILE: ingests FILE and prints the peak RSS in kB; the outcome goes to $T/FILE.out
peak_kb() {
  /usr/bin/time -f "%M" -o "$T/$(basename "$1").rss" "$MAILAGENT" ingest -c "$CONF" --json acme "$1" >"$T/$(basename "$1").out"
  cat "$T/$(basename "$1").rss"
}
base=$(peak_kb "$T/small.eml")
att=$(peak_kb "$T/att.eml")
text=$(peak_kb "$T/text.eml")
assert_eq 3 "$(db "SELECT count(*) FROM messages")" "the three messages are archived"

# the attachment is the original, streamed whole into its blob
want=$(cat "$T/att.sha256")
assert_eq "$want|17000000" "$(db "SELECT sha256, size FROM attachments WHERE filename = 'big.bin'")" \
  "the attachment's digest and size are the original's"
assert_eq "17000000" "$(db "SELECT length(data) FROM blobs WHERE sha256 = '$want'")" "its blob holds every octet"

# the text is cut at 4 MB with a warning; the raw message keeps it all
size_text=$(stat -c %s "$T/text.eml")
assert_contains "$(cat "$T/text.eml.out")" "over the size limit" "the cut text is reported"
stored=$(db "SELECT length(CAST(b.text AS BLOB)) FROM message_bodies b JOIN messages m ON m.id = b.message_id WHERE m.subject = 'a long text'")
# the cut is made on the decoded octets (CRLF lines), before line ends become LF
if [ "$stored" -le 4194304 ] && [ "$stored" -gt 4100000 ]; then pass "the stored text is cut at max_text ($stored octets)"
else fail "the stored text is not cut at max_text: $stored octets"; fi
assert_eq "$size_text" "$(db "SELECT b.size FROM blobs b JOIN messages m ON m.raw_sha256 = b.sha256 WHERE m.subject = 'a long text'")" \
  "the raw blob keeps every octet"

# memory: the growth over a 1 KB message stays under a fixed bound
# (under -DSANITIZE=ON, plus ASan's shadow, an eighth of the message, and its redzones)
asan_kb=0
if ldd "$MAILAGENT" | grep -q libasan; then asan_kb=$(( $(stat -c %s "$T/att.eml") / 8192 + 8 * 1024 )); fi
for kind in att text; do
  size=$(stat -c %s "$T/$kind.eml")
  peak=${!kind}
  growth=$((peak - base))
  extra=8; [ "$kind" = text ] && extra=20
  bound=$((extra * 1024 + asan_kb))
  echo "$kind: $((size / 1024)) kB message, peak RSS $peak kB, growth $growth kB over the 1 KB message ($base kB), bound $bound kB"
  if [ "$growth" -lt "$bound" ]; then
    pass "$kind: peak growth ${growth} kB < $extra MB, whatever the message's size (${bound} kB with $asan_kb kB for ASan)"
  else
    fail "$kind: peak growth ${growth} kB >= $extra MB (${bound} kB with $asan_kb kB for ASan)"
  fi
done
finish
