/* `ddpmx eval RUN --bpd [--images N]`: bits/dim of a trained run's latest
 * checkpoint (EMA weights) on its dataset's test images, by the full sum
 * over all T terms of the bound. `ddpmx eval RUN --fid [--samples N]`: FID
 * and KID of its samples against the test split, on the features of
 * ddpmx's own feature network (core/train/features.h); for a
 * class-conditional run, samples of the classes asked for and the
 * network's accuracy on each class. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/classes.h"
#include "cli/fid.h"
#include "train/trainer.h"

static int main_eval(int argc, char **argv);

const dx_cli_command dx_cli_eval = {
    "eval", "bits/dim, FID and KID of a trained run",
    "usage: ddpmx eval RUN --bpd [--images N] [--batch N] [--db PATH]\n"
    "       ddpmx eval RUN --fid [--samples N] [--sampler NAME] [--steps N] [--seed S]\n"
    "                  [--class K | --classes all|K,K,...] [--guidance W]\n"
    "                  [--batch N] [--features DIR] [--db PATH]\n"
    "\n"
    "Evaluates run RUN (an id or a name) from its latest checkpoint with its\n"
    "EMA weights: the variational bound in bits per dimension on the first N\n"
    "test images, summed over all T steps with the run's sampler variance.\n"
    "Prints total, prior and decoder terms and records them as the metrics\n"
    "eval_bpd, eval_bpd_prior and eval_bpd_decoder at the checkpoint's step.\n"
    "\n"
    "--fid draws N samples and scores them against the whole test split on the\n"
    "penultimate-layer features of ddpmx's feature network for the run's\n"
    "dataset (train it first: ddpmx features train --dataset NAME): FID and\n"
    "KID (with the standard deviation over its subsets). Records the metrics\n"
    "fid/, kid/ and kid_spread/SAMPLER-STEPS/nN/DATASET_SHA8 at the\n"
    "checkpoint's step, SHA8 naming the feature network. Not comparable with\n"
    "Inception FID.\n"
    "\n"
    "A class-conditional run's samples are spread evenly over the classes asked\n"
    "for (sample i of class i mod M of the M), guided with weight W; the\n"
    "feature network labels each, and a table gives each class's accuracy (the\n"
    "share labelled with the class asked for) and that of all samples. The\n"
    "metric names carry the weight, SCORE/SAMPLER-STEPS/wW/nN/DATASET_SHA8, for\n"
    "fid, kid, kid_spread and acc (all samples), and acc/.../class_K per class.\n"
    "\n"
    "  --bpd            compute bits/dim\n"
    "  --images N       test images to use (default: the run's eval.images)\n"
    "  --batch N        images per forward pass (default: the run's eval.batch)\n"
    "  --fid            compute FID and KID of samples\n"
    "  --samples N      samples to draw (default 1000)\n"
    "  --sampler S      another sampler: NAME, or NAME:KEY=VALUE,... to set its\n"
    "                   parameters (e.g. ddim, ddim:eta=1, dpmpp_2m:sde=true)\n"
    "  --steps N        sample with N respaced steps (default: the sampler's)\n"
    "  --seed S         the samples' seed (default 0)\n"
    "  --class K        a class-conditional run: every sample of class K (none: no\n"
    "                   class, scored as an unconditional run's)\n"
    "  --classes L      the classes of L (all: every class); default: the run's\n"
    "                   sample.classes, every class when that is empty\n"
    "  --guidance W     classifier-free guidance weight (default: the run's\n"
    "                   sample.guidance)\n"
    "  --features DIR   where feature networks are (default: features/ beside the\n"
    "                   database, " DX_CLI_DEFAULT_FEATURES " for the default one)\n"
    "  --db PATH        results database (default " DX_CLI_DEFAULT_DB ")\n",
    main_eval};

typedef struct eval_args {
  const char *db, *ref, *sampler, *features, *klass, *classes, *guidance;
  bool bpd, fid;
  int64_t images, batch, samples, steps, seed;
} eval_args;

static int fid_option(int argc, char **argv, int *i, eval_args *a) {
  const dx_cli_command *c = &dx_cli_eval;
  int r;
  if ((r = dx_cli_option(c, argc, argv, i, "--sampler", &a->sampler)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--features", &a->features)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--class", &a->klass)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--classes", &a->classes)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--guidance", &a->guidance)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--samples", true, &a->samples)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--steps", false, &a->steps)) != 0) return r;
  return dx_cli_count_option(c, argc, argv, i, "--seed", false, &a->seed);
}

static int parse(int argc, char **argv, eval_args *a) {
  *a = (eval_args){.db = DX_CLI_DEFAULT_DB, .samples = 1000};
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_eval), -1;
    int r = dx_cli_option(&dx_cli_eval, argc, argv, &i, "--db", &a->db);
    if (r == 0) r = dx_cli_count_option(&dx_cli_eval, argc, argv, &i, "--images", true, &a->images);
    if (r == 0) r = dx_cli_count_option(&dx_cli_eval, argc, argv, &i, "--batch", true, &a->batch);
    if (r == 0) r = fid_option(argc, argv, &i, a);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (strcmp(argv[i], "--bpd") == 0)
      a->bpd = true;
    else if (strcmp(argv[i], "--fid") == 0)
      a->fid = true;
    else if (argv[i][0] == '-' || a->ref)
      return dx_cli_usage(&dx_cli_eval, "unexpected argument '%s'", argv[i]);
    else
      a->ref = argv[i];
  }
  if (!a->ref) return dx_cli_usage(&dx_cli_eval, "which run? (an id or a name; see ddpmx runs)");
  if (!a->bpd && !a->fid) return dx_cli_usage(&dx_cli_eval, "what to evaluate? (--bpd or --fid)");
  if (a->samples < 2) return dx_cli_usage(&dx_cli_eval, "--samples must be at least 2");
  if ((a->klass || a->classes || a->guidance) && !a->fid)
    return dx_cli_usage(&dx_cli_eval, "--class, --classes and --guidance go with --fid");
  return DX_EXIT_OK;
}

static int evaluate_bpd(const eval_args *a, dx_store *st, dx_stored_run *r) {
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

/* features/ beside the database, unless --features names a folder. */
static void features_dir(const eval_args *a, char *out, size_t len) {
  const char *slash = strrchr(a->db, '/');
  if (a->features)
    snprintf(out, len, "%s", a->features);
  else if (slash)
    snprintf(out, len, "%.*s/features", (int)(slash - a->db), a->db);
  else
    snprintf(out, len, "features");
}

/* What a score of these samples is called: with the guidance weight when
 * they were drawn with classes (labels). */
typedef struct score_names {
  const dx_features *f;
  const char *sampler;
  int64_t steps, n;
  bool guided;
  double w;
} score_names;

static void name_of(const score_names *sn, const char *score, char *out, size_t len) {
  if (sn->guided)
    dx_features_metric_guided(sn->f, score, sn->sampler, sn->steps, sn->w, sn->n, out, len);
  else
    dx_features_metric(sn->f, score, sn->sampler, sn->steps, sn->n, out, len);
}

static int log_scores(dx_store *st, const dx_stored_run *r, const score_names *sn,
                      const dx_fid_score *s) {
  const char *score[3] = {"fid", "kid", "kid_spread"};
  double v[3] = {s->fid, s->kid, s->kid_spread};
  const dx_features_info *in = dx_features_info_of(sn->f);
  char name[256], key[64];
  dx_status rc = DX_OK;
  for (int k = 0; k < 3 && rc == DX_OK; k++) {
    name_of(sn, score[k], name, sizeof name);
    rc = dx_store_log_metric(st, r->id, r->checkpoint.step, name, v[k]);
  }
  snprintf(key, sizeof key, "features.%s.sha256", in->dataset);
  if (rc == DX_OK) rc = dx_store_flush(st);
  if (rc == DX_OK) rc = dx_store_set_param(st, r->id, key, in->sha256);
  if (rc != DX_OK) return dx_cli_fail(&dx_cli_eval, DX_ERR_DB, "%s", dx_store_errmsg(st));
  name_of(sn, "fid", name, sizeof name);
  printf("recorded %s (and kid/, kid_spread/%s) at step %" PRId64 "\n", name,
         sn->guided ? ", acc/" : "", r->checkpoint.step);
  return DX_EXIT_OK;
}

/* k's share of its row of a confusion matrix (K, K), and the row's sum. */
static double row_share(const int64_t *counts, int64_t K, int64_t k, int64_t *n) {
  *n = 0;
  for (int64_t j = 0; j < K; j++)
    *n += counts[k * K + j];
  return (double)counts[k * K + k] / (double)*n;
}

/* One row of the accuracy table: class k's samples, how many the network
 * labelled k, that share, the label it gave most often instead, and its
 * accuracy on the real test images of class k (test: their confusion). */
static void class_row(dx_table *t, const int64_t *counts, const int64_t *test, int64_t K,
                      int64_t k) {
  int64_t n, tn, other = -1;
  double acc = row_share(counts, K, k, &n), test_acc = row_share(test, K, k, &tn);
  for (int64_t j = 0; j < K; j++)
    if (j != k && counts[k * K + j] > 0 && (other < 0 || counts[k * K + j] > counts[k * K + other]))
      other = j;
  char cells[6][48];
  snprintf(cells[0], 48, "%" PRId64, k);
  snprintf(cells[1], 48, "%" PRId64, n);
  snprintf(cells[2], 48, "%" PRId64, counts[k * K + k]);
  snprintf(cells[3], 48, "%.1f%%", 100 * acc);
  if (other >= 0)
    snprintf(cells[4], 48, "%" PRId64 " (%" PRId64 ")", other, counts[k * K + other]);
  else
    snprintf(cells[4], 48, "-");
  if (tn > 0)
    snprintf(cells[5], 48, "%.1f%%", 100 * test_acc);
  else
    snprintf(cells[5], 48, "-");
  const char *row[6] = {cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]};
  dx_table_add(t, row);
}

/* The confusion counts of samples and of the test split, (K, K) each. */
static dx_status confusions(const dx_cli_fid *x, const int64_t *labels, const int *pred, int64_t n,
                            int64_t K, int64_t *counts, int64_t *test, char *err, size_t errlen) {
  int64_t *want = malloc((size_t)x->ref_n * sizeof *want);
  if (!want) return snprintf(err, errlen, "out of memory"), DX_ERR_NOMEM;
  for (int64_t i = 0; i < x->ref_n; i++)
    want[i] = x->ref_labels[i];
  dx_status s = dx_confusion(labels, pred, n, K, counts, err, errlen);
  if (s == DX_OK) s = dx_confusion(want, x->ref_pred, x->ref_n, K, test, err, errlen);
  free(want);
  return s;
}

/* The network's labels of samples drawn for classes `labels`: a table of
 * each class asked for (in the order asked, once each) and of all, and
 * their metrics acc/.../class_K and acc/... */
static int class_accuracy(dx_store *st, const dx_stored_run *r, const dx_cli_fid *x,
                          const score_names *sn, const dx_cli_classes *cl, const int64_t *labels,
                          const int *pred) {
  const dx_cli_command *c = &dx_cli_eval;
  int64_t K = dx_features_info_of(sn->f)->classes, right = 0;
  int64_t *counts = malloc((size_t)(2 * K * K) * sizeof *counts), *test = counts + K * K;
  char err[DX_ERRMSG_MAX], name[300];
  if (!counts) return dx_cli_fail(c, DX_ERR_NOMEM, "out of memory");
  dx_status s = confusions(x, labels, pred, sn->n, K, counts, test, err, sizeof err);
  if (s != DX_OK) return free(counts), dx_cli_fail(c, s, "%s", err);
  dx_table t;
  dx_table_init(&t, 6);
  const char *head[6] = {"class",    "samples",         "labelled so",
                         "accuracy", "else mostly (n)", "on test images"};
  dx_table_add(&t, head);
  for (int64_t i = 0; i < cl->m && s == DX_OK; i++) {
    int64_t k = cl->list[i], n, seen = 0;
    for (int64_t j = 0; j < i; j++)
      seen += cl->list[j] == k;
    if (seen) continue;
    double acc = row_share(counts, K, k, &n);
    right += counts[k * K + k];
    class_row(&t, counts, test, K, k);
    name_of(sn, "acc", name, sizeof name);
    snprintf(name + strlen(name), sizeof name - strlen(name), "/class_%" PRId64, k);
    s = dx_store_log_metric(st, r->id, r->checkpoint.step, name, acc);
  }
  char all[3][48];
  snprintf(all[0], 48, "%" PRId64, sn->n);
  snprintf(all[1], 48, "%" PRId64, right);
  snprintf(all[2], 48, "%.1f%%", 100.0 * (double)right / (double)sn->n);
  const char *row[6] = {"all", all[0], all[1], all[2], "", ""};
  dx_table_add(&t, row);
  printf("the feature network's labels of the samples, at guidance w = %g (and its accuracy on\n"
         "the real test images of each class):\n",
         sn->w);
  dx_table_print(&t, stdout);
  dx_table_free(&t);
  free(counts);
  name_of(sn, "acc", name, sizeof name);
  if (s == DX_OK)
    s = dx_store_log_metric(st, r->id, r->checkpoint.step, name, (double)right / (double)sn->n);
  if (s == DX_OK) s = dx_store_flush(st);
  if (s != DX_OK) return dx_cli_fail(c, DX_ERR_DB, "%s", dx_store_errmsg(st));
  return DX_EXIT_OK;
}

/* A conditional run's samples: sample i of class list[i mod m]; each class
 * must be one the feature network knows. NULL labels: no class. */
static int spread_classes(const dx_cli_classes *cl, const dx_cli_fid *x, int64_t n,
                          int64_t **labels) {
  const dx_features_info *in = dx_features_info_of(x->f);
  *labels = NULL;
  if (cl->m == 0) return DX_EXIT_OK;
  for (int64_t i = 0; i < cl->m; i++)
    if (cl->list[i] >= in->classes)
      return dx_cli_fail(&dx_cli_eval, DX_ERR_INVALID,
                         "class %" PRId64 ": the feature network for %s knows 0 to %" PRId64,
                         cl->list[i], in->dataset, in->classes - 1);
  if (n < cl->m)
    return dx_cli_usage(&dx_cli_eval,
                        "--samples %" PRId64 ": fewer than the %" PRId64 " classes asked for", n,
                        cl->m);
  if (!(*labels = malloc((size_t)n * sizeof **labels)))
    return dx_cli_fail(&dx_cli_eval, DX_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++)
    (*labels)[i] = cl->list[i % cl->m];
  return DX_EXIT_OK;
}

static int evaluate_fid(const eval_args *a, dx_store *st, dx_stored_run *r) {
  const dx_cli_command *c = &dx_cli_eval;
  if (r->e->data.dataset == DX_DATA_FOLDER)
    return dx_cli_fail(c, DX_ERR_INVALID,
                       "run %" PRId64 " trains on a folder of images: FID needs a feature network "
                       "of a labelled dataset (fashion-mnist, mnist, cifar10)",
                       r->id);
  dx_cli_classes cl;
  int rc = dx_cli_plan_classes(c, r, a->klass, a->classes, a->guidance, &cl);
  if (rc != DX_EXIT_OK) return rc;
  char dir[4200], err[DX_ERRMSG_MAX];
  features_dir(a, dir, sizeof dir);
  dx_cli_fid x;
  rc = dx_cli_fid_open(c, dir, r->e->data.dataset, r->e->data.path, &x);
  if (rc != DX_EXIT_OK) return rc;
  int64_t *labels = NULL;
  int *pred = NULL;
  rc = spread_classes(&cl, &x, a->samples, &labels);
  if (rc == DX_EXIT_OK && labels && !(pred = malloc((size_t)a->samples * sizeof *pred)))
    rc = dx_cli_fail(c, DX_ERR_NOMEM, "out of memory");
  dx_plugin *p = NULL;
  dx_params *pp = NULL;
  if (rc == DX_EXIT_OK && a->sampler) rc = dx_cli_load_sampler(c, r, a->sampler, &p, &pp);
  int64_t steps = 0, shape[4];
  dx_infer_opts o = {.checkpoint = r->checkpoint.path,
                     .sampler = p ? p->desc : NULL,
                     .sampler_params = pp,
                     .steps = a->steps,
                     .n = a->samples,
                     .batch = a->batch ? a->batch : r->e->eval.batch,
                     .seed = (uint64_t)a->seed,
                     .labels = labels,
                     .guidance = cl.w,
                     .steps_used = &steps};
  const char *sampler =
      a->sampler ? a->sampler
                 : dx_run_plugins_get(&r->plugins, "diffusion.sampler", -1)->plugin->desc->name;
  float *images = NULL;
  if (rc == DX_EXIT_OK) {
    fprintf(stderr,
            "ddpmx eval: run %" PRId64 ", checkpoint at step %" PRId64 ", %" PRId64
            " samples with %s\n",
            r->id, r->checkpoint.step, a->samples, sampler);
    dx_status s = dx_infer_sample(r->e, &r->plugins, &o, &images, shape, err, sizeof err);
    if (s != DX_OK) rc = dx_cli_fail(c, s, "%s", err);
  }
  dx_fid_score score;
  if (rc == DX_EXIT_OK) rc = dx_cli_fid_score(c, &x, images, a->samples, shape, pred, &score);
  score_names sn = {x.f, sampler, steps, a->samples, labels != NULL, cl.w};
  if (rc == DX_EXIT_OK) {
    char what[160];
    int len = snprintf(what, sizeof what, "samples of run %" PRId64 ", %s, %" PRId64 " steps",
                       r->id, sampler, steps);
    if (labels)
      snprintf(what + len, sizeof what - (size_t)len, ", %" PRId64 " classes, w = %g", cl.m, cl.w);
    dx_cli_fid_print(&x, what, &score);
    if (labels) rc = class_accuracy(st, r, &x, &sn, &cl, labels, pred);
  }
  if (rc == DX_EXIT_OK) rc = log_scores(st, r, &sn, &score);
  free(images), free(labels), free(pred);
  dx_params_free(pp);
  dx_plugin_close(p);
  dx_cli_fid_close(&x);
  return rc;
}

static int evaluate(const eval_args *a, dx_store *st, dx_stored_run *r) {
  if (!r->has_checkpoint)
    return dx_cli_fail(&dx_cli_eval, DX_ERR_INVALID,
                       "run %" PRId64 " has no checkpoint to evaluate", r->id);
  int rc = a->bpd ? evaluate_bpd(a, st, r) : DX_EXIT_OK;
  if (rc == DX_EXIT_OK && a->fid) rc = evaluate_fid(a, st, r);
  return rc;
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
