/* `ddpmx eval RUN --bpd [--images N]`: bits/dim of a trained run's latest
 * checkpoint (EMA weights) on its dataset's test images, by the full sum
 * over all T terms of the bound. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/stored_run.h"
#include "train/trainer.h"

static int main_eval(int argc, char **argv);

const dx_cli_command dx_cli_eval = {
    "eval", "bits/dim of a trained run on its test images",
    "usage: ddpmx eval RUN --bpd [--images N] [--batch N] [--db PATH]\n"
    "\n"
    "Evaluates run RUN (an id or a name) from its latest checkpoint with its\n"
    "EMA weights: the variational bound in bits per dimension on the first N\n"
    "test images, summed over all T steps with the run's sampler variance.\n"
    "Prints total, prior and decoder terms and records them as the metrics\n"
    "eval_bpd, eval_bpd_prior and eval_bpd_decoder at the checkpoint's step.\n"
    "\n"
    "  --bpd        compute bits/dim (the only evaluation so far)\n"
    "  --images N   test images to use (default: the run's eval.images)\n"
    "  --batch N    images per forward pass (default: the run's eval.batch)\n"
    "  --db PATH    results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_eval};

typedef struct eval_args {
  const char *db, *ref;
  bool bpd;
  int64_t images, batch;
} eval_args;

static int parse(int argc, char **argv, eval_args *a) {
  *a = (eval_args){.db = DX_CLI_DEFAULT_DB};
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_eval), -1;
    int r = dx_cli_option(&dx_cli_eval, argc, argv, &i, "--db", &a->db);
    if (r == 0) r = dx_cli_count_option(&dx_cli_eval, argc, argv, &i, "--images", true, &a->images);
    if (r == 0) r = dx_cli_count_option(&dx_cli_eval, argc, argv, &i, "--batch", true, &a->batch);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (strcmp(argv[i], "--bpd") == 0)
      a->bpd = true;
    else if (argv[i][0] == '-' || a->ref)
      return dx_cli_usage(&dx_cli_eval, "unexpected argument '%s'", argv[i]);
    else
      a->ref = argv[i];
  }
  if (!a->ref) return dx_cli_usage(&dx_cli_eval, "which run? (an id or a name; see ddpmx runs)");
  if (!a->bpd) return dx_cli_usage(&dx_cli_eval, "what to evaluate? (--bpd)");
  return DX_EXIT_OK;
}

static int evaluate(const eval_args *a, dx_store *st, dx_stored_run *r) {
  if (!r->has_checkpoint)
    return dx_cli_fail(&dx_cli_eval, DX_ERR_INVALID,
                       "run %" PRId64 " has no checkpoint to evaluate", r->id);
  dx_infer_opts o = {.checkpoint = r->checkpoint.path,
                     .n = a->images ? a->images : r->e->eval.images,
                     .batch = a->batch ? a->batch : r->e->eval.batch};
  double total, prior, decoder;
  char err[DX_ERRMSG_MAX];
  fprintf(stderr,
          "ddpmx eval: run %" PRId64 ", checkpoint at step %" PRId64 ", %" PRId64
          " test images, T = %" PRId64 "\n",
          r->id, r->checkpoint.step, o.n, r->e->diffusion.T);
  dx_status s = dx_infer_bpd(r->e, &r->plugins, &o, &total, &prior, &decoder, err, sizeof err);
  if (s != DX_OK) return dx_cli_fail(&dx_cli_eval, s, "%s", err);
  printf("bits/dim %.4f  (prior %.6f, decoder %.4f)\n", total, prior, decoder);
  int64_t step = r->checkpoint.step;
  if (dx_store_log_metric(st, r->id, step, "eval_bpd", total) ||
      dx_store_log_metric(st, r->id, step, "eval_bpd_prior", prior) ||
      dx_store_log_metric(st, r->id, step, "eval_bpd_decoder", decoder) || dx_store_flush(st))
    return dx_cli_fail(&dx_cli_eval, DX_ERR_DB, "%s", dx_store_errmsg(st));
  return DX_EXIT_OK;
}

static int main_eval(int argc, char **argv) {
  eval_args a;
  int rc = parse(argc, argv, &a);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  dx_store *st;
  if ((rc = dx_cli_open_existing(&dx_cli_eval, a.db, &st)) != DX_EXIT_OK) return rc;
  dx_stored_run r;
  rc = dx_cli_load_run(&dx_cli_eval, st, a.ref, &r);
  if (rc == DX_EXIT_OK) rc = evaluate(&a, st, &r);
  dx_cli_stored_run_free(&r);
  return dx_cli_close(&dx_cli_eval, st, rc);
}
