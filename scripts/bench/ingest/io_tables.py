#!/usr/bin/python3
"""io_tables.py - reads `strace -f -y -s 24 -x -e trace=pwrite64,pread64,fdatasync` output of a
mailagent ingest and the database it left, and prints the bytes and calls per message of each
kind of I/O (write-ahead log, database file) and the 8 KB pages per 1,000 messages of each table or
index: WAL frames written, WAL frames read (checkpoint copies and cache misses), database pages read
(cache misses), database pages written (checkpoints). A WAL frame's page number is taken from its
24-byte header write; tables from the database's dbstat (page numbers do not move without VACUUM).
Deterministic for a corpus (no clocks). Used by io.sh.
Usage: io_tables.py STRACE_FILE DATABASE MESSAGES
"""
import collections, re, sqlite3, sys

def first_u32(text):
    """The first four bytes of an strace -x string, big-endian."""
    out, i = bytearray(), 0
    while i < len(text) and len(out) < 4:
        if text[i] == '\\' and text[i + 1] == 'x':
            out.append(int(text[i + 2:i + 4], 16)); i += 4
        elif text[i] == '\\':
            out.append(ord({'n': '\n', 't': '\t', 'r': '\r', 'v': '\v', 'f': '\f'}.get(text[i + 1], text[i + 1]))); i += 2
        else:
            out.append(ord(text[i])); i += 1
    return int.from_bytes(bytes(out[:4]), 'big')

def main():
    trace, db, messages = sys.argv[1], sys.argv[2], int(sys.argv[3])
    owner = {pageno: name for name, pageno in sqlite3.connect(db).execute("SELECT name, pageno FROM dbstat")}
    call_re = re.compile(r'^\d+\s+(pwrite64|pread64|fdatasync)\(\d+<([^>]*)>(?:, "((?:\\.|[^"\\])*)"(?:\.\.\.)?, (\d+), (\d+))?\)\s+=\s+(-?\d+)')
    frame_page = {}  # WAL offset of a frame's page -> its page number
    pages = collections.defaultdict(collections.Counter)
    calls, nbytes = collections.Counter(), collections.Counter()
    for line in open(trace, errors='replace'):
        m = call_re.match(line)
        if not m:
            continue
        call, path, data, size, off, ret = m.groups()
        kind = 'WAL' if path.endswith('-wal') else 'DB' if path.endswith('.db') else None
        if kind is None:
            continue
        calls[(call, kind)] += 1
        if call == 'fdatasync':
            continue
        size, off, ret = int(size), int(off), int(ret)
        nbytes[(call, kind)] += max(ret, 0)
        if kind == 'WAL' and call == 'pwrite64' and size == 24:
            frame_page[off + 24] = first_u32(data)
        elif kind == 'WAL' and size == 8192:
            pages['WAL write' if call == 'pwrite64' else 'WAL read'][owner.get(frame_page.get(off), '?')] += 1
        elif kind == 'DB' and size == 8192:
            pages['DB write' if call == 'pwrite64' else 'DB read'][owner.get(off // 8192 + 1, '?')] += 1
    print(f"per message ({messages} messages):")
    for key in sorted(calls):
        print(f"  {key[0]:9s} {key[1]:3s} {calls[key] / messages:8.3f} calls {nbytes[key] / messages:10.0f} bytes"
              f"  (in all: {calls[key]} calls)")
    cols = ('WAL write', 'WAL read', 'DB read', 'DB write')
    names = set().union(*(pages[c] for c in cols))
    print(f"8 KB pages per 1,000 messages  {' '.join(f'{c:>9s}' for c in cols)}")
    for name in sorted(names, key=lambda x: -sum(pages[c][x] for c in cols)):
        row = [pages[c][name] * 1000 / messages for c in cols]
        if sum(row) >= 5:
            print(f"  {name:30s} " + " ".join(f"{v:9.1f}" for v in row))
    print(f"  {'total':30s} " + " ".join(f"{sum(pages[c].values()) * 1000 / messages:9.1f}" for c in cols))

main()
