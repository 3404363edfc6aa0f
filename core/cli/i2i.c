/* The image-to-image commands' common options and their run. */
#include "cli/i2i.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/stored_run.h"

void dx_cli_i2i_init(dx_cli_i2i *a, const dx_cli_command *c, dx_i2i_kind kind) {
  *a = (dx_cli_i2i){.c = c, .db = DX_CLI_DEFAULT_DB};
  a->o.kind = kind;
  a->o.run.n = 4;
}

int dx_cli_i2i_number_option(dx_cli_i2i *a, int argc, char **argv, int *i, const char *flag,
                             double lo, double hi, double *v) {
  const char *text;
  int r = dx_cli_option(a->c, argc, argv, i, flag, &text);
  if (r <= 0) return r;
  char *end;
  double x = strtod(text, &end);
  if (end == text || *end || !isfinite(x) || x < lo || x > hi)
    return dx_cli_usage(a->c, "%s: '%s' is not a number in [%g, %g]", flag, text, lo, hi), -1;
  *v = x;
  return 1;
}

int dx_cli_i2i_image_option(dx_cli_i2i *a, int argc, char **argv, int *i, const char *flag,
                            dx_i2i_image *im, bool *given) {
  const char *text;
  int r = dx_cli_option(a->c, argc, argv, i, flag, &text);
  if (r <= 0) return r;
  *im = (dx_i2i_image){text, 0};
  *given = true;
  if (strncmp(text, "test:", 5) != 0) return 1;
  if (!dx_cli_parse_count(text + 5, &im->test_index))
    return dx_cli_usage(a->c, "%s: '%s' is not test:INDEX", flag, text), -1;
  im->path = NULL;
  return 1;
}

int dx_cli_i2i_option(dx_cli_i2i *a, int argc, char **argv, int *i) {
  const dx_cli_command *c = a->c;
  int r;
  if ((r = dx_cli_option(c, argc, argv, i, "--db", &a->db)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "-o", &a->out)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--tag", &a->tag)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--sampler", &a->sampler)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--sample-steps", true, &a->o.run.steps)) != 0)
    return r;
  if ((r = dx_cli_i2i_number_option(a, argc, argv, i, "--threshold", 1e-9, 1, &a->o.run.threshold)))
    return r;
  return dx_cli_count_option(c, argc, argv, i, "--seed", false, &a->seed);
}

int dx_cli_i2i_parse(dx_cli_i2i *a, int argc, char **argv,
                     int (*own)(dx_cli_i2i *a, int argc, char **argv, int *i)) {
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(a->c), -1;
    int r = own(a, argc, argv, &i);
    if (r == 0) r = dx_cli_i2i_option(a, argc, argv, &i);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || a->ref) return dx_cli_usage(a->c, "unexpected argument '%s'", argv[i]);
    a->ref = argv[i];
  }
  return DX_EXIT_OK;
}

static int run(dx_cli_i2i *a, dx_store *st, dx_stored_run *r,
               void (*report)(const dx_cli_i2i *a, const dx_i2i_result *res)) {
  if (!r->has_checkpoint)
    return dx_cli_fail(a->c, DX_ERR_INVALID, "run %" PRId64 " has no checkpoint to start from",
                       r->id);
  dx_plugin *p = NULL;
  dx_params *pp = NULL;
  int rc = a->sampler ? dx_cli_load_sampler(a->c, r, a->sampler, &p, &pp) : DX_EXIT_OK;
  if (rc != DX_EXIT_OK) return rc;
  a->o.run.checkpoint = r->checkpoint.path;
  a->o.run.sampler = p ? p->desc : NULL;
  a->o.run.sampler_params = pp;
  a->o.run.seed = (uint64_t)a->seed;
  fprintf(stderr, "ddpmx %s: run %" PRId64 ", checkpoint at step %" PRId64 "\n", a->c->name, r->id,
          r->checkpoint.step);
  dx_i2i_result res;
  char err[DX_ERRMSG_MAX];
  dx_status s = dx_infer_i2i(r->e, &r->plugins, &a->o, &res, err, sizeof err);
  if (s != DX_OK) {
    rc = dx_cli_fail(a->c, s, "%s", err);
  } else {
    if (report) report(a, &res);
    rc = dx_cli_save_grid(a->c, st, r, a->tag ? a->tag : a->c->name, res.images, res.shape,
                          res.nrow, a->out);
  }
  free(res.images);
  dx_params_free(pp);
  dx_plugin_close(p);
  return rc;
}

int dx_cli_i2i_run(dx_cli_i2i *a, void (*report)(const dx_cli_i2i *a, const dx_i2i_result *res)) {
  if (!a->ref) return dx_cli_usage(a->c, "which run? (an id or a name; see ddpmx runs)");
  dx_store *st;
  int rc = dx_cli_open_existing(a->c, a->db, &st);
  if (rc != DX_EXIT_OK) return rc;
  dx_stored_run r;
  rc = dx_cli_load_run(a->c, st, a->ref, &r);
  if (rc == DX_EXIT_OK) rc = run(a, st, &r, report);
  dx_cli_stored_run_free(&r);
  return dx_cli_close(a->c, st, rc);
}
