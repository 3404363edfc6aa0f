/* The one-line error of core/config/: `PLACE: message`, where PLACE is
 * FILE:LINE:COL in a file, `<command line>:N` for the N-th override and
 * `<default>` for a schema default. */
#ifndef DX_CONFIG_ERRORS_H
#define DX_CONFIG_ERRORS_H

#include <stddef.h>

#include "ddpmx/status.h"
#include "plugin/plugin_ref.h"

#define DX_POS_COMMAND_LINE "<command line>"
#define DX_POS_DEFAULT "<default>"

/* The PLACE part into buf; returns buf. */
const char *dx_cfg_pos_format(const dx_srcpos *pos, char *buf, size_t len);

/* Writes `PLACE: message` into err (pos NULL: the message alone) and returns
 * st, so that a failing check reads `return dx_cfg_fail(...)`. */
dx_status dx_cfg_fail(char *err, size_t errlen, dx_status st, const dx_srcpos *pos, const char *fmt,
                      ...) __attribute__((format(printf, 5, 6)));

/* A position for the n-th (1-based) command-line override. */
dx_srcpos dx_cfg_override_pos(int n);

#endif
