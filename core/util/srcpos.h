/* Where a value was written: FILE:LINE:COL in a YAML file, the N-th
 * command-line override, or a default. Every part that reports a bad value
 * names its place the same way. */
#ifndef DX_UTIL_SRCPOS_H
#define DX_UTIL_SRCPOS_H

#include <stddef.h>

#define DX_POS_COMMAND_LINE "<command line>"
#define DX_POS_DEFAULT "<default>"

typedef struct dx_srcpos {
  const char *file; /* the YAML file, or "<command line>" for overrides */
  int line, col;    /* 1-based; for overrides, line = 0 and col = argument index */
} dx_srcpos;

/* The place as text into buf ("FILE:LINE:COL", "<command line>:N", or the
 * file alone when line and col are 0); returns buf. */
const char *dx_srcpos_format(const dx_srcpos *pos, char *buf, size_t len);

/* The position of the n-th (1-based) command-line override. */
dx_srcpos dx_srcpos_override(int n);

#endif
