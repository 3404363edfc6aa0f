#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "util/err.h"

/* zlib reports a stream that stops early only through gzerror, after gzread
 * has returned what it could; a short file would otherwise look complete. */
static dx_status gz_check(gzFile f, const char *path, char *err, size_t errlen) {
  int code = Z_OK;
  const char *msg = gzerror(f, &code);
  if (code == Z_OK || code == Z_STREAM_END) return DX_OK;
  if (code == Z_ERRNO) {
    int why = errno;
    dx_errf(err, errlen, DX_ERR_IO, DX_AT(path), "read error: %s", strerror(why));
    errno = why;
    return DX_ERR_IO;
  }
  /* zlib prefixes its message with the path, which we print ourselves. */
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2;
  return dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
                 "truncated or corrupt gzip stream (zlib: %s); download it again", msg);
}

dx_status dx_file_read(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen) {
  return dx_file_read_upto(path, SIZE_MAX - 1, buf, len, err, errlen);
}

dx_status dx_file_read_upto(const char *path, size_t cap_bytes, uint8_t **buf, size_t *len,
                            char *err, size_t errlen) {
  *buf = NULL;
  *len = 0;
  gzFile f = gzopen(path, "rb");
  if (!f) {
    int why = errno ? errno : ENOMEM; /* gzopen leaves errno 0 when out of memory */
    dx_errf(err, errlen, DX_ERR_IO, DX_AT(path), "cannot open: %s", strerror(why));
    errno = why;
    return DX_ERR_IO;
  }
  gzbuffer(f, 1 << 18);
  size_t cap = 0;
  dx_status s = DX_OK;
  while (*len < cap_bytes) {
    if (*len + 1 >= cap) { /* room for the NUL too */
      size_t next = cap ? cap * 2 : (size_t)1 << 16;
      if (next > cap_bytes + 1) next = cap_bytes + 1;
      uint8_t *p = realloc(*buf, next);
      if (!p) {
        s = dx_errf(err, errlen, DX_ERR_NOMEM, DX_AT(path), "out of memory reading it");
        break;
      }
      *buf = p;
      cap = next;
    }
    size_t want = cap - *len - 1;           /* at most cap_bytes - *len */
    if (want > (1u << 30)) want = 1u << 30; /* gzread takes an unsigned int */
    int got = gzread(f, *buf + *len, (unsigned)want);
    if (got <= 0) {
      s = gz_check(f, path, err, errlen);
      break;
    }
    *len += (size_t)got;
  }
  int why = errno;
  gzclose(f);
  if (s != DX_OK) {
    free(*buf);
    *buf = NULL;
    *len = 0;
    errno = why;
    return s;
  }
  if (!*buf && !(*buf = malloc(1)))
    return dx_errf(err, errlen, DX_ERR_NOMEM, DX_AT(path), "out of memory reading it");
  (*buf)[*len] = '\0';
  return DX_OK;
}

dx_status dx_make_dirs(const char *path, char *err, size_t errlen) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL, "folder name too long: %.80s...", path);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p) continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s: cannot create the folder: %s", buf,
                     strerror(errno));
    if (!c) break;
    *p = c;
  }
  return DX_OK;
}
