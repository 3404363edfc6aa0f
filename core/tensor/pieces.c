/* dx_run_pieces: pieces of work shared out between the CPU threads, each run
 * start to end by one thread in a context of its own.
 *
 * Every op splits its own work evenly between the threads, and each waits
 * for the other at the op's end and reads what the other wrote. In spells
 * on the build machine's host that sharing made two threads no faster than
 * one, while a whole chunk per thread ran at full speed in the same spells
 * (docs/performance.md, "Slow spells"). Pieces taken as threads come free
 * need no barrier per op and share no data, and a thread that falls behind
 * takes fewer of them. */
#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

/* One single-threaded context per thread, made on the calling thread: a
 * context's creation sets the OpenMP and OpenBLAS thread counts, so ctx's
 * are set again afterwards. */
/* A worker computes with its parent's kernels, as the parent's table has
 * them now (a test may wrap one): the table's entries from `destroy` on are
 * all kernels, and the rest (names, state) stays the worker's own. */
static void take_kernels(dx_ctx *ctx) {
  size_t at = offsetof(dx_backend, destroy);
  for (int i = 0; i < ctx->n_workers; i++)
    memcpy((char *)ctx->workers[i]->be + at, (const char *)ctx->be + at, sizeof(dx_backend) - at);
}

dx_status dx_make_workers(dx_ctx *ctx, int n) {
  take_kernels(ctx);
  if (ctx->n_workers >= n) return DX_OK;
  dx_ctx **w = realloc(ctx->workers, (size_t)n * sizeof *w);
  if (!w) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for %d worker contexts", n);
  ctx->workers = w;
  dx_ctx_opts o = {.device = ctx->device, .threads = 1};
  char err[DX_ERRMSG_MAX];
  for (; ctx->n_workers < n; ctx->n_workers++) {
    w[ctx->n_workers] = dx_ctx_create(&o, err, sizeof err);
    if (!w[ctx->n_workers]) break;
  }
  if (ctx->be->set_threads) ctx->be->set_threads(ctx->be, ctx->threads);
  take_kernels(ctx);
  return ctx->n_workers < n ? dx_set_error(ctx, DX_ERR_NOMEM, "worker context: %s", err) : DX_OK;
}

static dx_status run_in_order(dx_ctx *ctx, int64_t n, dx_piece_fn piece, void *arg) {
  for (int64_t i = 0; i < n && ctx->status == DX_OK; i++)
    piece(ctx, i, arg);
  return ctx->status;
}

dx_status dx_run_pieces(dx_ctx *ctx, int64_t n, dx_piece_fn piece, void *arg) {
  int nt = ctx->threads;
  if (ctx->status != DX_OK) return ctx->status;
  if (ctx->device.kind != DX_DEVICE_CPU || nt < 2 || n < 2 || ctx->grad_enabled ||
      ctx->shares_taped || omp_in_parallel())
    return run_in_order(ctx, n, piece, arg);
  if (dx_make_workers(ctx, nt) != DX_OK) return ctx->status;
  int failed = 0;
#pragma omp parallel num_threads(nt)
  {
    /* This thread's nested regions (the ops' own loops) run on it alone, and
     * each piece in a team of one: the kernels size their per-thread
     * workspace by the context's threads and index it by
     * omp_get_thread_num(), which is 0 in that team. */
    omp_set_num_threads(1);
    dx_ctx *w = ctx->workers[omp_get_thread_num()];
    w->grad_enabled = false;
    w->scopes_on = ctx->scopes_on;
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; i++) {
      if (__atomic_load_n(&failed, __ATOMIC_RELAXED)) continue;
#pragma omp parallel num_threads(1)
      piece(w, i, arg);
      if (w->status != DX_OK) __atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
    }
    dx_step_reset(w);
  }
  for (int i = 0; i < nt; i++) {
    dx_ctx *w = ctx->workers[i];
    if (w->status != DX_OK && ctx->status == DX_OK) dx_set_error(ctx, w->status, "%s", w->errmsg);
    dx_clear_error(w);
  }
  return ctx->status;
}
