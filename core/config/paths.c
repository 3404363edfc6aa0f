#include "config/internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dir/./x reads worse than dir/x. */
static const char *skip_dots(const char *rel) {
  while (rel[0] == '.' && rel[1] == '/')
    rel += 2;
  return rel;
}

static char *joined(const char *dir, size_t dirlen, const char *rel) {
  size_t n = dirlen + 1 + strlen(rel) + 1;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%.*s/%s", (int)dirlen, dir, skip_dots(rel));
  return p;
}

char *dx_cfg_path_beside(const char *file, const char *rel) {
  const char *slash = strrchr(file, '/');
  if (rel[0] == '/' || !slash) return strdup(rel);
  return joined(file, (size_t)(slash - file), rel);
}

char *dx_cfg_path_absolute(const char *file, const char *rel, bool file_is_real) {
  if (rel[0] == '/') return strdup(rel);
  char dir[PATH_MAX], real[PATH_MAX];
  const char *slash = file_is_real ? strrchr(file, '/') : NULL;
  if (slash)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
  else
    snprintf(dir, sizeof dir, ".");
  /* The folder exists (the file was read from it, or it is the working
   * directory); if it cannot be resolved, the relative form still works. */
  const char *base = realpath(dir, real) ? real : dir;
  return joined(base, strlen(base), rel);
}
