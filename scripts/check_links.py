#!/usr/bin/python3
"""check_links.py - the link dependencies CMakeLists.txt declares for each module (ma_module) and
for the mailagent executable are exactly what their files include: a module whose files include
another module's header ("agent/<m>/...", "storage/...", "rules/...") or a library's header
(<jansson.h>, <openssl/...>, <event2/...>...) declares it, and declares nothing it does not
include. GLib is the exception: every file uses it, and ma_lib carries it for all.
Unit tests derive their links from their includes (tests/CMakeLists.txt), so they agree by
construction. Prints each difference; exit status 1 when there is one.
Usage: scripts/check_links.py [SOURCE_DIR]
"""
import glob, os, re, sys

HEADERS = {  # pkg-config target -> the include prefix that names it
    'PkgConfig::SQLITE': 'sqlite3.h', 'PkgConfig::GMIME': 'gmime/', 'PkgConfig::XML': 'libxml/',
    'PkgConfig::PCRE2': 'pcre2.h', 'PkgConfig::CURL': 'curl/', 'PkgConfig::OPENSSL': 'openssl/',
    'PkgConfig::EVENT': 'event2/', 'PkgConfig::CARES': 'ares', 'PkgConfig::JANSSON': 'jansson.h',
    'PkgConfig::IDN2': 'idn2.h', 'PkgConfig::ETPAN': 'libetpan/', 'PkgConfig::SYSTEMD': 'systemd/',
    'PkgConfig::PQ': 'libpq-fe.h', 'm': 'math.h',
}
EXEMPT = {'PkgConfig::GLIB', 'Threads::Threads'}

def includes(files):
    out = set()
    for f in files:
        with open(f, errors='replace') as fh:
            out.update(re.findall(r'^#include\s+[<"]([^">]+)[">]', fh.read(), re.M))
    return out

def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    cm = open(os.path.join(src, 'CMakeLists.txt')).read()
    targets = {}  # name -> (files, declared links)
    for m in re.finditer(r'^ma_module\((\w+)\s+(\S+)\s+([^)]*)\)', cm, re.M):
        targets['ma_' + m.group(1)] = (glob.glob(os.path.join(src, m.group(2), '*.[ch]')), set(m.group(3).split()))
    dirs = {}
    for m in re.finditer(r'^ma_module\((\w+)\s+(\S+)', cm, re.M):
        dirs[m.group(2) + '/'] = 'ma_' + m.group(1)
    exe = re.search(r'add_executable\(mailagent\s+([^)]*)\)', cm)
    links = re.search(r'target_link_libraries\(mailagent\s+PRIVATE\s+([^)]*)\)', cm)
    targets['mailagent'] = ([os.path.join(src, f) for f in exe.group(1).split()], set(links.group(1).split()))
    bad = 0
    for name, (files, declared) in sorted(targets.items()):
        wanted = set()
        for inc in includes(files):
            for d, mod in dirs.items():
                if inc.startswith(d) and mod != name:
                    wanted.add(mod)
            for pkg, prefix in HEADERS.items():
                if inc.startswith(prefix):
                    wanted.add(pkg)
        declared = declared - EXEMPT
        for dep in sorted(wanted - declared):
            print(f'{name}: includes {dep} without linking it')
            bad = 1
        for dep in sorted(declared - wanted):
            print(f'{name}: links {dep} without including it')
            bad = 1
    if not bad:
        print(f'{len(targets)} targets: links equal includes')
    return bad

if __name__ == '__main__':
    sys.exit(main())
