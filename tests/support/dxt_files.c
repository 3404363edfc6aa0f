#include "dxt_files.h"

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char *dxt_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  ck_assert_ptr_nonnull(s);
  ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

void dxt_spit(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

void dxt_rmtree(const char *dir) { nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

void dxt_cli_setup(char *build, char *fixtures, char *workdir, const char *prefix) {
  const char *b = getenv("DDPMX_BUILD_DIR");
  ck_assert_msg(b != NULL, "DDPMX_BUILD_DIR is not set (run through ctest)");
  ck_assert_ptr_nonnull(realpath(b, build));
  ck_assert_ptr_nonnull(realpath("data/cli", fixtures));
  snprintf(workdir, 64, "/tmp/%sXXXXXX", prefix);
  ck_assert_ptr_nonnull(mkdtemp(workdir));
  ck_assert_int_eq(chdir(workdir), 0);
  unsetenv("DDPMX_PLUGIN_PATH");
}
