/* Opening and closing the results database for a sub-command: any failure
 * here is a store error (exit code 5), whatever its cause. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"

int dx_cli_open_existing(const dx_cli_command *c, const char *path, dx_store **out) {
  char err[DX_ERRMSG_MAX];
  *out = NULL;
  /* Opening creates a file; a reader with a typo in --db should hear so. */
  if (access(path, F_OK) != 0)
    return dx_cli_fail(c, DX_ERR_DB,
                       "no results database at %s (run an experiment first, or "
                       "name one with --db)",
                       path);
  dx_status st = dx_store_open(path, out, err, sizeof err);
  return st == DX_OK ? DX_EXIT_OK : dx_cli_fail(c, DX_ERR_DB, "%s", err);
}

int dx_cli_open_for_run(const dx_cli_command *c, const char *path, dx_store **out) {
  char err[DX_ERRMSG_MAX];
  *out = NULL;
  if (strcmp(path, DX_CLI_DEFAULT_DB) == 0 && mkdir("results", 0777) != 0 && errno != EEXIST)
    return dx_cli_fail(c, DX_ERR_DB, "cannot create the folder results/: %s", strerror(errno));
  dx_status st = dx_store_open(path, out, err, sizeof err);
  return st == DX_OK ? DX_EXIT_OK : dx_cli_fail(c, DX_ERR_DB, "%s", err);
}

int dx_cli_close(const dx_cli_command *c, dx_store *st, int exit_code) {
  char err[DX_ERRMSG_MAX] = "";
  dx_status s = dx_store_close(st, err, sizeof err);
  if (s == DX_OK) return exit_code;
  int rc = dx_cli_fail(c, DX_ERR_DB, "%s", err);
  return exit_code != DX_EXIT_OK ? exit_code : rc;
}
