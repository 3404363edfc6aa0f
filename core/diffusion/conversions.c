/* q(x_t | x0) and the conversions between the three things a model may
 * predict: eps (Ho et al. 2020), x0, and v (Salimans & Ho 2022). Each is an
 * affine map with per-sample coefficients from the tables, broadcast as
 * (N,1,1,1) over (N,C,H,W). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion/internal.h"

/* f(d, t[k]) for each sample as an (N,1,1,1) tensor. */
typedef double (*coef_fn)(const dx_diffusion *d, const double *table, int64_t i);

dx_tensor *dx_per_sample_tensor(dx_ctx *ctx, const double *v, int64_t n, dx_dtype dt) {
  int64_t shape[4] = {n, 1, 1, 1};
  dx_tensor *out = dx_tensor_new(ctx, dt, 4, shape);
  if (out) dx_tensor_write(ctx, out, v, DX_F64);
  return out;
}

static dx_tensor *coefs(dx_ctx *ctx, const dx_diffusion *d, const double *table, coef_fn f,
                        const int64_t *t, int64_t n, dx_dtype dt) {
  if (dx_status_of(ctx) != DX_OK) return NULL;
  double *v = malloc((size_t)n * sizeof *v);
  if (!v) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory gathering coefficients"), NULL;
  for (int64_t k = 0; k < n; k++)
    v[k] = f(d, table, t[k]);
  dx_tensor *out = dx_per_sample_tensor(ctx, v, n, dt);
  free(v);
  return out;
}

static double lookup(const dx_diffusion *d, const double *table, int64_t i) {
  (void)d;
  return table[i];
}
static double recip_sqrt_abar(const dx_diffusion *d, const double *table, int64_t i) {
  (void)table;
  return 1.0 / d->sqrt_alpha_bar[i];
}
static double recip_sqrt_one_minus_abar(const dx_diffusion *d, const double *table, int64_t i) {
  (void)table;
  return 1.0 / d->sqrt_one_minus_alpha_bar[i];
}

dx_tensor *dx_diffusion_gather(dx_ctx *ctx, const double *table, const int64_t *t, int64_t n,
                               dx_dtype dt) {
  return coefs(ctx, NULL, table, lookup, t, n, dt);
}

/* a[t] * x + b[t] * y per sample. */
static dx_tensor *affine(dx_ctx *ctx, const dx_diffusion *d, const int64_t *t, dx_tensor *x,
                         const double *a, dx_tensor *y, const double *b) {
  if (!x || !y) return dx_mul(ctx, x, y); /* propagates the NULL */
  int64_t n = x->shape[0];
  dx_tensor *ca = coefs(ctx, d, a, lookup, t, n, x->dtype);
  dx_tensor *cb = coefs(ctx, d, b, lookup, t, n, x->dtype);
  return dx_add(ctx, dx_mul(ctx, ca, x), dx_mul(ctx, cb, y));
}

/* (x - b[t] y) * f(t) per sample. */
static dx_tensor *unmix(dx_ctx *ctx, const dx_diffusion *d, const int64_t *t, dx_tensor *x,
                        dx_tensor *y, const double *b, coef_fn f) {
  if (!x || !y) return dx_mul(ctx, x, y);
  int64_t n = x->shape[0];
  dx_tensor *cb = coefs(ctx, d, b, lookup, t, n, x->dtype);
  dx_tensor *cf = coefs(ctx, d, NULL, f, t, n, x->dtype);
  return dx_mul(ctx, dx_sub(ctx, x, dx_mul(ctx, cb, y)), cf);
}

dx_tensor *dx_q_sample(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0, const int64_t *t,
                       dx_tensor *eps) {
  return affine(ctx, d, t, x0, d->sqrt_alpha_bar, eps, d->sqrt_one_minus_alpha_bar);
}

dx_tensor *dx_x0_from_eps(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x_t, const int64_t *t,
                          dx_tensor *eps) {
  return unmix(ctx, d, t, x_t, eps, d->sqrt_one_minus_alpha_bar, recip_sqrt_abar);
}

dx_tensor *dx_eps_from_x0(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x_t, const int64_t *t,
                          dx_tensor *x0) {
  return unmix(ctx, d, t, x_t, x0, d->sqrt_alpha_bar, recip_sqrt_one_minus_abar);
}

/* Since x_t = a x0 + s eps and v = a eps - s x0 with a^2 + s^2 = 1,
 * x0 = a x_t - s v (Salimans & Ho 2022 sec. 4). */
dx_tensor *dx_x0_from_v(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x_t, const int64_t *t,
                        dx_tensor *v) {
  dx_tensor *sv = v ? dx_scale(ctx, v, -1.0) : NULL;
  return affine(ctx, d, t, x_t, d->sqrt_alpha_bar, sv, d->sqrt_one_minus_alpha_bar);
}

dx_tensor *dx_v_from(dx_ctx *ctx, const dx_diffusion *d, const int64_t *t, dx_tensor *x0,
                     dx_tensor *eps) {
  dx_tensor *mx0 = x0 ? dx_scale(ctx, x0, -1.0) : NULL;
  return affine(ctx, d, t, eps, d->sqrt_alpha_bar, mx0, d->sqrt_one_minus_alpha_bar);
}

dx_tensor *dx_predict_target(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict,
                             const int64_t *t, dx_tensor *x0, dx_tensor *eps) {
  switch (predict) {
  case DX_PREDICT_EPS: return eps;
  case DX_PREDICT_X0: return x0;
  case DX_PREDICT_V: return dx_v_from(ctx, d, t, x0, eps);
  }
  return dx_set_error(ctx, DX_ERR_INVALID, "unknown prediction target %d", (int)predict), NULL;
}

dx_tensor *dx_predict_x0(dx_ctx *ctx, const dx_diffusion *d, dx_predict predict, dx_tensor *x_t,
                         const int64_t *t, dx_tensor *pred, bool clip) {
  dx_tensor *x0 = NULL;
  switch (predict) {
  case DX_PREDICT_EPS: x0 = dx_x0_from_eps(ctx, d, x_t, t, pred); break;
  case DX_PREDICT_X0: x0 = pred; break;
  case DX_PREDICT_V: x0 = dx_x0_from_v(ctx, d, x_t, t, pred); break;
  default:
    return dx_set_error(ctx, DX_ERR_INVALID, "unknown prediction target %d", (int)predict), NULL;
  }
  return clip ? dx_clamp(ctx, x0, -1.0, 1.0) : x0;
}

dx_tensor *dx_posterior_mean(dx_ctx *ctx, const dx_diffusion *d, dx_tensor *x0, dx_tensor *x_t,
                             const int64_t *t) {
  return affine(ctx, d, t, x0, d->posterior_mean_coef1, x_t, d->posterior_mean_coef2);
}

dx_status dx_split_output(dx_ctx *ctx, dx_tensor *out, int64_t C, dx_tensor **pred,
                          dx_tensor **var) {
  *pred = *var = NULL;
  if (!out)
    return dx_status_of(ctx) ? dx_status_of(ctx)
                             : dx_set_error(ctx, DX_ERR_INVALID, "model gave no output");
  if (out->ndim != 4 || (out->shape[1] != C && out->shape[1] != 2 * C))
    return dx_set_error(
        ctx, DX_ERR_INVALID,
        "model output has %lld channels; expected %lld, or %lld with a learned variance",
        out->ndim == 4 ? (long long)out->shape[1] : -1LL, (long long)C, 2 * (long long)C);
  if (out->shape[1] == C) {
    *pred = out;
    return DX_OK;
  }
  *pred = dx_slice_channels(ctx, out, 0, C);
  *var = dx_slice_channels(ctx, out, C, C);
  return dx_status_of(ctx);
}
