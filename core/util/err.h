/* The one error formatter. A fallible function returns a dx_status and
 * leaves one line in an error buffer: the context's (dx_set_error, which
 * formats through here) or, where no context exists yet (loading an
 * experiment, opening a store, loading a plugin), the caller's err/errlen.
 * The line reads `PLACE: message` when there is a place to name. */
#ifndef DX_UTIL_ERR_H
#define DX_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>

#include "ddpmx/status.h"
#include "util/srcpos.h"

/* Writes `PLACE: message` into err (pos NULL: the message alone) and returns
 * st, so that a failing check reads `return dx_errf(...)`. err may be NULL.
 * Control characters become '?' (a tab a space): the message is one line. */
dx_status dx_errf(char *err, size_t errlen, dx_status st, const dx_srcpos *pos, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
dx_status dx_verrf(char *err, size_t errlen, dx_status st, const dx_srcpos *pos, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));

/* A place that is a whole file (or any name): `NAME: message`. */
#define DX_AT(name) (&(dx_srcpos){(name), 0, 0})

/* snprintf appended at the end of the string already in buf (a list of
 * choices or a hint after a message). */
void dx_appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
