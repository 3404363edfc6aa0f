/* Running the ddpmx binary from a test as a user would: arguments in, exit
 * code and the two output streams out. */
#ifndef DXT_CLI_H
#define DXT_CLI_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct dxt_out {
  int code; /* the exit status; 128 + N if killed by signal N */
  char *out, *err;
} dxt_out;

/* The binary under test: $DDPMX_BUILD_DIR/ddpmx (fails the test if unset),
 * resolved on the first call: make it before changing folder. */
const char *dxt_ddpmx(void);
/* Runs ddpmx with argv (NULL-terminated, without the program) and waits. */
dxt_out dxt_cli(const char *const *argv);
/* Starts ddpmx with stdout into `out_path` and stderr into a pipe, whose
 * read end is *err_fd; returns the pid. */
pid_t dxt_cli_start(const char *const *argv, const char *out_path, int *err_fd);
void dxt_out_free(dxt_out *o);

#endif
