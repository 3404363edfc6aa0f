/* Private to libddpmx: the context's layout, tape nodes and the helpers every
 * op file uses. An op file (core/tensor/<op>.c) follows one pattern:
 *
 *   dx_tensor *dx_thing(dx_ctx *ctx, dx_tensor *x) {
 *     DX_REQUIRE_INPUTS(ctx, x);                   // NULL in -> NULL out
 *     ...check shapes with dx_fail(ctx, ...)...
 *     dx_tensor *y = dx_tensor_new(ctx, ...);      // from the arena
 *     if (!y || !dx_kernel_ok(ctx, be->thing, "thing")) return NULL;
 *     be->thing(be, x, y);
 *     dx_node *n = dx_record(ctx, "thing", thing_backward, y, 1, &x);
 *     if (n) n->saved[0] = ...;                    // only when grads flow
 *     return y;
 *   }
 *
 * with its backward right above it:
 *
 *   static void thing_backward(dx_ctx *ctx, dx_node *n) {
 *     dx_tensor *x = n->in[0];
 *     if (dx_wants_grad(x)) be->thing_bwd(be, ..., n->out->grad, dx_grad(ctx, x));
 *   }
 */
#ifndef DX_TENSOR_INTERNAL_H
#define DX_TENSOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "ddpmx/tensor.h"

#define DX_NODE_MAX_IN 4
#define DX_NODE_MAX_SAVED 4

typedef void (*dx_backward_fn)(dx_ctx *ctx, dx_node *n);

struct dx_node {
  const char *op;
  dx_backward_fn backward;
  dx_tensor *out;
  dx_tensor *in[DX_NODE_MAX_IN];
  int n_in;
  dx_tensor *saved[DX_NODE_MAX_SAVED]; /* extra tensors the backward needs */
  int64_t iarg[8];                     /* small op parameters */
  double farg[4];
  unsigned reads; /* DX_READS_*: the tensors whose values the backward reads */
  dx_node *prev;  /* tape order, newest first */
};

/* Which of a node's tensors its backward reads the values of (their shapes
 * it may always read). dx_record sets DX_READS_ALL; an op that reads less
 * says so, and a scope then gives back, with the tape on too, what no
 * backward reads (dx_scope_end). It must hold for every backend's kernels.
 * DX_READS_OPAQUE: the backward reads tensors the node does not list. */
#define DX_READS_IN(i) (1u << (i))
#define DX_READS_SAVED(j) (1u << (4 + (j)))
#define DX_READS_OUT (1u << 8)
#define DX_READS_ALL 0x1ffu
#define DX_READS_OPAQUE (1u << 9)

/* A bump allocator made of chunks; reset in O(chunks). */
typedef struct dx_arena_chunk dx_arena_chunk;
typedef struct dx_arena {
  dx_backend *be;         /* NULL: host memory (metadata) */
  dx_arena_chunk *chunks; /* newest first */
  size_t used;            /* bytes handed out since the last reset */
  size_t peak;
  size_t span; /* the most chunk space a step has filled (holes included) */
  size_t capacity;
  uint64_t sys_allocs;
} dx_arena;

void dx_arena_init(dx_arena *a, dx_backend *be, size_t initial);
void *dx_arena_alloc(dx_arena *a, size_t bytes);
void dx_arena_reset(dx_arena *a);

void dx_arena_release(dx_arena *a);

/* A place in the arena to come back to, like a stack: dx_arena_pop hands
 * back everything allocated after the mark (chunks made since are freed at
 * once) except the ranges r[0..n): each range's bytes at *slot move down
 * towards the mark, in the order they were made (`move` copies them; source
 * and destination may overlap) and *slot is set to their new place. A
 * range made before the mark stays where it is. Ranges may overlap (views
 * of one tensor); r is reordered. dx_arena_rewind keeps nothing. Marks are
 * popped newest first (scopes in ctx.c, checkpointed segments in
 * checkpoint.c, nested). */
typedef struct dx_arena_mark {
  dx_arena_chunk *chunk;
  size_t off, used;
} dx_arena_mark;
typedef struct dx_arena_range {
  void **slot; /* where the range's address is kept (a tensor's data) */
  size_t bytes;
  int chunk;    /* dx_arena_pop's own: */
  char *p, *lo; /* *slot before, rounded down */
} dx_arena_range;
typedef void (*dx_arena_move)(void *dst, const void *src, size_t n, void *user);
dx_arena_mark dx_arena_mark_of(const dx_arena *a);
void dx_arena_pop(dx_arena *a, dx_arena_mark m, dx_arena_range *r, int n, dx_arena_move move,
                  void *user);
void dx_arena_rewind(dx_arena *a, dx_arena_mark m);
/* Whether p was allocated after the mark (and is still there). */
bool dx_arena_since(const dx_arena *a, dx_arena_mark m, const void *p);

typedef struct dx_persistent dx_persistent; /* list of persistent tensors */

/* Gradient buffers of activations whose producer's backward has run: dead,
 * and handed to the next gradient of the same size (autograd.c). */
typedef struct dx_spare_grad {
  dx_tensor *t;
  size_t bytes; /* the buffer's size, which t's shape may now understate */
  struct dx_spare_grad *next;
} dx_spare_grad;

#define DX_SCOPE_MAX 32

/* A worker's own gradient for a tensor of its parent's (a parameter), while
 * it walks a share's tape (shares.c): threads must not add into one buffer. */
typedef struct dx_shadow_grad {
  dx_tensor *t, *g; /* the parent's tensor, and this worker's buffer for it */
  unsigned walk;    /* the walk that last zeroed g */
} dx_shadow_grad;

struct dx_ctx {
  dx_backend *be;
  dx_device device;
  int threads;
  dx_arena meta; /* tensor structs, tape nodes: host memory */
  dx_arena data; /* tensor data, scratch: backend memory */
  dx_node *tape;
  dx_spare_grad *spare_grads; /* reset with the arena */
  dx_spare_grad *lent_grads;  /* spares handed out again, with their sizes */
  void *scratch;              /* one kernel's workspace, reused (dx_scratch) */
  size_t scratch_bytes;
  bool grad_enabled;
  int n_scopes; /* dx_scope_begin depth; marks kept for the first DX_SCOPE_MAX */
  struct {
    dx_arena_mark mark;
    dx_node *tape; /* the tape's head at the begin */
    bool active;
  } scopes[DX_SCOPE_MAX];
  bool scopes_on;         /* dx_set_scopes_enabled */
  dx_arena_range *ranges; /* dx_scope_end's list of what survives */
  int n_ranges, cap_ranges;
  uint64_t seed, rng_offset;
  uint64_t rng_first, rng_n, rng_total; /* dx_set_rng_share */
  dx_persistent *persistent;
  struct dx_ctx **workers; /* dx_run_pieces' contexts, one a thread; n_workers of them */
  int n_workers;
  bool shares_taped; /* the workers hold shares' tapes, waiting for ctx's backward */
  /* A worker's gradients of persistent tensors go here while `shadowing`. */
  dx_shadow_grad *shadows;
  int n_shadows, cap_shadows;
  unsigned walk;
  bool shadowing;
  dx_status status;
  char errmsg[DX_ERRMSG_MAX];
};

static inline dx_backend *dx_be(dx_ctx *ctx) { return ctx->be; }

/* host_memory.c: bytes of host memory this process may still take (what the
 * kernel reports available, less under ulimit -v); SIZE_MAX if unknown. */
size_t dx_host_memory_left(void);
/* "604.0 MB" */
const char *dx_bytes_str(size_t bytes, char *buf, size_t len);

/* Records an error (first one wins) and returns NULL, for `return dx_fail(...)`. */
void *dx_fail(dx_ctx *ctx, dx_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Returns NULL from the enclosing op if any listed input is NULL or an error
 * is already recorded. */
#define DX_REQUIRE_INPUTS(ctx, ...)                                                                \
  do {                                                                                             \
    const dx_tensor *dx__in_[] = {__VA_ARGS__};                                                    \
    if (dx_status_of(ctx) != DX_OK) return NULL;                                                   \
    for (size_t dx__i = 0; dx__i < sizeof dx__in_ / sizeof dx__in_[0]; dx__i++)                    \
      if (!dx__in_[dx__i])                                                                         \
        return dx_fail(ctx, DX_ERR_INVALID, "NULL tensor passed to %s", __func__);                 \
  } while (0)

/* False (and an error naming the op) when the backend lacks a kernel. */
bool dx_kernel_ok(dx_ctx *ctx, const void *kernel, const char *op);

/* Checks that a and b share dtype and device; records an error naming op. */
bool dx_check_compatible(dx_ctx *ctx, const char *op, const dx_tensor *a, const dx_tensor *b);

/* A tensor struct over existing data (views, detach), from the meta arena. */
dx_tensor *dx_tensor_view(dx_ctx *ctx, const dx_tensor *base, int ndim, const int64_t *shape);

/* Adds a node to the tape when grad mode is on and some input requires a
 * gradient; marks out as requiring one. Returns NULL when nothing is
 * recorded, so that the op skips saving what backward would need. */
dx_node *dx_record(dx_ctx *ctx, const char *op, dx_backward_fn fn, dx_tensor *out, int n_in,
                   dx_tensor *const *in);
/* The same for a node whose gradients flow to tensors it does not list
 * (shares.c): recorded whenever grad mode is on. */
dx_node *dx_record_unlisted(dx_ctx *ctx, const char *op, dx_backward_fn fn, dx_tensor *out);

/* pieces.c: ctx->workers holds at least n single-threaded contexts. */
dx_status dx_make_workers(dx_ctx *ctx, int n);
/* ctx.c: the shares' tapes the workers hold are dropped (dx_step_reset of each). */
void dx_drop_shares(dx_ctx *ctx);

static inline bool dx_wants_grad(const dx_tensor *t) {
  return t && (t->flags & DX_TENSOR_REQUIRES_GRAD);
}

/* Runs the backward of every node on ctx->tape, newest first (autograd.c). */
dx_status dx_tape_walk(dx_ctx *ctx);

/* t's gradient buffer, allocated and zeroed on first use (from the arena
 * for activations; parameters own theirs). NULL only on allocation failure,
 * with the error recorded. */
dx_tensor *dx_grad(dx_ctx *ctx, dx_tensor *t);
/* The same, but a buffer made here is not zeroed: *fresh says so, and the
 * caller must then write every element (a product with beta = 0) instead of
 * adding. */
dx_tensor *dx_grad_to_write(dx_ctx *ctx, dx_tensor *t, bool *fresh);

/* Inside n's backward: when x has no gradient yet, is not persistent and
 * has as many elements of the same type as n's output, n's output gradient
 * becomes x's (reshaped to x; the walk then has nothing of n's to release)
 * instead of a zeroed buffer it would be added to. Returns whether it did;
 * n's backward must not use n->out->grad afterwards. For ops whose gradient
 * passes through unchanged: reshape, an addition's operand. */
bool dx_grad_hand_on(dx_node *n, dx_tensor *x);

#endif
