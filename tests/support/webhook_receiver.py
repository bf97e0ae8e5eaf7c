#!/usr/bin/python3
"""webhook_receiver.py - a CRM stand-in for webhook tests: an HTTP server on loopback that verifies
mailagent's X-Mailagent-Signature (as docs/webhooks.md tells a CRM to), rejects stale timestamps,
dedupes Idempotency-Key, and misbehaves on purpose following a plan.

  webhook_receiver.py --port-file F --log L --secret-file S [--plan 500,stall,ok] [--stall 3] [--port N]

Binds 127.0.0.1 (on a free port unless --port) and writes the port to F. Keys seen are kept in
memory only: a restarted receiver starts with an empty dedup set (the tests count per key). The n-th request (1-based) follows the n-th
plan step: "500" answers 500, "stall" sleeps --stall seconds before answering (longer than the
sender's timeout), "ok" processes normally; after the plan every request is processed normally.
Each request is appended to L as one JSON line: {"n","key","event","t","signature","content_type","outcome","body"} where
outcome is accepted | duplicate | failed_500 | stalled | bad_signature | stale.
"""
import argparse, hashlib, hmac, json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds: reject signatures older than five minutes


def verify(secret, header, body, now):
    """Returns (ok, t, reason) for an X-Mailagent-Signature header."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False, None, "bad_signature"
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        return False, t, "bad_signature"
    if abs(now - t) > TOLERANCE:
        return False, t, "stale"
    return True, t, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--plan", default="")
    ap.add_argument("--stall", type=float, default=3.0)
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    args = ap.parse_args()
    secret = open(args.secret_file, "rb").read().rstrip()
    plan = [p for p in args.plan.split(",") if p]
    lock = threading.Lock()
    state = {"n": 0, "seen": set()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code):
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            key = self.headers.get("Idempotency-Key", "")
            with lock:
                state["n"] += 1
                n = state["n"]
            step = plan[n - 1] if n <= len(plan) else "ok"
            ok, t, reason = verify(secret, self.headers.get("X-Mailagent-Signature", ""), body, time.time())
            if step == "500":
                outcome, code = "failed_500", 500
            elif step == "stall":
                outcome, code = "stalled", 503
            elif not ok:
                outcome, code = reason, 401
            else:
                with lock:
                    if key in state["seen"]:
                        outcome = "duplicate"
                    else:
                        state["seen"].add(key)
                        outcome = "accepted"
                code = 200
            with lock, open(args.log, "a") as f:
                f.write(json.dumps({"n": n, "key": key, "event": self.headers.get("X-Mailagent-Event"), "t": t,
                                    "signature": self.headers.get("X-Mailagent-Signature"),
                                    "content_type": self.headers.get("Content-Type"), "outcome": outcome,
                                    "body": body.decode("utf-8", "replace")}) + "\n")
            if step == "stall":
                time.sleep(args.stall)
            try:
                self.answer(code)
            except (BrokenPipeError, ConnectionResetError):
                pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
