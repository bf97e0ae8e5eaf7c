#!/usr/bin/env bash
# Installs every Debian 12 package that mailagent's build and test suite need, then configures and
# builds into ./build. Idempotent: safe to run again. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

build_deps=(
  build-essential cmake pkg-config
  libglib2.0-dev libgmime-3.0-dev libetpan-dev libsqlite3-dev libcurl4-gnutls-dev libssl-dev
  libpcre2-dev libevent-dev libc-ares-dev libjansson-dev libxml2-dev
  libpq-dev libsystemd-dev libidn2-dev
  tzdata
  clang libclang-rt-14-dev
)
# Real peers the tests start on loopback: SMTP clients and a relay target, an IMAP server, a DNS
# server (and the RFC 7208 SPF test suite python3-spf ships), DKIM verifiers, an HTTP load
# generator, the tracing tools the durability tests use, and mbsync (isync), the IMAP benchmark's
# reference client.
test_deps=(
  swaks libnet-ssleay-perl postfix dovecot-imapd dovecot-pop3d dnsmasq-base opendkim-tools python3-dkim
  python3 curl wrk strace openssl sqlite3 procps iproute2 maildir-utils linux-perf
  nsd dovecot-core dovecot-lmtpd postgresql libsisimai-perl python3-spf python3-yaml isync
  systemd man-db groff-base adduser dpkg-dev
)

missing=()
for p in "${build_deps[@]}" "${test_deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks how to configure itself; the tests write their own main.cf, so say "No configuration".
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Packaged daemons may have been started by their install scripts; the tests run their own copies
# on loopback ports, so the system-wide ones are not needed.
for svc in postfix dovecot nsd postgresql; do
  command -v service >/dev/null 2>&1 && $SUDO service "$svc" stop >/dev/null 2>&1 || true
done

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MAILAGENT_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
