/* dx_conv2d: forward against a naive float64 loop, gradients of x, w and b
 * against central finite differences (float64, tolerance 1e-6 relative),
 * float32 against float64 (1e-5 relative), over awkward shapes; shape errors. */
#include <stdlib.h>

#include "dx_test.h"

typedef struct conv_case {
  const char *what;
  int64_t n, ci, h, w, co, kh, kw;
  int stride, pad, groups;
  bool bias;
  int threads;
} conv_case;

static const conv_case cases[] = {
    {"odd sizes 3x3", 2, 3, 7, 5, 4, 3, 3, 1, 1, 1, true, 2},
    {"1x1 direct", 2, 4, 5, 3, 3, 1, 1, 1, 0, 1, true, 2},
    {"1x1 spatial, 3x3 pad 1", 3, 4, 1, 1, 2, 3, 3, 1, 1, 1, true, 2},
    {"1x1 spatial, 1x1 kernel", 2, 3, 1, 1, 5, 1, 1, 1, 0, 1, false, 2},
    {"stride 2, pad 0", 2, 2, 9, 8, 3, 3, 3, 2, 0, 1, true, 2},
    {"stride 2, pad 1, 4x4", 2, 3, 8, 8, 2, 4, 4, 2, 1, 1, false, 2},
    {"1x1 stride 2", 2, 3, 5, 6, 4, 1, 1, 2, 0, 1, true, 2},
    {"non-square kernel 2x3, pad 2", 2, 2, 4, 6, 3, 2, 3, 1, 2, 1, true, 2},
    {"depthwise 7x7 (ConvNeXt)", 2, 4, 9, 8, 4, 7, 7, 1, 3, 4, true, 2},
    {"groups 2", 2, 4, 6, 5, 6, 3, 3, 1, 1, 2, true, 2},
    {"groups 2, 1x1 direct", 2, 4, 3, 3, 6, 1, 1, 1, 0, 2, true, 2},
    {"batch 1", 1, 3, 6, 7, 2, 3, 3, 1, 1, 1, true, 2},
    {"batch 1, depthwise, stride 2", 1, 3, 7, 7, 3, 3, 3, 2, 1, 3, true, 2},
    {"one thread", 3, 3, 5, 5, 2, 3, 3, 1, 1, 1, true, 1},
    {"kernel equals padded input", 2, 2, 3, 3, 2, 5, 5, 1, 1, 1, true, 2},
    /* More unrolled patches than one band holds: the kernels split each
     * image into bands of output rows. */
    {"banded 3x3", 2, 16, 40, 30, 4, 3, 3, 1, 1, 1, true, 2},
    {"banded, batch 1", 1, 16, 30, 40, 3, 3, 3, 1, 1, 1, true, 2},
    {"banded, groups 2, stride 2", 3, 16, 50, 48, 4, 3, 3, 2, 1, 2, true, 2},
    /* float32 stride-1 convolutions on a CPU with AVX-512 take the implicit
     * GEMM (conv_implicit.c): output channels beyond one tile (7) and one
     * vector (16), groups of images with a short last group, a 7x7 kernel
     * with 49 taps, no padding. */
    {"17 out channels, 5 images", 5, 6, 3, 4, 17, 3, 3, 1, 1, 1, true, 2},
    {"7x7 pad 3, 1 in channel", 3, 1, 9, 10, 9, 7, 7, 1, 3, 1, true, 2},
    {"70 out channels, pad 0", 2, 3, 6, 5, 70, 3, 3, 1, 0, 1, false, 2},
    {"40 channels, 7 images", 7, 40, 5, 6, 40, 3, 3, 1, 1, 1, true, 2},
    {"depthwise 7x7, 9 images", 9, 3, 5, 4, 3, 7, 7, 1, 3, 3, true, 2},
    {"depthwise 3x3 pad 0", 3, 5, 6, 7, 5, 3, 3, 1, 0, 5, false, 2},
    /* 3x3 with padding 1 and at least 8 channels each way take Winograd's
     * F(2x2, 3x3) there (conv_winograd.c), forward and backward-data: odd
     * sizes (half tiles), rows of more than 16 tiles (two vectors), output
     * channels beyond one tile, one thread. */
    {"Winograd, odd sizes, 35 wide", 5, 9, 7, 35, 23, 3, 3, 1, 1, 1, true, 2},
    {"Winograd, 8 channels, 4x4", 6, 8, 4, 4, 8, 3, 3, 1, 1, 1, false, 2},
    {"Winograd, one thread, 1x1 images", 3, 12, 1, 1, 10, 3, 3, 1, 1, 1, true, 1},
    {"Winograd, 3 images, 9x14", 3, 16, 9, 14, 15, 3, 3, 1, 1, 1, true, 1},
    {"Winograd, 32 out channels (whole vectors)", 4, 8, 6, 5, 32, 3, 3, 1, 1, 1, true, 2},
    {"1x1, 19 -> 30 channels, 9x9", 5, 19, 9, 9, 30, 1, 1, 1, 0, 1, true, 2},
    /* float32 1x1 backward-filter's own tiles (conv_pointwise.c): images in
     * groups of one (40x40 fills a group), threads splitting 5 images 3 + 2 */
    {"1x1, 19 -> 30 channels, 40x40", 5, 19, 40, 40, 30, 1, 1, 1, 0, 1, true, 2},
    {"1x1, 7 -> 5 channels, 40x40, one thread", 3, 7, 40, 40, 5, 1, 1, 1, 0, 1, true, 1},
};

static int64_t out_size(int64_t in, int64_t k, int stride, int pad) {
  return (in + 2 * pad - k) / stride + 1;
}

/* y = conv(x, w) + b, the definition (PyTorch's Conv2d, a cross-correlation)
 * summed in float64 straight from the indices. */
static double *ref_conv(const conv_case *c, const double *x, const double *w, const double *b) {
  int64_t ho = out_size(c->h, c->kh, c->stride, c->pad),
          wo = out_size(c->w, c->kw, c->stride, c->pad);
  int64_t cig = c->ci / c->groups, cog = c->co / c->groups;
  double *y = malloc((size_t)(c->n * c->co * ho * wo) * sizeof *y);
  for (int64_t n = 0; n < c->n; n++)
    for (int64_t o = 0; o < c->co; o++)
      for (int64_t i = 0; i < ho; i++)
        for (int64_t j = 0; j < wo; j++) {
          double acc = b ? b[o] : 0;
          for (int64_t q = 0; q < cig; q++)
            for (int64_t u = 0; u < c->kh; u++)
              for (int64_t v = 0; v < c->kw; v++) {
                int64_t ih = i * c->stride - c->pad + u, iw = j * c->stride - c->pad + v;
                if (ih < 0 || ih >= c->h || iw < 0 || iw >= c->w) continue;
                int64_t ch = (o / cog) * cig + q;
                acc += x[((n * c->ci + ch) * c->h + ih) * c->w + iw] *
                       w[((o * cig + q) * c->kh + u) * c->kw + v];
              }
          y[((n * c->co + o) * ho + i) * wo + j] = acc;
        }
  return y;
}

static dx_tensor *conv_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  const conv_case *c = user;
  return dx_conv2d(ctx, in[0], in[1], c->bias ? in[2] : NULL, c->stride, c->pad, c->groups);
}

static void make_inputs(dx_ctx *ctx, const conv_case *c, dx_tensor **in, uint64_t seed) {
  int64_t xs[4] = {c->n, c->ci, c->h, c->w}, ws[4] = {c->co, c->ci / c->groups, c->kh, c->kw};
  int64_t bs[1] = {c->co};
  in[0] = dxt_param(ctx, DX_F64, 4, xs, -1, 1, seed);
  in[1] = dxt_param(ctx, DX_F64, 4, ws, -1, 1, seed + 1);
  in[2] = dxt_param(ctx, DX_F64, 1, bs, -1, 1, seed + 2);
}

START_TEST(conv_forward_matches_naive) {
  const conv_case *c = &cases[_i];
  dx_ctx *ctx = dxt_ctx(c->threads);
  dx_tensor *in[3];
  make_inputs(ctx, c, in, 100 + 3 * (uint64_t)_i);
  dx_tensor *y = conv_fn(ctx, in, (void *)c);
  ck_assert_msg(y != NULL, "%s: %s", c->what, dx_error_message(ctx));
  int64_t ho = out_size(c->h, c->kh, c->stride, c->pad),
          wo = out_size(c->w, c->kw, c->stride, c->pad);
  ck_assert_int_eq(y->shape[0], c->n);
  ck_assert_int_eq(y->shape[1], c->co);
  ck_assert_int_eq(y->shape[2], ho);
  ck_assert_int_eq(y->shape[3], wo);
  double *x = dxt_values(ctx, in[0]), *w = dxt_values(ctx, in[1]), *b = dxt_values(ctx, in[2]);
  double *want = ref_conv(c, x, w, c->bias ? b : NULL), *got = dxt_values(ctx, y);
  double err = dxt_rel_err(got, want, dx_numel(y), 1e-12);
  ck_assert_msg(err <= 1e-13, "%s: forward differs from the naive loop by %.3g", c->what, err);
  free(x), free(w), free(b), free(want), free(got);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(conv_gradients) {
  const conv_case *c = &cases[_i];
  dx_ctx *ctx = dxt_ctx(c->threads);
  dx_tensor *in[3];
  make_inputs(ctx, c, in, 200 + 3 * (uint64_t)_i);
  /* Probes spread over every element of small inputs, a sample of large ones. */
  dxt_gradcheck_opts o = {.max_probe = 300};
  dxt_gradcheck(ctx, conv_fn, in, c->bias ? 3 : 2, (void *)c, &o);
  dxt_f32_vs_f64(ctx, conv_fn, in, c->bias ? 3 : 2, (void *)c, 1e-5);
  dx_ctx_free(ctx);
}
END_TEST

/* x, w and b each used twice: y = conv(conv(x, w, b), w, b) + x-dependent
 * second use through a product. Gradients must sum both contributions,
 * which fails if a backward kernel overwrites instead of accumulating. */
static dx_tensor *twice_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  dx_tensor *h =
      dx_conv2d(ctx, dx_conv2d(ctx, in[0], in[1], in[2], 1, 1, 1), in[1], in[2], 1, 1, 1);
  int64_t flat[2] = {6, 20};
  return dx_matmul(ctx, dx_reshape(ctx, h, 2, flat), dx_reshape(ctx, in[0], 2, flat), false, true);
}

/* The same with 1x1 and 3x3 convolutions of 20 channels on 6x6 maps (the
 * float32 kernels' shapes: several vectors of positions), x also added to
 * the output: in float32 each backward-data must add to the gradient that
 * the later use already left in x's. */
static dx_tensor *twice_wide_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  int k = *(const int *)user, pad = k / 2;
  dx_tensor *h =
      dx_conv2d(ctx, dx_conv2d(ctx, in[0], in[1], in[2], 1, pad, 1), in[1], in[2], 1, pad, 1);
  return dx_add(ctx, h, in[0]);
}

START_TEST(conv_gradients_accumulate_over_uses) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t xs[4] = {2, 3, 4, 5}, ws[4] = {3, 3, 3, 3}, bs[1] = {3};
  dx_tensor *in[3] = {dxt_param(ctx, DX_F64, 4, xs, -1, 1, 1),
                      dxt_param(ctx, DX_F64, 4, ws, -1, 1, 2),
                      dxt_param(ctx, DX_F64, 1, bs, -1, 1, 3)};
  dxt_gradcheck(ctx, twice_fn, in, 3, NULL, NULL);
  for (int k = 1; k <= 3; k += 2) {
    int64_t xw[4] = {3, 20, 6, 6}, ww[4] = {20, 20, k, k}, bw[1] = {20};
    dx_tensor *wide[3] = {dxt_param(ctx, DX_F64, 4, xw, -1, 1, 4),
                          dxt_param(ctx, DX_F64, 4, ww, -0.2, 0.2, 5),
                          dxt_param(ctx, DX_F64, 1, bw, -1, 1, 6)};
    dxt_f32_vs_f64(ctx, twice_wide_fn, wide, 3, &k, 1e-5);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* sum(y^2) through the tape: a one-element loss built from ops of this file. */
static dx_tensor *sum_squares(dx_ctx *ctx, dx_tensor *y) {
  int64_t row[2] = {1, dx_numel(y)}, col[2] = {dx_numel(y), 1}, one[1] = {1};
  dx_tensor *s =
      dx_matmul(ctx, dx_reshape(ctx, y, 2, row), dx_reshape(ctx, y, 2, col), false, false);
  return dx_reshape(ctx, s, 1, one);
}

/* Only inputs that require a gradient get one: a constant w (or x) must not
 * be handed a gradient buffer, and the other input still gets its gradient. */
START_TEST(conv_gradient_of_one_input_only) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t xs[4] = {2, 2, 5, 5}, ws[4] = {3, 2, 3, 3};
  dx_tensor *xp = dxt_param(ctx, DX_F64, 4, xs, -1, 1, 1),
            *wp = dxt_param(ctx, DX_F64, 4, ws, -1, 1, 2);
  dx_tensor *xc = dx_tensor_new_persistent(ctx, DX_F64, 4, xs);
  dx_tensor *wc = dx_tensor_new_persistent(ctx, DX_F64, 4, ws);
  dx_tensor_copy(ctx, xc, xp), dx_tensor_copy(ctx, wc, wp);
  ck_assert_int_eq(dx_backward(ctx, sum_squares(ctx, dx_conv2d(ctx, xp, wc, NULL, 1, 1, 1))),
                   DX_OK);
  ck_assert_ptr_null(wc->grad);
  ck_assert_int_eq(dx_backward(ctx, sum_squares(ctx, dx_conv2d(ctx, xc, wp, NULL, 1, 1, 1))),
                   DX_OK);
  ck_assert_ptr_null(xc->grad);
  double *gx = dxt_values(ctx, xp->grad), *gw = dxt_values(ctx, wp->grad), sx = 0, sw = 0;
  for (int i = 0; i < 50; i++)
    sx += gx[i] * gx[i];
  for (int i = 0; i < 54; i++)
    sw += gw[i] * gw[i];
  ck_assert_double_gt(sx, 0);
  ck_assert_double_gt(sw, 0);
  free(gx), free(gw);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(conv_shape_errors_are_clear) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t xs[4] = {2, 6, 5, 5}, ws[4] = {4, 3, 3, 3}, wbad[4] = {4, 4, 3, 3}, bs[1] = {3};
  int64_t big[4] = {4, 6, 9, 9}, x3[3] = {6, 5, 5};
  dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, xs), *w = dx_tensor_new(ctx, DX_F32, 4, ws);
  ck_assert_ptr_nonnull(dx_conv2d(ctx, x, w, NULL, 1, 1, 2));
  ck_assert_ptr_null(dx_conv2d(ctx, x, dx_tensor_new(ctx, DX_F32, 4, wbad), NULL, 1, 1, 2));
  ck_assert_str_eq(
      dx_error_message(ctx),
      "conv2d: x (2, 6, 5, 5) has 6 channels and w (4, 4, 3, 3) expects 4 x 2 groups; both "
      "channel counts (6 in, 4 out) must divide by groups");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_conv2d(ctx, x, w, dx_tensor_new(ctx, DX_F32, 1, bs), 1, 1, 2));
  ck_assert_str_eq(dx_error_message(ctx), "conv2d: bias (3) must be (4), one per output channel");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_conv2d(ctx, x, dx_tensor_new(ctx, DX_F32, 4, big), NULL, 1, 1, 1));
  ck_assert_str_eq(dx_error_message(ctx),
                   "conv2d: kernel 9x9 is larger than the padded input 7x7 of x (2, 6, 5, 5)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_conv2d(ctx, x, w, NULL, 0, 1, 2));
  ck_assert_str_eq(dx_error_message(ctx),
                   "conv2d: stride 0, pad 1, groups 2: need stride >= 1, pad >= 0, groups >= 1");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_conv2d(ctx, dx_tensor_new(ctx, DX_F32, 3, x3), w, NULL, 1, 1, 2));
  ck_assert_str_eq(
      dx_error_message(ctx),
      "conv2d: x (6, 5, 5) and w (4, 3, 3, 3) must both be 4-D (N,C,H,W), (Co,Ci/groups,kh,kw)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_conv2d(ctx, x, dx_tensor_new(ctx, DX_F64, 4, ws), NULL, 1, 1, 2));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("conv");
  TCase *tc = tcase_create("conv");
  int n = (int)(sizeof cases / sizeof cases[0]);
  tcase_add_loop_test(tc, conv_forward_matches_naive, 0, n);
  tcase_add_loop_test(tc, conv_gradients, 0, n);
  DXT_ADD(tc, conv_gradients_accumulate_over_uses);
  DXT_ADD(tc, conv_gradient_of_one_input_only);
  DXT_ADD(tc, conv_shape_errors_are_clear);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
