#!/usr/bin/env bash
# smtp_smuggling.sh - SMTP smuggling (CVE-2023-51764/5/6): every ending of issue 3 is sent with a
# second transaction behind it in ONE segment. None may end DATA or yield a second 250; bare CR/LF
# gets one 5xx after the real CRLF.CRLF; a NUL before the dot leaves one message. The archive
# never holds the smuggled message. Would fail on a server that accepts LF.LF as the end of data.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup
start_serve

pyc "$SMTP_PORT" "$INBOUND" >"$T/smuggle.out" <<'PY'
import sys, smtpc
port, rcpt = int(sys.argv[1]), sys.argv[2]
endings = [("LF.LF", b"\n.\n"), ("CR.CR", b"\r.\r"), ("CR.LF", b"\r.\n"), ("LF.CR", b"\n.\r"),
           ("LF.CRLF", b"\n.\r\n"), ("CRLF.LF", b"\r\n.\n"), ("CR.CRLF", b"\r.\r\n"), ("CRLF.CR", b"\r\n.\r"),
           ("NUL.", b"\r\n\x00.\r\n")]
for name, ending in endings:
    c = smtpc.Client(port)
    c.chat("EHLO smuggler.test")
    c.send("MAIL FROM:<alice@acme.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
    pre = c.replies(3)
    assert pre[2].startswith("354"), pre
    msg = (b"From: alice@acme.example\r\nSubject: carrier " + name.encode() + b"\r\nMessage-ID: <carrier-" +
           name.encode() + b"@acme.example>\r\n\r\nfirst message" + ending +
           b"MAIL FROM:<ceo@acme.example>\r\nRCPT TO:<" + rcpt.encode() + b">\r\nDATA\r\n"
           b"From: ceo@acme.example\r\nSubject: smuggled\r\nMessage-ID: <smuggled-" + name.encode() +
           b"@acme.example>\r\n\r\nsmuggled body\r\n.\r\n")
    c.send(msg)
    out = c.quiet(1.5).decode("utf-8", "replace")
    lines = [l for l in out.split("\r\n") if l]
    print("%s replies=%d queued=%d first=%s" % (name, len(lines), sum("queued as" in l for l in lines),
                                               lines[0][:9] if lines else "-"))
    c.chat("QUIT")
    c.close()
PY
cat "$T/smuggle.out"
for e in LF.LF CR.CR CR.LF LF.CR LF.CRLF CRLF.LF CR.CRLF CRLF.CR; do
  assert_contains "$(cat "$T/smuggle.out")" "$e replies=1 queued=0 first=550 5.5.2" "ending $e: one reply, 550 5.5.2 bare newline, nothing queued"
done
assert_contains "$(cat "$T/smuggle.out")" "NUL. replies=1 queued=1 first=250 2.0.0" "NUL before the dot: one message, one 250"

n=$(wait_archived 1)
sleep 0.5
assert_eq 1 "$(db_query "select count(*) from messages")" "only the NUL carrier is archived"
assert_eq 0 "$(db_query "select count(*) from messages where subject='smuggled' or message_id like 'smuggled%'")" "no smuggled message archived"

stop_serve
finish
