/* Adam/AdamW, clipping, LR schedule and EMA against plain float64 loops
 * written from the papers' pseudo-code (Kingma & Ba 2015, Algorithm 1;
 * Loshchilov & Hutter 2019, Algorithm 2). */
#include <math.h>
#include <stdlib.h>

#include "dx_test.h"
#include "train/optim.h"

/* Reference: one parameter vector through `steps` updates. */
static void reference_adam(double *p, const double *const *grads, int64_t n, int steps, double lr,
                           const dx_optim_config *c) {
  double *m = calloc((size_t)n, sizeof *m), *v = calloc((size_t)n, sizeof *v);
  for (int t = 1; t <= steps; t++)
    for (int64_t i = 0; i < n; i++) {
      double g = grads[t - 1][i];
      if (c->kind == DX_OPTIM_ADAM)
        g += c->weight_decay * p[i];
      else
        p[i] -= lr * c->weight_decay * p[i];
      m[i] = c->beta1 * m[i] + (1 - c->beta1) * g;
      v[i] = c->beta2 * v[i] + (1 - c->beta2) * g * g;
      double mh = m[i] / (1 - pow(c->beta1, t)), vh = v[i] / (1 - pow(c->beta2, t));
      p[i] -= lr * mh / (sqrt(vh) + c->eps);
    }
  free(m), free(v);
}

static void run_optimizer(dx_optim_kind kind, double wd) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[2] = {7, 5}, n = 35;
  dx_param_list list = {0};
  dx_tensor *p = dxt_param(ctx, DX_F64, 2, shape, -1, 1, 3);
  list.items = &p, list.n = list.cap = 1;
  dx_optim_config c = {kind, 0.9, 0.999, 1e-8, wd};
  dx_optim *o = dx_optim_create(ctx, &list, &c);
  ck_assert_ptr_nonnull(o);
  double *ref = dxt_values(ctx, p), *grads[4];
  for (int s = 0; s < 4; s++) {
    dx_tensor *g = dxt_param(ctx, DX_F64, 2, shape, -2, 2, 10 + (uint64_t)s);
    grads[s] = dxt_values(ctx, g);
    dx_tensor_copy(ctx, p->grad, g);
    dx_tensor_free(ctx, g);
    ck_assert_int_eq(dx_optim_step(o, 1e-2), DX_OK);
  }
  reference_adam(ref, (const double *const *)grads, n, 4, 1e-2, &c);
  double *got = dxt_values(ctx, p);
  ck_assert_double_le(dxt_rel_err(got, ref, n, 1e-12), 1e-13);
  for (int s = 0; s < 4; s++)
    free(grads[s]);
  free(ref), free(got);
  dx_optim_free(o);
  dx_ctx_free(ctx);
}

START_TEST(adam_matches_algorithm_1) { run_optimizer(DX_OPTIM_ADAM, 0.0); }
END_TEST
START_TEST(adam_with_l2_matches) { run_optimizer(DX_OPTIM_ADAM, 0.1); }
END_TEST
START_TEST(adamw_decouples_weight_decay) { run_optimizer(DX_OPTIM_ADAMW, 0.1); }
END_TEST

START_TEST(clipping_scales_to_max_norm) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t s1[1] = {3}, s2[1] = {1};
  dx_tensor *a = dx_param_new(ctx, DX_F32, 1, s1, "a"), *b = dx_param_new(ctx, DX_F32, 1, s2, "b");
  float ga[3] = {3, 0, 0}, gb[1] = {4};
  dx_tensor_write(ctx, a->grad, ga, DX_F32);
  dx_tensor_write(ctx, b->grad, gb, DX_F32);
  dx_tensor *items[2] = {a, b};
  dx_param_list list = {items, 2, 2};
  ck_assert_double_eq_tol(dx_clip_grad_norm(ctx, &list, 10.0), 5.0, 1e-12); /* below: unchanged */
  ck_assert_double_eq_tol(dx_grad_norm(ctx, &list), 5.0, 1e-12);
  ck_assert_double_eq_tol(dx_clip_grad_norm(ctx, &list, 1.0), 5.0, 1e-12);
  ck_assert_double_eq_tol(dx_grad_norm(ctx, &list), 1.0, 1e-6);
  float got[3];
  dx_tensor_read(ctx, a->grad, got, DX_F32);
  ck_assert_float_eq_tol(got[0], 0.6f, 1e-6f);
  dx_zero_grads(ctx, &list);
  ck_assert_double_eq(dx_grad_norm(ctx, &list), 0.0);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(lr_schedule_warmup_and_cosine) {
  dx_lr_schedule s = {1e-3, 10, 110, DX_LR_COSINE};
  ck_assert_double_eq_tol(dx_lr_at(&s, 0), 1e-4, 1e-18);
  ck_assert_double_eq_tol(dx_lr_at(&s, 9), 1e-3, 1e-18);
  ck_assert_double_eq_tol(dx_lr_at(&s, 10), 1e-3, 1e-18);
  ck_assert_double_eq_tol(dx_lr_at(&s, 60), 0.5e-3, 1e-15);
  ck_assert_double_eq_tol(dx_lr_at(&s, 110), 0.0, 1e-15);
  s.decay = DX_LR_CONSTANT;
  ck_assert_double_eq(dx_lr_at(&s, 60), 1e-3);
  s.warmup = 0;
  ck_assert_double_eq(dx_lr_at(&s, 0), 1e-3);
}
END_TEST

START_TEST(ema_tracks_and_swaps) {
  dx_ctx *ctx = dxt_ctx(1);
  int64_t shape[1] = {2};
  dx_tensor *p = dx_param_new(ctx, DX_F32, 1, shape, "w");
  float v0[2] = {1, 2}, v1[2] = {3, 6}, got[2];
  dx_tensor_write(ctx, p, v0, DX_F32);
  dx_param_list list = {&p, 1, 1};
  dx_ema *e = dx_ema_create(ctx, &list);
  ck_assert_ptr_nonnull(e);
  dx_tensor_write(ctx, p, v1, DX_F32);
  dx_ema_update(e, &list, 0.75); /* 0.75 * old + 0.25 * new */
  dx_ema_swap(e, &list);
  dx_tensor_read(ctx, p, got, DX_F32);
  ck_assert_float_eq_tol(got[0], 1.5f, 1e-6f);
  ck_assert_float_eq_tol(got[1], 3.0f, 1e-6f);
  dx_ema_swap(e, &list);
  dx_tensor_read(ctx, p, got, DX_F32);
  ck_assert_float_eq(got[1], 6.0f);
  dx_ema_free(e);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("optim");
  TCase *tc = tcase_create("optim");
  DXT_ADD(tc, adam_matches_algorithm_1);
  DXT_ADD(tc, adam_with_l2_matches);
  DXT_ADD(tc, adamw_decouples_weight_decay);
  DXT_ADD(tc, clipping_scales_to_max_norm);
  DXT_ADD(tc, lr_schedule_warmup_and_cosine);
  DXT_ADD(tc, ema_tracks_and_swaps);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
