/* The tensor core itself: arena, persistent tensors, tape, errors, random. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dx_test.h"
#include "tensor/batch_view.h"
#include "tensor/checkpoint.h"
#include "tensor/shares.h"

START_TEST(arena_reuses_memory_after_warmup) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[2] = {1000, 1000};
  for (int step = 0; step < 5; step++) {
    for (int i = 0; i < 20; i++)
      ck_assert_ptr_nonnull(dx_tensor_new(ctx, DX_F32, 2, shape));
    uint64_t before = dx_arena_stats_of(ctx).sys_allocs;
    dx_step_reset(ctx);
    if (step >= 2) ck_assert_uint_eq(dx_arena_stats_of(ctx).sys_allocs, before);
  }
  ck_assert_uint_ge(dx_arena_stats_of(ctx).peak, (size_t)20 * 4000000);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(write_read_round_trip_converts) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[1] = {5};
  double in[5] = {1.5, -2.25, 0, 1e-3, 3e7}, out[5];
  float outf[5];
  dx_tensor *t = dx_tensor_new(ctx, DX_F32, 1, shape);
  dx_tensor_write(ctx, t, in, DX_F64);
  dx_tensor_read(ctx, t, out, DX_F64);
  dx_tensor_read(ctx, t, outf, DX_F32);
  for (int i = 0; i < 5; i++) {
    ck_assert_double_eq((double)(float)in[i], out[i]);
    ck_assert_float_eq((float)in[i], outf[i]);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(bad_shapes_are_errors_not_crashes) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t bad[2] = {3, 0};
  ck_assert_ptr_null(dx_tensor_new(ctx, DX_F32, 2, bad));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  ck_assert_str_eq(dx_error_message(ctx), "tensor dimension 1 has size 0; sizes must be >= 1");
  /* The first error sticks; NULL inputs propagate without a new message. */
  int64_t s[1] = {4};
  ck_assert_ptr_null(dx_reshape(ctx, NULL, 1, s));
  ck_assert_str_eq(dx_error_message(ctx), "tensor dimension 1 has size 0; sizes must be >= 1");
  dx_clear_error(ctx);
  ck_assert_int_eq(dx_status_of(ctx), DX_OK);
  int64_t five[1] = {5}, six[1] = {6};
  dx_tensor *t = dx_tensor_new(ctx, DX_F32, 1, five);
  ck_assert_ptr_null(dx_reshape(ctx, t, 1, six));
  ck_assert_str_eq(dx_error_message(ctx), "reshape: (5) has 5 elements, the new shape 6");
  dx_ctx_free(ctx);
}
END_TEST

static dx_tensor *reshape_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)user;
  int64_t s[3] = {3, -1, 2};
  return dx_reshape(ctx, in[0], 3, s);
}

START_TEST(reshape_gradient) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[2] = {4, 3};
  dx_tensor *x = dxt_param(ctx, DX_F64, 2, shape, -1, 1, 1);
  dx_step_reset(ctx);
  dx_tensor *y = reshape_fn(ctx, &x, NULL);
  ck_assert_int_eq(y->ndim, 3);
  ck_assert_int_eq(y->shape[1], 2);
  dxt_gradcheck(ctx, reshape_fn, &x, 1, NULL, NULL);
  dxt_f32_vs_f64(ctx, reshape_fn, &x, 1, NULL, 1e-7);
  dx_ctx_free(ctx);
}
END_TEST

/* reshape_backward hands y's gradient buffer to x when x has none yet: h, an
 * intermediate, reaches the output through a chain of two reshapes and
 * through h * h. Recorded in one order the reshapes' backward runs first
 * (the buffer passes down the chain, then h * h adds into it); in the other,
 * h * h's runs first and the reshape adds. */
static dx_tensor *reshape_uses_fn(dx_ctx *ctx, dx_tensor **in, void *user) {
  int64_t s34[2] = {3, 4}, s26[2] = {2, 6}, s43[2] = {4, 3};
  dx_tensor *h = dx_scale(ctx, in[0], 1.5), *a = NULL, *r = NULL;
  if (*(int *)user == 0) a = dx_mul(ctx, h, h);
  r = dx_reshape(ctx, dx_reshape(ctx, h, 2, s34), 2, s26);
  if (*(int *)user == 1) a = dx_mul(ctx, h, h);
  return dx_add(ctx, dx_reshape(ctx, dx_square(ctx, r), 2, s43), a);
}

START_TEST(reshape_hands_its_gradient_on) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[2] = {4, 3};
  dx_tensor *x = dxt_param(ctx, DX_F64, 2, shape, -1, 1, 2);
  for (int order = 0; order < 2; order++) {
    dxt_gradcheck(ctx, reshape_uses_fn, &x, 1, &order, NULL);
    dxt_f32_vs_f64(ctx, reshape_uses_fn, &x, 1, &order, 1e-6);
  }
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(parameters_survive_reset_and_free_cleanly) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[1] = {3};
  dx_tensor *p = dx_param_new(ctx, DX_F32, 1, shape, "block.weight");
  dx_tensor *q = dx_param_new(ctx, DX_F32, 1, shape, "block.bias");
  ck_assert_str_eq(p->name, "block.weight");
  ck_assert_ptr_nonnull(p->grad);
  float v[3] = {1, 2, 3}, w[3];
  dx_tensor_write(ctx, p, v, DX_F32);
  dx_step_reset(ctx);
  dx_tensor_read(ctx, p, w, DX_F32);
  ck_assert_float_eq(w[2], 3);
  dx_tensor_read(ctx, p->grad, w, DX_F32);
  ck_assert_float_eq(w[0], 0);
  dx_tensor_free(ctx, p);
  ck_assert_str_eq(q->name, "block.bias");
  dx_ctx_free(ctx); /* frees q */
}
END_TEST

START_TEST(random_draws_are_counter_based) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t big[1] = {200000}, small[1] = {10};
  dx_tensor *a = dx_tensor_new(ctx, DX_F64, 1, big);
  dx_tensor *b = dx_tensor_new(ctx, DX_F64, 1, small);
  dx_tensor_randn(ctx, a, 7, 0);
  dx_tensor_randn(ctx, b, 7, 1000);
  double *av = dxt_values(ctx, a), *bv = dxt_values(ctx, b);
  for (int i = 0; i < 10; i++)
    ck_assert_double_eq(av[1000 + i], bv[i]);
  double m = 0, v = 0;
  for (int i = 0; i < 200000; i++)
    m += av[i];
  m /= 200000;
  for (int i = 0; i < 200000; i++)
    v += (av[i] - m) * (av[i] - m);
  v /= 200000;
  /* 5 standard errors: mean se = 1/sqrt(n) = 0.0022, variance se = sqrt(2/n) = 0.0032 */
  ck_assert_double_lt(fabs(m), 0.012);
  ck_assert_double_lt(fabs(v - 1), 0.016);
  free(av), free(bv);
  dx_ctx_free(ctx);
}
END_TEST

/* --- recomputation ------------------------------------------------------------- */

typedef struct seg_user {
  dx_tensor *w; /* a parameter used inside the segment, not one of its inputs */
  bool checkpoint;
} seg_user;

/* in: a, b -> out: dropout(a * b) + w, a (passed through), out[0] again,
 * tanh(a + b). Dropout draws from the context's stream, which the replay
 * must take up where the forward pass did. */
static dx_status seg_fn(dx_ctx *ctx, void *user, dx_tensor *const *in, dx_tensor **out) {
  const seg_user *u = user;
  out[0] = dx_add(ctx, dx_dropout(ctx, dx_mul(ctx, in[0], in[1]), 0.3, true), u->w);
  out[1] = in[0];
  out[2] = out[0];
  out[3] = dx_tanh(ctx, dx_add(ctx, in[0], in[1]));
  return dx_status_of(ctx);
}

/* in: a, b, w -> out0 + out1 * out2 + dropout(out3): draws after the
 * segment too, so that the stream must also continue where it would. */
static dx_tensor *seg_objective(dx_ctx *ctx, dx_tensor **in, void *user) {
  seg_user *u = user;
  u->w = in[2];
  dx_set_seed(ctx, 99);
  dx_tensor *out[4] = {0};
  if (u->checkpoint)
    dx_checkpoint(ctx, seg_fn, u, 2, in, 4, out);
  else
    seg_fn(ctx, u, in, out);
  if (!out[0]) return NULL;
  dx_tensor *y = dx_add(ctx, out[0], dx_mul(ctx, out[1], out[2]));
  return dx_add(ctx, y, dx_dropout(ctx, out[3], 0.5, true));
}

START_TEST(a_checkpointed_segment_has_the_gradients_of_the_plain_one) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[2] = {5, 7};
  dx_tensor *in[3] = {dxt_param(ctx, DX_F64, 2, shape, -1, 1, 1),
                      dxt_param(ctx, DX_F64, 2, shape, -1, 1, 2),
                      dxt_param(ctx, DX_F64, 2, shape, -1, 1, 3)};
  seg_user u = {.checkpoint = true};
  dxt_gradcheck(ctx, seg_objective, in, 3, &u, NULL);
  /* Bit for bit against the segment run plainly, with a loss r . y. */
  double *g[2][3];
  for (int k = 0; k < 2; k++) {
    u.checkpoint = k == 1;
    dx_step_reset(ctx);
    for (int i = 0; i < 3; i++)
      dx_zero_grad(ctx, in[i]);
    dx_tensor *y = seg_objective(ctx, in, &u);
    ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
    dx_tensor *r = dx_tensor_new_like(ctx, y);
    dx_tensor_randn(ctx, r, 4, 0);
    ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, dx_mul(ctx, y, r))), DX_OK);
    for (int i = 0; i < 3; i++)
      g[k][i] = dxt_values(ctx, in[i]->grad);
  }
  for (int i = 0; i < 3; i++) {
    for (int64_t j = 0; j < 35; j++)
      ck_assert_msg(g[0][i][j] == g[1][i][j], "input %d element %lld: %.17g against %.17g", i,
                    (long long)j, g[0][i][j], g[1][i][j]);
    free(g[0][i]), free(g[1][i]);
  }
  dx_ctx_free(ctx);
}
END_TEST

/* dx_run_pieces: every piece runs once, in a context of its own with the
 * tape off when ctx has several threads (in ctx itself, in order, when the
 * tape is on); a piece's error becomes ctx's with its message; the worker
 * contexts are reset after each call, so repeated calls do not grow them. */
typedef struct pieces_probe {
  int runs[64];
  dx_ctx *seen[64];
  bool grad[64];
  int64_t fail_at; /* -1: none */
} pieces_probe;

static void probe_piece(dx_ctx *w, int64_t i, void *arg) {
  pieces_probe *p = arg;
  __atomic_add_fetch(&p->runs[i], 1, __ATOMIC_RELAXED);
  p->seen[i] = w, p->grad[i] = dx_grad_enabled(w);
  int64_t shape[1] = {1 << 16};
  dx_tensor_new(w, DX_F32, 1, shape); /* 256 KB that the reset must give back */
  if (i == p->fail_at) dx_set_error(w, DX_ERR_NUMERIC, "piece %lld went wrong", (long long)i);
  /* The other pieces take a while, so that the other thread cannot have run
   * them all before the failure is seen, even on a busy machine. */
  else if (p->fail_at >= 0)
    nanosleep(&(struct timespec){0, 2000000}, NULL);
}

START_TEST(pieces_run_once_each_in_their_own_contexts) {
  dx_ctx *ctx = dxt_ctx(2);
  pieces_probe p = {.fail_at = -1};
  dx_set_grad_enabled(ctx, false);
  ck_assert_int_eq(dx_run_pieces(ctx, 64, probe_piece, &p), DX_OK);
  for (int i = 0; i < 64; i++) {
    ck_assert_int_eq(p.runs[i], 1);
    ck_assert_ptr_ne(p.seen[i], ctx);
    ck_assert(!p.grad[i]);
  }
  size_t used = dx_arena_stats_of(p.seen[0]).used;
  for (int k = 0; k < 3; k++)
    ck_assert_int_eq(dx_run_pieces(ctx, 64, probe_piece, &p), DX_OK);
  ck_assert_uint_eq(dx_arena_stats_of(p.seen[0]).used, used);
  /* An error: ctx's, with the piece's message; later pieces are skipped. */
  memset(&p, 0, sizeof p);
  p.fail_at = 5;
  ck_assert_int_eq(dx_run_pieces(ctx, 64, probe_piece, &p), DX_ERR_NUMERIC);
  ck_assert_str_eq(dx_error_message(ctx), "piece 5 went wrong");
  int ran = 0;
  for (int i = 0; i < 64; i++)
    ran += p.runs[i];
  ck_assert_int_lt(ran, 64);
  dx_clear_error(ctx);
  /* With the tape on, in ctx, in order. */
  dx_set_grad_enabled(ctx, true);
  memset(&p, 0, sizeof p);
  p.fail_at = -1;
  ck_assert_int_eq(dx_run_pieces(ctx, 4, probe_piece, &p), DX_OK);
  for (int i = 0; i < 4; i++)
    ck_assert(p.runs[i] == 1 && p.seen[i] == ctx && p.grad[i]);
  dx_ctx_free(ctx);
}
END_TEST

/* dx_run_shares: each share runs in a worker of its own with the tape on;
 * the shares' dropout masks are slices of the whole batch's, and their
 * gradients add up to the whole batch's (float64, so up to rounding). */
typedef struct shares_probe {
  dx_tensor *x, *w;
  dx_ctx *seen[8];
  bool grad[8];
} shares_probe;

static dx_tensor *dropped_linear(dx_ctx *ctx, dx_tensor *x, dx_tensor *w) {
  return dx_dropout(ctx, dx_linear(ctx, x, w, NULL), 0.5, true);
}

static dx_tensor *probe_share(dx_ctx *w, int64_t i0, int64_t n, void *arg) {
  shares_probe *p = arg;
  p->seen[i0 / 3] = w, p->grad[i0 / 3] = dx_grad_enabled(w);
  return dropped_linear(w, dx_batch_view(w, p->x, i0, n), p->w);
}

/* The output, then the weights' gradient, of sum(r * dropout(x w^T)). */
static void shares_objective(dx_ctx *ctx, shares_probe *p, bool shared, double *y, double *g) {
  int64_t ys[2] = {6, 3};
  dx_step_reset(ctx);
  dx_zero_grad(ctx, p->w);
  dx_set_seed(ctx, 42);
  dx_tensor *out = shared ? dx_run_shares(ctx, dx_tensor_new(ctx, DX_F64, 2, ys), probe_share, p)
                          : dropped_linear(ctx, p->x, p->w);
  ck_assert_msg(out != NULL, "%s", dx_error_message(ctx));
  dx_tensor *r = dx_tensor_new_like(ctx, out);
  dx_tensor_randn(ctx, r, 5, 0);
  ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, dx_mul(ctx, out, r))), DX_OK);
  double *a = dxt_values(ctx, out), *b = dxt_values(ctx, p->w->grad);
  memcpy(y, a, 18 * sizeof *y), memcpy(g, b, 12 * sizeof *g);
  free(a), free(b);
}

START_TEST(shares_have_the_whole_batchs_masks_and_gradients) {
  dx_ctx *ctx = dxt_ctx(2);
  int64_t xs[2] = {6, 4}, ws[2] = {3, 4};
  shares_probe p = {.x = dx_tensor_new_persistent(ctx, DX_F64, 2, xs),
                    .w = dx_requires_grad(dx_tensor_new_persistent(ctx, DX_F64, 2, ws))};
  dx_tensor_randn(ctx, p.x, 1, 0), dx_tensor_randn(ctx, p.w, 2, 0);
  ck_assert(dx_shares_apply(ctx, 6));
  double y[2][18], g[2][12];
  shares_objective(ctx, &p, false, y[0], g[0]);
  for (int k = 0; k < 2; k++) { /* twice: the workers' buffers start again at zero */
    shares_objective(ctx, &p, true, y[1], g[1]);
    ck_assert(p.seen[0] && p.seen[1] && p.seen[0] != p.seen[1]);
    ck_assert(p.seen[0] != ctx && p.seen[1] != ctx && p.grad[0] && p.grad[1]);
    int zeros = 0;
    for (int i = 0; i < 18; i++) {
      ck_assert_msg(fabs(y[1][i] - y[0][i]) <= 1e-15 * (1 + fabs(y[0][i])),
                    "output %d: %.17g against %.17g", i, y[1][i], y[0][i]);
      zeros += y[0][i] == 0;
    }
    ck_assert(zeros > 0 && zeros < 18); /* dropout dropped some, not all */
    for (int i = 0; i < 12; i++)
      ck_assert_msg(fabs(g[1][i] - g[0][i]) <= 1e-14 * (1 + fabs(g[0][i])),
                    "gradient %d: %.17g against %.17g", i, g[1][i], g[0][i]);
  }
  /* Until ctx's backward the workers keep their tapes: no second split. */
  int64_t ys[2] = {6, 3};
  ck_assert_ptr_nonnull(dx_run_shares(ctx, dx_tensor_new(ctx, DX_F64, 2, ys), probe_share, &p));
  ck_assert(!dx_shares_apply(ctx, 6));
  dx_step_reset(ctx);
  ck_assert(dx_shares_apply(ctx, 6));
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tensor_core");
  TCase *tc = tcase_create("core");
  DXT_ADD(tc, arena_reuses_memory_after_warmup);
  DXT_ADD(tc, write_read_round_trip_converts);
  DXT_ADD(tc, bad_shapes_are_errors_not_crashes);
  DXT_ADD(tc, reshape_gradient);
  DXT_ADD(tc, reshape_hands_its_gradient_on);
  DXT_ADD(tc, parameters_survive_reset_and_free_cleanly);
  DXT_ADD(tc, random_draws_are_counter_based);
  DXT_ADD(tc, pieces_run_once_each_in_their_own_contexts);
  DXT_ADD(tc, shares_have_the_whole_batchs_masks_and_gradients);
  DXT_ADD(tc, a_checkpointed_segment_has_the_gradients_of_the_plain_one);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
