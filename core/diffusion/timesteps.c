/* Drawing the timesteps of a training batch: uniformly, or by importance
 * with p_t proportional to sqrt(E[L_t^2]) over a short history of each
 * term's loss, mixed with a little of the uniform distribution, each sample
 * weighted 1/(T p_t) so that the loss stays unbiased (Nichol & Dhariwal
 * 2021 sec. 3.3; improved-diffusion's LossSecondMomentResampler). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion/internal.h"

#define HISTORY 10        /* losses kept per t */
#define UNIFORM_MIX 0.001 /* share of the uniform distribution in p */

struct dx_timestep_sampler {
  dx_timestep_kind kind;
  int64_t T;
  double *history; /* T x HISTORY, oldest first */
  int *count;      /* entries filled per t */
  double *p;       /* current distribution */
};

dx_timestep_sampler *dx_timestep_sampler_create(dx_ctx *ctx, dx_timestep_kind kind, int64_t T) {
  if (T < 1)
    return dx_set_error(ctx, DX_ERR_INVALID, "timestep sampler: T = %lld", (long long)T), NULL;
  dx_timestep_sampler *ts = calloc(1, sizeof *ts);
  if (ts) {
    ts->history = calloc((size_t)T * HISTORY, sizeof *ts->history);
    ts->count = calloc((size_t)T, sizeof *ts->count);
    ts->p = malloc((size_t)T * sizeof *ts->p);
  }
  if (!ts || !ts->history || !ts->count || !ts->p) {
    dx_timestep_sampler_free(ts);
    return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for the timestep sampler"), NULL;
  }
  ts->kind = kind;
  ts->T = T;
  for (int64_t i = 0; i < T; i++)
    ts->p[i] = 1.0 / (double)T;
  return ts;
}

void dx_timestep_sampler_free(dx_timestep_sampler *ts) {
  if (!ts) return;
  free(ts->history), free(ts->count), free(ts->p);
  free(ts);
}

/* Uniform until every t has a full history; then sqrt of the mean square. */
static void refresh(dx_timestep_sampler *ts) {
  for (int64_t i = 0; i < ts->T; i++)
    if (ts->count[i] < HISTORY) return;
  double sum = 0;
  for (int64_t i = 0; i < ts->T; i++) {
    double ms = 0;
    for (int k = 0; k < HISTORY; k++)
      ms += ts->history[i * HISTORY + k] * ts->history[i * HISTORY + k];
    ts->p[i] = sqrt(ms / HISTORY);
    sum += ts->p[i];
  }
  for (int64_t i = 0; i < ts->T; i++)
    ts->p[i] = (sum > 0 ? ts->p[i] / sum : 1.0 / (double)ts->T) * (1.0 - UNIFORM_MIX) +
               UNIFORM_MIX / (double)ts->T;
}

void dx_timestep_sampler_update(dx_timestep_sampler *ts, int64_t n, const int64_t *t,
                                const double *losses) {
  if (ts->kind != DX_TIMESTEPS_IMPORTANCE) return;
  for (int64_t k = 0; k < n; k++) {
    if (t[k] < 0 || t[k] >= ts->T) continue;
    double *h = ts->history + t[k] * HISTORY;
    if (ts->count[t[k]] == HISTORY)
      memmove(h, h + 1, (HISTORY - 1) * sizeof *h);
    else
      ts->count[t[k]]++;
    h[ts->count[t[k]] - 1] = losses[k];
  }
  refresh(ts);
}

const double *dx_timestep_sampler_probs(const dx_timestep_sampler *ts) { return ts->p; }

int64_t dx_timestep_sampler_state_size(const dx_timestep_sampler *ts) {
  return ts->T * (HISTORY + 1);
}

void dx_timestep_sampler_save(const dx_timestep_sampler *ts, double *state) {
  for (int64_t i = 0; i < ts->T; i++) {
    double *row = state + i * (HISTORY + 1);
    row[0] = (double)ts->count[i];
    memcpy(row + 1, ts->history + i * HISTORY, HISTORY * sizeof *row);
  }
}

dx_status dx_timestep_sampler_restore(dx_ctx *ctx, dx_timestep_sampler *ts, const double *state) {
  for (int64_t i = 0; i < ts->T; i++) {
    double c = state[i * (HISTORY + 1)];
    if (!(c >= 0 && c <= HISTORY) || c != (double)(int)c)
      return dx_set_error(ctx, DX_ERR_PARSE, "timestep history: t = %lld has %g losses (0 to %d)",
                          (long long)i, c, HISTORY);
  }
  for (int64_t i = 0; i < ts->T; i++) {
    const double *row = state + i * (HISTORY + 1);
    ts->count[i] = (int)row[0];
    memcpy(ts->history + i * HISTORY, row + 1, HISTORY * sizeof *row);
    ts->p[i] = 1.0 / (double)ts->T;
  }
  refresh(ts);
  return DX_OK;
}

/* The first index whose cumulative probability exceeds u. */
static int64_t invert_cdf(const double *p, int64_t T, double u) {
  double c = 0;
  for (int64_t i = 0; i < T; i++)
    if ((c += p[i]) > u) return i;
  return T - 1;
}

dx_status dx_timestep_sampler_draw(dx_ctx *ctx, dx_timestep_sampler *ts, int64_t n, uint64_t seed,
                                   uint64_t offset, int64_t *t, double *w) {
  double *u = malloc((size_t)n * sizeof *u);
  dx_tensor *draws = u ? dx_tensor_new(ctx, DX_F64, 1, &n) : NULL;
  if (!draws || dx_tensor_rand(ctx, draws, seed, offset) != DX_OK) {
    free(u);
    return dx_status_of(ctx) ? dx_status_of(ctx)
                             : dx_set_error(ctx, DX_ERR_NOMEM, "out of memory drawing timesteps");
  }
  if (dx_tensor_read(ctx, draws, u, DX_F64) != DX_OK) {
    free(u);
    return dx_status_of(ctx);
  }
  for (int64_t k = 0; k < n; k++) {
    t[k] = ts->kind == DX_TIMESTEPS_UNIFORM ? (int64_t)(u[k] * (double)ts->T)
                                            : invert_cdf(ts->p, ts->T, u[k]);
    if (t[k] >= ts->T) t[k] = ts->T - 1;
    w[k] = 1.0 / ((double)ts->T * ts->p[t[k]]);
  }
  free(u);
  return DX_OK;
}
