/* Small text helpers for messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugin/internal.h"
#include "plugin/loader.h"

void dx_appendf(char *buf, size_t len, const char *fmt, ...) {
  size_t used = strnlen(buf, len);
  if (used + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

/* Overrides have no line: the config loader records the override's number
 * in col and sets line to 0 (plugin_ref.h), and writes them as
 * `<command line>:N`; defaults have neither. */
const char *dx_srcpos_str(dx_srcpos pos, char *buf, size_t len) {
  const char *file = pos.file ? pos.file : "<unknown>";
  if (pos.line > 0)
    snprintf(buf, len, "%s:%d:%d", file, pos.line, pos.col);
  else if (pos.col > 0)
    snprintf(buf, len, "%s:%d", file, pos.col);
  else
    snprintf(buf, len, "%s", file);
  return buf;
}
