/* A growing string for the writers. An allocation failure is remembered and
 * reported once, by dx_strbuf_take. */
#ifndef DX_UTIL_STRBUF_H
#define DX_UTIL_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dx_strbuf {
  char *s;
  size_t n, cap;
  bool nomem;
} dx_strbuf;

void dx_strbuf_add(dx_strbuf *b, const char *s, size_t n);
void dx_strbuf_puts(dx_strbuf *b, const char *s);
void dx_strbuf_printf(dx_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The string (caller frees), or NULL after an allocation failure. */
char *dx_strbuf_take(dx_strbuf *b);

#endif
