/* Files and folders in tests: whole-file reads and writes, and removing a
 * temporary folder with everything in it. Any failure fails the test. */
#ifndef DXT_FILES_H
#define DXT_FILES_H

#include <stddef.h>

/* The file's bytes and a terminating NUL, malloc'ed (caller frees). */
char *dxt_slurp(const char *path);
void dxt_spit(const char *path, const char *text);
/* An IDX file (the MNIST format): magic 0 0 8 ndims, the dims big-endian,
 * then n bytes; bytes NULL writes the pattern (i * 7) % 10 instead. */
void dxt_write_idx(const char *path, int ndims, const unsigned *dims, const unsigned char *bytes,
                   size_t n);
/* Removes dir and everything below it (links are removed, not followed). */
void dxt_rmtree(const char *dir);

/* For tests that run the ddpmx binary: build (PATH_MAX bytes) receives
 * $DDPMX_BUILD_DIR resolved, fixtures (PATH_MAX) the real path of data/cli,
 * and workdir (64 bytes) a fresh folder /tmp/<prefix>XXXXXX, which becomes
 * the working directory; DDPMX_PLUGIN_PATH is unset. */
void dxt_cli_setup(char *build, char *fixtures, char *workdir, const char *prefix);

#endif
