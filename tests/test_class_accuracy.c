/* `ddpmx eval --fid` on a class-conditional run: the samples are spread
 * over the classes asked for, the feature network labels each, and the
 * per-class accuracy it prints and stores equals what this test computes
 * itself by drawing the same samples (dx_infer_sample) and running the
 * network on them (dx_features_embed), and so does the network's accuracy
 * on each class's test images beside it. The confusion counts against a hand
 * count, the metric names, and the one-line refusals. A tiny model and a
 * tiny network on generated 8x8 IDX data: seconds. */
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_cli.h"
#include "dxt_files.h"
#include "metrics/metrics.h"
#include "train/features.h"
#include "train/trainer.h"
#include "train/trainer_internal.h" /* stream_seed: eval.fid's seed */

static char work[64], build[PATH_MAX], fixtures[PATH_MAX], data[PATH_MAX + 8];
static char nets[PATH_MAX + 8], yaml[PATH_MAX + 16], sha8[9];
static char err[DX_ERRMSG_MAX];

START_TEST(confusion_counts_by_hand) {
  /* 7 samples drawn for classes 0, 1, 2; rows are the class asked for. */
  int64_t want[7] = {0, 0, 0, 1, 1, 2, 2};
  int pred[7] = {0, 2, 0, 1, 0, 2, 2};
  int64_t c[9], hand[9] = {2, 0, 1, /**/ 1, 1, 0, /**/ 0, 0, 2};
  ck_assert_int_eq(dx_confusion(want, pred, 7, 3, c, err, sizeof err), DX_OK);
  for (int k = 0; k < 9; k++)
    ck_assert_int_eq(c[k], hand[k]);
  want[3] = 3;
  ck_assert_int_eq(dx_confusion(want, pred, 7, 3, c, err, sizeof err), DX_ERR_INVALID);
  ck_assert_msg(strstr(err, "sample 3: class 3"), "%s", err);
  want[3] = 1, pred[6] = -1;
  ck_assert_int_eq(dx_confusion(want, pred, 7, 3, c, err, sizeof err), DX_ERR_INVALID);
}
END_TEST

/* 30 8x8 images of 3 classes: class 0 a bright row, class 1 a bright
 * column, class 2 a bright 3x3 square, each at a place of its own. */
static void write_data(const char *prefix) {
  enum { N = 30, P = 64 };
  unsigned char img[N * P] = {0}, lab[N];
  for (int i = 0; i < N; i++) {
    int c = i % 3, at = 1 + (i / 3) % 5;
    lab[i] = (unsigned char)c;
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        bool on = c == 0   ? y == at
                  : c == 1 ? x == at
                           : (y >= at && y < at + 3 && x >= at && x < at + 3);
        img[i * P + y * 8 + x] = on ? 230 : 20;
      }
  }
  char path[PATH_MAX + 64];
  unsigned idims[3] = {N, 8, 8}, ldims[1] = {N};
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", data, prefix);
  dxt_write_idx(path, 3, idims, img, sizeof img);
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", data, prefix);
  dxt_write_idx(path, 1, ldims, lab, sizeof lab);
}

static void run_cli(const char *const *argv) {
  dxt_out o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
}

/* A conditional run "cond" (3 classes, guidance 1.5 by default) and an
 * unconditional one "plain" in results/ddpmx.db, and a feature network for
 * the data in nets/. */
static void setup(void) {
  dxt_cli_setup(build, fixtures, work, "dx_acc_");
  snprintf(data, sizeof data, "%s/data", work);
  snprintf(nets, sizeof nets, "%s/nets", work);
  snprintf(yaml, sizeof yaml, "%s/cond.yaml", work);
  ck_assert_int_eq(mkdir(data, 0755), 0);
  write_data("train"), write_data("t10k");
  char text[PATH_MAX + 1024];
  snprintf(text, sizeof text,
           "name: cond\nseed: 2\ndevice: cpu\n"
           "data: {dataset: mnist, path: %s, flip: false}\n"
           "model:\n  dim: 8\n  dim_mults: [1]\n  block: {plugin: resnet, groups: 2}\n"
           "  attention: [null]\n"
           "  mid_attention: {plugin: attention_full, heads: 1, dim_head: 8}\n  classes: 3\n"
           "diffusion:\n  T: 20\n  schedule: {plugin: cosine}\n"
           "  sampler: {plugin: ddim, steps: 3}\n"
           "train: {steps: 4, batch: 6, lr: 2.0e-3, warmup: 0, threads: 1, cond_drop: 0.2}\n"
           "log: {every: 2}\nsample: {every: 0, guidance: 1.5}\neval: {every: 0}\n"
           "checkpoint: {every: 4}\n",
           data);
  dxt_spit(yaml, text);
  const char *cond[] = {"run", yaml, NULL};
  run_cli(cond);
  const char *plain[] = {
      "run", yaml, "name=plain", "model.classes=0", "train.cond_drop=0", "sample.guidance=0", NULL};
  run_cli(plain);
  dx_features_train_opts o = {.kind = DX_DATA_MNIST,
                              .data_path = data,
                              .seed = 5,
                              .epochs = 4,
                              .batch = 10,
                              .lr = 5e-3,
                              .width = 2,
                              .threads = 1};
  dx_features_info in;
  ck_assert_msg(dx_features_train(&o, nets, &in, err, sizeof err) == DX_OK, "%s", err);
  snprintf(sha8, sizeof sha8, "%.8s", in.sha256);
}

static void teardown(void) { dxt_rmtree(work); }

/* A statement on results/ddpmx.db with text bound to its first ?, if any. */
static sqlite3_stmt *query(sqlite3 **db, const char *sql, const char *text) {
  sqlite3_stmt *q;
  ck_assert_int_eq(sqlite3_open("results/ddpmx.db", db), SQLITE_OK);
  ck_assert_int_eq(sqlite3_prepare_v2(*db, sql, -1, &q, NULL), SQLITE_OK);
  if (text) sqlite3_bind_text(q, 1, text, -1, SQLITE_TRANSIENT);
  return q;
}

static void done(sqlite3 *db, sqlite3_stmt *q) {
  sqlite3_finalize(q);
  sqlite3_close(db);
}

/* What the test finds itself: n samples of run `run` (cond.yaml's model)
 * at `seed`, sample i of classes[i % m], labelled by the network.
 * count/right per class. */
static void independent(const char *run, uint64_t seed, const int64_t *classes, int64_t m, double w,
                        int64_t n, int64_t *count, int64_t *right) {
  sqlite3 *db;
  sqlite3_stmt *q = query(&db,
                          "SELECT c.path FROM checkpoints c JOIN runs r ON r.id = c.run_id "
                          "WHERE r.name = ? ORDER BY c.step DESC",
                          run);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  char ckpt[PATH_MAX];
  snprintf(ckpt, sizeof ckpt, "%s", (const char *)sqlite3_column_text(q, 0));
  done(db, q);
  dx_experiment *e;
  dx_run_plugins rp;
  ck_assert_msg(dx_experiment_load(yaml, NULL, 0, &e, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_msg(dx_run_plugins_resolve(e, &rp, err, sizeof err) == DX_OK, "%s", err);
  int64_t *labels = malloc((size_t)n * sizeof *labels), shape[4];
  for (int64_t i = 0; i < n; i++)
    labels[i] = classes[i % m];
  dx_infer_opts o = {.checkpoint = ckpt, .n = n, .labels = labels, .guidance = w, .seed = seed};
  float *x;
  ck_assert_msg(dx_infer_sample(e, &rp, &o, &x, shape, err, sizeof err) == DX_OK, "%s", err);
  dx_features *f;
  ck_assert_int_eq(dx_features_open(nets, "mnist", 0, &f, err, sizeof err), DX_OK);
  int64_t D = dx_features_info_of(f)->dim;
  float *feat = malloc((size_t)(n * D) * sizeof *feat);
  int *pred = malloc((size_t)n * sizeof *pred);
  ck_assert_int_eq(
      dx_features_embed(f, x, n, shape[1], shape[2], shape[3], feat, pred, err, sizeof err), DX_OK);
  memset(count, 0, 3 * sizeof *count), memset(right, 0, 3 * sizeof *right);
  for (int64_t i = 0; i < n; i++) {
    count[labels[i]]++;
    right[labels[i]] += pred[i] == labels[i];
  }
  free(labels), free(x), free(feat), free(pred);
  dx_features_free(f);
  dx_run_plugins_free(&rp);
  dx_experiment_free(e);
}

/* The value of metric `name` of run cond; fails when there is none. */
static double metric(const char *name) {
  sqlite3 *db;
  sqlite3_stmt *q = query(&db, "SELECT value FROM metrics WHERE name = ?", name);
  ck_assert_msg(sqlite3_step(q) == SQLITE_ROW, "no metric %s", name);
  double v = sqlite3_column_double(q, 0);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
  done(db, q);
  return v;
}

static int64_t count_metrics(const char *like) {
  sqlite3 *db;
  sqlite3_stmt *q = query(&db, "SELECT count(*) FROM metrics WHERE name LIKE ?", like);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(q, 0);
  done(db, q);
  return n;
}

/* The printed table's row for `first` (a class or "all"): samples, right,
 * and its last cell (the network's accuracy on the class's test images). */
static void table_row(const char *out, const char *first, int64_t *n, int64_t *right,
                      char last[16]) {
  for (const char *line = out; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    char word[16];
    long long a, b;
    if (sscanf(line, "%15s %lld %lld", word, &a, &b) == 3 && strcmp(word, first) == 0) {
      *n = a, *right = b;
      const char *end = strchr(line, '\n'), *p = end;
      while (p > line && p[-1] != ' ')
        p--;
      snprintf(last, 16, "%.*s", (int)(end - p), p);
      return;
    }
  }
  ck_abort_msg("no row '%s' in:\n%s", first, out);
}

/* The network's accuracy on the test images of each class, as the table
 * prints it. */
static void test_accuracy(char cells[3][16]) {
  dx_features *f;
  dx_dataset *test;
  ck_assert_int_eq(dx_features_open(nets, "mnist", 0, &f, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_dataset_open(DX_DATA_MNIST, data, DX_SPLIT_TEST, err, sizeof err, &test),
                   DX_OK);
  float *feat;
  int *labels, *pred;
  int64_t n, count[3] = {0}, right[3] = {0};
  ck_assert_int_eq(dx_features_of_dataset(f, test, 0, &feat, &labels, &pred, &n, err, sizeof err),
                   DX_OK);
  for (int64_t i = 0; i < n; i++)
    count[labels[i]]++, right[labels[i]] += pred[i] == labels[i];
  for (int k = 0; k < 3; k++)
    snprintf(cells[k], 16, "%.1f%%", 100.0 * (double)right[k] / (double)count[k]);
  free(feat), free(labels), free(pred);
  dx_dataset_free(test);
  dx_features_free(f);
}

/* Scores the samples of `classes` (m of them) at guidance w as eval did,
 * against the printed table and the stored metrics. */
static void check_accounting(const char *out, const int64_t *classes, int64_t m, double w,
                             int64_t n) {
  int64_t count[3], right[3], all = 0;
  char on_test[3][16], last[16];
  independent("cond", 0, classes, m, w, n, count, right);
  test_accuracy(on_test);
  char prefix[128], name[200];
  snprintf(prefix, sizeof prefix, "ddim-3/w%g/n%lld/mnist_%s", w, (long long)n, sha8);
  for (int64_t i = 0; i < m; i++) {
    int64_t k = classes[i], pn, pr;
    char word[8];
    snprintf(word, sizeof word, "%lld", (long long)k);
    table_row(out, word, &pn, &pr, last);
    ck_assert_int_eq(pn, count[k]);
    ck_assert_int_eq(pr, right[k]);
    ck_assert_str_eq(last, on_test[k]);
    snprintf(name, sizeof name, "acc/%s/class_%lld", prefix, (long long)k);
    ck_assert_double_eq_tol(metric(name), (double)right[k] / (double)count[k], 1e-12);
    all += right[k];
  }
  int64_t pn, pr;
  table_row(out, "all", &pn, &pr, last);
  ck_assert_int_eq(pn, n);
  ck_assert_int_eq(pr, all);
  snprintf(name, sizeof name, "acc/%s", prefix);
  ck_assert_double_eq_tol(metric(name), (double)all / (double)n, 1e-12);
  const char *scores[3] = {"fid", "kid", "kid_spread"};
  for (int k = 0; k < 3; k++) {
    snprintf(name, sizeof name, "%s/%s", scores[k], prefix);
    (void)metric(name);
  }
}

static dxt_out eval_cli(const char *a1, const char *a2, const char *a3, const char *a4) {
  const char *argv[] = {"eval", "cond", "--fid", "--features", nets, a1, a2, a3, a4, NULL};
  return dxt_cli(argv);
}

START_TEST(eval_scores_each_class_asked_for) {
  /* the run's defaults: every class (sample.classes is empty), w = 1.5 */
  dxt_out o = eval_cli("--samples", "9", NULL, NULL);
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_msg(strstr(o.out, "3 classes, w = 1.5"), "%s", o.out);
  int64_t every[3] = {0, 1, 2};
  check_accounting(o.out, every, 3, 1.5, 9);
  dxt_out_free(&o);
  /* two classes, unevenly: 7 samples are 4 of class 2 and 3 of class 0 */
  o = eval_cli("--samples", "7", "--classes", "2,0");
  ck_assert_msg(o.code == 0, "%s", o.err);
  int64_t two[2] = {2, 0};
  check_accounting(o.out, two, 2, 1.5, 7);
  int64_t n, r;
  char last[16];
  table_row(o.out, "2", &n, &r, last);
  ck_assert_int_eq(n, 4);
  dxt_out_free(&o);
  o = dxt_cli((const char *[]){"eval", "cond", "--fid", "--features", nets, "--samples", "6",
                               "--class", "1", "--guidance", "0", NULL});
  ck_assert_msg(o.code == 0, "%s", o.err);
  int64_t one[1] = {1};
  check_accounting(o.out, one, 1, 0, 6);
  dxt_out_free(&o);
  ck_assert_int_eq(count_metrics("acc/%"), 4 + 3 + 2);
  /* --class none: no class, scored as an unconditional run's (no w, no acc) */
  o = eval_cli("--samples", "6", "--class", "none");
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_ptr_null(strstr(o.out, "labelled so"));
  char name[128];
  snprintf(name, sizeof name, "fid/ddim-3/n6/mnist_%s", sha8);
  (void)metric(name);
  dxt_out_free(&o);
  ck_assert_int_eq(count_metrics("acc/%"), 9);
}
END_TEST

static void refused(const char *const *argv, int code, const char *line) {
  dxt_out o = dxt_cli(argv);
  ck_assert_int_eq(o.code, code);
  ck_assert_msg(strstr(o.err, line), "%s", o.err);
  dxt_out_free(&o);
}

/* eval.fid during training spreads a conditional run's samples over
 * sample.classes as eval --fid does, guided with sample.guidance, and logs
 * the share the network labels right as acc/: the value this test finds
 * itself from the same draw (the run's FID stream of its seed 2, the EMA
 * weights of the last step, where it scores and checkpoints). */
START_TEST(training_scores_each_class_asked_for) {
  char feat[PATH_MAX + 32];
  snprintf(feat, sizeof feat, "eval.fid.features=%s", nets);
  run_cli((const char *[]){"run", yaml, "name=scored", "eval.fid.every=4", "eval.fid.samples=7",
                           "eval.batch=4", "sample.classes=[2, 0]", feat, NULL});
  int64_t count[3], right[3], two[2] = {2, 0};
  independent("scored", stream_seed(2, STREAM_FID), two, 2, 1.5, 7, count, right);
  ck_assert_int_eq(count[2], 4);
  ck_assert_int_eq(count[0], 3);
  char name[200];
  snprintf(name, sizeof name, "acc/ddim-3/w1.5/n7/mnist_%s", sha8);
  ck_assert_double_eq_tol(metric(name), (double)(right[0] + right[2]) / 7.0, 1e-12);
  const char *scores[3] = {"fid", "kid", "kid_spread"};
  for (int k = 0; k < 3; k++) {
    snprintf(name, sizeof name, "%s/ddim-3/w1.5/n7/mnist_%s", scores[k], sha8);
    (void)metric(name);
  }
  ck_assert_int_eq(count_metrics("acc/%"), 1);
  ck_assert_int_eq(count_metrics("fid/%"), 1);
}
END_TEST

START_TEST(wrong_classes_are_refused_with_one_line) {
  refused((const char *[]){"eval", "cond", "--fid", "--class", "3", NULL}, 2,
          "ddpmx eval: class 3: run 1 knows 0 to 2");
  refused((const char *[]){"eval", "cond", "--fid", "--classes", "0,x", NULL}, 2,
          "--classes: '0,x' is not all or a list");
  refused((const char *[]){"eval", "cond", "--fid", "--class", "1", "--classes", "all", NULL}, 2,
          "--class and --classes: give one of them");
  refused((const char *[]){"eval", "plain", "--fid", "--guidance", "2", NULL}, 2,
          "run 2 is not class-conditional (model.classes is 0)");
  refused((const char *[]){"eval", "plain", "--fid", "--class", "0", NULL}, 2,
          "run 2 is not class-conditional");
  refused((const char *[]){"eval", "cond", "--bpd", "--guidance", "2", NULL}, 2,
          "--class, --classes and --guidance go with --fid");
  refused((const char *[]){"eval", "cond", "--fid", "--features", nets, "--samples", "2", NULL}, 2,
          "--samples 2: fewer than the 3 classes asked for");
  ck_assert_int_eq(count_metrics("acc/%") + count_metrics("fid/%"), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("class_accuracy");
  TCase *by_hand = tcase_create("by_hand");
  DXT_ADD(by_hand, confusion_counts_by_hand);
  suite_add_tcase(s, by_hand);
  TCase *tc = tcase_create("eval");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  DXT_ADD(tc, eval_scores_each_class_asked_for);
  DXT_ADD(tc, training_scores_each_class_asked_for);
  DXT_ADD(tc, wrong_classes_are_refused_with_one_line);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
