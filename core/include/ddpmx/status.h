/* Status codes and the error buffer of a context.
 *
 * Every fallible function returns a dx_status (or NULL for constructors) and
 * leaves one human-readable line: in the context's error buffer
 * (dx_error_message) when it is given a context, otherwise in the buffer its
 * caller passes as (err, errlen), at most DX_ERRMSG_MAX bytes being useful.
 * The line names the place first when there is one (`FILE:LINE:COL: ...`,
 * `PATH: ...`). The library never prints; only the CLI does. In a context the
 * first error wins: later failures that are consequences of it (a NULL tensor
 * propagated through a chain of ops) do not overwrite the message that says
 * what went wrong. */
#ifndef DDPMX_STATUS_H
#define DDPMX_STATUS_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dx_status {
  DX_OK = 0,
  DX_ERR_NOMEM,       /* allocation failed */
  DX_ERR_INVALID,     /* bad argument: shapes, dtypes, ranges */
  DX_ERR_IO,          /* file missing, unreadable, disk full */
  DX_ERR_PARSE,       /* malformed input file (YAML, IDX, safetensors) */
  DX_ERR_CONFIG,      /* well-formed experiment with wrong keys or values */
  DX_ERR_PLUGIN,      /* plugin missing, wrong ABI, wrong kind, bad spec */
  DX_ERR_DB,          /* SQLite error */
  DX_ERR_NUMERIC,     /* NaN/Inf where a finite number is required */
  DX_ERR_UNSUPPORTED, /* the backend or build lacks what was asked for */
  DX_ERR_INTERRUPTED, /* SIGINT/SIGTERM asked us to stop */
  DX_ERR_INTERNAL,    /* an invariant broke: a bug in ddpmx */
  DX_ERR_DEVICE       /* the device asked for is missing or failed (CUDA) */
} dx_status;

/* Short stable name of a status ("invalid argument", ...). */
DX_API const char *dx_status_str(dx_status s);

#define DX_ERRMSG_MAX 1024

#ifdef __cplusplus
}
#endif
#endif
