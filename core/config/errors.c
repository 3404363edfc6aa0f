#include "config/errors.h"

#include <stdarg.h>
#include <stdio.h>

const char *dx_cfg_pos_format(const dx_srcpos *pos, char *buf, size_t len) {
  if (pos->line > 0)
    snprintf(buf, len, "%s:%d:%d", pos->file, pos->line, pos->col);
  else if (pos->col > 0)
    snprintf(buf, len, "%s:%d", pos->file, pos->col);
  else
    snprintf(buf, len, "%s", pos->file);
  return buf;
}

dx_status dx_cfg_fail(char *err, size_t errlen, dx_status st, const dx_srcpos *pos, const char *fmt,
                      ...) {
  if (!err || errlen == 0) return st;
  size_t used = 0;
  if (pos) {
    char where[512];
    int w = snprintf(err, errlen, "%s: ", dx_cfg_pos_format(pos, where, sizeof where));
    used = w < 0 ? 0 : (size_t)w < errlen ? (size_t)w : errlen - 1;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + used, errlen - used, fmt, ap);
  va_end(ap);
  return st;
}

dx_srcpos dx_cfg_override_pos(int n) { return (dx_srcpos){DX_POS_COMMAND_LINE, 0, n}; }
