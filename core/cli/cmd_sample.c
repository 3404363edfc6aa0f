/* `ddpmx sample RUN [--sampler NAME] [--steps N] [--n N] [--batch N] [--seed S] [-o FILE.png]`:
 * draws a grid from a trained run's latest checkpoint (EMA weights) and
 * stores it with the run under a tag of its own. A class-conditional run
 * draws one row per class, or the class asked for, with guidance. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/classes.h"
#include "train/trainer.h"

static int main_sample(int argc, char **argv);

const dx_cli_command dx_cli_sample = {
    "sample", "draw samples from a trained run's latest checkpoint",
    "usage: ddpmx sample RUN [--sampler NAME] [--steps N] [--n N] [--batch N] [--seed S]\n"
    "                   [--nrow N] [--class K | --classes all|K,K,...] [--guidance W]\n"
    "                   [-o FILE.png] [--tag T] [--db PATH]\n"
    "\n"
    "Loads run RUN (an id or a name) from its latest checkpoint and samples\n"
    "with its EMA weights. The grid is stored with the run (see ddpmx show)\n"
    "and, with -o, written to FILE.png.\n"
    "\n"
    "  --sampler S     another sampler: NAME, or NAME:KEY=VALUE,... to set its\n"
    "                  parameters (e.g. ddim, ddim:eta=1, dpmpp_2m:sde=true)\n"
    "  --steps N       sample with N respaced steps (default: the sampler's)\n"
    "  --n N           how many images (default 64)\n"
    "  --batch N       images per forward pass (default 256); the images are the\n"
    "                  same whatever the batch\n"
    "  --seed S        the noise's seed (default 0): same seed, same images\n"
    "  --nrow N        images per row of the grid (default 8)\n"
    "  --class K       a class-conditional run: every image of class K (none: no class)\n"
    "  --classes L     one row of nrow images per class of L (all: every class);\n"
    "                  --n defaults to nrow times their number. Without --class or\n"
    "                  --classes a conditional run draws its sample.classes this way\n"
    "  --guidance W    classifier-free guidance (1 + W) eps(x, c) - W eps(x);\n"
    "                  default: the run's sample.guidance\n"
    "  -o FILE.png     also write the grid here\n"
    "  --tag T         the stored grid's tag (default sample-SAMPLER-STEPS, and\n"
    "                  -wW for a conditional run)\n"
    "  --db PATH       results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_sample};

typedef struct sample_args {
  const char *db, *ref, *sampler, *out, *tag, *klass, *classes, *guidance;
  int64_t steps, n, batch, seed, nrow;
  bool n_given;
} sample_args;

static int option(int argc, char **argv, int *i, sample_args *a) {
  int r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "--db", &a->db)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "--sampler", &a->sampler)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "-o", &a->out)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "--tag", &a->tag)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "--class", &a->klass)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "--classes", &a->classes)) != 0) return r;
  if ((r = dx_cli_option(&dx_cli_sample, argc, argv, i, "--guidance", &a->guidance)) != 0) return r;
  if ((r = dx_cli_count_option(&dx_cli_sample, argc, argv, i, "--steps", false, &a->steps)) != 0)
    return r;
  if ((r = dx_cli_count_option(&dx_cli_sample, argc, argv, i, "--n", false, &a->n)) != 0) return r;
  if ((r = dx_cli_count_option(&dx_cli_sample, argc, argv, i, "--batch", true, &a->batch)) != 0)
    return r;
  if ((r = dx_cli_count_option(&dx_cli_sample, argc, argv, i, "--nrow", false, &a->nrow)) != 0)
    return r;
  return dx_cli_count_option(&dx_cli_sample, argc, argv, i, "--seed", false, &a->seed);
}

static int parse(int argc, char **argv, sample_args *a) {
  *a = (sample_args){.db = DX_CLI_DEFAULT_DB, .n = 64, .nrow = 8};
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_sample), -1;
    if (strcmp(argv[i], "--n") == 0) a->n_given = true;
    int r = option(argc, argv, &i, a);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || a->ref)
      return dx_cli_usage(&dx_cli_sample, "unexpected argument '%s'", argv[i]);
    a->ref = argv[i];
  }
  if (!a->ref) return dx_cli_usage(&dx_cli_sample, "which run? (an id or a name; see ddpmx runs)");
  if (a->n < 1 || a->n > 1024)
    return dx_cli_usage(&dx_cli_sample, "--n must be between 1 and 1024");
  if (a->nrow < 1) return dx_cli_usage(&dx_cli_sample, "--nrow must be at least 1");
  return DX_EXIT_OK;
}

/* What to draw for a class-conditional run: the class of each image and
 * the guidance weight. */
typedef struct class_plan {
  int64_t *labels; /* n, or NULL: no class */
  double w;
} class_plan;

/* A conditional run's images: one row of nrow per class asked for (--n
 * defaults to a row each), or all of the one class of --class. */
static int plan_classes(sample_args *a, const dx_stored_run *r, class_plan *cp) {
  dx_cli_classes cl;
  *cp = (class_plan){NULL, 0};
  int rc = dx_cli_plan_classes(&dx_cli_sample, r, a->klass, a->classes, a->guidance, &cl);
  cp->w = cl.w;
  if (rc != DX_EXIT_OK || cl.m == 0) return rc;
  if (!cl.one && !a->n_given) a->n = a->nrow * cl.m;
  if (a->n > 1024) return dx_cli_usage(&dx_cli_sample, "%" PRId64 " images: at most 1024", a->n);
  if (!(cp->labels = malloc((size_t)a->n * sizeof *cp->labels)))
    return dx_cli_fail(&dx_cli_sample, DX_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < a->n; i++)
    cp->labels[i] = cl.list[cl.one ? 0 : (i / a->nrow) % cl.m];
  return DX_EXIT_OK;
}

static int store_grid(const sample_args *a, const class_plan *cp, dx_store *st,
                      const dx_stored_run *r, const float *x, const int64_t *shape) {
  char tag[128];
  const char *sampler =
      a->sampler ? a->sampler
                 : dx_run_plugins_get(&r->plugins, "diffusion.sampler", -1)->plugin->desc->name;
  snprintf(tag, sizeof tag, "sample-%s-%" PRId64, sampler, a->steps);
  /* A conditional run's grids at different guidance weights keep apart. */
  if (r->e->model.classes > 0)
    snprintf(tag + strlen(tag), sizeof tag - strlen(tag), "-w%g", cp->labels ? cp->w : 0.0);
  if (a->tag) snprintf(tag, sizeof tag, "%s", a->tag);
  return dx_cli_save_grid(&dx_cli_sample, st, r, tag, x, shape, a->nrow, a->out);
}

/* One line per pass when there is more than one. */
static void pass_progress(void *user, int64_t first, int64_t n, int64_t total) {
  (void)user;
  if (n < total)
    fprintf(stderr, "ddpmx sample: images %" PRId64 "-%" PRId64 " of %" PRId64 "\n", first + 1,
            first + n, total);
}

static int sample(sample_args *a, dx_store *st, dx_stored_run *r) {
  if (!r->has_checkpoint)
    return dx_cli_fail(&dx_cli_sample, DX_ERR_INVALID,
                       "run %" PRId64 " has no checkpoint to sample from", r->id);
  class_plan cp;
  int rc = plan_classes(a, r, &cp);
  if (rc != DX_EXIT_OK) return rc;
  dx_plugin *p = NULL;
  dx_params *pp = NULL;
  rc = a->sampler ? dx_cli_load_sampler(&dx_cli_sample, r, a->sampler, &p, &pp) : DX_EXIT_OK;
  if (rc != DX_EXIT_OK) return free(cp.labels), rc;
  dx_infer_opts o = {.checkpoint = r->checkpoint.path,
                     .sampler = p ? p->desc : NULL,
                     .sampler_params = pp,
                     .steps = a->steps,
                     .n = a->n,
                     .batch = a->batch,
                     .seed = (uint64_t)a->seed,
                     .labels = cp.labels,
                     .guidance = cp.w,
                     .progress = pass_progress};
  float *x = NULL;
  int64_t shape[4];
  char err[DX_ERRMSG_MAX];
  fprintf(stderr,
          "ddpmx sample: run %" PRId64 ", checkpoint at step %" PRId64 ", %" PRId64 " images\n",
          r->id, r->checkpoint.step, a->n);
  dx_status s = dx_infer_sample(r->e, &r->plugins, &o, &x, shape, err, sizeof err);
  rc = s == DX_OK ? store_grid(a, &cp, st, r, x, shape) : dx_cli_fail(&dx_cli_sample, s, "%s", err);
  free(x), free(cp.labels);
  dx_params_free(pp);
  dx_plugin_close(p);
  return rc;
}

static int main_sample(int argc, char **argv) {
  sample_args a;
  int rc = parse(argc, argv, &a);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  dx_store *st;
  if ((rc = dx_cli_open_existing(&dx_cli_sample, a.db, &st)) != DX_EXIT_OK) return rc;
  dx_stored_run r;
  rc = dx_cli_load_run(&dx_cli_sample, st, a.ref, &r);
  if (rc == DX_EXIT_OK) rc = sample(&a, st, &r);
  dx_cli_stored_run_free(&r);
  return dx_cli_close(&dx_cli_sample, st, rc);
}
