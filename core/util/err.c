#include "util/err.h"

#include <stdio.h>
#include <string.h>

dx_status dx_verrf(char *err, size_t errlen, dx_status st, const dx_srcpos *pos, const char *fmt,
                   va_list ap) {
  if (!err || errlen == 0) return st;
  size_t used = 0;
  if (pos) {
    char where[512];
    int w = snprintf(err, errlen, "%s: ", dx_srcpos_format(pos, where, sizeof where));
    used = w < 0 ? 0 : (size_t)w < errlen ? (size_t)w : errlen - 1;
  }
  vsnprintf(err + used, errlen - used, fmt, ap);
  /* One line, whatever the message quotes: a file name or a value read from
   * a hostile file may hold a newline or a terminal escape. */
  for (char *c = err; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = *c == '\t' ? ' ' : '?';
  return st;
}

dx_status dx_errf(char *err, size_t errlen, dx_status st, const dx_srcpos *pos, const char *fmt,
                  ...) {
  va_list ap;
  va_start(ap, fmt);
  dx_verrf(err, errlen, st, pos, fmt, ap);
  va_end(ap);
  return st;
}

void dx_appendf(char *buf, size_t len, const char *fmt, ...) {
  if (!buf || len == 0) return;
  size_t used = strnlen(buf, len);
  if (used + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}
