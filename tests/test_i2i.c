/* Image to image (docs/generation.md): dynamic thresholding against a hand
 * computation, then the loops on small analytic models -- RePaint keeps the
 * known pixels and makes the evaluations its schedule says, SDEdit starts
 * at t0, interpolation gives every mix the same noise, DDIM inversion is
 * exact where the model allows it and its error shrinks with the steps on
 * the Gaussian oracle -- then the four commands on a tiny trained run. */
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion/i2i.h"
#include "dx_test.h"
#include "dxt_cli.h"
#include "dxt_files.h"
#include "dxt_plugin.h"
#include "util/png.h"

enum { T = 30 };

static dx_diffusion *schedule(dx_ctx *ctx, int64_t steps, double lo, double hi) {
  double *b = malloc((size_t)steps * sizeof *b);
  for (int64_t i = 0; i < steps; i++)
    b[i] = lo + (hi - lo) * (double)i / (double)(steps - 1);
  dx_diffusion *d = dx_diffusion_create(ctx, b, steps);
  free(b);
  ck_assert_ptr_nonnull(d);
  return d;
}

static dx_tensor *persistent(dx_ctx *ctx, int64_t n, int64_t c, int64_t h, int64_t w,
                             const double *v) {
  int64_t shape[4] = {n, c, h, w};
  dx_tensor *t = dx_tensor_new_persistent(ctx, DX_F32, 4, shape);
  ck_assert_ptr_nonnull(t);
  if (v) ck_assert_int_eq(dx_tensor_write(ctx, t, v, DX_F64), DX_OK);
  return t;
}

/* --- dynamic thresholding ------------------------------------------------------------ */

/* Image 0: |x| sorted is 0.25 0.5 1 2 3 4; the 0.7-quantile sits at rank
 * 0.7 * 5 = 3.5, halfway between 2 and 3: s = 2.5, and clip(x, -2.5, 2.5) / 2.5
 * is -1 0.2 0.8 -0.4 1 0.1. Image 1 lies inside [-1, 1], so s = 1 and it
 * stays as it is. */
static const double pattern[12] = {-3, 0.5, 2, -1, 4, 0.25, 0.1, -0.2, 0.3, 0.4, -0.5, 0.6};
static const double by_hand[12] = {-1, 0.2, 0.8, -0.4, 1, 0.1, 0.1, -0.2, 0.3, 0.4, -0.5, 0.6};

START_TEST(dynamic_thresholding_matches_a_hand_computation) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_tensor *x0 = persistent(ctx, 2, 1, 2, 3, pattern);
  double *y = dxt_values(ctx, dx_dynamic_threshold(ctx, x0, 0.7));
  for (int k = 0; k < 12; k++)
    ck_assert_double_eq_tol(y[k], by_hand[k], 1e-6);
  free(y);
  /* p = 1: s is the largest |x0|, 4. */
  y = dxt_values(ctx, dx_dynamic_threshold(ctx, x0, 1.0));
  for (int k = 0; k < 6; k++)
    ck_assert_double_eq_tol(y[k], pattern[k] / 4.0, 1e-6);
  free(y);
  ck_assert_ptr_null(dx_dynamic_threshold(ctx, x0, 0.0));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

/* An x0 model that answers `pattern` whatever it is asked. */
static dx_tensor *pattern_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  (void)user, (void)t;
  dx_tensor *out = dx_tensor_new_like(ctx, x_t);
  dx_tensor_write(ctx, out, pattern, DX_F64);
  return out;
}

/* DDIM's last step returns its x0 (abar_prev = 1): with threshold=0.7 the
 * sample is the thresholded pattern, whatever the sampler did before. */
START_TEST(the_sampling_loop_thresholds_x0) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx, T, 0.01, 0.3);
  const char *kv[3] = {"threshold=0.7", "clip=false", "steps=5"};
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "ddim", kv, 3);
  ck_assert_double_eq(o.s.cfg.threshold, 0.7);
  dx_tensor *x = persistent(ctx, 2, 1, 2, 3, NULL);
  ck_assert_int_eq(dx_sample(ctx, &o.s, d, DX_PREDICT_X0, pattern_model, NULL, 3, x), DX_OK);
  double *y = dxt_values(ctx, x);
  for (int k = 0; k < 12; k++)
    ck_assert_double_eq_tol(y[k], by_hand[k], 1e-6);
  free(y);
  /* Without it, the unclipped pattern comes back. */
  o.s.cfg.threshold = 0;
  ck_assert_int_eq(dx_sample(ctx, &o.s, d, DX_PREDICT_X0, pattern_model, NULL, 3, x), DX_OK);
  y = dxt_values(ctx, x);
  ck_assert_double_eq_tol(y[4], 4.0, 1e-6);
  free(y);
  dx_tensor_free(ctx, x);
  dxt_sampler_close(&o);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* --- the loops on analytic models ----------------------------------------------------- */

static double *wave(int64_t n, double f) {
  double *v = malloc((size_t)n * sizeof *v);
  for (int64_t k = 0; k < n; k++)
    v[k] = 0.9 * sin(f * (double)k + 0.3);
  return v;
}

START_TEST(repaint_keeps_the_known_pixels) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx, T, 0.01, 0.3);
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "beta_tilde", NULL, 0);
  enum { N = 2, P = 2 * 1 * 4 * 4 };
  double *img = wave(P, 0.7), keep[P];
  for (int k = 0; k < P; k++)
    keep[k] = (k % 4) < 2; /* the left half of each row */
  dx_tensor *x0 = persistent(ctx, N, 1, 4, 4, img), *m = persistent(ctx, N, 1, 4, 4, keep);
  dx_tensor *x = persistent(ctx, N, 1, 4, 4, NULL);
  /* T = 30 steps, jumps from 0, 4, ..., 24 (below 30 - 4), each twice more:
   * 30 + 7 * 2 * 4 = 86 evaluations. */
  dxt_counter c = {0};
  ck_assert_int_eq(
      dx_repaint(ctx, &o.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 5, x0, m, 4, 3, x), DX_OK);
  ck_assert_int_eq(c.calls, 86);
  ck_assert_int_eq(dx_repaint_evaluations(T, 4, 3), 86);
  ck_assert_double_eq(c.last_t, 0.0);
  float known[P], out[P];
  dx_tensor_read(ctx, x0, known, DX_F32);
  dx_tensor_read(ctx, x, out, DX_F32);
  int filled_differ = 0;
  for (int k = 0; k < P; k++) {
    if (keep[k] > 0)
      ck_assert_float_eq(out[k], known[k]);
    else
      filled_differ += out[k] != known[k];
    ck_assert(isfinite(out[k]));
  }
  ck_assert_int_eq(filled_differ, P / 2);
  /* jumps = 1 is plain sampling with replacement: one pass. */
  c = (dxt_counter){0};
  ck_assert_int_eq(
      dx_repaint(ctx, &o.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 5, x0, m, 4, 1, x), DX_OK);
  ck_assert_int_eq(c.calls, T);
  free(img);
  dx_tensor_free(ctx, x0), dx_tensor_free(ctx, m), dx_tensor_free(ctx, x);
  dxt_sampler_close(&o);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(sdedit_starts_at_t0) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx, T, 0.01, 0.3);
  const char *kv[1] = {"steps=10"};
  dxt_sampler all, ten;
  dxt_sampler_open(ctx, &all, "beta_tilde", NULL, 0);
  dxt_sampler_open(ctx, &ten, "beta_tilde", kv, 1);
  double *img = wave(3 * 16, 0.4);
  dx_tensor *x = persistent(ctx, 3, 1, 4, 4, img);
  dxt_counter c = {0};
  /* t0 = index 11: 12 of the 30 steps, the first at model timestep 11. */
  ck_assert_int_eq(dx_sdedit(ctx, &all.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 1, 11, x),
                   DX_OK);
  ck_assert_int_eq(c.calls, 12);
  ck_assert_double_eq(c.first_t, 11.0);
  ck_assert_double_eq(c.last_t, 0.0);
  /* 10 steps over 30 -> round(10 * 12 / 30) = 4 over [0, 11]. */
  c = (dxt_counter){0};
  ck_assert_int_eq(dx_steps_upto(&ten.s, d, 11), 4);
  ck_assert_int_eq(dx_sdedit(ctx, &ten.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 1, 11, x),
                   DX_OK);
  ck_assert_int_eq(c.calls, 4);
  ck_assert_double_eq(c.first_t, 11.0);
  ck_assert_double_eq(c.last_t, 0.0);
  /* The lowest start, one step: index 0 straight to the image. */
  c = (dxt_counter){0};
  ck_assert_int_eq(dx_sdedit(ctx, &ten.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 1, 0, x), DX_OK);
  ck_assert_int_eq(c.calls, 1);
  ck_assert_int_eq(dx_sdedit(ctx, &ten.s, d, DX_PREDICT_EPS, dxt_shrink_model, &c, 1, T, x),
                   DX_ERR_INVALID);
  free(img);
  dx_tensor_free(ctx, x);
  dxt_sampler_close(&all), dxt_sampler_close(&ten);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

static dx_tensor *zero_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  (void)user, (void)t;
  return dx_scale(ctx, x_t, 0.0);
}

/* With eps = 0 and no clipping every step is affine in x_t, so a mix's result is affine in
 * lambda only if every mix gets the same step noise: the middle of three
 * mixes is then the mean of the ends. */
START_TEST(interpolation_shares_the_step_noise) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx, T, 0.01, 0.3);
  const char *kv[1] = {"clip=false"};
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "beta_tilde", kv, 1);
  double *va = wave(16, 0.5), *vb = wave(16, 1.9), lambda[3] = {0, 0.5, 1};
  dx_tensor *a = persistent(ctx, 1, 1, 4, 4, va), *b = persistent(ctx, 1, 1, 4, 4, vb);
  dx_tensor *out = persistent(ctx, 3, 1, 4, 4, NULL);
  ck_assert_int_eq(
      dx_interpolate(ctx, &o.s, d, DX_PREDICT_EPS, zero_model, NULL, 9, 20, a, b, lambda, out),
      DX_OK);
  double *y = dxt_values(ctx, out);
  int apart = 0;
  for (int k = 0; k < 16; k++) {
    ck_assert_double_eq_tol(y[16 + k], 0.5 * (y[k] + y[32 + k]), 1e-5);
    apart += fabs(y[k] - y[32 + k]) > 1e-3;
  }
  ck_assert_int_gt(apart, 8);
  free(y), free(va), free(vb);
  dx_tensor_free(ctx, a), dx_tensor_free(ctx, b), dx_tensor_free(ctx, out);
  dxt_sampler_close(&o);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* eps_hat = c, whatever x_t is: inversion asks the model at the wrong
 * point, but the answer is the same there, so the round trip is exact. */
static dx_tensor *constant_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  (void)user, (void)t;
  return dx_add_scalar(ctx, dx_scale(ctx, x_t, 0.0), 0.37);
}

/* The Gaussian oracle for x0 ~ N(m, s^2) per pixel:
 * E[eps | x_t] = sqrt(1 - abar) (x_t - sqrt(abar) m) / (abar s^2 + 1 - abar). */
typedef struct gauss {
  const dx_diffusion *d;
  double m, s;
} gauss;

static dx_tensor *gauss_model(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  const gauss *g = user;
  double *tv = dxt_values(ctx, t), ab = g->d->alpha_bar[(int64_t)tv[0]];
  free(tv);
  double k = sqrt(1 - ab) / (ab * g->s * g->s + 1 - ab);
  return dx_add_scalar(ctx, dx_scale(ctx, x_t, k), -k * sqrt(ab) * g->m);
}

static double round_trip(dx_ctx *ctx, const dx_diffusion *d, int steps, dx_model_fn model,
                         void *user, const double *img, int64_t P) {
  char kv[32];
  snprintf(kv, sizeof kv, "steps=%d", steps);
  const char *kvs[1] = {kv};
  dxt_sampler o;
  dxt_sampler_open(ctx, &o, "ddim", kvs, 1);
  dx_tensor *x = persistent(ctx, 1, 1, 1, P, img), *xT = persistent(ctx, 1, 1, 1, P, NULL);
  ck_assert_int_eq(dx_ddim_round_trip(ctx, &o.s, d, DX_PREDICT_EPS, model, user, d->T - 1, x, xT),
                   DX_OK);
  double *y = dxt_values(ctx, x), *z = dxt_values(ctx, xT), sq = 0, zz = 0;
  for (int64_t k = 0; k < P; k++)
    sq += (y[k] - img[k]) * (y[k] - img[k]), zz += z[k] * z[k];
  /* x_T is noise-sized, not the image. */
  ck_assert_double_gt(sqrt(zz / (double)P), 0.3);
  free(y), free(z);
  dx_tensor_free(ctx, x), dx_tensor_free(ctx, xT);
  dxt_sampler_close(&o);
  return sqrt(sq / (double)P);
}

START_TEST(ddim_inversion_round_trip) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx, 1000, 1e-4, 0.02);
  enum { P = 256 };
  double *img = wave(P, 0.37);
  for (int k = 0; k < P; k++)
    img[k] = 0.2 + 0.4 * img[k] / 0.9; /* inside the oracle's N(0.2, 0.4^2) */
  double exact = round_trip(ctx, d, 20, constant_model, NULL, img, P);
  ck_assert_double_lt(exact, 1e-4);
  gauss g = {d, 0.2, 0.4};
  double e10 = round_trip(ctx, d, 10, gauss_model, &g, img, P);
  double e50 = round_trip(ctx, d, 50, gauss_model, &g, img, P);
  double e250 = round_trip(ctx, d, 250, gauss_model, &g, img, P);
  fprintf(stderr,
          "DDIM round trip rms error on the Gaussian oracle: %.3g at 10 steps, %.3g at 50, "
          "%.3g at 250 (constant eps: %.2g)\n",
          e10, e50, e250, exact);
  ck_assert_double_lt(e50, e10);
  ck_assert_double_lt(e250, e50);
  ck_assert_double_lt(e250, 0.02);
  free(img);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* --- the commands on a tiny run ---------------------------------------------------- */

static char fixtures[PATH_MAX], build[PATH_MAX], workdir[64];

/* The tiny fixture run (eight 8x8 grey images, T = 20, beta_tilde on all
 * steps) in a fresh folder: run 1 with a checkpoint at step 4. */
static void tiny_run(void) {
  dxt_cli_setup(build, fixtures, workdir, "dx_i2i_");
  char yaml[PATH_MAX + 16], data[PATH_MAX + 32];
  snprintf(yaml, sizeof yaml, "%s/tiny.yaml", fixtures);
  snprintf(data, sizeof data, "data.path=%s/images", fixtures);
  const char *argv[] = {"run", yaml, data, "checkpoint.every=4", NULL};
  dxt_out o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
}

static void cleanup(void) { dxt_rmtree(workdir); }

#define HAS(text, part)                                                                            \
  ck_assert_msg(strstr((text), (part)) != NULL, "missing:\n%s\nin:\n%s", (part), (text))

static dxt_out ok(const char *const *argv) {
  dxt_out o = dxt_cli(argv);
  ck_assert_msg(o.code == 0, "ddpmx %s: exit %d\n%s", argv[0], o.code, o.err);
  return o;
}

static dx_image read_png(const char *path) {
  dx_image img;
  char err[256];
  ck_assert_msg(dx_png_read_file(path, &img, err, sizeof err) == DX_OK, "%s", err);
  return img;
}

/* make_grid's size for n 8x8 images, nrow a row: (ncol * 10 + 2) x (rows * 10 + 2). */
static void check_grid(const char *path, int n, int nrow) {
  dx_image img = read_png(path);
  int ncol = n < nrow ? n : nrow, rows = (n + ncol - 1) / ncol;
  ck_assert_int_eq(img.width, ncol * 10 + 2);
  ck_assert_int_eq(img.height, rows * 10 + 2);
  ck_assert_int_eq(img.channels, 1);
  dx_image_free(&img);
}

static void write_png(const char *path, int w, int h, int c, int (*f)(int x, int y)) {
  dx_image img = {w, h, c, malloc((size_t)(w * h * c))};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++)
        img.pixels[(y * w + x) * c + k] = (uint8_t)f(x, y);
  char err[256];
  ck_assert_msg(dx_png_write_file(&img, path, err, sizeof err) == DX_OK, "%s", err);
  dx_image_free(&img);
}

static int left_half(int x, int y) { return (void)y, x < 4 ? 255 : 0; }
static int sketch(int x, int y) { return x > 1 && x < 6 && y > 0 ? 200 : 0; }

/* The stored grids: tag and image count, in order of tag. */
static char *stored(void) {
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open("results/ddpmx.db", &db), SQLITE_OK);
  sqlite3_stmt *q;
  ck_assert_int_eq(sqlite3_prepare_v2(db,
                                      "SELECT group_concat(tag || ':' || count, ' ') FROM "
                                      "(SELECT tag, count FROM samples WHERE tag != 'ema' "
                                      "ORDER BY tag)",
                                      -1, &q, NULL),
                   SQLITE_OK);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  char *s = strdup(sqlite3_column_text(q, 0) ? (const char *)sqlite3_column_text(q, 0) : "");
  sqlite3_finalize(q);
  sqlite3_close(db);
  return s;
}

START_TEST(each_command_stores_its_grid) {
  write_png("sketch.png", 8, 8, 1, sketch);
  const char *edit[] = {"edit", "tiny", "--image", "sketch.png", "--strength", "0.6",
                        "--n",  "3",    "-o",      "edit.png",   NULL};
  dxt_out o = ok(edit);
  HAS(o.out, "edit: noised to t0 = 12, denoised in 12 steps\n");
  dxt_out_free(&o);
  check_grid("edit.png", 4, 4);
  const char *interp[] = {"interpolate", "tiny", "--a", "test:0", "--b",        "test:5", "--steps",
                          "3",           "--t",  "15",  "-o",     "interp.png", NULL};
  o = ok(interp);
  HAS(o.out, "interpolate: 3 mixes at t = 15, 45 steps in all\n");
  dxt_out_free(&o);
  check_grid("interp.png", 5, 5);
  write_png("mask.png", 8, 8, 1, left_half);
  /* 20 steps, jumps from 0, 5, 10, once more each: 20 + 3 * 5 = 35. */
  const char *inpaint[] = {"inpaint",  "tiny",    "--image", "test:2",        "--mask",
                           "mask.png", "--jumps", "2",       "--jump-length", "5",
                           "--n",      "2",       "-o",      "inpaint.png",   NULL};
  o = ok(inpaint);
  HAS(o.out, "inpaint: 35 model evaluations (jumps 2, jump length 5)\n");
  dxt_out_free(&o);
  check_grid("inpaint.png", 4, 4);
  const char *invert[] = {"invert", "tiny", "--image", "test:2", "-o", "invert.png", NULL};
  o = ok(invert);
  HAS(o.out, "invert: round trip to t = 20 over 20 DDIM steps: rms error ");
  dxt_out_free(&o);
  check_grid("invert.png", 3, 3);
  /* Halfway: ddim's 50 steps are all 20, so 10 of them. */
  const char *half[] = {"invert", "tiny", "--image", "test:2", "--t", "10", "--tag", "half", NULL};
  o = ok(half);
  HAS(o.out, "invert: round trip to t = 10 over 10 DDIM steps: rms error ");
  dxt_out_free(&o);
  char *tags = stored();
  ck_assert_str_eq(tags, "edit:4 half:3 inpaint:4 interpolate:5 invert:3");
  free(tags);
}
END_TEST

/* The grid is the input, the kept pixels, then the fillings: in every
 * filling the left half (white in the mask) is the input's, byte for byte. */
START_TEST(inpainting_keeps_the_known_pixels) {
  write_png("mask.png", 8, 8, 1, left_half);
  const char *inpaint[] = {"inpaint",  "tiny",        "--image", "test:3", "--mask",
                           "mask.png", "--n",         "3",       "--seed", "7",
                           "-o",       "inpaint.png", NULL};
  dxt_out o = ok(inpaint);
  dxt_out_free(&o);
  dx_image g = read_png("inpaint.png");
  ck_assert_int_eq(g.width, 5 * 10 + 2);
  int kept = 0, changed = 0;
  for (int k = 2; k < 5; k++)
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        uint8_t in = g.pixels[(2 + y) * g.width + 2 + x];
        uint8_t out = g.pixels[(2 + y) * g.width + 2 + 10 * k + x];
        if (x < 4) {
          ck_assert_int_eq(out, in);
          kept++;
        } else {
          changed += out != in;
        }
      }
  ck_assert_int_eq(kept, 3 * 32);
  ck_assert_int_gt(changed, 3 * 16);
  dx_image_free(&g);
}
END_TEST

static int grey(int x, int y) { return (x * 31 + y * 17) % 256; }

START_TEST(wrong_inputs_are_refused_with_one_line) {
  write_png("big.png", 9, 8, 1, grey);
  write_png("rgb.png", 8, 8, 3, grey);
  write_png("mask9.png", 9, 9, 1, left_half);
  write_png("mask.png", 8, 8, 1, left_half);
  static const char *const cases[][9] = {
      {"edit", "tiny", "--image", "big.png", NULL},
      {"edit", "tiny", "--image", "rgb.png", NULL},
      {"inpaint", "tiny", "--image", "test:1", "--mask", "mask9.png", NULL},
      {"interpolate", "tiny", "--a", "test:1", "--b", "test:99", NULL},
      {"interpolate", "tiny", "--a", "test:1", "--b", "test:2", "--t", "21", NULL},
      {"edit", "tiny", "--image", "missing.png", NULL},
  };
  static const char *const want[] = {
      "ddpmx edit: big.png: 9x8 with 1 channel, but the run's images are 8x8 with 1\n",
      "ddpmx edit: rgb.png: 8x8 with 3 channels, but the run's images are 8x8 with 1\n",
      "ddpmx inpaint: mask9.png: 9x9 with 1 channel, but the run's images are 8x8 with 1\n",
      "ddpmx interpolate: test:99: the run's test split has 8 images (0..7)\n",
      "ddpmx interpolate: step 21 is outside the run's 1..20\n",
      "ddpmx edit: missing.png: ",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    dxt_out o = dxt_cli(cases[i]);
    ck_assert_msg(o.code == 1, "case %zu: exit %d\n%s", i, o.code, o.err);
    const char *line = strchr(o.err, '\n') + 1; /* after "run 1, checkpoint at step 4" */
    HAS(line, want[i]);
    ck_assert_msg(strchr(line, '\n') == line + strlen(line) - 1, "more than one line: %s", line);
    dxt_out_free(&o);
  }
  static const char *const usage[][10] = {
      {"edit", "tiny", NULL},
      {"edit", "tiny", "--image", "test:x", NULL},
      {"edit", "tiny", "--image", "test:1", "--strength", "1.5", NULL},
      {"interpolate", "tiny", "--a", "test:1", NULL},
      {"interpolate", "tiny", "--a", "test:1", "--b", "test:2", "--steps", "1", NULL},
      {"inpaint", "tiny", "--image", "test:1", NULL},
      {"invert", "tiny", "--image", "test:1", "--sampler", "beta", NULL},
  };
  for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
    dxt_out o = dxt_cli(usage[i]);
    ck_assert_msg(o.code == 2, "usage %zu: exit %d\n%s", i, o.code, o.err);
    dxt_out_free(&o);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("i2i");
  TCase *tc = tcase_create("loops");
  DXT_ADD(tc, dynamic_thresholding_matches_a_hand_computation);
  DXT_ADD(tc, the_sampling_loop_thresholds_x0);
  DXT_ADD(tc, repaint_keeps_the_known_pixels);
  DXT_ADD(tc, sdedit_starts_at_t0);
  DXT_ADD(tc, interpolation_shares_the_step_noise);
  DXT_ADD(tc, ddim_inversion_round_trip);
  suite_add_tcase(s, tc);
  TCase *cmd = tcase_create("commands");
  tcase_add_checked_fixture(cmd, tiny_run, cleanup);
  DXT_ADD(cmd, each_command_stores_its_grid);
  DXT_ADD(cmd, inpainting_keeps_the_known_pixels);
  DXT_ADD(cmd, wrong_inputs_are_refused_with_one_line);
  suite_add_tcase(s, cmd);
  return s;
}

int main(void) { return dxt_run(suite()); }
