/* replay_main.c - a main() for the fuzz harnesses in builds without libFuzzer (gcc, the normal
 * ctest run): feeds every regular file of the directories given on the command line, one at a
 * time, to LLVMFuzzerTestOneInput, in name order so a failure is reproducible. A harness that finds
 * a broken invariant aborts, which fails the test; the file being replayed is printed first.
 * Files over REPLAY_MAX bytes are refused (a corpus holds small inputs). A missing directory is an
 * error, an empty one is not (a target may have no regression yet).
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define REPLAY_MAX (8 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int names_cmp(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Replays the files of one directory. Returns the number replayed, or -1. */
static int replay_dir(const char *dir)
{
  GError *error = NULL;
  GDir *d = g_dir_open(dir, 0, &error);
  if (!d) {
    fprintf(stderr, "replay: %s\n", error->message);
    g_error_free(error);
    return -1;
  }
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL) g_ptr_array_add(names, g_build_filename(dir, name, NULL));
  g_dir_close(d);
  g_ptr_array_sort(names, names_cmp);
  int n = 0;
  for (guint i = 0; i < names->len && n >= 0; i++) {
    const char *path = names->pdata[i];
    g_autofree char *base = g_path_get_basename(path);
    if (base[0] == '.') continue; /* .keep and the like */
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) continue;
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, &error) || len > REPLAY_MAX) {
      fprintf(stderr, "replay: %s: %s\n", path, error ? error->message : "too large");
      g_clear_error(&error);
      g_free(data);
      n = -1;
      break;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, (size_t) len);
    /* a copy of exactly len bytes, as libFuzzer passes it, so ASan sees a read past the end */
    uint8_t *copy = g_memdup2(data, len);
    LLVMFuzzerTestOneInput(copy, len);
    g_free(copy);
    g_free(data);
    n++;
  }
  g_ptr_array_unref(names);
  return n;
}

int main(int argc, char **argv)
{
  int total = 0;
  for (int i = 1; i < argc; i++) {
    int n = replay_dir(argv[i]);
    if (n < 0) return 1;
    total += n;
  }
  printf("replayed %d input(s)\n", total);
  return 0;
}
