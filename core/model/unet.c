/* U-Net assembly: stem, time MLP, down path, middle, up path with skips. */
#include "model/unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/batch_view.h"
#include "tensor/checkpoint.h"
#include "tensor/shares.h"

typedef struct inst {
  const dx_block_ops *ops; /* NULL: identity */
  void *state;
} inst;

typedef struct conv {
  dx_tensor *w, *b;
  int pad;
} conv;

typedef struct level {
  inst b1, b2, attn;
  conv move;     /* down: 1x1 after unshuffle, or 3x3 at the last level; up: 3x3 */
  bool resample; /* pixel-unshuffle (down) or nearest upsample (up) around `move` */
} level;

/* A segment of the forward pass (a down level, the middle, an up level, the
 * output head) as dx_checkpoint calls it back, during backward too. */
typedef struct part {
  dx_unet *net;
  int i;
  bool training;
} part;

enum { PART_MID = 2 * DX_UNET_MAX_LEVELS, PART_HEAD, N_PARTS };

struct dx_unet {
  dx_ctx *ctx;
  dx_unet_config cfg;
  part parts[2][N_PARTS]; /* [training]: down levels, up levels, middle, head */
  dx_param_list params;
  uint64_t seed, offset;
  conv init_conv, final_conv;
  dx_tensor *t1_w, *t1_b, *t2_w, *t2_b;
  dx_tensor *classes_emb; /* (classes + 1, 4 dim), or NULL */
  level down[DX_UNET_MAX_LEVELS], up[DX_UNET_MAX_LEVELS];
  inst mid1, mid_attn, mid2, final_block;
};

static dx_module *scope(dx_unet *net, const char *prefix) {
  dx_module *m = dx_module_create(net->ctx, &net->params, prefix, net->seed, &net->offset);
  if (m) dx_module_set_dtype(m, net->cfg.dtype);
  return m;
}

static conv make_conv(dx_module *m, const char *name, int64_t o, int64_t i, int64_t k) {
  char w[96], b[96];
  int64_t ws[4] = {o, i, k, k}, bs[1] = {o};
  snprintf(w, sizeof w, "%s.weight", name);
  snprintf(b, sizeof b, "%s.bias", name);
  conv c = {dx_module_param(m, w, 4, ws, DX_INIT_FAN_IN_UNIFORM, i * k * k),
            dx_module_param(m, b, 1, bs, DX_INIT_FAN_IN_UNIFORM, i * k * k), (int)(k / 2)};
  return c;
}

static dx_status make_block(dx_unet *net, inst *out, const dx_block_spec *spec, unsigned role,
                            const char *prefix, int64_t in, int64_t o, int64_t size) {
  if (!spec->desc) return DX_OK;
  const dx_block_ops *ops = spec->desc->ops;
  if (!(ops->roles & role))
    return dx_set_error(
        net->ctx, DX_ERR_CONFIG, "block plugin '%s' cannot serve as %s (at %s)", spec->desc->name,
        role == DX_BLOCK_ROLE_ATTN ? "an attention block" : "a residual block", prefix);
  dx_module *m = scope(net, prefix);
  if (!m) return dx_status_of(net->ctx);
  dx_block_shape shape = {in, o, role == DX_BLOCK_ROLE_RES ? net->cfg.dim * 4 : 0, size, size};
  out->ops = ops;
  dx_status s = ops->create(m, spec->params, &shape, &out->state);
  dx_module_free(m);
  return s != DX_OK ? s : dx_status_of(net->ctx);
}

static dx_status build_level(dx_unet *net, int i, int64_t a, int64_t b, int64_t size) {
  const dx_unet_config *c = &net->cfg;
  bool last = i == c->n_levels - 1;
  char p[64];
  level *d = &net->down[i];
  snprintf(p, sizeof p, "downs.%d.0", i);
  if (make_block(net, &d->b1, &c->block, DX_BLOCK_ROLE_RES, p, a, a, size))
    return dx_status_of(net->ctx);
  snprintf(p, sizeof p, "downs.%d.1", i);
  if (make_block(net, &d->b2, &c->block, DX_BLOCK_ROLE_RES, p, a, a, size))
    return dx_status_of(net->ctx);
  snprintf(p, sizeof p, "downs.%d.2", i);
  if (make_block(net, &d->attn, &c->attention[i], DX_BLOCK_ROLE_ATTN, p, a, a, size))
    return dx_status_of(net->ctx);
  dx_module *m = scope(net, "");
  if (!m) return dx_status_of(net->ctx);
  d->resample = !last;
  snprintf(p, sizeof p, last ? "downs.%d.3" : "downs.%d.3.1", i);
  d->move = last ? make_conv(m, p, b, a, 3) : make_conv(m, p, b, 4 * a, 1);
  dx_module_free(m);
  return dx_status_of(net->ctx);
}

/* ups.j mirrors level i = n-1-j: in (b + a) with the skip, out b, then to a. */
static dx_status build_up(dx_unet *net, int j, int64_t a, int64_t b, int64_t size) {
  const dx_unet_config *c = &net->cfg;
  bool last = j == c->n_levels - 1;
  char p[64];
  level *u = &net->up[j];
  snprintf(p, sizeof p, "ups.%d.0", j);
  if (make_block(net, &u->b1, &c->block, DX_BLOCK_ROLE_RES, p, b + a, b, size))
    return dx_status_of(net->ctx);
  snprintf(p, sizeof p, "ups.%d.1", j);
  if (make_block(net, &u->b2, &c->block, DX_BLOCK_ROLE_RES, p, b + a, b, size))
    return dx_status_of(net->ctx);
  snprintf(p, sizeof p, "ups.%d.2", j);
  if (make_block(net, &u->attn, &c->attention[c->n_levels - 1 - j], DX_BLOCK_ROLE_ATTN, p, b, b,
                 size))
    return dx_status_of(net->ctx);
  dx_module *m = scope(net, "");
  if (!m) return dx_status_of(net->ctx);
  u->resample = !last;
  snprintf(p, sizeof p, last ? "ups.%d.3" : "ups.%d.3.1", j);
  u->move = make_conv(m, p, a, b, 3);
  dx_module_free(m);
  return dx_status_of(net->ctx);
}

static dx_status build_stem(dx_unet *net) {
  const dx_unet_config *c = &net->cfg;
  dx_module *m = scope(net, "");
  if (!m) return dx_status_of(net->ctx);
  int64_t td = 4 * c->dim, w1[2] = {td, c->dim}, w2[2] = {td, td}, b[1] = {td};
  int64_t in = c->self_condition ? 2 * c->in_channels : c->in_channels;
  net->init_conv = make_conv(m, "init_conv", c->dim, in, 1);
  net->t1_w = dx_module_param(m, "time_mlp.1.weight", 2, w1, DX_INIT_FAN_IN_UNIFORM, c->dim);
  net->t1_b = dx_module_param(m, "time_mlp.1.bias", 1, b, DX_INIT_FAN_IN_UNIFORM, c->dim);
  net->t2_w = dx_module_param(m, "time_mlp.3.weight", 2, w2, DX_INIT_FAN_IN_UNIFORM, td);
  net->t2_b = dx_module_param(m, "time_mlp.3.bias", 1, b, DX_INIT_FAN_IN_UNIFORM, td);
  dx_module_free(m);
  return dx_status_of(net->ctx);
}

static dx_status build(dx_unet *net) {
  const dx_unet_config *c = &net->cfg;
  int64_t dims[DX_UNET_MAX_LEVELS + 1] = {c->dim}, size = c->image_size;
  for (int i = 0; i < c->n_levels; i++)
    dims[i + 1] = c->dim * c->mults[i];
  if (build_stem(net)) return dx_status_of(net->ctx);
  for (int i = 0; i < c->n_levels; i++) {
    if (build_level(net, i, dims[i], dims[i + 1], size)) return dx_status_of(net->ctx);
    if (i < c->n_levels - 1) size /= 2; /* every level but the last halves H and W */
  }
  int64_t mid = dims[c->n_levels];
  if (make_block(net, &net->mid1, &c->block, DX_BLOCK_ROLE_RES, "mid_block1", mid, mid, size) ||
      make_block(net, &net->mid_attn, &c->mid_attention, DX_BLOCK_ROLE_ATTN, "mid_attn", mid, mid,
                 size) ||
      make_block(net, &net->mid2, &c->block, DX_BLOCK_ROLE_RES, "mid_block2", mid, mid, size))
    return dx_status_of(net->ctx);
  for (int j = 0; j < c->n_levels; j++) {
    int i = c->n_levels - 1 - j;
    if (build_up(net, j, dims[i], dims[i + 1], size)) return dx_status_of(net->ctx);
    if (j < c->n_levels - 1) size *= 2;
  }
  if (make_block(net, &net->final_block, &c->block, DX_BLOCK_ROLE_RES, "final_res_block",
                 2 * c->dim, c->dim, size))
    return dx_status_of(net->ctx);
  dx_module *m = scope(net, "");
  if (!m) return dx_status_of(net->ctx);
  net->final_conv = make_conv(m, "final_conv", c->out_channels, c->dim, 1);
  /* Last, so that an unconditional net's initial weights do not move. A
   * lookup is a one-hot row times this table (time_cond), so it is
   * nn.Embedding's weight, U(-1, 1) here where PyTorch draws N(0, 1). */
  int64_t es[2] = {c->classes + 1, 4 * c->dim};
  if (c->classes > 0)
    net->classes_emb = dx_module_param(m, "classes_emb.weight", 2, es, DX_INIT_FAN_IN_UNIFORM, 1);
  dx_module_free(m);
  return dx_status_of(net->ctx);
}

static dx_status check_config(dx_ctx *ctx, const dx_unet_config *c) {
  if (c->n_levels < 1 || c->n_levels > DX_UNET_MAX_LEVELS)
    return dx_set_error(ctx, DX_ERR_CONFIG, "model.dim_mults: %d levels; use 1 to %d", c->n_levels,
                        DX_UNET_MAX_LEVELS);
  if (!c->block.desc)
    return dx_set_error(ctx, DX_ERR_CONFIG, "model.block: a block plugin is required");
  if (c->classes < 0)
    return dx_set_error(ctx, DX_ERR_CONFIG, "model.classes: %lld; use 0 (none) or more",
                        (long long)c->classes);
  int64_t f = (int64_t)1 << (c->n_levels - 1);
  if (c->image_size % f)
    return dx_set_error(ctx, DX_ERR_CONFIG,
                        "images of %lld pixels cannot be halved %d times; set data.pad_pow2: true "
                        "or use fewer dim_mults",
                        (long long)c->image_size, c->n_levels - 1);
  return DX_OK;
}

dx_unet *dx_unet_create(dx_ctx *ctx, const dx_unet_config *cfg, uint64_t seed) {
  if (check_config(ctx, cfg) != DX_OK) return NULL;
  dx_unet *net = calloc(1, sizeof *net);
  if (!net) {
    dx_set_error(ctx, DX_ERR_NOMEM, "out of memory building the U-Net");
    return NULL;
  }
  net->ctx = ctx;
  net->cfg = *cfg;
  net->seed = seed;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < N_PARTS; i++)
      net->parts[k][i] = (part){net, i % DX_UNET_MAX_LEVELS, k == 1};
  if (build(net) != DX_OK) {
    dx_unet_free(net);
    return NULL;
  }
  return net;
}

static void inst_free(inst *b) {
  if (b->ops && b->ops->destroy) b->ops->destroy(b->state);
}

void dx_unet_free(dx_unet *net) {
  if (!net) return;
  for (int i = 0; i < DX_UNET_MAX_LEVELS; i++) {
    level *ls[2] = {&net->down[i], &net->up[i]};
    for (int k = 0; k < 2; k++)
      inst_free(&ls[k]->b1), inst_free(&ls[k]->b2), inst_free(&ls[k]->attn);
  }
  inst_free(&net->mid1), inst_free(&net->mid_attn), inst_free(&net->mid2),
      inst_free(&net->final_block);
  dx_param_list_free(net->ctx, &net->params);
  free(net);
}

dx_param_list *dx_unet_params(dx_unet *net) { return &net->params; }

/* --- forward ------------------------------------------------------------------- */

/* Each step of the pass below runs in a scope (dx_scope_begin): without the
 * tape, what a block made inside itself is given back when it returns, so
 * sampling and evaluation hold the skips and one block's work at a time. */

static dx_tensor *cat2(dx_ctx *ctx, dx_tensor *a, dx_tensor *b) {
  dx_tensor *xs[2] = {a, b};
  return a && b ? dx_concat(ctx, xs, 2) : NULL;
}

/* Block b on x, or on x concatenated with skip when skip is given. */
static dx_tensor *run_cat(dx_ctx *ctx, const inst *b, dx_tensor *x, dx_tensor *skip,
                          dx_tensor *temb, bool training) {
  if (!b->ops || !x) return x;
  dx_scope_begin(ctx);
  if (skip) x = cat2(ctx, x, skip);
  return dx_scope_end(ctx, x ? b->ops->forward(ctx, b->state, x, temb, training) : NULL);
}

static dx_tensor *run(dx_ctx *ctx, const inst *b, dx_tensor *x, dx_tensor *temb, bool training) {
  return run_cat(ctx, b, x, NULL, temb, training);
}

/* Convolution c on x, after a pixel-unshuffle (r < 0) or a nearest
 * upsampling (r > 0) by |r| when r is not 0. */
static dx_tensor *apply_resampled(dx_ctx *ctx, const conv *c, dx_tensor *x, int r) {
  dx_scope_begin(ctx);
  if (r < 0) x = dx_pixel_unshuffle(ctx, x, -r);
  if (r > 0) x = dx_upsample_nearest(ctx, x, r);
  return dx_scope_end(ctx, dx_conv2d(ctx, x, c->w, c->b, 1, c->pad, 1));
}

static dx_tensor *apply(dx_ctx *ctx, const conv *c, dx_tensor *x) {
  return apply_resampled(ctx, c, x, 0);
}

static dx_tensor *time_mlp(dx_ctx *ctx, dx_unet *net, dx_tensor *t) {
  dx_scope_begin(ctx);
  dx_tensor *e = dx_time_embedding(ctx, t, (int)net->cfg.dim);
  e = dx_gelu(ctx, dx_linear(ctx, e, net->t1_w, net->t1_b), DX_GELU_ERF);
  return dx_scope_end(ctx, dx_linear(ctx, e, net->t2_w, net->t2_b));
}

/* The rows of classes_emb for labels (NULL: "no class"): one-hot (N, K+1)
 * times the table, so matmul's backward gives the table's gradient. */
static dx_tensor *class_rows(dx_ctx *ctx, dx_unet *net, const int64_t *labels, int64_t n) {
  int64_t k = net->cfg.classes + 1, shape[2] = {n, k};
  double *onehot = calloc((size_t)(n * k), sizeof *onehot);
  if (!onehot) return dx_set_error(ctx, DX_ERR_NOMEM, "out of memory for class labels"), NULL;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = labels ? labels[i] : k - 1;
    if (c < 0 || c >= k) {
      free(onehot);
      return dx_set_error(ctx, DX_ERR_INVALID, "class label %lld of sample %lld: use 0 to %lld",
                          (long long)c, (long long)i, (long long)(k - 1)),
             NULL;
    }
    onehot[i * k + c] = 1.0;
  }
  dx_tensor *h = dx_tensor_new(ctx, net->cfg.dtype, 2, shape);
  if (h) dx_tensor_write(ctx, h, onehot, DX_F64);
  free(onehot);
  return h ? dx_matmul(ctx, h, net->classes_emb, false, false) : NULL;
}

/* The time embedding, plus the class's row for a conditional net. */
static dx_tensor *time_cond(dx_ctx *ctx, dx_unet *net, dx_tensor *t, const int64_t *labels) {
  dx_tensor *te = time_mlp(ctx, net, t);
  if (!net->classes_emb || !te) return te;
  return dx_add(ctx, te, class_rows(ctx, net, labels, t->shape[0]));
}

/* x, or [x_self, x] along channels when the net self-conditions. */
static dx_tensor *stem_input(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *x_self) {
  if (!net->cfg.self_condition || !x) return x;
  if (!x_self) x_self = dx_tensor_zeros(ctx, x->dtype, x->ndim, x->shape);
  return cat2(ctx, x_self, x);
}

/* in: x, te -> out: the level's two skips and x for the next level. The
 * scopes around chains of blocks (here and below) keep one tensor of the
 * chain, so that the links between them are given back too without the tape. */
static dx_status down_level(dx_ctx *ctx, void *user, dx_tensor *const *in, dx_tensor **out) {
  const part *p = user;
  const level *d = &p->net->down[p->i];
  dx_tensor *te = in[1];
  out[0] = run(ctx, &d->b1, in[0], te, p->training);
  dx_scope_begin(ctx);
  out[1] = dx_scope_end(
      ctx, run(ctx, &d->attn, run(ctx, &d->b2, out[0], te, p->training), te, p->training));
  out[2] = apply_resampled(ctx, &d->move, out[1], d->resample ? -2 : 0);
  return dx_status_of(ctx);
}

/* in: x, te -> out: x */
static dx_status middle(dx_ctx *ctx, void *user, dx_tensor *const *in, dx_tensor **out) {
  const part *p = user;
  dx_unet *net = p->net;
  dx_scope_begin(ctx);
  dx_tensor *x = run(ctx, &net->mid1, in[0], in[1], p->training);
  x = run(ctx, &net->mid_attn, x, in[1], p->training);
  out[0] = dx_scope_end(ctx, run(ctx, &net->mid2, x, in[1], p->training));
  return dx_status_of(ctx);
}

/* in: x, the level's two skips (last pushed first), te -> out: x */
static dx_status up_level(dx_ctx *ctx, void *user, dx_tensor *const *in, dx_tensor **out) {
  const part *p = user;
  const level *u = &p->net->up[p->i];
  dx_tensor *te = in[3];
  dx_scope_begin(ctx);
  dx_tensor *x = run_cat(ctx, &u->b1, in[0], in[1], te, p->training);
  x = run_cat(ctx, &u->b2, x, in[2], te, p->training);
  x = run(ctx, &u->attn, x, te, p->training);
  out[0] = dx_scope_end(ctx, apply_resampled(ctx, &u->move, x, u->resample ? 2 : 0));
  return dx_status_of(ctx);
}

/* in: x, the stem's output, te -> out: the network's output */
static dx_status head(dx_ctx *ctx, void *user, dx_tensor *const *in, dx_tensor **out) {
  const part *p = user;
  dx_scope_begin(ctx);
  dx_tensor *x = run_cat(ctx, &p->net->final_block, in[0], in[1], in[2], p->training);
  out[0] = dx_scope_end(ctx, apply(ctx, &p->net->final_conv, x));
  return dx_status_of(ctx);
}

/* fn over in, as one checkpointed segment when the network recomputes. */
static void segment(dx_ctx *ctx, dx_unet *net, dx_segment_fn fn, int which, bool training, int n_in,
                    dx_tensor *const *in, int n_out, dx_tensor **out) {
  for (int i = 0; i < n_in; i++)
    if (!in[i]) { /* out stays NULL */
      if (dx_status_of(ctx) == DX_OK) dx_set_error(ctx, DX_ERR_INVALID, "U-Net: a NULL tensor");
      return;
    }
  void *p = &net->parts[training][which];
  if (net->cfg.recompute && training)
    dx_checkpoint(ctx, fn, p, n_in, in, n_out, out);
  else
    fn(ctx, p, in, out);
}

dx_tensor *dx_unet_forward(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *t, bool training) {
  return dx_unet_forward_cond(ctx, net, x, t, NULL, training);
}

static dx_tensor *forward_batch(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *t,
                                const dx_unet_cond *cond, bool training) {
  const int n = net->cfg.n_levels;
  const int64_t *labels = cond ? cond->labels : NULL;
  dx_tensor *x_self = cond ? cond->x_self : NULL;
  if (labels && !net->classes_emb)
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "class labels given to a model without classes "
                        "(model.classes is 0)"),
           NULL;
  if (x_self && !net->cfg.self_condition)
    return dx_set_error(ctx, DX_ERR_INVALID,
                        "an x0 estimate given to a model that does not "
                        "self-condition"),
           NULL;
  dx_tensor *skips[2 * DX_UNET_MAX_LEVELS] = {0};
  int top = 0;
  x = apply(ctx, &net->init_conv, stem_input(ctx, net, x, x_self));
  dx_tensor *stem = x, *te = time_cond(ctx, net, t, labels);
  for (int i = 0; i < n; i++) {
    dx_tensor *in[2] = {x, te}, *out[3] = {0};
    segment(ctx, net, down_level, i, training, 2, in, 3, out);
    skips[top++] = out[0], skips[top++] = out[1], x = out[2];
  }
  dx_tensor *mid_in[2] = {x, te}, *y = NULL;
  segment(ctx, net, middle, PART_MID, training, 2, mid_in, 1, &y);
  for (int j = 0; j < n; j++) {
    dx_tensor *in[4] = {y, skips[top - 1], skips[top - 2], te};
    top -= 2;
    y = NULL;
    segment(ctx, net, up_level, DX_UNET_MAX_LEVELS + j, training, 4, in, 1, &y);
  }
  dx_tensor *head_in[3] = {y, stem, te}, *out = NULL;
  segment(ctx, net, head, PART_HEAD, training, 3, head_in, 1, &out);
  return out;
}

/* Images per pass of a forward without the tape on the CPU.
 * Every op of the network treats images apart, so the batch may run a few
 * images at a time; each chunk gives back all it made before the next
 * begins, which then finds those bytes still in cache. bench/train_step
 * --mode sample, one thread, user CPU seconds per image over 8 steps:
 * 5.6 ms at batch 8 and 16 against 6.15 ms at batch 64; chunks of 2, 4, 8
 * and 16 of a batch of 64: 3.58, 3.31, 3.29 and 3.51 CPU-s for 9 passes.
 * With several threads each chunk runs on one thread alone, the chunks
 * shared out as threads come free (dx_run_pieces): no barrier per op and no
 * data shared between the threads. */
#define CHUNK_IMAGES 8

/* The network on images [i0, i0 + m) into their place in out. */
static void forward_chunk(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *t,
                          const dx_unet_cond *cond, int64_t i0, int64_t m, dx_tensor *out) {
  dx_unet_cond c = {cond && cond->labels ? cond->labels + i0 : NULL,
                    cond && cond->x_self ? dx_batch_view(ctx, cond->x_self, i0, m) : NULL};
  dx_scope_begin(ctx);
  dx_tensor *y = forward_batch(ctx, net, dx_batch_view(ctx, x, i0, m), dx_batch_view(ctx, t, i0, m),
                               &c, false);
  dx_tensor *dst = dx_batch_view(ctx, out, i0, m);
  if (y && dst) {
    if (dx_same_shape(y, dst))
      dx_tensor_copy(ctx, dst, y);
    else
      dx_set_error(ctx, DX_ERR_INVALID, "U-Net: an output not the size of its input");
  }
  dx_scope_end(ctx, NULL);
}

typedef struct chunk_job {
  dx_unet *net;
  dx_tensor *x, *t, *out;
  const dx_unet_cond *cond;
} chunk_job;

static void run_chunk(dx_ctx *ctx, int64_t i, void *arg) {
  chunk_job *j = arg;
  int64_t n = j->x->shape[0], i0 = i * CHUNK_IMAGES;
  int64_t m = n - i0 < CHUNK_IMAGES ? n - i0 : CHUNK_IMAGES;
  forward_chunk(ctx, j->net, j->x, j->t, j->cond, i0, m, j->out);
}

/* With the tape on, each thread runs the forward pass, and later the
 * backward pass, of its share of the batch (dx_run_shares). */
typedef struct share_job {
  dx_unet *net;
  dx_tensor *x, *t;
  const dx_unet_cond *cond;
  bool training;
} share_job;

static dx_tensor *forward_share(dx_ctx *w, int64_t i0, int64_t m, void *arg) {
  share_job *j = arg;
  const dx_unet_cond *cond = j->cond;
  dx_unet_cond c = {cond && cond->labels ? cond->labels + i0 : NULL,
                    cond && cond->x_self ? dx_batch_view(w, cond->x_self, i0, m) : NULL};
  return forward_batch(w, j->net, dx_batch_view(w, j->x, i0, m), dx_batch_view(w, j->t, i0, m), &c,
                       j->training);
}

static bool takes_grad(const dx_tensor *x) { return x && (x->flags & DX_TENSOR_REQUIRES_GRAD); }

/* Whether the batch may be split along its first dim: an image's output
 * depends on that image alone in every op of the network. */
static bool splittable(dx_ctx *ctx, const dx_tensor *x, const dx_tensor *t,
                       const dx_unet_cond *cond) {
  return x && t && x->ndim == 4 && t->ndim == 1 && t->shape[0] == x->shape[0] &&
         (!cond || !cond->x_self || cond->x_self->shape[0] == x->shape[0]) &&
         dx_ctx_device(ctx).kind == DX_DEVICE_CPU;
}

dx_tensor *dx_unet_forward_cond(dx_ctx *ctx, dx_unet *net, dx_tensor *x, dx_tensor *t,
                                const dx_unet_cond *cond, bool training) {
  if (!splittable(ctx, x, t, cond)) return forward_batch(ctx, net, x, t, cond, training);
  int64_t n = x->shape[0], shape[4] = {n, net->final_conv.w->shape[0], x->shape[2], x->shape[3]};
  bool taped = dx_grad_enabled(ctx);
  bool shares = taped && dx_shares_apply(ctx, n) && !takes_grad(x) && !takes_grad(t) &&
                !(cond && takes_grad(cond->x_self));
  bool pieces = !taped && !training && n > CHUNK_IMAGES;
  if (!shares && !pieces) return forward_batch(ctx, net, x, t, cond, training);
  dx_tensor *out = dx_tensor_new(ctx, x->dtype, 4, shape);
  if (!out) return NULL;
  if (shares) {
    share_job job = {net, x, t, cond, training};
    return dx_run_shares(ctx, out, forward_share, &job);
  }
  chunk_job job = {net, x, t, out, cond};
  int64_t chunks = (n + CHUNK_IMAGES - 1) / CHUNK_IMAGES;
  return dx_run_pieces(ctx, chunks, run_chunk, &job) == DX_OK ? out : NULL;
}
