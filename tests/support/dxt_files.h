/* Files and folders in tests: whole-file reads and writes, and removing a
 * temporary folder with everything in it. Any failure fails the test. */
#ifndef DXT_FILES_H
#define DXT_FILES_H

/* The file's bytes and a terminating NUL, malloc'ed (caller frees). */
char *dxt_slurp(const char *path);
void dxt_spit(const char *path, const char *text);
/* Removes dir and everything below it (links are removed, not followed). */
void dxt_rmtree(const char *dir);

#endif
