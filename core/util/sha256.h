/* SHA-256 (FIPS 180-4), for the checksums of plugins and checkpoints that the
 * store records, so a result can be tied to the exact binary that made it. */
#ifndef DX_UTIL_SHA256_H
#define DX_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"

typedef struct dx_sha256 {
  uint32_t h[8];
  uint64_t bytes;    /* message length so far */
  uint8_t block[64]; /* a partial block waiting for more input */
  size_t fill;
} dx_sha256;

DX_API void dx_sha256_init(dx_sha256 *c);
DX_API void dx_sha256_update(dx_sha256 *c, const void *data, size_t len);
DX_API void dx_sha256_final(dx_sha256 *c, uint8_t digest[32]);

/* The digest of a buffer as 64 lowercase hex digits and a NUL. */
DX_API void dx_sha256_hex(const void *data, size_t len, char hex[65]);
/* The digest of a file's contents; DX_ERR_IO with a message if unreadable. */
DX_API dx_status dx_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

#endif
