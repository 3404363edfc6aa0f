/* dx_run_shares: a forward pass with the tape, split over the batch between
 * the CPU threads, each share recorded and walked back by one thread in a
 * context of its own.
 *
 * Splitting every op between the threads makes them meet at each op's end
 * and read what the other wrote; on the build machine's host that traffic
 * had spells in which two threads ran no faster than one (pieces.c,
 * docs/performance.md). A share runs its whole forward pass and, later, its
 * whole backward pass on one thread, so the threads meet twice a pass.
 *
 * The shares' gradients for ctx's persistent tensors (the parameters) go to
 * each worker's own buffers (autograd.c, shadow_grad) and are added into
 * ctx's in share order afterwards, so a run gives the same numbers every
 * time at a given thread count. Draws (dropout) are each share's slice of
 * the whole batch's draw (dx_set_rng_share), as the MPI ranks' are. */
#include <omp.h>
#include <stdint.h>

#include "tensor/shares.h"

#include "tensor/batch_view.h"
#include "tensor/internal.h"

typedef struct shares {
  int n;
  int64_t *first; /* share i is images [first[i], first[i + 1]) */
  dx_tensor **y;  /* each share's output, on its worker's tape */
} shares;

/* Runs fn on every share i < s->n, in workers[i], in parallel; the first
 * error becomes ctx's. */
typedef void (*share_step)(dx_ctx *ctx, dx_ctx *w, const shares *s, int i, void *arg);

static dx_status each_share(dx_ctx *ctx, const shares *s, share_step step, void *arg) {
#pragma omp parallel num_threads(s->n)
  {
    /* The nested regions of a share's ops run in a team of one, as in
     * dx_run_pieces: the kernels index their workspace by thread number. */
    omp_set_num_threads(1);
#pragma omp for schedule(static, 1)
    for (int i = 0; i < s->n; i++) {
#pragma omp parallel num_threads(1)
      step(ctx, ctx->workers[i], s, i, arg);
    }
  }
  for (int i = 0; i < s->n; i++) {
    dx_ctx *w = ctx->workers[i];
    if (w->status != DX_OK && ctx->status == DX_OK) dx_set_error(ctx, w->status, "%s", w->errmsg);
    dx_clear_error(w);
  }
  return ctx->status;
}

/* --- backward -------------------------------------------------------------- */

static void share_backward(dx_ctx *ctx, dx_ctx *w, const shares *s, int i, void *arg) {
  dx_tensor *gy = arg;
  (void)ctx;
  if (!s->y[i] || !dx_wants_grad(s->y[i])) return;
  w->shadowing = true;
  w->walk++;
  dx_tensor *dy = dx_batch_view(w, gy, s->first[i] - s->first[0], s->first[i + 1] - s->first[i]);
  if (dy) dx_backward_seed(w, s->y[i], dy);
  w->shadowing = false;
}

/* Every share's gradients, added into ctx's in share order. */
static void gather_grads(dx_ctx *ctx, const shares *s) {
  for (int i = 0; i < s->n && ctx->status == DX_OK; i++) {
    dx_ctx *w = ctx->workers[i];
    for (int j = 0; j < w->n_shadows && ctx->status == DX_OK; j++) {
      dx_shadow_grad *sh = &w->shadows[j];
      if (sh->walk != w->walk) continue; /* not reached by this share */
      dx_tensor *g = dx_grad(ctx, sh->t);
      if (g) ctx->be->axpy(ctx->be, g, 1.0, sh->g);
    }
  }
}

static void shares_backward(dx_ctx *ctx, dx_node *n) {
  const shares *s = (const shares *)(intptr_t)n->iarg[0];
  if (each_share(ctx, s, share_backward, n->out->grad) == DX_OK) gather_grads(ctx, s);
  dx_drop_shares(ctx);
}

/* --- forward --------------------------------------------------------------- */

typedef struct forward_job {
  dx_share_fn fn;
  void *arg;
  dx_tensor *out;
  uint64_t seed, rng_offset, rng_first, rng_total;
} forward_job;

static void share_forward(dx_ctx *ctx, dx_ctx *w, const shares *s, int i, void *arg) {
  forward_job *job = arg;
  int64_t i0 = s->first[i] - s->first[0], m = s->first[i + 1] - s->first[i];
  dx_step_reset(w);
  dx_clear_error(w);
  w->grad_enabled = true;
  w->scopes_on = ctx->scopes_on;
  w->seed = job->seed, w->rng_offset = job->rng_offset;
  dx_set_rng_share(w, (int64_t)job->rng_first + i0, m, (int64_t)job->rng_total);
  dx_tensor *y = job->fn(w, i0, m, job->arg);
  dx_tensor *dst = y ? dx_batch_view(w, job->out, i0, m) : NULL;
  if (dst && !dx_same_shape(y, dst))
    dx_set_error(w, DX_ERR_INVALID, "a share's output is not its rows of the batch's");
  else if (dst)
    dx_tensor_copy(w, dst, y);
  s->y[i] = y;
}

bool dx_shares_apply(const dx_ctx *ctx, int64_t n) {
  return ctx->device.kind == DX_DEVICE_CPU && ctx->threads >= 2 && n >= 2 && ctx->grad_enabled &&
         ctx->status == DX_OK && !ctx->shares_taped && !omp_in_parallel();
}

/* One share per thread, as even as the batch allows. */
static shares *plan(dx_ctx *ctx, int64_t n) {
  int k = ctx->threads < n ? ctx->threads : (int)n;
  shares *s = dx_arena_alloc(&ctx->meta, sizeof *s);
  int64_t *first = dx_arena_alloc(&ctx->meta, (size_t)(k + 1) * sizeof *first);
  dx_tensor **y = dx_arena_alloc(&ctx->meta, (size_t)k * sizeof *y);
  if (!s || !first || !y) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory sharing out a batch");
  for (int i = 0; i <= k; i++)
    first[i] = n * i / k;
  for (int i = 0; i < k; i++)
    y[i] = NULL;
  *s = (shares){k, first, y};
  return s;
}

dx_tensor *dx_run_shares(dx_ctx *ctx, dx_tensor *out, dx_share_fn fn, void *arg) {
  DX_REQUIRE_INPUTS(ctx, out);
  int64_t n = out->shape[0];
  if (!dx_shares_apply(ctx, n))
    return dx_fail(ctx, DX_ERR_INTERNAL, "dx_run_shares called where dx_shares_apply is false");
  shares *s = plan(ctx, n);
  if (!s || dx_make_workers(ctx, s->n) != DX_OK) return NULL;
  bool split = ctx->rng_n > 0;
  forward_job job = {fn,
                     arg,
                     out,
                     ctx->seed,
                     ctx->rng_offset,
                     split ? ctx->rng_first : 0,
                     split ? ctx->rng_total : (uint64_t)n};
  ctx->shares_taped = true; /* from here a failure is cleared by dx_step_reset(ctx) */
  if (each_share(ctx, s, share_forward, &job) != DX_OK) return NULL;
  /* Every share drew its slice of the same draws, and moved the stream on
   * by the whole batch's count, as ctx would have. */
  ctx->rng_offset = ctx->workers[0]->rng_offset;
  bool grads = false;
  for (int i = 0; i < s->n; i++)
    grads |= dx_wants_grad(s->y[i]);
  if (!grads) /* nothing to walk back: out holds all there is */
    return dx_drop_shares(ctx), out;
  dx_node *node = dx_record_unlisted(ctx, "shares", shares_backward, out);
  if (!node) return NULL;
  node->iarg[0] = (int64_t)(intptr_t)s;
  node->reads = 0; /* the workers hold what the backward reads */
  return out;
}
