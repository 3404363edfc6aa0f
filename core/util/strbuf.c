#include "util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(dx_strbuf *b, size_t more) {
  if (b->nomem) return false;
  if (b->n + more + 1 <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + more + 1)
    cap *= 2;
  char *s = realloc(b->s, cap);
  if (!s) {
    b->nomem = true;
    return false;
  }
  b->s = s;
  b->cap = cap;
  return true;
}

void dx_strbuf_add(dx_strbuf *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = '\0';
}

void dx_strbuf_puts(dx_strbuf *b, const char *s) { dx_strbuf_add(b, s, strlen(s)); }

void dx_strbuf_printf(dx_strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || !reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

char *dx_strbuf_take(dx_strbuf *b) {
  if (!reserve(b, 0)) {
    free(b->s);
    *b = (dx_strbuf){0};
    return NULL;
  }
  char *s = b->s;
  s[b->n] = '\0';
  *b = (dx_strbuf){0};
  return s;
}
