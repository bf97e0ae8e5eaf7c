#!/usr/bin/env bash
# smtp_pipelining.sh - RFC 2920 as Postfix's smtpd_forbid_unauth_pipelining enforces it: pipelining
# after EHLO works (MAIL/RCPT/DATA in one group, QUIT behind the final dot); pipelining after HELO,
# behind EHLO, or before the greeting gets "554 5.5.0 protocol synchronization" and a close.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

# A greeting pause lets the test speak before the greeting, deterministically.
smtp_setup "[smtp]" "greet_delay_ms=400"
start_serve

pyc "$SMTP_PORT" "$INBOUND" >"$T/pipe.out" <<'PY'
import sys, smtpc
port, rcpt = int(sys.argv[1]), sys.argv[2]
# allowed: after EHLO
c = smtpc.Client(port)
c.chat("EHLO good.test")
c.send("MAIL FROM:<alice@acme.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
print("group", " | ".join(c.replies(3)))
c.send("Subject: pipelined\r\nMessage-ID: <pl-1@acme.example>\r\n\r\nx\r\n.\r\nQUIT\r\n")
print("tail", " | ".join(c.replies(2)))
# after HELO
c = smtpc.Client(port)
print("helo", c.chat("HELO old.test"))
c.send("MAIL FROM:<alice@acme.example>\r\nRCPT TO:<%s>\r\n" % rcpt)
print("after_helo", c.reply(), "closed", c.closed())
# behind EHLO
c = smtpc.Client(port)
c.send("EHLO eager.test\r\nMAIL FROM:<alice@acme.example>\r\n")
r = c.quiet(1.0).decode()
print("behind_ehlo", "554 5.5.0" in r, "250 2.1.0" in r)
# before the greeting
c = smtpc.Client(port, greet=False)
c.send("EHLO early.test\r\n")
r = c.reply()
print("pregreet", r, "closed", c.closed())
PY
out=$(cat "$T/pipe.out")
echo "$out"
assert_contains "$out" "group 250 2.1.0 Ok | 250 2.1.5 Ok | 354" "MAIL/RCPT/DATA pipelined after EHLO"
assert_contains "$out" "tail 250 2.0.0 Ok: queued as" "final dot answered 250 with QUIT pipelined behind it"
assert_contains "$out" "| 221 2.0.0 Bye" "pipelined QUIT answered after the 250"
assert_contains "$out" "after_helo 554 5.5.0 Error: protocol synchronization closed True" "pipelining after HELO: 554 5.5.0 and close"
assert_contains "$out" "behind_ehlo True False" "a command behind EHLO: 554, never executed"
assert_contains "$out" "pregreet 554 5.5.0" "talking before the greeting: 554 5.5.0"
assert_contains "$out" "(client spoke before the greeting) closed True" "early talker closed"
assert_eq 1 "$(wait_archived 1)" "the legitimately pipelined message is archived"

stop_serve
finish
