/* Activation recomputation: the segment op, forward and backward
 * (checkpoint.h). The arena is a bump allocator, so a segment frees its
 * intermediates by rewinding the arena to where the segment began: its
 * outputs are parked in the kernel workspace meanwhile and copied back. */
#include "tensor/checkpoint.h"

#include <stddef.h>
#include <string.h>

#include "tensor/internal.h"

typedef struct rng_state {
  uint64_t seed, offset, first, n, total;
} rng_state;

/* One recorded segment: a tape node per output (the tape's nodes have one
 * output each), all leading back here. */
typedef struct segment {
  dx_segment_fn fn;
  void *user;
  int n_in, n_out;
  dx_tensor *in[DX_SEGMENT_MAX_IO], *out[DX_SEGMENT_MAX_IO];
  rng_state rng; /* the stream where the segment's draws began */
  bool replayed;
  dx_node node[DX_SEGMENT_MAX_IO];
} segment;

static rng_state rng_get(const dx_ctx *ctx) {
  rng_state r = {ctx->seed, ctx->rng_offset, ctx->rng_first, ctx->rng_n, ctx->rng_total};
  return r;
}

static void rng_set(dx_ctx *ctx, rng_state r) {
  ctx->seed = r.seed, ctx->rng_offset = r.offset;
  ctx->rng_first = r.first, ctx->rng_n = r.n, ctx->rng_total = r.total;
}

/* node[k] carries k in iarg[0]: the segment is the struct around node[0]. */
static segment *segment_of(dx_node *n) {
  dx_node *first = n - n->iarg[0];
  return (segment *)(void *)((char *)first - offsetof(segment, node));
}

static bool in_list(dx_tensor *const *list, int n, const dx_tensor *t) {
  for (int i = 0; i < n; i++)
    if (list[i] == t) return true;
  return false;
}

/* Output j is the segment's own: not one of its inputs passed through, nor
 * an output listed before (their gradients arrive elsewhere, or once). */
static bool fresh(dx_tensor *const *in, int n_in, dx_tensor *const *out, int j) {
  return !in_list(in, n_in, out[j]) && !in_list(out, j, out[j]);
}

/* After a replay: the spare gradient buffers made before it are dead again
 * (the replay's own released theirs when its walk was done with them), and
 * those it made are about to be rewound. So the spare list keeps the older
 * entries, relinked (the replay may have taken them and put them back on
 * top of its own), and the lent list is as before; an older buffer taken
 * and still held by the replay (none is: each replay gradient belongs to a
 * node its walk ran) would only be lost for the rest of the step. */
static void keep_older_spares(dx_ctx *ctx, dx_arena_mark meta, dx_spare_grad *lent) {
  dx_spare_grad **link = &ctx->spare_grads;
  while (*link)
    if (dx_arena_since(&ctx->meta, meta, *link) || dx_arena_since(&ctx->meta, meta, (*link)->t))
      *link = (*link)->next;
    else
      link = &(*link)->next;
  ctx->lent_grads = lent;
}

/* Runs fn again with the tape, seeds its outputs with the gradients that
 * reached the recorded outputs, and walks the short tape. The inputs are
 * views whose gradient buffers are the real inputs', allocated before the
 * mark, so the walk adds into them; parameters own theirs. Everything else
 * the replay allocates is freed by the rewind. */
static void replay(dx_ctx *ctx, segment *s) {
  for (int i = 0; i < s->n_in; i++)
    if (dx_wants_grad(s->in[i]) && !dx_grad(ctx, s->in[i])) return;
  dx_node *tape = ctx->tape;
  dx_spare_grad *lent = ctx->lent_grads;
  rng_state now = rng_get(ctx);
  dx_arena_mark data = dx_arena_mark_of(&ctx->data), meta = dx_arena_mark_of(&ctx->meta);
  bool was = dx_set_grad_enabled(ctx, true);
  ctx->tape = NULL;
  rng_set(ctx, s->rng);
  dx_tensor *in[DX_SEGMENT_MAX_IO], *out[DX_SEGMENT_MAX_IO] = {0};
  bool ok = true;
  for (int i = 0; i < s->n_in && ok; i++) {
    in[i] = dx_tensor_view(ctx, s->in[i], s->in[i]->ndim, s->in[i]->shape);
    ok = in[i] != NULL;
    if (ok) in[i]->flags = s->in[i]->flags & DX_TENSOR_REQUIRES_GRAD, in[i]->grad = s->in[i]->grad;
  }
  if (ok && s->fn(ctx, s->user, in, out) == DX_OK && ctx->status == DX_OK) {
    for (int j = 0; j < s->n_out && ctx->status == DX_OK; j++) {
      if (!s->out[j]->grad || !out[j] || !dx_wants_grad(out[j]) ||
          !fresh(s->in, s->n_in, s->out, j))
        continue;
      dx_tensor *g = dx_grad(ctx, out[j]);
      if (g) ctx->be->axpy(ctx->be, g, 1.0, s->out[j]->grad);
    }
    if (ctx->status == DX_OK) dx_tape_walk(ctx);
  } else if (ctx->status == DX_OK) {
    dx_set_error(ctx, DX_ERR_INTERNAL, "checkpoint: the segment failed when run again");
  }
  dx_set_grad_enabled(ctx, was);
  ctx->tape = tape;
  keep_older_spares(ctx, meta, lent);
  rng_set(ctx, now);
  dx_arena_rewind(&ctx->data, data);
  dx_arena_rewind(&ctx->meta, meta);
}

/* Every output's node leads here; the first one the walk reaches (all the
 * outputs' consumers are later on the tape, so every output's gradient is
 * complete by then) runs the replay for all of them. */
static void segment_backward(dx_ctx *ctx, dx_node *n) {
  segment *s = segment_of(n);
  if (s->replayed) return;
  s->replayed = true;
  replay(ctx, s);
}

static dx_status check_args(dx_ctx *ctx, int n_in, dx_tensor *const *in, int n_out) {
  if (ctx->status != DX_OK) return ctx->status;
  if (n_in < 1 || n_in > DX_SEGMENT_MAX_IO || n_out < 1 || n_out > DX_SEGMENT_MAX_IO)
    return dx_set_error(ctx, DX_ERR_INVALID, "checkpoint: %d inputs and %d outputs; 1 to %d each",
                        n_in, n_out, DX_SEGMENT_MAX_IO);
  for (int i = 0; i < n_in; i++)
    if (!in[i]) return dx_set_error(ctx, DX_ERR_INVALID, "checkpoint: input %d is NULL", i);
  return DX_OK;
}

static size_t aligned_bytes(const dx_tensor *t) {
  return ((size_t)dx_numel(t) * dx_dtype_size(t->dtype) + 63) / 64 * 64;
}

/* out <- copies, below the mark, of the segment's outputs tmp: parked in
 * the workspace while the arenas rewind. An input passed through, or an
 * output listed twice, is kept as it is. */
static dx_status keep_outputs(dx_ctx *ctx, int n_in, dx_tensor *const *in, int n_out,
                              dx_tensor **tmp, dx_arena_mark data, dx_arena_mark meta,
                              dx_tensor **out) {
  dx_tensor park[DX_SEGMENT_MAX_IO];
  size_t total = 0;
  for (int j = 0; j < n_out; j++)
    total += fresh(in, n_in, tmp, j) ? aligned_bytes(tmp[j]) : 0;
  char *buf = dx_scratch(ctx, total);
  if (!buf) return ctx->status;
  size_t off = 0;
  for (int j = 0; j < n_out; j++) {
    if (!fresh(in, n_in, tmp, j)) continue;
    park[j] = *tmp[j];
    park[j].data = buf + off;
    off += aligned_bytes(tmp[j]);
    ctx->be->copy(ctx->be, &park[j], tmp[j]);
  }
  dx_arena_rewind(&ctx->data, data);
  dx_arena_rewind(&ctx->meta, meta);
  for (int j = 0; j < n_out; j++) {
    if (in_list(in, n_in, tmp[j])) {
      out[j] = tmp[j];
      continue;
    }
    if (!fresh(in, n_in, tmp, j)) { /* listed before */
      int k = 0;
      while (tmp[k] != tmp[j])
        k++;
      out[j] = out[k];
      continue;
    }
    out[j] = dx_tensor_new(ctx, park[j].dtype, park[j].ndim, park[j].shape);
    if (!out[j]) return ctx->status;
    ctx->be->copy(ctx->be, out[j], &park[j]);
  }
  return DX_OK;
}

dx_status dx_checkpoint(dx_ctx *ctx, dx_segment_fn fn, void *user, int n_in, dx_tensor *const *in,
                        int n_out, dx_tensor **out) {
  if (check_args(ctx, n_in, in, n_out) != DX_OK) return ctx->status;
  if (!ctx->grad_enabled) return fn(ctx, user, in, out);
  if (!dx_kernel_ok(ctx, (const void *)ctx->be->copy, "checkpoint") ||
      !dx_kernel_ok(ctx, (const void *)ctx->be->axpy, "checkpoint"))
    return ctx->status;
  rng_state rng = rng_get(ctx);
  dx_arena_mark data = dx_arena_mark_of(&ctx->data), meta = dx_arena_mark_of(&ctx->meta);
  dx_tensor *tmp[DX_SEGMENT_MAX_IO] = {0};
  dx_set_grad_enabled(ctx, false);
  dx_status st = fn(ctx, user, in, tmp);
  dx_set_grad_enabled(ctx, true);
  if (st == DX_OK && ctx->status == DX_OK)
    for (int j = 0; j < n_out; j++)
      if (!tmp[j]) return dx_set_error(ctx, DX_ERR_INVALID, "checkpoint: output %d is NULL", j);
  if (st != DX_OK || ctx->status != DX_OK) return ctx->status ? ctx->status : st;
  if (keep_outputs(ctx, n_in, in, n_out, tmp, data, meta, out) != DX_OK) return ctx->status;
  /* The segment is recorded even when no input wants a gradient: its
   * parameters may. */
  segment *s = dx_arena_alloc(&ctx->meta, sizeof *s);
  if (!s) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory recording a checkpoint");
  *s = (segment){.fn = fn, .user = user, .n_in = n_in, .n_out = n_out, .rng = rng};
  for (int i = 0; i < n_in; i++)
    s->in[i] = in[i];
  for (int j = 0; j < n_out; j++)
    s->out[j] = out[j];
  for (int j = 0; j < n_out; j++) {
    if (!fresh(s->in, s->n_in, s->out, j)) continue;
    dx_node *n = &s->node[j];
    n->op = "checkpoint";
    n->backward = segment_backward;
    n->out = out[j];
    n->iarg[0] = j;
    n->reads = DX_READS_OPAQUE; /* the replay reads the segment's inputs */
    n->prev = ctx->tape;
    ctx->tape = n;
    out[j]->node = n;
    out[j]->flags |= DX_TENSOR_REQUIRES_GRAD;
  }
  return DX_OK;
}
