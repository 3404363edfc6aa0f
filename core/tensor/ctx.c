/* dx_ctx: creation, errors, grad mode, seeds. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/internal.h"
#include "util/cpus.h"
#include "util/err.h"

#define DEFAULT_ARENA_BYTES ((size_t)64 << 20)
#define META_ARENA_BYTES ((size_t)1 << 20)

const char *dx_status_str(dx_status s) {
  switch (s) {
  case DX_OK: return "ok";
  case DX_ERR_NOMEM: return "out of memory";
  case DX_ERR_INVALID: return "invalid argument";
  case DX_ERR_IO: return "i/o error";
  case DX_ERR_PARSE: return "parse error";
  case DX_ERR_CONFIG: return "configuration error";
  case DX_ERR_PLUGIN: return "plugin error";
  case DX_ERR_DB: return "database error";
  case DX_ERR_NUMERIC: return "numeric error";
  case DX_ERR_UNSUPPORTED: return "unsupported";
  case DX_ERR_INTERRUPTED: return "interrupted";
  case DX_ERR_INTERNAL: return "internal error";
  case DX_ERR_DEVICE: return "device error";
  }
  return "unknown status";
}

static int threads_from_env(void) {
  const char *s = getenv("DDPMX_THREADS");
  if (s && *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*end == '\0' && v > 0 && v <= 4096) return (int)v;
  }
  return dx_cpus_usable();
}

dx_ctx *dx_ctx_create(const dx_ctx_opts *opts, char *err, size_t errlen) {
  dx_ctx_opts o = {0};
  if (opts) o = *opts;
  char why[DX_ERRMSG_MAX];
  dx_backend *be;
  if (dx_backend_open(o.device, &o.gpu, &be, why, sizeof why) != DX_OK) {
    dx_errf(err, errlen, DX_ERR_DEVICE, NULL, "%s", why);
    return NULL;
  }
  dx_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) {
    be->destroy(be);
    dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory creating a context");
    return NULL;
  }
  ctx->be = be;
  ctx->device = (dx_device){be->kind, be->device_index};
  ctx->threads = o.threads > 0 ? o.threads : threads_from_env();
  if (ctx->be->set_threads) ctx->be->set_threads(ctx->be, ctx->threads);
  dx_arena_init(&ctx->meta, NULL, META_ARENA_BYTES);
  dx_arena_init(&ctx->data, ctx->be, o.arena_bytes ? o.arena_bytes : DEFAULT_ARENA_BYTES);
  ctx->grad_enabled = true;
  ctx->scopes_on = true;
  return ctx;
}

void dx_persistent_free_all(dx_ctx *ctx); /* tensor.c */

void dx_ctx_free(dx_ctx *ctx) {
  if (!ctx) return;
  for (int i = 0; i < ctx->n_workers; i++)
    dx_ctx_free(ctx->workers[i]);
  free(ctx->workers);
  free(ctx->shadows);
  dx_persistent_free_all(ctx);
  if (ctx->scratch) ctx->be->free(ctx->be, ctx->scratch);
  free(ctx->ranges);
  dx_arena_release(&ctx->data);
  dx_arena_release(&ctx->meta);
  ctx->be->destroy(ctx->be);
  free(ctx);
}

dx_device dx_ctx_device(const dx_ctx *ctx) { return ctx->device; }
const char *dx_ctx_device_name(const dx_ctx *ctx) { return ctx->be->device_name; }
int dx_ctx_threads(const dx_ctx *ctx) { return ctx->threads; }

static void vset(dx_ctx *ctx, dx_status code, const char *fmt, va_list ap) {
  if (ctx->status != DX_OK) return;
  ctx->status = dx_verrf(ctx->errmsg, sizeof ctx->errmsg, code, NULL, fmt, ap);
}

dx_status dx_set_error(dx_ctx *ctx, dx_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(ctx, code, fmt, ap);
  va_end(ap);
  return ctx->status;
}

void *dx_fail(dx_ctx *ctx, dx_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vset(ctx, code, fmt, ap);
  va_end(ap);
  return NULL;
}

dx_status dx_status_of(const dx_ctx *ctx) { return ctx->status; }
const char *dx_error_message(const dx_ctx *ctx) { return ctx->status ? ctx->errmsg : ""; }
void dx_clear_error(dx_ctx *ctx) {
  ctx->status = DX_OK;
  ctx->errmsg[0] = '\0';
}

bool dx_set_grad_enabled(dx_ctx *ctx, bool enabled) {
  bool old = ctx->grad_enabled;
  ctx->grad_enabled = enabled;
  return old;
}
bool dx_grad_enabled(const dx_ctx *ctx) { return ctx->grad_enabled; }

void dx_set_seed(dx_ctx *ctx, uint64_t seed) {
  ctx->seed = seed;
  ctx->rng_offset = 0;
}

void dx_set_rng_share(dx_ctx *ctx, int64_t first, int64_t n, int64_t total) {
  bool split = n > 0 && total > n && first >= 0 && first + n <= total;
  ctx->rng_first = split ? (uint64_t)first : 0;
  ctx->rng_n = split ? (uint64_t)n : 0;
  ctx->rng_total = split ? (uint64_t)total : 0;
}

uint64_t dx_next_rng_offset(dx_ctx *ctx, uint64_t count) {
  /* A split batch: the draw is this share's slice of the whole batch's draw
   * (samples are the leading dimension). */
  if (ctx->rng_n && count % ctx->rng_n == 0) {
    uint64_t per = count / ctx->rng_n, off = ctx->rng_offset + ctx->rng_first * per;
    ctx->rng_offset += per * ctx->rng_total;
    return off;
  }
  uint64_t off = ctx->rng_offset;
  ctx->rng_offset += count;
  return off;
}

void dx_drop_shares(dx_ctx *ctx) {
  for (int i = 0; i < ctx->n_workers; i++)
    dx_step_reset(ctx->workers[i]);
  ctx->shares_taped = false;
}

void dx_step_reset(dx_ctx *ctx) {
  if (ctx->shares_taped) dx_drop_shares(ctx); /* the tapes the workers keep end with ctx's */
  ctx->tape = NULL;
  ctx->n_scopes = 0;
  ctx->spare_grads = NULL;
  ctx->lent_grads = NULL;
  dx_arena_reset(&ctx->meta);
  dx_arena_reset(&ctx->data);
}

/* --- scopes ------------------------------------------------------------------ */

void dx_scope_begin(dx_ctx *ctx) {
  int i = ctx->n_scopes++;
  if (i >= DX_SCOPE_MAX) return; /* deeper scopes fold into this one */
  ctx->scopes[i].mark = dx_arena_mark_of(&ctx->data);
  ctx->scopes[i].tape = ctx->tape;
  ctx->scopes[i].active = ctx->scopes_on;
}

bool dx_set_scopes_enabled(dx_ctx *ctx, bool enabled) {
  bool old = ctx->scopes_on;
  ctx->scopes_on = enabled;
  return old;
}

/* dst lies below src and the two may overlap: copy in pieces no longer than
 * the distance between them, low to high, so that no piece overwrites
 * values still to be read (a backend's copy need not allow overlap). */
static void move_down(void *dst, const void *src, size_t n, void *user) {
  dx_ctx *ctx = user;
  const char *s = src, *d = dst;
  size_t piece = s > d && s < d + n ? (size_t)(s - d) : n;
  for (size_t off = 0; off < n; off += piece) {
    size_t len = n - off < piece ? n - off : piece;
    /* Bytes, whatever the tensors there: float32 copies move them as they are. */
    dx_tensor to = {.ndim = 1,
                    .shape = {(int64_t)(len / sizeof(float))},
                    .dtype = DX_F32,
                    .device = ctx->device,
                    .data = (char *)dst + off};
    dx_tensor from = to;
    from.data = (char *)src + off;
    ctx->be->copy(ctx->be, &to, &from);
  }
}

/* Room for n more ranges; false when there is none to be had. */
static bool room_for(dx_ctx *ctx, int n) {
  if (ctx->n_ranges + n <= ctx->cap_ranges) return true;
  int cap = ctx->cap_ranges ? ctx->cap_ranges : 256;
  while (cap < ctx->n_ranges + n)
    cap *= 2;
  dx_arena_range *r = realloc(ctx->ranges, (size_t)cap * sizeof *r);
  if (!r) return false;
  ctx->ranges = r, ctx->cap_ranges = cap;
  return true;
}

static bool add_range(dx_ctx *ctx, dx_tensor *t) {
  if (!t || !t->data || (t->flags & DX_TENSOR_PERSISTENT)) return true;
  if (!room_for(ctx, 1)) return false;
  ctx->ranges[ctx->n_ranges++] =
      (dx_arena_range){.slot = &t->data, .bytes = (size_t)dx_numel(t) * dx_dtype_size(t->dtype)};
  return true;
}

/* What must survive the scope: keep, and every tensor the backward of a node
 * recorded inside it reads (dx_node.reads). False when that cannot be told
 * (a node that reads what it does not list, or no memory for the list):
 * then the scope keeps everything. */
static bool survivors(dx_ctx *ctx, dx_node *since, dx_tensor *keep) {
  ctx->n_ranges = 0;
  if (!add_range(ctx, keep)) return false;
  for (dx_node *n = ctx->tape; n && n != since; n = n->prev) {
    if (n->reads & DX_READS_OPAQUE) return false;
    for (int k = 0; k < n->n_in; k++)
      if ((n->reads & DX_READS_IN(k)) && !add_range(ctx, n->in[k])) return false;
    for (int k = 0; k < DX_NODE_MAX_SAVED; k++)
      if ((n->reads & DX_READS_SAVED(k)) && !add_range(ctx, n->saved[k])) return false;
    if ((n->reads & DX_READS_OUT) && !add_range(ctx, n->out)) return false;
  }
  return true;
}

dx_tensor *dx_scope_end(dx_ctx *ctx, dx_tensor *keep) {
  if (ctx->n_scopes == 0) return keep; /* unbalanced; nothing to give back */
  int i = --ctx->n_scopes;
  if (i >= DX_SCOPE_MAX || !ctx->scopes[i].active) return keep;
  if (!survivors(ctx, ctx->scopes[i].tape, keep)) return keep;
  dx_arena_pop(&ctx->data, ctx->scopes[i].mark, ctx->ranges, ctx->n_ranges, move_down, ctx);
  return keep;
}

dx_arena_stats dx_arena_stats_of(const dx_ctx *ctx) {
  dx_arena_stats s;
  s.used = ctx->meta.used + ctx->data.used;
  s.peak = ctx->meta.peak + ctx->data.peak;
  s.capacity = ctx->meta.capacity + ctx->data.capacity;
  s.sys_allocs = ctx->meta.sys_allocs + ctx->data.sys_allocs;
  for (int i = 0; i < ctx->n_workers; i++) { /* their memory is ctx's work too */
    dx_arena_stats w = dx_arena_stats_of(ctx->workers[i]);
    s.used += w.used, s.peak += w.peak, s.capacity += w.capacity, s.sys_allocs += w.sys_allocs;
  }
  return s;
}

/* One buffer serves every kernel in turn: a workspace lives only for one
 * kernel call, so taking a fresh one from the arena for each call would make
 * a step's memory grow with the number of convolutions in it. The buffer
 * grows to the largest request during the first step and then stays. */
void *dx_scratch(dx_ctx *ctx, size_t bytes) {
  if (bytes <= ctx->scratch_bytes) return ctx->scratch;
  if (ctx->scratch) ctx->be->free(ctx->be, ctx->scratch);
  ctx->scratch = ctx->be->alloc(ctx->be, bytes);
  ctx->scratch_bytes = ctx->scratch ? bytes : 0;
  ctx->data.sys_allocs++;
  if (!ctx->scratch) dx_fail(ctx, DX_ERR_NOMEM, "out of memory: %zu bytes of scratch", bytes);
  return ctx->scratch;
}

dx_status dx_synchronize(dx_ctx *ctx) {
  char why[DX_ERRMSG_MAX] = "";
  dx_status st = ctx->be->synchronize(ctx->be, why, sizeof why);
  if (st != DX_OK) dx_set_error(ctx, st, "%s", why[0] ? why : dx_status_str(st));
  return st;
}

bool dx_kernel_ok(dx_ctx *ctx, const void *kernel, const char *op) {
  if (kernel) return true;
  dx_fail(ctx, DX_ERR_UNSUPPORTED, "op %s is not implemented by the %s backend", op, ctx->be->name);
  return false;
}
