/* Data movement: permute, concat / slice / chunk along channels, pixel
 * (un)shuffle and nearest upsampling. Forward against naive index formulas
 * (and PyTorch's PixelUnshuffle order), gradients against finite
 * differences, float32 against float64, bad arguments. */
#include <stdlib.h>

#include "dx_test.h"

/* Row-major strides of a shape. */
static void strides_of(int ndim, const int64_t *shape, int64_t *st) {
  st[ndim - 1] = 1;
  for (int d = ndim - 2; d >= 0; d--)
    st[d] = st[d + 1] * shape[d + 1];
}

/* Values of t against want (exact: these ops only move numbers). */
static void expect_values(dx_ctx *ctx, const dx_tensor *t, const double *want, const char *what) {
  ck_assert_msg(t != NULL, "%s: %s", what, dx_error_message(ctx));
  double *got = dxt_values(ctx, t);
  for (int64_t i = 0; i < dx_numel(t); i++)
    ck_assert_msg(got[i] == want[i], "%s: element %lld is %g, want %g", what, (long long)i, got[i],
                  want[i]);
  free(got);
}

static void expect_shape(const dx_tensor *t, int ndim, int64_t s0, int64_t s1, int64_t s2,
                         int64_t s3) {
  int64_t s[4] = {s0, s1, s2, s3};
  ck_assert_int_eq(t->ndim, ndim);
  for (int d = 0; d < ndim; d++)
    ck_assert_int_eq(t->shape[d], s[d]);
}

/* --- permute -------------------------------------------------------------------------- */

/* y[i0..] = x[j] with x's index along dim perm[k] equal to y's index along k. */
static double *ref_permute(const double *x, int ndim, const int64_t *shape, const int *perm) {
  int64_t xs[4], yshape[4], ys[4], n = 1;
  strides_of(ndim, shape, xs);
  for (int k = 0; k < ndim; k++)
    yshape[k] = shape[perm[k]], n *= shape[k];
  strides_of(ndim, yshape, ys);
  double *y = malloc((size_t)n * sizeof *y);
  for (int64_t i = 0; i < n; i++) {
    int64_t src = 0;
    for (int k = 0; k < ndim; k++)
      src += (i / ys[k] % yshape[k]) * xs[perm[k]];
    y[i] = x[src];
  }
  return y;
}

typedef struct perm_arg {
  int perm[4];
} perm_arg;

static dx_tensor *permute_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  return dx_permute(ctx, in[0], ((perm_arg *)user)->perm);
}

/* Every permutation of 0..ndim-1 in turn, by Heap's algorithm. */
static int all_perms(int ndim, perm_arg *out) {
  int p[4] = {0, 1, 2, 3}, c[4] = {0}, count = 0, i = 0;
  for (int k = 0; k < 4; k++)
    out[count].perm[k] = p[k];
  count++;
  while (i < ndim) {
    if (c[i] < i) {
      int j = i % 2 ? c[i] : 0, t = p[j];
      p[j] = p[i], p[i] = t;
      for (int k = 0; k < 4; k++)
        out[count].perm[k] = p[k];
      count++, c[i]++, i = 0;
    } else {
      c[i++] = 0;
    }
  }
  return count;
}

static void check_all_perms(dx_ctx *ctx, int ndim, const int64_t *shape, bool grads) {
  perm_arg perms[24];
  int np = all_perms(ndim, perms);
  dx_tensor *x = dxt_param(ctx, DX_F64, ndim, shape, -1, 1, (uint64_t)ndim);
  double *xv = dxt_values(ctx, x);
  for (int i = 0; i < np; i++) {
    double *want = ref_permute(xv, ndim, shape, perms[i].perm);
    expect_values(ctx, permute_fn(ctx, &x, &perms[i]), want, "permute");
    if (grads) dxt_gradcheck(ctx, permute_fn, &x, 1, &perms[i], NULL);
    free(want);
  }
  free(xv);
  dx_tensor_free(ctx, x);
}

START_TEST(permute_every_order) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s4[4] = {2, 3, 4, 5}, s3[3] = {3, 1, 5}, s2[2] = {4, 7}, s1[1] = {5};
  check_all_perms(ctx, 4, s4, true);
  check_all_perms(ctx, 3, s3, true);
  check_all_perms(ctx, 2, s2, true);
  check_all_perms(ctx, 1, s1, true);
  dx_ctx_free(ctx);
}
END_TEST

/* The attention transpose (0,1,3,2) and its inverse on planes that are not
 * multiples of the kernel's tile, on two threads. */
START_TEST(permute_attention_transpose) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t shape[4] = {2, 4, 37, 130};
  perm_arg p = {{0, 1, 3, 2}}, q = {{2, 1, 3, 0}};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 9);
  double *xv = dxt_values(ctx, x);
  dxt_gradcheck_opts o = {.max_probe = 64};
  perm_arg *cases[2] = {&p, &q};
  for (int i = 0; i < 2; i++) {
    double *want = ref_permute(xv, 4, shape, cases[i]->perm);
    expect_values(ctx, permute_fn(ctx, &x, cases[i]), want, "large permute");
    dxt_gradcheck(ctx, permute_fn, &x, 1, cases[i], &o);
    dxt_f32_vs_f64(ctx, permute_fn, &x, 1, cases[i], 1e-7);
    free(want);
  }
  free(xv);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(permute_rejects_non_permutations) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[3] = {2, 3, 4};
  int twice[3] = {0, 0, 1}, outside[3] = {0, 1, 3};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F32, 3, shape);
  ck_assert_ptr_null(dx_permute(ctx, x, twice));
  ck_assert_str_eq(dx_error_message(ctx),
                   "permute: the order given for (2, 3, 4) is not a permutation of 0..2");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_permute(ctx, x, outside));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

/* --- concat, slice, chunk ------------------------------------------------------------- */

/* Channels [c0, c0 + nc) of x (N, C, S) written to y (N, Cy, S) from channel y0. */
static void ref_copy_channels(const double *x, int64_t c, int64_t c0, int64_t nc, double *y,
                              int64_t cy, int64_t y0, int64_t n, int64_t s) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t k = 0; k < nc; k++)
      for (int64_t j = 0; j < s; j++)
        y[(i * cy + y0 + k) * s + j] = x[(i * c + c0 + k) * s + j];
}

typedef struct concat_arg {
  int n;
  int order[8]; /* which input goes at each position: repeats allowed */
} concat_arg;

static dx_tensor *concat_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  concat_arg *a = user;
  dx_tensor *xs[8];
  for (int i = 0; i < a->n; i++)
    xs[i] = in[a->order[i]];
  return dx_concat(ctx, xs, a->n);
}

/* Inputs (2, c_i, 3, 5) with c_i = 1, 2, 3, ...; checks the concat in a's order. */
static void check_concat(dx_ctx *ctx, int n_in, concat_arg *a) {
  dx_tensor *in[8];
  double *v[8];
  int64_t total = 0;
  for (int i = 0; i < a->n; i++)
    total += a->order[i] + 1;
  double *want = malloc((size_t)(2 * total * 15) * sizeof *want);
  for (int i = 0; i < n_in; i++) {
    int64_t shape[4] = {2, i + 1, 3, 5};
    in[i] = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 100 + (uint64_t)i);
    v[i] = dxt_values(ctx, in[i]);
  }
  for (int i = 0, c0 = 0; i < a->n; c0 += a->order[i] + 1, i++)
    ref_copy_channels(v[a->order[i]], a->order[i] + 1, 0, a->order[i] + 1, want, total, c0, 2, 15);
  dx_tensor *y = concat_fn(ctx, in, a);
  expect_values(ctx, y, want, "concat");
  expect_shape(y, 4, 2, total, 3, 5);
  dxt_gradcheck(ctx, concat_fn, in, n_in, a, NULL);
  dxt_f32_vs_f64(ctx, concat_fn, in, n_in, a, 1e-7);
  for (int i = 0; i < n_in; i++)
    free(v[i]), dx_tensor_free(ctx, in[i]);
  free(want);
}

START_TEST(concat_along_channels) {
  dx_ctx *ctx = dxt_ctx(1);
  concat_arg two = {2, {0, 1}}, three = {3, {2, 0, 1}}, same = {2, {0, 0}};
  concat_arg six = {6, {0, 1, 2, 1, 2, 0}}; /* more than a tape node holds */
  check_concat(ctx, 2, &two);
  check_concat(ctx, 3, &three);
  check_concat(ctx, 1, &same);
  check_concat(ctx, 3, &six);
  dx_ctx_free(ctx);
}
END_TEST

/* (N, C) tensors: the dims after the channels may be absent. */
START_TEST(concat_and_chunk_of_matrices) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[2] = {3, 4};
  dx_tensor *x = dxt_param(ctx, DX_F64, 2, shape, -1, 1, 7), *parts[2];
  ck_assert_int_eq(dx_chunk(ctx, x, 2, parts), DX_OK);
  dx_tensor *swapped[2] = {parts[1], parts[0]};
  dx_tensor *y = dx_concat(ctx, swapped, 2);
  double *xv = dxt_values(ctx, x), want[12];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      want[i * 4 + j] = xv[i * 4 + (j + 2) % 4];
  expect_values(ctx, y, want, "swapped halves");
  expect_shape(y, 2, 3, 4, 0, 0);
  free(xv);
  dx_ctx_free(ctx);
}
END_TEST

typedef struct slice_arg {
  int64_t c0, nc;
} slice_arg;

static dx_tensor *slice_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  slice_arg *a = user;
  return dx_slice_channels(ctx, in[0], a->c0, a->nc);
}

/* The three chunks joined in the order 2, 0, 2: chunk 2 is used twice and
 * chunk 1 not at all, so its gradient must be zero. */
static dx_tensor *chunk_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  dx_tensor *c[3];
  if (dx_chunk(ctx, in[0], 3, c) != DX_OK) return NULL;
  dx_tensor *order[3] = {c[2], c[0], c[2]};
  return dx_concat(ctx, order, 3);
}

START_TEST(slice_and_chunk) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[4] = {2, 6, 3, 1};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 3);
  double *xv = dxt_values(ctx, x), want[2 * 6 * 3];
  slice_arg a = {1, 4};
  ref_copy_channels(xv, 6, 1, 4, want, 4, 0, 2, 3);
  expect_values(ctx, slice_fn(ctx, &x, &a), want, "slice");
  dxt_gradcheck(ctx, slice_fn, &x, 1, &a, NULL);
  dxt_f32_vs_f64(ctx, slice_fn, &x, 1, &a, 1e-7);
  ref_copy_channels(xv, 6, 4, 2, want, 6, 0, 2, 3);
  ref_copy_channels(xv, 6, 0, 2, want, 6, 2, 2, 3);
  ref_copy_channels(xv, 6, 4, 2, want, 6, 4, 2, 3);
  expect_values(ctx, chunk_fn(ctx, &x, NULL), want, "chunks 2, 0, 2");
  dxt_gradcheck(ctx, chunk_fn, &x, 1, NULL, NULL);
  free(xv);
  dx_ctx_free(ctx);
}
END_TEST

/* Copies of more than DX_CPU_PAR_MIN elements take the threaded path. */
START_TEST(large_channel_copies_on_two_threads) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t shape[4] = {8, 12, 28, 28};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 4);
  double *xv = dxt_values(ctx, x), *want = malloc(sizeof(double) * 8 * 5 * 784);
  slice_arg a = {6, 5};
  ref_copy_channels(xv, 12, 6, 5, want, 5, 0, 8, 784);
  expect_values(ctx, slice_fn(ctx, &x, &a), want, "large slice");
  dxt_gradcheck_opts o = {.max_probe = 64};
  dxt_gradcheck(ctx, slice_fn, &x, 1, &a, &o);
  free(xv), free(want);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(channel_ops_reject_bad_arguments) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t a[4] = {2, 3, 4, 4}, b[4] = {2, 3, 4, 5}, v[1] = {6};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F64, 4, a), *y = dx_tensor_zeros(ctx, DX_F64, 4, b),
            *out[2];
  dx_tensor *xy[2] = {x, y};
  ck_assert_ptr_null(dx_concat(ctx, xy, 2));
  ck_assert_str_eq(dx_error_message(ctx),
                   "concat: (2, 3, 4, 4) and (2, 3, 4, 5) differ in a dim other than channels");
  dx_clear_error(ctx);
  xy[1] = dx_tensor_zeros(ctx, DX_F32, 4, a);
  ck_assert_ptr_null(dx_concat(ctx, xy, 2));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_slice_channels(ctx, x, 2, 2));
  ck_assert_str_eq(dx_error_message(ctx),
                   "slice_channels: channels [2, 4) are not inside the 3 of (2, 3, 4, 4)");
  dx_clear_error(ctx);
  ck_assert_int_eq(dx_chunk(ctx, x, 2, out), DX_ERR_INVALID);
  ck_assert_str_eq(dx_error_message(ctx),
                   "chunk: 3 channels of (2, 3, 4, 4) do not split into 2 equal parts");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_slice_channels(ctx, dx_tensor_zeros(ctx, DX_F64, 1, v), 0, 1));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

/* --- pixel (un)shuffle, upsampling ------------------------------------------------------- */

typedef struct resample_arg {
  int r;
  dx_tensor *(*op)(dx_ctx *, dx_tensor *, int);
} resample_arg;

static dx_tensor *resample_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  resample_arg *a = user;
  return a->op(ctx, in[0], a->r);
}

/* y[n, c r^2 + i r + j, h, w] = x[n, c, h r + i, w r + j] (the definition in
 * torch.nn.PixelUnshuffle's documentation), visiting y in order. */
static double *ref_unshuffle(const double *x, int64_t n, int64_t c, int64_t h, int64_t w, int r) {
  int64_t ho = h / r, wo = w / r, k = 0;
  double *y = malloc((size_t)(n * c * h * w) * sizeof *y);
  for (int64_t b = 0; b < n; b++)
    for (int64_t ch = 0; ch < c; ch++)
      for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < r; j++)
          for (int64_t p = 0; p < ho; p++)
            for (int64_t q = 0; q < wo; q++)
              y[k++] = x[((b * c + ch) * h + p * r + i) * w + q * r + j];
  return y;
}

/* x = 0..47 as (1, 2, 4, 6); printed by
 *   /usr/bin/python3 -c 'import torch; x = torch.arange(48.).reshape(1, 2, 4, 6);
 *     print(torch.nn.PixelUnshuffle(2)(x).flatten().int().tolist())'   (torch 1.13) */
static const double torch_unshuffle[48] = {
    0,  2,  4,  12, 14, 16, 1,  3,  5,  13, 15, 17, 6,  8,  10, 18, 20, 22, 7,  9,  11, 19, 21, 23,
    24, 26, 28, 36, 38, 40, 25, 27, 29, 37, 39, 41, 30, 32, 34, 42, 44, 46, 31, 33, 35, 43, 45, 47};

START_TEST(pixel_unshuffle_matches_pytorch) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[4] = {1, 2, 4, 6};
  double v[48];
  for (int i = 0; i < 48; i++)
    v[i] = i;
  dx_tensor *x = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, x, v, DX_F64);
  dx_tensor *y = dx_pixel_unshuffle(ctx, x, 2);
  expect_shape(y, 4, 1, 8, 2, 3);
  expect_values(ctx, y, torch_unshuffle, "PixelUnshuffle(2)");
  expect_values(ctx, dx_pixel_shuffle(ctx, y, 2), v, "PixelShuffle(2) of it");
  dx_ctx_free(ctx);
}
END_TEST

static void check_unshuffle(dx_ctx *ctx, const int64_t *shape, int r, const dxt_gradcheck_opts *o) {
  resample_arg un = {r, dx_pixel_unshuffle}, sh = {r, dx_pixel_shuffle};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 11);
  double *xv = dxt_values(ctx, x);
  double *want = ref_unshuffle(xv, shape[0], shape[1], shape[2], shape[3], r);
  dx_tensor *y = dx_pixel_unshuffle(ctx, x, r);
  expect_values(ctx, y, want, "pixel_unshuffle");
  expect_shape(y, 4, shape[0], shape[1] * r * r, shape[2] / r, shape[3] / r);
  expect_values(ctx, dx_pixel_shuffle(ctx, y, r), xv, "pixel_shuffle(pixel_unshuffle(x))");
  dxt_gradcheck(ctx, resample_fn, &x, 1, &un, o);
  dxt_f32_vs_f64(ctx, resample_fn, &x, 1, &un, 1e-7);
  int64_t small[4] = {shape[0], shape[1] * r * r, shape[2] / r, shape[3] / r};
  dx_tensor *z = dxt_param(ctx, DX_F64, 4, small, -1, 1, 12);
  dxt_gradcheck(ctx, resample_fn, &z, 1, &sh, o);
  dxt_f32_vs_f64(ctx, resample_fn, &z, 1, &sh, 1e-7);
  free(xv), free(want);
  dx_tensor_free(ctx, x), dx_tensor_free(ctx, z);
}

START_TEST(pixel_shuffles_and_gradients) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t odd[4] = {2, 3, 6, 10}, one[4] = {1, 1, 2, 2}, three[4] = {1, 2, 9, 3};
  int64_t large[4] = {4, 12, 28, 28};
  dxt_gradcheck_opts o = {.max_probe = 64};
  check_unshuffle(ctx, odd, 2, NULL);
  check_unshuffle(ctx, one, 2, NULL); /* to 1x1 spatial */
  check_unshuffle(ctx, three, 3, NULL);
  check_unshuffle(ctx, large, 2, &o); /* threaded */
  dx_ctx_free(ctx);
}
END_TEST

/* y[n, c, h, w] = x[n, c, h / r, w / r] (nn.Upsample(mode='nearest')). */
static void check_upsample(dx_ctx *ctx, const int64_t *shape, int r, const dxt_gradcheck_opts *o) {
  resample_arg up = {r, dx_upsample_nearest};
  dx_tensor *x = dxt_param(ctx, DX_F64, 4, shape, -1, 1, 13);
  double *xv = dxt_values(ctx, x);
  int64_t h = shape[2] * r, w = shape[3] * r, planes = shape[0] * shape[1];
  double *want = malloc((size_t)(planes * h * w) * sizeof *want);
  for (int64_t p = 0; p < planes; p++)
    for (int64_t i = 0; i < h; i++)
      for (int64_t j = 0; j < w; j++)
        want[(p * h + i) * w + j] = xv[(p * shape[2] + i / r) * shape[3] + j / r];
  dx_tensor *y = dx_upsample_nearest(ctx, x, r);
  expect_shape(y, 4, shape[0], shape[1], h, w);
  expect_values(ctx, y, want, "upsample_nearest");
  dxt_gradcheck(ctx, resample_fn, &x, 1, &up, o);
  dxt_f32_vs_f64(ctx, resample_fn, &x, 1, &up, 1e-6); /* sums of r^2 values in float32 */
  free(xv), free(want);
  dx_tensor_free(ctx, x);
}

START_TEST(upsample_nearest_and_gradients) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t odd[4] = {2, 3, 5, 7}, one[4] = {1, 2, 1, 1}, large[4] = {4, 12, 14, 14};
  dxt_gradcheck_opts o = {.max_probe = 64};
  check_upsample(ctx, odd, 2, NULL);
  check_upsample(ctx, odd, 3, NULL);
  check_upsample(ctx, one, 2, NULL);
  check_upsample(ctx, large, 2, &o); /* threaded */
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(resampling_rejects_bad_shapes) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s4[4] = {1, 3, 6, 5}, s3[3] = {1, 4, 4};
  dx_tensor *x = dx_tensor_zeros(ctx, DX_F32, 4, s4);
  ck_assert_ptr_null(dx_pixel_unshuffle(ctx, x, 2));
  ck_assert_str_eq(dx_error_message(ctx),
                   "pixel_unshuffle: H and W of (1, 3, 6, 5) must be divisible by 2");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_pixel_shuffle(ctx, x, 2));
  ck_assert_str_eq(dx_error_message(ctx),
                   "pixel_shuffle: the channels of (1, 3, 6, 5) must be divisible by 4");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_upsample_nearest(ctx, dx_tensor_zeros(ctx, DX_F32, 3, s3), 2));
  ck_assert_str_eq(dx_error_message(ctx), "upsample_nearest: x (1, 4, 4) must be 4-D (N, C, H, W)");
  dx_clear_error(ctx);
  ck_assert_ptr_null(dx_upsample_nearest(ctx, x, 0));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("movement");
  TCase *tc = tcase_create("movement");
  DXT_ADD(tc, permute_every_order);
  DXT_ADD(tc, permute_attention_transpose);
  DXT_ADD(tc, permute_rejects_non_permutations);
  DXT_ADD(tc, concat_along_channels);
  DXT_ADD(tc, concat_and_chunk_of_matrices);
  DXT_ADD(tc, slice_and_chunk);
  DXT_ADD(tc, large_channel_copies_on_two_threads);
  DXT_ADD(tc, channel_ops_reject_bad_arguments);
  DXT_ADD(tc, pixel_unshuffle_matches_pytorch);
  DXT_ADD(tc, pixel_shuffles_and_gradients);
  DXT_ADD(tc, upsample_nearest_and_gradients);
  DXT_ADD(tc, resampling_rejects_bad_shapes);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
