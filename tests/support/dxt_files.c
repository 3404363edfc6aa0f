#include "dxt_files.h"

#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/file.h"

char *dxt_slurp(const char *path) {
  uint8_t *buf;
  size_t len;
  char err[DX_ERRMSG_MAX];
  ck_assert_msg(dx_file_read(path, &buf, &len, err, sizeof err) == DX_OK, "%s", err);
  return (char *)buf;
}

void dxt_write_idx(const char *path, int ndims, const unsigned *dims, const unsigned char *bytes,
                   size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  unsigned char head[16] = {0, 0, 8, (unsigned char)ndims};
  for (int d = 0; d < ndims; d++)
    for (int k = 0; k < 4; k++)
      head[4 + 4 * d + k] = (unsigned char)(dims[d] >> (24 - 8 * k));
  ck_assert_uint_eq(fwrite(head, 1, 4 + 4 * (size_t)ndims, f), 4 + 4 * (size_t)ndims);
  for (size_t i = 0; i < n; i++)
    fputc(bytes ? bytes[i] : (int)((i * 7) % 10), f);
  ck_assert_int_eq(fclose(f), 0);
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
