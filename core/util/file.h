/* Reading a whole file into memory: experiments, dataset files, PNGs,
 * checkpoints and the experiment text recorded with a run all come in
 * through here. */
#ifndef DX_UTIL_FILE_H
#define DX_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ddpmx/status.h"

/* The contents of path in a fresh buffer (free() it), with a NUL after the
 * last byte so that text can be used as a string; *len excludes the NUL. A
 * gzip-compressed file is read uncompressed: dataset files come either
 * way. On failure *buf is NULL, the status is DX_ERR_IO (errno says why),
 * DX_ERR_NOMEM or DX_ERR_PARSE (a truncated or corrupt gzip stream), and err
 * holds `PATH: what went wrong`. */
dx_status dx_file_read(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);

/* dx_file_read, but no further than `cap` bytes (uncompressed): *len < cap
 * means the file ended there, *len == cap that it may go on. The buffer grows
 * with what the file really holds, so a header's false claim costs no
 * memory, and decompression stops at cap, so a gzip bomb costs no more than
 * cap bytes. A reader passes one byte more than the most it accepts and
 * refuses the file when *len reaches cap. */
dx_status dx_file_read_upto(const char *path, size_t cap, uint8_t **buf, size_t *len, char *err,
                            size_t errlen);

/* Makes the folder path and any missing parents (mkdir -p); DX_ERR_IO
 * naming the folder that could not be made. */
dx_status dx_make_dirs(const char *path, char *err, size_t errlen);

#endif
