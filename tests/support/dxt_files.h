/* Files and folders in tests: whole-file reads and writes, and removing a
 * temporary folder with everything in it. Any failure fails the test. */
#ifndef DXT_FILES_H
#define DXT_FILES_H

/* The file's bytes and a terminating NUL, malloc'ed (caller frees). */
char *dxt_slurp(const char *path);
void dxt_spit(const char *path, const char *text);
/* Removes dir and everything below it (links are removed, not followed). */
void dxt_rmtree(const char *dir);

/* For tests that run the ddpmx binary: build (PATH_MAX bytes) receives
 * $DDPMX_BUILD_DIR resolved, fixtures (PATH_MAX) the real path of data/cli,
 * and workdir (64 bytes) a fresh folder /tmp/<prefix>XXXXXX, which becomes
 * the working directory; DDPMX_PLUGIN_PATH is unset. */
void dxt_cli_setup(char *build, char *fixtures, char *workdir, const char *prefix);

#endif
