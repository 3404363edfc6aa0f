/* Training end to end on a tiny synthetic dataset: the rows a run writes,
 * the grid, bits/dim, checkpoints that reload exactly, stop-then-resume equal
 * to an uninterrupted run, and a small U-Net overfitting one batch. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_plugin.h"
#include "model/unet.h"
#include "store/grid.h"
#include "store/store.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

static char tmp[256];
static const char *extra[8]; /* more overrides for the next runs, NULL-terminated */

/* 24 16x16 grey images: a bright square on black at varying places. */
static void write_images(void) {
  char dir[512], path[600], err[256];
  snprintf(dir, sizeof dir, "%s/images", tmp);
  mkdir(dir, 0777);
  for (int k = 0; k < 24; k++) {
    uint8_t px[256] = {0};
    for (int y = 0; y < 6; y++)
      for (int x = 0; x < 6; x++)
        px[(2 + k % 8 + y) * 16 + 2 + (k / 8) * 3 + x] = 255;
    dx_image img = {16, 16, 1, px};
    snprintf(path, sizeof path, "%s/img%02d.png", dir, k);
    ck_assert_msg(dx_png_write_file(&img, path, err, sizeof err) == DX_OK, "%s", err);
  }
}

static void write_experiment(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/tiny.yaml", tmp);
  FILE *f = fopen(path, "w");
  fprintf(f,
          "name: tiny\nseed: 3\n"
          "data: {dataset: folder, path: %s/images, flip: true}\n"
          "model:\n  dim: 8\n  dim_mults: [1, 2]\n  block: {plugin: resnet, groups: 4}\n"
          "  attention: {plugin: attention_linear, heads: 2, dim_head: 8}\n"
          "  mid_attention: {plugin: attention_full, heads: 2, dim_head: 8}\n"
          "diffusion:\n  T: 40\n  schedule: {plugin: cosine}\n  loss: {plugin: huber}\n"
          "  sampler: {plugin: beta_tilde, steps: 10}\n"
          "train: {steps: 12, batch: 4, lr: 1.0e-3, warmup: 2, threads: 1}\n"
          "log: {every: 2}\nsample: {every: 6, count: 4, nrow: 2}\n"
          "eval: {every: 12, images: 4, batch: 4}\ncheckpoint: {every: 6}\n",
          tmp);
  fclose(f);
}

static void setup(void) {
  extra[0] = NULL;
  snprintf(tmp, sizeof tmp, "/tmp/dx_train_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  write_images();
  write_experiment();
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  ck_assert_int_eq(system(cmd), 0);
}

/* Runs tiny.yaml into db (a fresh file), checkpoints under ckpt, on
 * `threads` threads. */
static dx_status train_on(const char *db, const char *ckpt, int threads, int64_t stop_after,
                          bool resume, int64_t *run) {
  char path[512], err[1024], ov[600], th[64];
  snprintf(path, sizeof path, "%s/tiny.yaml", tmp);
  snprintf(ov, sizeof ov, "checkpoint.dir=%s/%s", tmp, ckpt);
  snprintf(th, sizeof th, "train.threads=%d", threads);
  const char *overrides[10] = {ov, th};
  int n = 2;
  for (int i = 0; extra[i]; i++)
    overrides[n++] = extra[i];
  dx_experiment *e;
  ck_assert_msg(dx_experiment_load(path, overrides, n, &e, err, sizeof err) == DX_OK, "%s", err);
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

static dx_status train(const char *db, const char *ckpt, int64_t stop_after, bool resume,
                       int64_t *run) {
  return train_on(db, ckpt, 1, stop_after, resume, run);
}

static dx_status train_threads(const char *db, const char *ckpt, int threads, int64_t *run) {
  return train_on(db, ckpt, threads, 0, false, run);
}

static sqlite3 *db_open(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
  return db;
}

static double scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q;
  ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  double v = sqlite3_column_double(q, 0);
  sqlite3_finalize(q);
  return v;
}

START_TEST(a_run_writes_metrics_grids_bpd_and_checkpoints) {
  int64_t run;
  ck_assert_int_eq(train("a.db", "ckpt", 0, false, &run), DX_OK);
  sqlite3 *db = db_open("a.db");
  ck_assert_double_eq(scalar(db, "select count(*) from metrics where name = 'loss'"), 6);
  ck_assert_double_eq(
      scalar(db, "select count(distinct name) from metrics where name like 'loss_q%'"), 4);
  ck_assert_double_eq(
      scalar(db, "select count(*) from metrics where name in ('lr', 'grad_norm', 'images_per_s')"),
      18);
  double bpd = scalar(db, "select value from metrics where name = 'bpd' and step = 12");
  ck_assert_msg(bpd > 0.1 && bpd < 20, "bits/dim %g", bpd);
  ck_assert_double_eq(scalar(db, "select count(*) from samples"), 2);
  ck_assert_double_eq(scalar(db, "select count(*) from checkpoints"), 2);
  ck_assert_str_eq(dx_run_status_str(DX_RUN_FINISHED), "FINISHED");
  ck_assert_double_eq(scalar(db, "select count(*) from runs where status = 'FINISHED'"), 1);
  /* The last grid decodes to make_grid's layout of 4 images, 2 a row. */
  sqlite3_stmt *q;
  sqlite3_prepare_v2(db, "select png from samples where step = 12", -1, &q, NULL);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  dx_image img;
  char err[256];
  ck_assert_int_eq(dx_png_decode(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0),
                                 &img, err, sizeof err),
                   DX_OK);
  ck_assert_int_eq(img.width, 2 * (16 + 2) + 2);
  ck_assert_int_eq(img.height, 2 * (16 + 2) + 2);
  dx_image_free(&img);
  sqlite3_finalize(q);
  sqlite3_close(db);
}
END_TEST

/* Every metric of run b at every step equals run a's, bit for bit. */
static void compare_metrics(const char *a, const char *b) {
  sqlite3 *da = db_open(a), *dbb = db_open(b);
  sqlite3_stmt *qa, *qb;
  const char *sql =
      "select step, name, value from metrics where name != 'images_per_s' order by step, name";
  sqlite3_prepare_v2(da, sql, -1, &qa, NULL);
  sqlite3_prepare_v2(dbb, sql, -1, &qb, NULL);
  int rows = 0;
  for (;; rows++) {
    int ra = sqlite3_step(qa), rb = sqlite3_step(qb);
    ck_assert_int_eq(ra, rb);
    if (ra != SQLITE_ROW) break;
    ck_assert_int_eq(sqlite3_column_int64(qa, 0), sqlite3_column_int64(qb, 0));
    ck_assert_str_eq((const char *)sqlite3_column_text(qa, 1),
                     (const char *)sqlite3_column_text(qb, 1));
    ck_assert_msg(sqlite3_column_double(qa, 2) == sqlite3_column_double(qb, 2),
                  "%s at step %lld: %.17g vs %.17g", sqlite3_column_text(qa, 1),
                  (long long)sqlite3_column_int64(qa, 0), sqlite3_column_double(qa, 2),
                  sqlite3_column_double(qb, 2));
  }
  ck_assert_int_ge(rows, 40);
  sqlite3_finalize(qa), sqlite3_finalize(qb);
  sqlite3_close(da), sqlite3_close(dbb);
}

START_TEST(stop_then_resume_equals_an_uninterrupted_run) {
  int64_t a, b;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  ck_assert_int_eq(train("b.db", "cb", 6, false, &b), DX_ERR_INTERRUPTED);
  sqlite3 *db = db_open("b.db");
  ck_assert_double_eq(scalar(db, "select count(*) from runs where status = 'KILLED'"), 1);
  ck_assert_double_eq(scalar(db, "select max(step) from metrics"), 6);
  sqlite3_close(db);
  ck_assert_int_eq(train("b.db", "cb", 0, true, &b), DX_OK);
  compare_metrics("a.db", "b.db");
}
END_TEST

/* A stop between two reports (log every 2, stop after 7) and importance
 * sampling whose loss history fills (T = 4: 40 losses by step 10), so that
 * the resumed run departs unless both the unreported sums and the history
 * travel in the checkpoint. */
START_TEST(importance_sampling_resumes_exactly_between_reports) {
  extra[0] = "diffusion.timesteps=importance", extra[1] = "diffusion.T=4",
  extra[2] = "train.steps=20", extra[3] = "sample.every=0", extra[4] = "eval.every=0",
  extra[5] = NULL;
  int64_t a, b;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  ck_assert_int_eq(train("b.db", "cb", 7, false, &b), DX_ERR_INTERRUPTED);
  sqlite3 *db = db_open("b.db");
  ck_assert_double_eq(scalar(db, "select max(step) from metrics"), 6);
  sqlite3_close(db);
  ck_assert_int_eq(train("b.db", "cb", 0, true, &b), DX_OK);
  compare_metrics("a.db", "b.db");
}
END_TEST

/* Largest |a - b| / |a| over the steps of metric `name` in runs a and b,
 * which must log it at the same steps. */
static double metric_rel_diff(const char *a, const char *b, const char *name, int *rows) {
  sqlite3 *da = db_open(a), *dbb = db_open(b);
  sqlite3_stmt *qa, *qb;
  const char *sql = "select step, value from metrics where name = ?1 order by step";
  sqlite3_prepare_v2(da, sql, -1, &qa, NULL);
  sqlite3_prepare_v2(dbb, sql, -1, &qb, NULL);
  sqlite3_bind_text(qa, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(qb, 1, name, -1, SQLITE_STATIC);
  double worst = 0;
  for (*rows = 0;; ++*rows) {
    int ra = sqlite3_step(qa), rb = sqlite3_step(qb);
    ck_assert_int_eq(ra, rb);
    if (ra != SQLITE_ROW) break;
    ck_assert_int_eq(sqlite3_column_int64(qa, 0), sqlite3_column_int64(qb, 0));
    double va = sqlite3_column_double(qa, 1), vb = sqlite3_column_double(qb, 1);
    double r = fabs(va - vb) / fabs(va);
    if (!(r <= worst)) worst = r; /* NaN sticks */
  }
  sqlite3_finalize(qa), sqlite3_finalize(qb);
  sqlite3_close(da), sqlite3_close(dbb);
  return worst;
}

/* train.accumulate: 4 at batch 16 is the batch-64 run: the same images,
 * flips, timesteps, noise and dropout masks per sample, so the two differ
 * only in the order of float32 sums. The tolerance is 64 units of float32
 * roundoff (u = 2^-24): the bound (n - 1) u on the relative change of a sum
 * of n = 64 positive terms reordered, here the batch's mean loss; the
 * gradient's sums are as long per sample, and Adam's update, divided by
 * sqrt(v), carries a relative change of the gradient into the weights
 * without growing it. Measured on this test: at most 1.2 u (loss) and
 * 0.6 u (gradient norm) over the 4 steps. A sample keyed to the wrong
 * draw (a dropout mask of another micro-batch) moves the loss by 1e-3. */
START_TEST(accumulating_four_batches_of_16_is_one_batch_of_64) {
  const char *common[] = {"train.steps=4", "log.every=1", "sample.every=0", "eval.every=0",
                          "model.dropout=0.1"};
  for (int i = 0; i < 5; i++)
    extra[i] = common[i];
  extra[5] = "train.batch=64";
  int64_t a, b;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  extra[5] = "train.batch=16";
  extra[6] = "train.accumulate=4";
  ck_assert_int_eq(train("b.db", "cb", 0, false, &b), DX_OK);
  int rows;
  double loss = metric_rel_diff("a.db", "b.db", "loss", &rows);
  ck_assert_int_eq(rows, 4);
  double gnorm = metric_rel_diff("a.db", "b.db", "grad_norm", &rows);
  ck_assert_int_eq(rows, 4);
  const double u = ldexp(1.0, -24);
  ck_assert_msg(loss <= 64 * u && gnorm <= 64 * u,
                "relative difference: loss %.3g u, grad norm %.3g u", loss / u, gnorm / u);
}
END_TEST

/* A run with accumulation stopped and resumed is the uninterrupted run, bit
 * for bit: every micro-batch's draws are keyed by step and sample. */
START_TEST(accumulation_resumes_exactly) {
  extra[0] = "train.accumulate=3", extra[1] = "model.dropout=0.1", extra[2] = "sample.every=0",
  extra[3] = "eval.every=0", extra[4] = NULL;
  int64_t a, b;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  ck_assert_int_eq(train("b.db", "cb", 6, false, &b), DX_ERR_INTERRUPTED);
  ck_assert_int_eq(train("b.db", "cb", 0, true, &b), DX_OK);
  compare_metrics("a.db", "b.db");
}
END_TEST

/* train.recompute changes where memory goes, not a bit of the run: the
 * gradients are the plain network's (test_unet), so every metric is. */
START_TEST(recomputation_trains_the_same_run) {
  extra[0] = "model.dropout=0.1", extra[1] = NULL;
  int64_t a, b;
  ck_assert_int_eq(train("a.db", "ca", 0, false, &a), DX_OK);
  extra[1] = "train.recompute=true", extra[2] = NULL;
  ck_assert_int_eq(train("b.db", "cb", 0, false, &b), DX_OK);
  compare_metrics("a.db", "b.db");
}
END_TEST

START_TEST(two_threads_give_the_same_run_twice) {
  /* Thread scheduling must not reach the numbers: no sum whose order
   * depends on which thread finishes first. */
  int64_t a, b;
  ck_assert_int_eq(train_threads("a.db", "ca", 2, &a), DX_OK);
  ck_assert_int_eq(train_threads("b.db", "cb", 2, &b), DX_OK);
  compare_metrics("a.db", "b.db");
}
END_TEST

static dx_unet *small_unet(dx_ctx *ctx, dxt_plugin *pl, uint64_t seed) {
  dx_unet_config c = {.in_channels = 1,
                      .out_channels = 1,
                      .dim = 8,
                      .n_levels = 2,
                      .mults = {1, 2},
                      .image_size = 16};
  c.block = (dx_block_spec){pl[0].plugin->desc, pl[0].params};
  c.attention[0] = c.attention[1] = (dx_block_spec){pl[1].plugin->desc, pl[1].params};
  c.mid_attention = (dx_block_spec){pl[2].plugin->desc, pl[2].params};
  dx_unet *net = dx_unet_create(ctx, &c, seed);
  ck_assert_msg(net != NULL, "%s", dx_error_message(ctx));
  return net;
}

static void load_plugins(dxt_plugin *pl) {
  const char *groups[1] = {"groups=4"};
  pl[0] = dxt_plugin_load("resnet", DX_KIND_BLOCK, groups, 1);
  pl[1] = dxt_plugin_load("attention_linear", DX_KIND_BLOCK, NULL, 0);
  pl[2] = dxt_plugin_load("attention_full", DX_KIND_BLOCK, NULL, 0);
}

static dx_tensor *inputs(dx_ctx *ctx, dx_tensor **t) {
  int64_t xs[4] = {4, 1, 16, 16}, ts[1] = {4};
  dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, xs);
  dx_tensor_randn(ctx, x, 11, 0);
  float tv[4] = {0, 5, 17, 39};
  *t = dx_tensor_new(ctx, DX_F32, 1, ts);
  dx_tensor_write(ctx, *t, tv, DX_F32);
  return x;
}

START_TEST(a_checkpoint_reloads_to_identical_outputs) {
  dx_ctx *ctx = dxt_ctx(1);
  dxt_plugin pl[3];
  load_plugins(pl);
  dx_unet *a = small_unet(ctx, pl, 1), *b = small_unet(ctx, pl, 2);
  dx_optim_config oc = {DX_OPTIM_ADAMW, 0.9, 0.999, 1e-8, 0.01};
  dx_optim *oa = dx_optim_create(ctx, dx_unet_params(a), &oc),
           *ob = dx_optim_create(ctx, dx_unet_params(b), &oc);
  dx_ema *ea = dx_ema_create(ctx, dx_unet_params(a)), *eb = dx_ema_create(ctx, dx_unet_params(b));
  dx_tensor *t, *x = inputs(ctx, &t);
  dx_tensor *ya = dx_unet_forward(ctx, a, x, t, false);
  double *va = dxt_values(ctx, ya);
  char path[512], err[512];
  snprintf(path, sizeof path, "%s/net.safetensors", tmp);
  dx_train_state sa = {.params = dx_unet_params(a), .ema = ea, .opt = oa, .step = 42},
                 sb = {.params = dx_unet_params(b), .ema = eb, .opt = ob};
  ck_assert_msg(dx_checkpoint_save(ctx, path, &sa, "{\"name\": \"t\"}", err, sizeof err) == DX_OK,
                "%s", err);
  ck_assert_msg(dx_checkpoint_load(ctx, path, &sb, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_int_eq(sb.step, 42);
  double *vb = dxt_values(ctx, dx_unet_forward(ctx, b, x, t, false));
  for (int64_t i = 0; i < dx_numel(ya); i++)
    ck_assert_double_eq(va[i], vb[i]);
  free(va), free(vb);
  dx_ema_free(ea), dx_ema_free(eb), dx_optim_free(oa), dx_optim_free(ob);
  dx_unet_free(a), dx_unet_free(b);
  for (int i = 0; i < 3; i++)
    dxt_plugin_free(&pl[i]);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(a_small_unet_overfits_one_batch) {
  dx_ctx *ctx = dxt_ctx(0);
  dxt_plugin pl[3];
  load_plugins(pl);
  dx_unet *net = small_unet(ctx, pl, 5);
  dx_optim_config oc = {DX_OPTIM_ADAM, 0.9, 0.999, 1e-8, 0};
  dx_optim *opt = dx_optim_create(ctx, dx_unet_params(net), &oc);
  int64_t xs[4] = {4, 1, 16, 16};
  dx_tensor *target = dx_tensor_new_persistent(ctx, DX_F32, 4, xs);
  dx_tensor_randn(ctx, target, 12, 0);
  double first = 0, last = 0;
  for (int step = 0; step < 150; step++) {
    dx_step_reset(ctx);
    dx_tensor *t, *x = inputs(ctx, &t);
    dx_tensor *loss =
        dx_mean(ctx, dx_square(ctx, dx_sub(ctx, dx_unet_forward(ctx, net, x, t, true), target)));
    ck_assert_msg(loss != NULL, "%s", dx_error_message(ctx));
    float lv;
    dx_tensor_read(ctx, loss, &lv, DX_F32);
    if (step == 0) first = lv;
    last = lv;
    dx_zero_grads(ctx, dx_unet_params(net));
    ck_assert_int_eq(dx_backward(ctx, loss), DX_OK);
    dx_optim_step(opt, 3e-3);
  }
  /* From about 1 (unit-variance targets) to a small fraction of it. */
  ck_assert_msg(last < 0.05 * first, "loss %g -> %g", first, last);
  dx_optim_free(opt);
  dx_unet_free(net);
  for (int i = 0; i < 3; i++)
    dxt_plugin_free(&pl[i]);
  dx_ctx_free(ctx);
}
END_TEST

/* A case of s whose tests each get a fresh folder. */
static TCase *add_case(Suite *s, const char *name) {
  TCase *tc = tcase_create(name);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  suite_add_tcase(s, tc);
  return tc;
}

int main(void) {
  Suite *s = suite_create("train");
  TCase *tc = add_case(s, "train");
  DXT_ADD(tc, a_run_writes_metrics_grids_bpd_and_checkpoints);
  DXT_ADD(tc, stop_then_resume_equals_an_uninterrupted_run);
  DXT_ADD(tc, importance_sampling_resumes_exactly_between_reports);
  DXT_ADD(tc, two_threads_give_the_same_run_twice);
  DXT_ADD(tc, a_checkpoint_reloads_to_identical_outputs);
  DXT_ADD(tc, a_small_unet_overfits_one_batch);
  /* CK_RUN_CASE=accumulate (or recompute) runs these alone. */
  TCase *acc = add_case(s, "accumulate");
  DXT_ADD(acc, accumulating_four_batches_of_16_is_one_batch_of_64);
  DXT_ADD(acc, accumulation_resumes_exactly);
  TCase *rc = add_case(s, "recompute");
  DXT_ADD(rc, recomputation_trains_the_same_run);
  return dxt_run(s);
}
