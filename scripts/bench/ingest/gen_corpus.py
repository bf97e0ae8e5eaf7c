#!/usr/bin/python3
"""gen_corpus.py - writes the ingest benchmark corpus: OUT/records.jsonl (CRM records) and
OUT/mail/NNNNN.eml (messages of about --size bytes each).

Deterministic for a given --seed. Records: a quarter accounts (one domain each), half contacts
(each at an account), 15% leads, 10% open opportunities (each with one contact). Messages: 70% from
or to a contact, 10% a lead, 10% an unknown sender at an account's domain, 10% a stranger at a
public provider (skipped: no matching record); a third are replies (In-Reply-To/References to an
earlier message). Bodies are plain text; every tenth message carries a small base64 attachment.
Usage: gen_corpus.py OUT [--messages 10000] [--records 100000] [--size 4096] [--seed 1]
"""
import argparse, base64, os, random

WORDS = ("order quote price delivery invoice shipment contract sample pallet warehouse schedule "
         "meeting budget forecast discount payment terms update confirm request revised volume "
         "supplier product line quality report customer account renewal support ticket please "
         "thanks regards attached review question answer monday friday week month quarter").split()

def sentence(rng):
    n = rng.randint(6, 16)
    s = " ".join(rng.choice(WORDS) for _ in range(n))
    return s[0].upper() + s[1:] + "."

def body(rng, size):
    lines, total = [], 0
    while total < size:
        para = " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))
        # wrap at 72 columns like a mail client
        line = ""
        for w in para.split():
            if len(line) + len(w) + 1 > 72:
                lines.append(line); total += len(line) + 2; line = w
            else:
                line = (line + " " + w).strip()
        lines.append(line); lines.append(""); total += len(line) + 4
    return "\r\n".join(lines) + "\r\n"

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "mail"), exist_ok=True)

    n_acc = max(1, a.records // 4)
    n_con = max(1, a.records // 2)
    n_lead = max(1, a.records * 15 // 100)
    n_opp = max(0, a.records - n_acc - n_con - n_lead)
    with open(os.path.join(a.out, "records.jsonl"), "w") as f:
        for i in range(n_acc):
            f.write('{"type":"account","id":"acc-%d","name":"Account %d","domains":["acct%d.example"]}\n' % (i, i, i))
        for i in range(n_con):
            f.write('{"type":"contact","id":"con-%d","name":"Contact %d","emails":["c%d@acct%d.example"],"account_id":"acc-%d"}\n'
                    % (i, i, i, i % n_acc, i % n_acc))
        for i in range(n_lead):
            f.write('{"type":"lead","id":"lead-%d","name":"Lead %d","emails":["lead%d@prospect%d.example"]}\n' % (i, i, i, i % 997))
        for i in range(n_opp):
            c = rng.randrange(n_con)
            f.write('{"type":"opportunity","id":"opp-%d","name":"Deal %d","account_id":"acc-%d","contact_ids":["con-%d"],"stage":"open"}\n'
                    % (i, i, c % n_acc, c))

    employees = ["alice@acme.example", "bob@acme.example", "carol@acme.example", "dan@acme.example"]
    sent = []  # (message-id, subject, external address)
    t0 = 1704067200  # 2024-01-01
    attachment = base64.encodebytes(bytes(rng.randrange(256) for _ in range(600))).decode().replace("\n", "\r\n")
    for n in range(a.messages):
        kind = rng.random()
        if kind < 0.70:
            i = rng.randrange(n_con); ext = "c%d@acct%d.example" % (i, i % n_acc)
        elif kind < 0.80:
            i = rng.randrange(n_lead); ext = "lead%d@prospect%d.example" % (i, i % 997)
        elif kind < 0.90:
            ext = "someone%d@acct%d.example" % (n, rng.randrange(n_acc))
        else:
            ext = "stranger%d@gmail.com" % n
        emp = rng.choice(employees)
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize()
        headers = []
        if sent and rng.random() < 0.33:
            mid0, subj0, ext0 = rng.choice(sent)
            ext, subject = ext0, "Re: " + subj0
            headers += [("In-Reply-To", "<%s>" % mid0), ("References", "<%s>" % mid0)]
        outbound = rng.random() < 0.4
        frm, to = (emp, ext) if outbound else (ext, emp)
        mid = "bench-%06d@%s" % (n, frm.split("@")[1])
        date = t0 + n * 37
        hdr = [("From", "<%s>" % frm), ("To", "<%s>" % to), ("Subject", subject),
               ("Date", __import__("email.utils").utils.formatdate(date, usegmt=True)),
               ("Message-ID", "<%s>" % mid)] + headers + [("MIME-Version", "1.0")]
        text = body(rng, max(200, a.size - 700))
        if n % 10 == 0:
            b = "bench%06d" % n
            hdr.append(("Content-Type", 'multipart/mixed; boundary="%s"' % b))
            payload = ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--%s\r\n"
                       "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data-%d.bin\"\r\n"
                       "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n") % (b, text, b, n, attachment, b)
        else:
            hdr.append(("Content-Type", "text/plain; charset=utf-8"))
            payload = text
        raw = "".join("%s: %s\r\n" % kv for kv in hdr) + "\r\n" + payload
        with open(os.path.join(a.out, "mail", "%05d.eml" % n), "w", newline="") as f:
            f.write(raw)
        sent.append((mid, subject.replace("Re: ", ""), ext))

if __name__ == "__main__":
    main()
