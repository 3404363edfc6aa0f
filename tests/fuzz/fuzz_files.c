/* The harnesses' scratch folder: readers that take a path get the input as a
 * file there. */
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag;
  if (ftw->level > 0) remove(path);
  return 0;
}

void dxf_clear(void) {
  if (dir[0]) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_dir(void) {
  dxf_clear();
  rmdir(dir);
}

const char *dxf_dir(void) {
  if (!dir[0]) {
    /* /dev/shm when there is one: a fuzzer writes a file per input. */
    snprintf(dir, sizeof dir, "%s/dxf_XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
      perror("dxf_dir: mkdtemp");
      abort();
    }
    atexit(remove_dir);
  }
  return dir;
}

const char *dxf_write(const char *name, const void *data, size_t size) {
  static char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dxf_dir(), name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    perror(path);
    abort();
  }
  return path;
}
