# setup.sh - sourced by the ingest benchmarks (run.sh, cost.sh, io.sh): the binary they measure,
# their scratch directory and the archive they ingest into, the same for all so that their figures
# describe the same work. Expects SRC (the source tree), MESSAGES, RECORDS and KEEP to be set.

# MAILAGENT, built as Release into $SRC/build-bench unless the caller named a binary.
bench_ingest_binary() {
  if [ -z "${MAILAGENT:-}" ]; then
    cmake -S "$SRC" -B "$SRC/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$SRC/build-bench" --target mailagent -j"$(nproc)" >/dev/null
    MAILAGENT=$SRC/build-bench/mailagent
  fi
}

# WORK: a new scratch directory named after $1, removed on exit unless KEEP=1.
bench_ingest_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap 'if [ "$KEEP" = 1 ]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi' EXIT
}

# CONF, and behind it an archive of enterprise "acme" (four employees, $RECORDS CRM records from
# gen_corpus.py) with $1 (default $MESSAGES) messages to ingest in $WORK/corpus/mail.
bench_ingest_prepare() {
  local count=${1:-$MESSAGES}
  CONF=$WORK/mailagent.conf
  printf '[storage]\ndata_dir=%s\n[smtp]\ninbound_domain=inbound.bench\n[log]\nlevel=warn\n' "$WORK/data" > "$CONF"
  echo "generating $count messages and $RECORDS records..."
  /usr/bin/python3 "$SRC/scripts/bench/ingest/gen_corpus.py" "$WORK/corpus" --messages "$count" --records "$RECORDS"
  "$MAILAGENT" init -c "$CONF" >/dev/null
  "$MAILAGENT" enterprise add -c "$CONF" --name Acme --slug acme --domain acme.example >/dev/null
  for e in alice bob carol dan; do "$MAILAGENT" employee add -c "$CONF" acme "$e@acme.example" >/dev/null; done
  echo "importing records..."
  "$MAILAGENT" records import -c "$CONF" acme "$WORK/corpus/records.jsonl" >/dev/null
}
