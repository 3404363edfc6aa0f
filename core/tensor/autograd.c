/* The tape: recording nodes, gradient buffers, the reverse walk. Also the
 * view ops whose backward is a plain accumulation (reshape, detach). */
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"

dx_tensor *dx_requires_grad(dx_tensor *t) {
  if (t) t->flags |= DX_TENSOR_REQUIRES_GRAD;
  return t;
}

dx_node *dx_record(dx_ctx *ctx, const char *op, dx_backward_fn fn, dx_tensor *out, int n_in,
                   dx_tensor *const *in) {
  if (!ctx->grad_enabled) return NULL;
  bool any = false;
  for (int i = 0; i < n_in; i++)
    any |= dx_wants_grad(in[i]);
  if (!any) return NULL;
  dx_node *n = dx_record_unlisted(ctx, op, fn, out);
  if (!n) return NULL;
  n->n_in = n_in;
  for (int i = 0; i < n_in; i++)
    n->in[i] = in[i];
  return n;
}

dx_node *dx_record_unlisted(dx_ctx *ctx, const char *op, dx_backward_fn fn, dx_tensor *out) {
  if (!ctx->grad_enabled) return NULL;
  dx_node *n = dx_arena_alloc(&ctx->meta, sizeof *n);
  if (!n) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory recording %s on the tape", op);
  memset(n, 0, sizeof *n);
  n->op = op;
  n->backward = fn;
  n->out = out;
  n->reads = DX_READS_ALL;
  n->prev = ctx->tape;
  ctx->tape = n;
  out->node = n;
  out->flags |= DX_TENSOR_REQUIRES_GRAD;
  return n;
}

/* The smallest dead gradient buffer that holds t, reshaped to t and zeroed
 * (unless zero is false), or NULL. Sizes differ from op to op, so an exact
 * match would leave most buffers unused and make new ones. */
static dx_tensor *spare_for(dx_ctx *ctx, const dx_tensor *t, bool zero) {
  size_t bytes = (size_t)dx_numel(t) * dx_dtype_size(t->dtype);
  dx_spare_grad **best = NULL;
  for (dx_spare_grad **p = &ctx->spare_grads; *p; p = &(*p)->next) {
    if ((*p)->t->dtype != t->dtype || (*p)->bytes < bytes) continue;
    if (!best || (*p)->bytes < (*best)->bytes) best = p;
    if ((*p)->bytes == bytes) break;
  }
  if (!best) return NULL;
  dx_spare_grad *s = *best;
  *best = s->next;
  dx_tensor *g = s->t;
  g->ndim = t->ndim;
  for (int i = 0; i < t->ndim; i++)
    g->shape[i] = t->shape[i];
  if (zero) ctx->be->fill(ctx->be, g, 0.0);
  s->next = ctx->lent_grads; /* remembers the buffer's full size */
  ctx->lent_grads = s;
  return g;
}

/* A worker walking a share's tape: its own buffer for the parent's
 * persistent tensor t, zeroed (when zero) the first time this walk asks. */
static dx_tensor *shadow_grad(dx_ctx *ctx, dx_tensor *t, bool zero, bool *fresh) {
  dx_shadow_grad *s = NULL;
  for (int i = 0; i < ctx->n_shadows && !s; i++)
    if (ctx->shadows[i].t == t) s = &ctx->shadows[i];
  if (s && (s->g->dtype != t->dtype || !dx_same_shape(s->g, t))) { /* another tensor there now */
    dx_tensor_free(ctx, s->g);
    *s = ctx->shadows[--ctx->n_shadows];
    s = NULL;
  }
  if (!s) {
    if (ctx->n_shadows == ctx->cap_shadows) {
      int cap = ctx->cap_shadows ? 2 * ctx->cap_shadows : 64;
      dx_shadow_grad *grown = realloc(ctx->shadows, (size_t)cap * sizeof *grown);
      if (!grown) return dx_fail(ctx, DX_ERR_NOMEM, "out of memory for a worker's gradients");
      ctx->shadows = grown, ctx->cap_shadows = cap;
    }
    dx_tensor *g = dx_tensor_new_persistent(ctx, t->dtype, t->ndim, t->shape);
    if (!g) return NULL;
    s = &ctx->shadows[ctx->n_shadows++];
    *s = (dx_shadow_grad){t, g, ctx->walk - 1};
  }
  *fresh = s->walk != ctx->walk;
  if (*fresh && zero) ctx->be->fill(ctx->be, s->g, 0.0);
  s->walk = ctx->walk;
  return s->g;
}

dx_tensor *dx_grad(dx_ctx *ctx, dx_tensor *t) {
  bool fresh;
  if (ctx->shadowing && (t->flags & DX_TENSOR_PERSISTENT)) return shadow_grad(ctx, t, true, &fresh);
  if (t->grad) return t->grad;
  dx_tensor *g = spare_for(ctx, t, true);
  if (!g) g = dx_tensor_zeros(ctx, t->dtype, t->ndim, t->shape);
  t->grad = g;
  return g;
}

dx_tensor *dx_grad_to_write(dx_ctx *ctx, dx_tensor *t, bool *fresh) {
  if (ctx->shadowing && (t->flags & DX_TENSOR_PERSISTENT)) return shadow_grad(ctx, t, false, fresh);
  *fresh = !t->grad;
  if (t->grad) return t->grad;
  dx_tensor *g = spare_for(ctx, t, false);
  if (!g) g = dx_tensor_new(ctx, t->dtype, t->ndim, t->shape);
  t->grad = g;
  return g;
}

/* After its producer's backward nothing reads an activation's gradient again
 * (consumers, later on the tape, have already added into it), so its buffer
 * can serve a gradient still to come. Without this a step would hold a
 * gradient for every activation at once, as well as the activations. */
static void release_grad(dx_ctx *ctx, dx_tensor *out) {
  if (out->flags & DX_TENSOR_PERSISTENT) return; /* keeping it is always safe */
  if (!out->grad) return;                        /* handed on (reshape_backward) */
  dx_spare_grad *s = NULL;
  for (dx_spare_grad **p = &ctx->lent_grads; *p; p = &(*p)->next)
    if ((*p)->t == out->grad) {
      s = *p;
      *p = s->next;
      break;
    }
  if (!s) {
    s = dx_arena_alloc(&ctx->meta, sizeof *s);
    if (!s) return;
    s->t = out->grad;
    s->bytes = (size_t)dx_numel(out->grad) * dx_dtype_size(out->grad->dtype);
  }
  s->next = ctx->spare_grads;
  ctx->spare_grads = s;
  out->grad = NULL;
}

dx_status dx_tape_walk(dx_ctx *ctx) {
  for (dx_node *n = ctx->tape; n; n = n->prev) {
    if (!n->out->grad) continue; /* nothing downstream used this output */
    n->backward(ctx, n);
    if (ctx->status != DX_OK) return ctx->status;
    release_grad(ctx, n->out);
  }
  return DX_OK;
}

dx_status dx_backward(dx_ctx *ctx, dx_tensor *loss) {
  if (ctx->status != DX_OK) return ctx->status;
  if (!loss) return dx_set_error(ctx, DX_ERR_INVALID, "dx_backward: NULL loss");
  if (dx_numel(loss) != 1)
    return dx_set_error(
        ctx, DX_ERR_INVALID,
        "dx_backward: loss has %lld elements; reduce it to one (dx_mean) or use dx_backward_seed",
        (long long)dx_numel(loss));
  if (!dx_wants_grad(loss)) return DX_OK; /* nothing requires a gradient */
  dx_tensor *g = dx_grad(ctx, loss);
  if (!g) return ctx->status;
  ctx->be->fill(ctx->be, g, 1.0);
  return dx_tape_walk(ctx);
}

dx_status dx_backward_seed(dx_ctx *ctx, dx_tensor *y, const dx_tensor *dy) {
  if (ctx->status != DX_OK) return ctx->status;
  if (!y || !dy) return dx_set_error(ctx, DX_ERR_INVALID, "dx_backward_seed: NULL tensor");
  if (dx_numel(y) != dx_numel(dy))
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_backward_seed: seed and output differ in size");
  if (!dx_wants_grad(y)) return DX_OK;
  dx_tensor *g = dx_grad(ctx, y);
  if (!g) return ctx->status;
  ctx->be->axpy(ctx->be, g, 1.0, dy);
  return dx_tape_walk(ctx);
}

dx_status dx_zero_grad(dx_ctx *ctx, dx_tensor *param) {
  if (!param || !(param->flags & DX_TENSOR_PERSISTENT))
    return dx_set_error(ctx, DX_ERR_INVALID, "dx_zero_grad: not a persistent tensor");
  if (param->grad) ctx->be->fill(ctx->be, param->grad, 0.0);
  return DX_OK;
}

/* --- views --------------------------------------------------------------------- */

dx_tensor *dx_detach(dx_ctx *ctx, dx_tensor *t) {
  DX_REQUIRE_INPUTS(ctx, t);
  return dx_tensor_view(ctx, t, t->ndim, t->shape);
}

bool dx_grad_hand_on(dx_node *n, dx_tensor *x) {
  dx_tensor *gy = n->out->grad;
  if (x->grad || (x->flags & DX_TENSOR_PERSISTENT) || !gy || gy->dtype != x->dtype ||
      dx_numel(gy) != dx_numel(x))
    return false;
  gy->ndim = x->ndim;
  for (int i = 0; i < x->ndim; i++)
    gy->shape[i] = x->shape[i];
  x->grad = gy;
  n->out->grad = NULL;
  return true;
}

/* y is x under another shape: the gradient passes through unchanged, so y's
 * buffer becomes x's when it can (at batch 128 the U-Net's attention
 * reshapes spent 2.8 % of a training step zeroing a buffer for x and adding
 * y's into it). A persistent x keeps its own buffer, which sums over steps
 * (train.accumulate). */
static void reshape_backward(dx_ctx *ctx, dx_node *n) {
  dx_tensor *x = n->in[0];
  if (dx_grad_hand_on(n, x)) return;
  dx_tensor *gx = dx_grad(ctx, x);
  if (gx) ctx->be->axpy(ctx->be, gx, 1.0, n->out->grad);
}

dx_tensor *dx_reshape(dx_ctx *ctx, dx_tensor *x, int ndim, const int64_t *shape) {
  DX_REQUIRE_INPUTS(ctx, x);
  if (ndim < 1 || ndim > DX_MAX_DIMS)
    return dx_fail(ctx, DX_ERR_INVALID, "reshape: rank %d outside 1..4", ndim);
  int64_t s[DX_MAX_DIMS], known = 1;
  int infer = -1;
  for (int i = 0; i < ndim; i++) {
    s[i] = shape[i];
    if (s[i] == -1 && infer < 0)
      infer = i;
    else if (s[i] < 1)
      return dx_fail(ctx, DX_ERR_INVALID, "reshape: bad size %lld at dim %d", (long long)s[i], i);
    else
      known *= s[i];
  }
  int64_t total = dx_numel(x);
  if (infer >= 0) {
    if (total % known) return dx_fail(ctx, DX_ERR_INVALID, "reshape: cannot infer dim %d", infer);
    s[infer] = total / known;
    known *= s[infer];
  }
  char a[64];
  if (known != total)
    return dx_fail(ctx, DX_ERR_INVALID, "reshape: %s has %lld elements, the new shape %lld",
                   dx_shape_str(x, a, sizeof a), (long long)total, (long long)known);
  dx_tensor *y = dx_tensor_view(ctx, x, ndim, s);
  if (!y) return NULL;
  dx_node *n = dx_record(ctx, "reshape", reshape_backward, y, 1, &x);
  if (n) n->reads = 0;
  return y;
}
