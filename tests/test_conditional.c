/* Training a class-conditional, self-conditioning model with offset noise
 * on a tiny labelled IDX dataset: stop-then-resume equals an uninterrupted
 * run bit for bit (metrics and guided grids), the same seed gives the same
 * run, cond_drop changes it (so the drops happen, keyed by the seed), and a
 * checkpoint samples the classes asked for. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_cli.h"
#include "store/grid.h"
#include "store/store.h"
#include "train/trainer.h"

static char tmp[256];
static const char *extra[8]; /* more overrides, NULL-terminated */

static void put_be32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                        (unsigned char)v};
  fwrite(b, 1, 4, f);
}

/* 24 8x8 images of 3 classes: a bar that is horizontal, vertical or
 * diagonal, shifted by k. */
static void write_idx(const char *prefix) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", tmp, prefix);
  FILE *f = fopen(path, "wb");
  put_be32(f, 0x803), put_be32(f, 24), put_be32(f, 8), put_be32(f, 8);
  for (int k = 0; k < 24; k++)
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        int c = k % 3, s = (k / 3) % 6 + 1;
        bool on = c == 0 ? y == s : c == 1 ? x == s : x == y;
        fputc(on ? 255 : 0, f);
      }
  fclose(f);
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", tmp, prefix);
  f = fopen(path, "wb");
  put_be32(f, 0x801), put_be32(f, 24);
  for (int k = 0; k < 24; k++)
    fputc(k % 3, f);
  fclose(f);
}

static void setup(void) {
  extra[0] = NULL;
  snprintf(tmp, sizeof tmp, "/tmp/dx_cond_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  write_idx("train"), write_idx("t10k");
  char path[512];
  snprintf(path, sizeof path, "%s/cond.yaml", tmp);
  FILE *f = fopen(path, "w");
  fprintf(f,
          "name: cond\nseed: 4\n"
          "data: {dataset: mnist, path: %s}\n"
          "model:\n  dim: 8\n  dim_mults: [1, 2]\n  block: {plugin: resnet, groups: 4}\n"
          "  attention: null\n"
          "  mid_attention: {plugin: attention_full, heads: 2, dim_head: 8}\n"
          "  classes: 3\n  self_condition: true\n"
          "diffusion:\n  T: 40\n  schedule: {plugin: cosine}\n  offset_noise: 0.2\n"
          "  sampler: {plugin: ddim, steps: 5}\n"
          "train: {steps: 12, batch: 4, lr: 1.0e-3, warmup: 2, threads: 1, cond_drop: 0.5}\n"
          "log: {every: 2}\nsample: {every: 6, count: 6, nrow: 2, guidance: 1.5}\n"
          "eval: {every: 0}\ncheckpoint: {every: 6, dir: %s/ckpt}\n",
          tmp, tmp);
  fclose(f);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  ck_assert_int_eq(system(cmd), 0);
}

static dx_experiment *load(const char *ckpt) {
  char path[512], err[1024], ov[600];
  snprintf(path, sizeof path, "%s/cond.yaml", tmp);
  snprintf(ov, sizeof ov, "checkpoint.dir=%s/%s", tmp, ckpt);
  const char *overrides[10] = {ov};
  int n = 1;
  for (int i = 0; extra[i]; i++)
    overrides[n++] = extra[i];
  dx_experiment *e;
  ck_assert_msg(dx_experiment_load(path, overrides, n, &e, err, sizeof err) == DX_OK, "%s", err);
  return e;
}

static dx_status train(const char *db, const char *ckpt, int64_t stop_after, bool resume,
                       int64_t *run) {
  char path[512], err[1024];
  dx_experiment *e = load(ckpt);
  dx_run_plugins rp;
  ck_assert_msg(dx_run_plugins_resolve(e, &rp, err, sizeof err) == DX_OK, "%s", err);
  snprintf(path, sizeof path, "%s/%s", tmp, db);
  dx_store *st;
  ck_assert_msg(dx_store_open(path, &st, err, sizeof err) == DX_OK, "%s", err);
  dx_store_checkpoint from;
  bool found = false;
  if (resume) {
    ck_assert_int_eq(dx_store_latest_checkpoint(st, *run, &from, &found), DX_OK);
    ck_assert(found);
    ck_assert_int_eq(dx_store_run_reopen(st, *run, from.step), DX_OK);
  } else {
    dx_run_info info = {.name = e->name, .seed = e->seed};
    ck_assert_int_eq(dx_store_run_begin(st, &info, run), DX_OK);
  }
  dx_train_env env = {.store = st,
                      .run_id = *run,
                      .plugins = &rp,
                      .resume_from = found ? from.path : NULL,
                      .stop_after = stop_after};
  dx_status s = dx_train(e, &env, err, sizeof err);
  ck_assert_msg(s == DX_OK || s == DX_ERR_INTERRUPTED, "%s", err);
  dx_store_run_end(st, *run, s == DX_OK ? DX_RUN_FINISHED : DX_RUN_KILLED, s == DX_OK ? NULL : err);
  dx_store_close(st, NULL, 0);
  dx_run_plugins_free(&rp);
  dx_experiment_free(e);
  return s;
}

static sqlite3 *db_open(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
  return db;
}

/* Whether every metric and the last grid of b equal a's, bit for bit. */
static bool same_runs(const char *a, const char *b) {
  sqlite3 *da = db_open(a), *dbb = db_open(b);
  const char *sql[2] = {
      "select step, name, value from metrics where name != 'images_per_s' order by step, name",
      /* A stopped run draws no grid at its stop: the last grid is compared. */
      "select step, png from samples where step = 12"};
  bool same = true;
  int rows = 0;
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *qa, *qb;
    sqlite3_prepare_v2(da, sql[k], -1, &qa, NULL);
    sqlite3_prepare_v2(dbb, sql[k], -1, &qb, NULL);
    for (;;) {
      int ra = sqlite3_step(qa), rb = sqlite3_step(qb);
      ck_assert_int_eq(ra, rb);
      if (ra != SQLITE_ROW) break;
      rows++;
      int nb = sqlite3_column_bytes(qa, 1);
      if (k == 0 && sqlite3_column_double(qa, 2) != sqlite3_column_double(qb, 2)) {
        if (same)
          fprintf(stderr, "%s vs %s: %s at step %lld: %.17g vs %.17g\n", a, b,
                  sqlite3_column_text(qa, 1), (long long)sqlite3_column_int64(qa, 0),
                  sqlite3_column_double(qa, 2), sqlite3_column_double(qb, 2));
        same = false;
      } else
        same = same && nb == sqlite3_column_bytes(qb, 1) &&
               memcmp(sqlite3_column_blob(qa, 1), sqlite3_column_blob(qb, 1), (size_t)nb) == 0;
    }
    sqlite3_finalize(qa), sqlite3_finalize(qb);
  }
  ck_assert_int_ge(rows, 40);
  sqlite3_close(da), sqlite3_close(dbb);
  return same;
}

START_TEST(a_conditional_run_resumes_bit_exactly) {
  int64_t a, b;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  ck_assert_int_eq(train("b.db", "cb", 6, false, &b), DX_ERR_INTERRUPTED);
  ck_assert_int_eq(train("b.db", "cb", 0, true, &b), DX_OK);
  ck_assert_msg(same_runs("a.db", "b.db"), "the resumed run departs from the uninterrupted one");
  sqlite3 *db = db_open("b.db");
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, "select count(*) from samples", -1, &q, NULL);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  ck_assert_int_eq(sqlite3_column_int(q, 0), 1); /* step 12; the stop at 6 drew none */
  sqlite3_finalize(q);
  sqlite3_close(db);
}
END_TEST

/* The drops are drawn from the seed: the same seed drops the same samples
 * (two runs agree), and they matter (no drops is another run). */
START_TEST(class_drops_are_keyed_by_the_seed) {
  int64_t a, b, c;
  extra[0] = NULL;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  ck_assert_int_eq(train("b.db", "cb", 0, false, &b), DX_OK);
  ck_assert(same_runs("a.db", "b.db"));
  extra[0] = "train.cond_drop=0", extra[1] = NULL;
  ck_assert_int_eq(train("c.db", "cc", 0, false, &c), DX_OK);
  ck_assert(!same_runs("a.db", "c.db"));
}
END_TEST

START_TEST(a_checkpoint_samples_the_classes_asked_for) {
  int64_t a;
  extra[0] = "sample.every=0", extra[1] = "train.steps=6", extra[2] = NULL;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  char path[600], err[1024];
  snprintf(path, sizeof path, "%s/ca/cond-%lld/step-00000006.safetensors", tmp, (long long)a);
  dx_experiment *e = load("ca");
  dx_run_plugins rp;
  ck_assert_msg(dx_run_plugins_resolve(e, &rp, err, sizeof err) == DX_OK, "%s", err);
  int64_t labels[4] = {0, 2, 1, 2}, shape[4];
  dx_infer_opts o = {.checkpoint = path, .n = 4, .seed = 1, .labels = labels, .guidance = 2};
  float *x2 = NULL, *x0 = NULL;
  ck_assert_msg(dx_infer_sample(e, &rp, &o, &x2, shape, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_int_eq(shape[0], 4);
  ck_assert_int_eq(shape[1], 1);
  ck_assert_int_eq(shape[2], 8);
  o.guidance = 0;
  ck_assert_msg(dx_infer_sample(e, &rp, &o, &x0, shape, err, sizeof err) == DX_OK, "%s", err);
  double d = 0;
  for (int k = 0; k < 4 * 64; k++) {
    ck_assert(isfinite(x2[k]) && fabsf(x2[k]) <= 1.0f);
    d = fmax(d, fabs((double)x2[k] - x0[k]));
  }
  ck_assert_msg(d > 1e-4, "guidance 2 drew what guidance 0 drew");
  free(x2), free(x0);
  labels[1] = 3; /* model.classes is 3 */
  ck_assert_int_eq(dx_infer_sample(e, &rp, &o, &x2, shape, err, sizeof err), DX_ERR_CONFIG);
  ck_assert_msg(strstr(err, "classes 0 to 2"), "%s", err);
  dx_run_plugins_free(&rp);
  dx_experiment_free(e);
}
END_TEST

/* The PNG's size in pixels, for make_grid's layout of 8x8 images. */
static void png_size(const char *name, int *w, int *h) {
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  dx_image img;
  ck_assert_msg(dx_png_read_file(path, &img, err, sizeof err) == DX_OK, "%s", err);
  *w = img.width, *h = img.height;
  dx_image_free(&img);
}

static dxt_out sample_cli(const char *a1, const char *a2, const char *a3, const char *a4) {
  char db[512], out[512];
  snprintf(db, sizeof db, "%s/a.db", tmp);
  snprintf(out, sizeof out, "%s/g.png", tmp);
  const char *argv[] = {"sample", "cond", "--db", db, "-o", out, "--steps",
                        "3",      a1,     a2,     a3, a4,   NULL};
  return dxt_cli(argv);
}

/* ddpmx sample: one row of nrow images per class asked for. */
START_TEST(the_cli_draws_one_row_per_class) {
  dxt_ddpmx();
  char yaml[512], db[512];
  snprintf(yaml, sizeof yaml, "%s/cond.yaml", tmp);
  snprintf(db, sizeof db, "%s/a.db", tmp);
  const char *run[] = {"run", yaml, "train.steps=2", "sample.every=0", "--db", db, NULL};
  dxt_out r = dxt_cli(run);
  ck_assert_msg(r.code == 0, "%s", r.err);
  dxt_out_free(&r);
  int w, h;
  dxt_out o = sample_cli("--classes", "all", "--nrow", "2");
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_msg(strstr(o.out, "sample-ddim-3-w1.5"), "%s", o.out); /* the run's guidance */
  png_size("g.png", &w, &h);
  ck_assert_int_eq(w, 2 * (8 + 2) + 2);
  ck_assert_int_eq(h, 3 * (8 + 2) + 2);
  dxt_out_free(&o);
  o = sample_cli("--classes", "0,2", "--guidance", "0");
  ck_assert_msg(o.code == 0, "%s", o.err);
  ck_assert_msg(strstr(o.out, "-w0"), "%s", o.out);
  png_size("g.png", &w, &h);
  ck_assert_int_eq(w, 8 * (8 + 2) + 2); /* nrow 8 */
  ck_assert_int_eq(h, 2 * (8 + 2) + 2);
  dxt_out_free(&o);
  o = sample_cli("--class", "1", "--n", "3");
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  o = sample_cli("--class", "3", "--n", "3");
  ck_assert_int_ne(o.code, 0);
  ck_assert_msg(strstr(o.err, "knows 0 to 2"), "%s", o.err);
  dxt_out_free(&o);
  o = sample_cli("--classes", "0,x", NULL, NULL);
  ck_assert_int_ne(o.code, 0);
  dxt_out_free(&o);
}
END_TEST

START_TEST(classes_need_labels_and_a_conditional_model) {
  char path[512], err[1024];
  snprintf(path, sizeof path, "%s/cond.yaml", tmp);
  const char *ov[2] = {"model.classes=0", "train.cond_drop=0"};
  dx_experiment *e;
  ck_assert_int_eq(dx_experiment_load(path, ov, 1, &e, err, sizeof err), DX_ERR_CONFIG);
  ck_assert_msg(strstr(err, "train.cond_drop needs a class-conditional model"), "%s", err);
  const char *ov2[3] = {"model.classes=0", "train.cond_drop=0", "sample.guidance=0"};
  ck_assert_int_eq(dx_experiment_load(path, ov2, 3, &e, err, sizeof err), DX_OK);
  dx_experiment_free(e);
  const char *ov3[1] = {"sample.classes=[0, 3]"};
  ck_assert_int_eq(dx_experiment_load(path, ov3, 1, &e, err, sizeof err), DX_ERR_CONFIG);
  ck_assert_msg(strstr(err, "sample.classes[1] is 3"), "%s", err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("conditional");
  TCase *tc = tcase_create("conditional");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  DXT_ADD(tc, a_conditional_run_resumes_bit_exactly);
  DXT_ADD(tc, class_drops_are_keyed_by_the_seed);
  DXT_ADD(tc, a_checkpoint_samples_the_classes_asked_for);
  DXT_ADD(tc, classes_need_labels_and_a_conditional_model);
  DXT_ADD(tc, the_cli_draws_one_row_per_class);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
