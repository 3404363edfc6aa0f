/* Replays every input kept under tests/fuzz/regressions/HARNESS/ through its
 * harness (the fuzzers' crashers once fixed, and the size-limit cases) and
 * asserts a clean refusal: an error status and one line that says why, which
 * contains the text of NAME.expect when there is one. Without a sanitizer it
 * also asserts that no input made the process grow by 64 MiB: limits are
 * checked before allocating, and a gzip bomb is cut off. DXF_VERBOSE=1 prints
 * each input's message. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dx_test.h"
#include "dxt_files.h"
#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define DXF_CHECK_RSS 0 /* ASan's quarantine and shadow grow the process */
#else
#define DXF_CHECK_RSS 1
#endif

typedef dx_status (*harness_fn)(const uint8_t *, size_t, char *, size_t);
static const struct {
  const char *name;
  harness_fn fn;
} harnesses[] = {
    {"yaml", dxf_yaml},
    {"idx", dxf_idx},
    {"cifar", dxf_cifar},
    {"png_folder", dxf_png_folder},
    {"png", dxf_png},
    {"json", dxf_json},
    {"safetensors", dxf_safetensors},
    {"store", dxf_store},
};
#define N_HARNESSES ((int)(sizeof harnesses / sizeof *harnesses))

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static bool is_input(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return e->d_name[0] != '.' && !(n > 7 && strcmp(e->d_name + n - 7, ".expect") == 0) &&
         strcmp(e->d_name, "README.md") != 0;
}

static long max_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static uint8_t *read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  uint8_t *buf = NULL;
  size_t cap = 0;
  *len = 0;
  for (size_t got = 1; got > 0;) {
    if (*len == cap) ck_assert_ptr_nonnull(buf = realloc(buf, cap = cap ? 2 * cap : 65536));
    got = fread(buf + *len, 1, cap - *len, f);
    *len += got;
  }
  fclose(f);
  return buf;
}

/* The expected text, trailing newline dropped; NULL without a .expect file. */
static char *expected(const char *path) {
  char name[1100];
  snprintf(name, sizeof name, "%s.expect", path);
  FILE *f = fopen(name, "rb");
  if (!f) return NULL;
  fclose(f);
  char *text = dxt_slurp(name);
  text[strcspn(text, "\n")] = '\0';
  return text;
}

START_TEST(replay_harness) {
  char dir[256];
  snprintf(dir, sizeof dir, "fuzz/regressions/%s", harnesses[_i].name);
  struct dirent **list;
  int n = scandir(dir, &list, NULL, by_name);
  ck_assert_msg(n >= 0, "%s: cannot read the folder (run from tests/)", dir);
  int replayed = 0;
  for (int k = 0; k < n; k++) {
    if (is_input(list[k])) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s", dir, list[k]->d_name);
      size_t len;
      uint8_t *data = read_bytes(path, &len);
      char err[1024] = "", *want = expected(path);
      long before = max_rss_kib();
      dx_status s = harnesses[_i].fn(data, len, err, sizeof err);
      long grew = max_rss_kib() - before;
      if (getenv("DXF_VERBOSE"))
        fprintf(stderr, "%s: status %d, grew %ld KiB: %s\n", path, s, grew, err);
      ck_assert_msg(s != DX_OK, "%s was accepted; a regression input must be refused", path);
      ck_assert_msg(err[0] != '\0' && strchr(err, '\n') == NULL,
                    "%s: refused without one clear line: '%s'", path, err);
      ck_assert_msg(!want || strstr(err, want), "%s: message '%s' lacks '%s'", path, err, want);
      ck_assert_msg(!DXF_CHECK_RSS || grew < 64 * 1024, "%s: the process grew by %ld KiB", path,
                    grew);
      replayed++;
      free(want);
      free(data);
    }
    free(list[k]);
  }
  free(list);
  ck_assert_msg(replayed > 0, "%s holds no inputs", dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fuzz_regressions");
  TCase *tc = tcase_create("replay");
  tcase_add_loop_test(tc, replay_harness, 0, N_HARNESSES);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
