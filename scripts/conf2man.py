#!/usr/bin/env python3
"""conf2man.py EXAMPLE TEMPLATE OUT VERSION - writes mailagent.conf(5): TEMPLATE with @KEYS@
replaced by every section and key of mailagent.conf.example (its comments become the key's
description, its commented "key = value" line the default) and @MAILAGENT_VERSION@ by VERSION."""
import re
import sys


def roff(text):
    text = text.replace("\\", "\\\\").replace("-", "\\-")
    return "\n".join(("\\&" + l) if l.startswith((".", "'")) else l for l in text.split("\n"))


def describe(comment):
    """A comment block as roff: indented lines (a list of values) each start a new line."""
    parts = []
    for raw in comment:
        text = raw[1:] if raw.startswith(" ") else raw
        if text.startswith("  ") and parts:
            parts.append(".br\n" + roff(text.strip()))
        else:
            parts.append(roff(text.strip()))
    return "\n".join(parts)


def keys_section(example):
    """Every [section] of the example, each key as a tagged paragraph: its default (or "unset"
    with the example value, when the comment says the key is unset by default), then the comment
    above it; keys that share one comment share one paragraph."""
    out, comment, pending, started = [], [], [], False

    def flush():
        nonlocal pending, comment
        if pending:
            unset = any("(unset" in c for c in comment)
            tags = []
            for i, (key, value) in enumerate(pending):
                tags.append((".TP\n" if i == 0 else ".TQ\n") + ".B " + roff(key))
            out.append("\n".join(tags))
            values = ", ".join(roff(v) for _, v in pending)
            out.append(("Unset by default; for example: " if unset else "Default: ") + values + ".")
            out.append(".br\n" + describe(comment) if comment else "")
        pending, comment = [], []

    for line in example.splitlines():
        m = re.match(r"^\[(\w+)\]\s*$", line)
        if m:
            flush()
            started = True
            out.append(".SS [%s]" % m.group(1))
            continue
        if not started:
            continue
        m = re.match(r"^#\s*(\w+)\s*=\s*(.*)$", line)
        if m:
            pending.append((m.group(1), m.group(2).strip()))
        elif line.startswith("#"):
            if pending:
                flush()
            comment.append(line[1:])
        elif not line.strip():
            flush()
    flush()
    return "\n".join(l for l in out if l)


def main():
    example, template, out, version = sys.argv[1:5]
    with open(example) as f:
        keys = keys_section(f.read())
    with open(template) as f:
        page = f.read()
    page = page.replace("@KEYS@", keys).replace("@MAILAGENT_VERSION@", version)
    with open(out, "w") as f:
        f.write(page)


main()
