/* Loading a recorded run back from the database. */
#include "cli/stored_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int keep_json(const dx_run_row *r, void *user) {
  char **json = user;
  *json = r->experiment_json ? strdup(r->experiment_json) : NULL;
  return 1;
}

/* The JSON in a temporary file, so that the experiment loader reads it like
 * any experiment (YAML is a superset of JSON). */
dx_status dx_cli_experiment_from_json(const char *json, dx_experiment **e, char *err,
                                      size_t errlen) {
  char path[] = "/tmp/ddpmx-run-XXXXXX.yaml";
  int fd = mkstemps(path, 5);
  if (fd < 0)
    return snprintf(err, errlen, "cannot create a temporary file: %s", strerror(errno)), DX_ERR_IO;
  size_t len = strlen(json);
  bool ok = write(fd, json, len) == (ssize_t)len;
  close(fd);
  dx_status st = ok ? dx_experiment_load(path, NULL, 0, e, err, errlen) : DX_ERR_IO;
  if (!ok) snprintf(err, errlen, "cannot write %s", path);
  unlink(path);
  return st;
}

int dx_cli_load_run(const dx_cli_command *c, dx_store *st, const char *ref, dx_stored_run *out) {
  memset(out, 0, sizeof *out);
  if (dx_store_find_run(st, ref, &out->id) != DX_OK)
    return dx_cli_fail(c, DX_ERR_INVALID, "%s", dx_store_errmsg(st));
  char *json = NULL, err[DX_ERRMSG_MAX];
  dx_run_visitor v = {.run = keep_json};
  if (dx_store_show_run(st, out->id, &v, &json) != DX_OK)
    return dx_cli_fail(c, DX_ERR_DB, "%s", dx_store_errmsg(st));
  if (!json)
    return dx_cli_fail(c, DX_ERR_INVALID, "run %" PRId64 " has no recorded experiment", out->id);
  dx_status s = dx_cli_experiment_from_json(json, &out->e, err, sizeof err);
  free(json);
  if (s != DX_OK)
    return dx_cli_fail(c, s, "run %" PRId64 ": its recorded experiment: %s", out->id, err);
  if ((s = dx_run_plugins_resolve(out->e, &out->plugins, err, sizeof err)) != DX_OK)
    return dx_cli_fail(c, s, "run %" PRId64 ": %s", out->id, err);
  if (dx_store_latest_checkpoint(st, out->id, &out->checkpoint, &out->has_checkpoint) != DX_OK)
    return dx_cli_fail(c, DX_ERR_DB, "%s", dx_store_errmsg(st));
  return DX_EXIT_OK;
}

void dx_cli_stored_run_free(dx_stored_run *r) {
  dx_run_plugins_free(&r->plugins);
  dx_experiment_free(r->e);
  memset(r, 0, sizeof *r);
}
