/* `ddpmx export RUN [--step N] [--tag T] -o FILE.png`: a stored sample
 * grid written out as the PNG it is stored as. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static int main_export(int argc, char **argv);

const dx_cli_command dx_cli_export = {
    "export", "write a run's sample grid to a PNG file",
    "usage: ddpmx export RUN [--step N] [--tag T] -o FILE.png [--db PATH]\n"
    "\n"
    "Writes the sample grid of run RUN (an id or a name) to FILE.png: the one\n"
    "at step N (default: the latest step with a grid) with tag T (default:\n"
    "the first tag by name). `ddpmx show RUN` lists the grids.\n"
    "\n"
    "  --step N    the training step of the grid\n"
    "  --tag T     which grid of that step (e.g. ema)\n"
    "  -o FILE     where to write the PNG (required)\n"
    "  --db PATH   results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_export};

typedef struct export_args {
  const char *db, *ref, *tag, *out;
  int64_t step;
} export_args;

/* One option of argv[*i]: 1 taken, 0 not an option, or an exit code < 0. */
static int option(int argc, char **argv, int *i, export_args *a) {
  const char *v;
  int r;
  if ((r = dx_cli_option(&dx_cli_export, argc, argv, i, "--db", &a->db)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_export, argc, argv, i, "--tag", &a->tag)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_export, argc, argv, i, "-o", &a->out)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_export, argc, argv, i, "--step", &v)) <= 0) return r;
  if (dx_cli_parse_count(v, &a->step)) return 1;
  dx_cli_usage(&dx_cli_export, "--step needs a step number, not '%s'", v);
  return -1;
}

static int parse(int argc, char **argv, export_args *a) {
  *a = (export_args){.db = DX_CLI_DEFAULT_DB, .step = -1};
  for (int i = 1; i < argc; i++) {
    int r = option(argc, argv, &i, a);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || a->ref)
      return dx_cli_usage(&dx_cli_export, "unexpected argument '%s'", argv[i]);
    a->ref = argv[i];
  }
  if (!a->ref) return dx_cli_usage(&dx_cli_export, "which run? (an id or a name; see ddpmx runs)");
  if (!a->out) return dx_cli_usage(&dx_cli_export, "where to? (-o FILE.png)");
  return DX_EXIT_OK;
}

static int write_file(const char *path, const dx_store_sample *s) {
  FILE *f = fopen(path, "wb");
  bool ok = f && fwrite(s->png, 1, s->len, f) == s->len;
  if (f && fclose(f) != 0) ok = false;
  if (!ok)
    return dx_cli_fail(&dx_cli_export, DX_ERR_IO, "cannot write %s: %s", path, strerror(errno));
  printf("wrote %s: step %" PRId64 ", tag %s, %" PRId64 " images, %" PRId64 "x%" PRId64 "\n", path,
         s->step, s->tag, s->count, s->width, s->height);
  return DX_EXIT_OK;
}

static int export(dx_store *st, const export_args *a) {
  int64_t id;
  dx_store_sample s = {0};
  if (dx_store_find_run(st, a->ref, &id) != DX_OK ||
      dx_store_get_sample(st, id, a->step, a->tag, &s) != DX_OK)
    return dx_cli_fail(&dx_cli_export, DX_ERR_DB, "%s", dx_store_errmsg(st));
  int rc = write_file(a->out, &s);
  dx_store_sample_clear(&s);
  return rc;
}

static int main_export(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_export);
  export_args a;
  int rc = parse(argc, argv, &a);
  if (rc != DX_EXIT_OK) return rc;
  dx_store *st;
  rc = dx_cli_open_existing(&dx_cli_export, a.db, &st);
  if (rc != DX_EXIT_OK) return rc;
  return dx_cli_close(&dx_cli_export, st, export(st, &a));
}
