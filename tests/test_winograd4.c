/* The float32 forward pass of 3x3 convolutions by Winograd's F(4x4, 3x3)
 * (core/backend/cpu/conv_winograd4.c) against the float64 convolution
 * (itself checked against the definition in test_conv), at the U-Net's
 * shapes and at awkward ones: sizes that leave part tiles, rows of more
 * than one lane run (over 28 wide), runs that cross tile rows and images,
 * a last vector of tiles part empty, one and two threads. And the
 * transformed filters that the backend keeps between calls: weights
 * changed in place must give the new convolution. */
#include <stdlib.h>

#include "backend/cpu/conv.h"
#include "dx_test.h"

typedef struct w4_case {
  const char *what;
  int64_t n, ci, h, w, co;
  int threads;
} w4_case;

static const w4_case cases[] = {
    {"U-Net level 1, chunk of 8", 8, 28, 28, 28, 28, 1},
    {"U-Net level 2, chunk of 8", 8, 56, 14, 14, 56, 1},
    {"U-Net level 3, chunk of 8", 8, 112, 7, 7, 112, 1},
    {"U-Net level 1, 56 -> 28, two threads", 16, 56, 28, 28, 28, 2},
    {"odd sizes, 35 wide (runs of 7 and 2)", 5, 17, 7, 35, 23, 2},
    {"30 wide: a run of 7 and one of 1 per row", 2, 16, 5, 30, 19, 1},
    {"13x13, 17 out channels", 4, 20, 13, 13, 17, 2},
    {"3x3 images: one tile each, runs across images", 17, 16, 3, 3, 16, 1},
    {"1x1 images", 3, 18, 1, 1, 16, 1},
    {"9x14, 3 images", 3, 16, 9, 14, 25, 1},
    {"6x5, 32 out channels", 4, 16, 6, 5, 32, 2},
};

/* The float32 error relative to the largest output grows with the input
 * channels: measured 9.0e-7 to 2.6e-6 (112 channels, the U-Net's 7x7
 * level) over these cases, against 1.5e-7 to 5.0e-7 for F(2x2, 3x3)
 * (DDPMX_WINOGRAD4=0) and 1.5e-7 to 1.0e-6 for the implicit GEMM's direct
 * sums (DDPMX_WINOGRAD=0). The bound leaves 3.8x. */
#define TOL 1e-5

static dx_tensor *conv(dx_ctx *ctx, dx_tensor *x, dx_tensor *w, dx_tensor *b) {
  dx_tensor *y = dx_conv2d(ctx, x, w, b, 1, 1, 1);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  return y;
}

static dx_tensor *to_f32(dx_ctx *ctx, const dx_tensor *t) {
  dx_tensor *r = dx_param_new(ctx, DX_F32, t->ndim, t->shape, NULL);
  ck_assert_ptr_nonnull(r);
  dx_tensor_copy(ctx, r, t);
  return r;
}

/* The float32 forward's error relative to the largest output of float64's. */
static double f32_error(dx_ctx *ctx, dx_tensor **in64, dx_tensor **in32) {
  dx_tensor *y64 = conv(ctx, in64[0], in64[1], in64[2]),
            *y32 = conv(ctx, in32[0], in32[1], in32[2]);
  double *a = dxt_values(ctx, y32), *b = dxt_values(ctx, y64);
  double err = dxt_rel_err(a, b, dx_numel(y64), 1e-12);
  free(a), free(b);
  return err;
}

START_TEST(winograd4_forward_matches_float64) {
  const w4_case *c = &cases[_i];
  dx_ctx *ctx = dxt_ctx(c->threads);
  dx_set_grad_enabled(ctx, false);
  int64_t xs[4] = {c->n, c->ci, c->h, c->w}, ws[4] = {c->co, c->ci, 3, 3}, bs[1] = {c->co};
  /* weights of the size the U-Net's initialisation gives (1/sqrt(9 ci)) */
  double a = 1.0 / sqrt(9.0 * (double)c->ci);
  dx_tensor *in64[3] = {dxt_param(ctx, DX_F64, 4, xs, -1, 1, 10 + (uint64_t)_i),
                        dxt_param(ctx, DX_F64, 4, ws, -a, a, 20 + (uint64_t)_i),
                        dxt_param(ctx, DX_F64, 1, bs, -a, a, 30 + (uint64_t)_i)};
  dx_tensor *in32[3] = {to_f32(ctx, in64[0]), to_f32(ctx, in64[1]), to_f32(ctx, in64[2])};
  dx_conv2d_desc d = {.n = c->n,
                      .ci = c->ci,
                      .h = c->h,
                      .w = c->w,
                      .co = c->co,
                      .kh = 3,
                      .kw = 3,
                      .ho = c->h,
                      .wo = c->w,
                      .stride = 1,
                      .pad = 1,
                      .groups = 1,
                      .dtype = DX_F32};
  /* the shapes are the kernel's wherever it runs at all (AVX-512) */
  if (dx_conv_winograd4_ok(&(dx_conv2d_desc){.n = 8,
                                             .ci = 16,
                                             .h = 8,
                                             .w = 8,
                                             .co = 16,
                                             .kh = 3,
                                             .kw = 3,
                                             .ho = 8,
                                             .wo = 8,
                                             .stride = 1,
                                             .pad = 1,
                                             .groups = 1,
                                             .dtype = DX_F32}))
    ck_assert_msg(dx_conv_winograd4_ok(&d), "%s: not taken by F(4x4, 3x3)", c->what);
  double err = f32_error(ctx, in64, in32);
  ck_assert_msg(err <= TOL, "%s: float32 forward differs from float64 by %.3g", c->what, err);
  /* again: the transformed filter now comes from the backend's cache */
  double again = f32_error(ctx, in64, in32);
  ck_assert_msg(again == err, "%s: the second call gave error %.3g, the first %.3g", c->what, again,
                err);
  dx_ctx_free(ctx);
}
END_TEST

/* Weights written in place between two calls (as an optimiser step does):
 * the second call must use them, also when only the last float changed. */
START_TEST(winograd4_sees_weights_changed_in_place) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_set_grad_enabled(ctx, false);
  int64_t xs[4] = {4, 16, 12, 12}, ws[4] = {24, 16, 3, 3}, nw = 24 * 16 * 9;
  dx_tensor *x64 = dxt_param(ctx, DX_F64, 4, xs, -1, 1, 1),
            *w64 = dxt_param(ctx, DX_F64, 4, ws, -0.1, 0.1, 2);
  dx_tensor *in64[3] = {x64, w64, NULL}, *in32[3] = {to_f32(ctx, x64), to_f32(ctx, w64), NULL};
  ck_assert_double_le(f32_error(ctx, in64, in32), TOL);
  double *w = dxt_values(ctx, w64);
  for (int round = 0; round < 2; round++) {
    if (round == 0)
      w[nw - 1] += 1.0; /* one float: the cache compares all of them */
    else
      for (int64_t i = 0; i < nw; i++)
        w[i] = -w[i];
    ck_assert_int_eq(dx_tensor_write(ctx, w64, w, DX_F64), DX_OK);
    ck_assert_int_eq(dx_tensor_write(ctx, in32[1], w, DX_F64), DX_OK);
    double err = f32_error(ctx, in64, in32);
    ck_assert_msg(err <= TOL, "round %d: the old filter's transform was used (error %.3g)", round,
                  err);
  }
  free(w);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("winograd4");
  TCase *tc = tcase_create("winograd4");
  tcase_add_loop_test(tc, winograd4_forward_matches_float64, 0,
                      (int)(sizeof cases / sizeof cases[0]));
  DXT_ADD(tc, winograd4_sees_weights_changed_in_place);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
