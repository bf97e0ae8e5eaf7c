/* fuzz_import.c - libFuzzer target for the streaming record importer (codec_import: CSV and JSON
 * Lines, the code behind `records import` and POST /v1/records:bulk) against a real temporary
 * database. The input's size picks the format (auto, JSON Lines, CSV) and the size of the pieces it
 * is fed in, so seed files are used as they are; every
 * input is imported into two enterprises that have seen the same inputs, whole into one and in
 * pieces into the other, and both runs must report the same counts (the line cutter does not
 * depend on how the bytes arrive). Must never crash or leak.
 * Seeds: tests/fixtures/records, tests/fixtures/walkthrough.
 */
#include "agent/codec/codec_import.h"
#include "agent/lib/clock.h"
#include "agent/lib/model.h"
#include "fuzz_storage.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static MaStorage *st;
static char *enterprises[2];

static char *enterprise_new(const char *slug)
{
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = (char *) slug;
  e.name = (char *) slug;
  e.inbound_local = g_strconcat(slug, "-12345678", NULL);
  e.domains = g_ptr_array_new();
  e.created_at = ma_now();
  if (storage_enterprise_create(st, &e, NULL) < 0) abort();
  g_ptr_array_unref(e.domains);
  g_free(e.inbound_local);
  return e.id;
}


static void setup(void)
{
  st = fuzz_storage_open("fuzz-import-XXXXXX");
  enterprises[0] = enterprise_new("whole");
  enterprises[1] = enterprise_new("pieces");
}

/* Imports data in pieces of step bytes into enterprises[which]; skip_invalid so good lines are
 * written and counted. */
static void import(int which, const uint8_t *data, size_t size, CodecFormat format, size_t step,
                   CodecImportResult *res)
{
  CodecImport *imp = codec_import_new(st, enterprises[which], format, TRUE);
  for (size_t off = 0; off < size; off += step)
    if (codec_import_feed(imp, (const char *) data + off, MIN(step, size - off), NULL) < 0) abort();
  if (codec_import_finish(imp, res, NULL) < 0) abort();
  codec_import_free(imp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!st) setup();
  static const CodecFormat formats[] = {CODEC_FORMAT_AUTO, CODEC_FORMAT_JSONL, CODEC_FORMAT_CSV};
  CodecFormat format = formats[(size / 7) % 3];
  size_t step = size % 7 + 1;
  CodecImportResult whole, pieces;
  import(0, data, size, format, size ? size : 1, &whole);
  import(1, data, size, format, step, &pieces);
  if (whole.invalid != pieces.invalid || whole.created != pieces.created || whole.updated != pieces.updated ||
      whole.deleted != pieces.deleted || whole.not_found != pieces.not_found)
    abort();
  codec_import_result_clear(&whole);
  codec_import_result_clear(&pieces);
  return 0;
}
