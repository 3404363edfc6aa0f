#include "util/srcpos.h"

#include <stdio.h>

const char *dx_srcpos_format(const dx_srcpos *pos, char *buf, size_t len) {
  if (pos->line > 0)
    snprintf(buf, len, "%s:%d:%d", pos->file, pos->line, pos->col);
  else if (pos->col > 0)
    snprintf(buf, len, "%s:%d", pos->file, pos->col);
  else
    snprintf(buf, len, "%s", pos->file);
  return buf;
}

dx_srcpos dx_srcpos_override(int n) { return (dx_srcpos){DX_POS_COMMAND_LINE, 0, n}; }
