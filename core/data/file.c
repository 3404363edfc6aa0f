/* File helpers shared by the dataset readers: existence checks, reading a
 * whole (possibly gzipped) file, and the one-line error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/images.h"

dx_status dx_data_fail(char *err, size_t errlen, dx_status s, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return s;
}

bool dx_data_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool dx_data_is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *dx_data_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s/%s", dir, name);
  return s;
}

/* zlib reports a stream that stops early only through gzerror, after gzread
 * has returned what it could; a short file would otherwise look complete. */
static dx_status gz_check(gzFile f, const char *path, char *err, size_t errlen) {
  int code = Z_OK;
  const char *msg = gzerror(f, &code);
  if (code == Z_OK || code == Z_STREAM_END) return DX_OK;
  /* zlib prefixes its message with the path, which we print ourselves. */
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
  if (code == Z_ERRNO)
    return dx_data_fail(err, errlen, DX_ERR_IO, "%s: read error: %s", path, strerror(errno));
  return dx_data_fail(err, errlen, DX_ERR_PARSE,
                      "%s: truncated or corrupt gzip stream (zlib: %s); download it again", path,
                      msg);
}

static dx_status grow(uint8_t **buf, size_t *cap, char *err, size_t errlen, const char *path) {
  size_t next = *cap ? *cap * 2 : (size_t)1 << 20;
  uint8_t *p = realloc(*buf, next);
  if (!p) return dx_data_fail(err, errlen, DX_ERR_NOMEM, "%s: out of memory reading it", path);
  *buf = p;
  *cap = next;
  return DX_OK;
}

dx_status dx_data_slurp(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen) {
  *buf = NULL;
  *len = 0;
  gzFile f = gzopen(path, "rb");
  if (!f) return dx_data_fail(err, errlen, DX_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  gzbuffer(f, 1 << 18);
  size_t cap = 0;
  dx_status s = DX_OK;
  for (;;) {
    if (*len == cap && (s = grow(buf, &cap, err, errlen, path)) != DX_OK) break;
    size_t want = cap - *len;
    if (want > (1u << 30)) want = 1u << 30; /* gzread takes an unsigned int */
    int got = gzread(f, *buf + *len, (unsigned)want);
    if (got <= 0) {
      s = gz_check(f, path, err, errlen);
      break;
    }
    *len += (size_t)got;
  }
  gzclose(f);
  if (s != DX_OK) {
    free(*buf);
    *buf = NULL;
    *len = 0;
  }
  return s;
}
