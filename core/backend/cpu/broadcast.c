/* Broadcasting geometry and the parallel walk over it (see broadcast.h). */
#include "backend/cpu/broadcast.h"
#include <omp.h>

/* Runs longer than this are split so that a flat loop over a large tensor
 * still spreads over every thread; short enough to stay in L2. */
#define RUN_CHUNK 8192

/* t's shape right-aligned into 4 dims (NumPy's rule); NULL is all ones. */
static void padded_shape(const dx_tensor *t, int64_t out[DX_MAX_DIMS]) {
  int lead = t ? DX_MAX_DIMS - t->ndim : DX_MAX_DIMS;
  for (int d = 0; d < DX_MAX_DIMS; d++)
    out[d] = d < lead ? 1 : t->shape[d - lead];
}

/* Contiguous strides of a padded shape, 0 where the operand is stretched. */
static void bcast_strides(const int64_t shape[DX_MAX_DIMS], const int64_t full[DX_MAX_DIMS],
                          int64_t out[DX_MAX_DIMS]) {
  int64_t s = 1;
  for (int d = DX_MAX_DIMS - 1; d >= 0; d--) {
    out[d] = shape[d] == 1 && full[d] != 1 ? 0 : s;
    s *= shape[d];
  }
}

/* Dim d can merge into the last coalesced dim when every operand is either
 * stretched along both or along neither: contiguity then makes the pair one
 * dim of the product size. */
static bool mergeable(const dx_bcast *g, int64_t st[DX_BCAST_OPERANDS][DX_MAX_DIMS], int d) {
  if (g->nd == 0) return false;
  for (int k = 0; k < DX_BCAST_OPERANDS; k++)
    if ((g->stride[k][g->nd - 1] == 0) != (st[k][d] == 0)) return false;
  return true;
}

void dx_bcast_init(dx_bcast *g, const dx_tensor *full, const dx_tensor *x1, const dx_tensor *x2) {
  const dx_tensor *ops[DX_BCAST_OPERANDS] = {full, x1, x2};
  int64_t shape[DX_BCAST_OPERANDS][DX_MAX_DIMS], st[DX_BCAST_OPERANDS][DX_MAX_DIMS];
  for (int k = 0; k < DX_BCAST_OPERANDS; k++)
    padded_shape(ops[k], shape[k]);
  for (int k = 0; k < DX_BCAST_OPERANDS; k++)
    bcast_strides(shape[k], shape[0], st[k]);
  g->nd = 0;
  g->numel = 1;
  for (int d = 0; d < DX_MAX_DIMS; d++) {
    if (shape[0][d] == 1) continue; /* nobody moves along it */
    g->numel *= shape[0][d];
    if (mergeable(g, st, d)) {
      g->size[g->nd - 1] *= shape[0][d];
    } else {
      g->size[g->nd] = shape[0][d];
      g->nd++;
    }
    for (int k = 0; k < DX_BCAST_OPERANDS; k++)
      g->stride[k][g->nd - 1] = st[k][d];
  }
  if (g->nd == 0) { /* a one-element tensor: a single run of length 1 */
    g->nd = 1;
    g->size[0] = 1;
    for (int k = 0; k < DX_BCAST_OPERANDS; k++)
      g->stride[k][0] = 1;
  }
}

/* A subset of the outer coalesced dims, walked as one counter. */
typedef struct dim_set {
  int n;
  int d[DX_MAX_DIMS];
  int64_t count; /* product of their sizes */
} dim_set;

/* Outer dims (all but the innermost) along which the focus advances (kept)
 * or is stretched (reduced). */
static void split_outer(const dx_bcast *g, int focus, dim_set *kept, dim_set *reduced) {
  kept->n = reduced->n = 0;
  kept->count = reduced->count = 1;
  for (int d = 0; d < g->nd - 1; d++) {
    dim_set *s = g->stride[focus][d] ? kept : reduced;
    s->d[s->n++] = d;
    s->count *= g->size[d];
  }
}

/* off[k] += operand k's offset of the index-th point of s (last dim fastest). */
static void add_offsets(const dx_bcast *g, const dim_set *s, int64_t index,
                        int64_t off[DX_BCAST_OPERANDS]) {
  for (int j = s->n - 1; j >= 0; j--) {
    int d = s->d[j];
    int64_t i = index % g->size[d];
    index /= g->size[d];
    for (int k = 0; k < DX_BCAST_OPERANDS; k++)
      off[k] += i * g->stride[k][d];
  }
}

void dx_cpu_for(int64_t n, bool parallel, void (*task)(const void *ctx, int64_t t),
                const void *ctx) {
  if (parallel && n > 1 && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n; t++)
      task(ctx, t);
  } else {
    for (int64_t t = 0; t < n; t++)
      task(ctx, t);
  }
}

/* One walk: the geometry split around its focus, and the callbacks. */
typedef struct walk {
  const dx_bcast *g;
  int focus;
  dim_set kept, reduced;
  int64_t chunks; /* pieces of the innermost run per kept index */
  const dx_bcast_fns *fns;
  void *arg;
} walk;

/* The focus advances along the innermost dim: task t is one chunk of the run
 * at one kept index, repeated over every reduced index (which accumulate into
 * the same focus elements, in order, within the task). */
static void run_task(const void *p, int64_t t) {
  const walk *w = p;
  const dx_bcast *g = w->g;
  int in = g->nd - 1;
  int64_t inner = g->size[in], lo = t % w->chunks * RUN_CHUNK;
  int64_t n = inner - lo < RUN_CHUNK ? inner - lo : RUN_CHUNK;
  int64_t base[DX_BCAST_OPERANDS];
  for (int k = 0; k < DX_BCAST_OPERANDS; k++)
    base[k] = lo * g->stride[k][in];
  add_offsets(g, &w->kept, t / w->chunks, base);
  for (int64_t r = 0; r < w->reduced.count; r++) {
    int64_t off[DX_BCAST_OPERANDS] = {base[0], base[1], base[2]};
    add_offsets(g, &w->reduced, r, off);
    w->fns->run(w->arg, off, n);
  }
}

/* The focus is stretched along the innermost dim: task t owns one focus
 * element and sums every run that maps onto it. */
static void sum_task(const void *p, int64_t t) {
  const walk *w = p;
  const dx_bcast *g = w->g;
  int64_t base[DX_BCAST_OPERANDS] = {0, 0, 0};
  add_offsets(g, &w->kept, t, base);
  double total = 0;
  for (int64_t r = 0; r < w->reduced.count; r++) {
    int64_t off[DX_BCAST_OPERANDS] = {base[0], base[1], base[2]};
    add_offsets(g, &w->reduced, r, off);
    total += w->fns->sum(w->arg, off, g->size[g->nd - 1]);
  }
  w->fns->put(w->arg, base[w->focus], total);
}

void dx_bcast_walk(const dx_bcast *g, int focus, const dx_bcast_fns *fns, void *arg) {
  walk w = {.g = g, .focus = focus, .fns = fns, .arg = arg};
  split_outer(g, focus, &w.kept, &w.reduced);
  bool parallel = g->numel > DX_CPU_PAR_MIN;
  if (dx_bcast_focus_runs(g, focus)) {
    w.chunks = (g->size[g->nd - 1] + RUN_CHUNK - 1) / RUN_CHUNK;
    dx_cpu_for(w.kept.count * w.chunks, parallel, run_task, &w);
  } else {
    dx_cpu_for(w.kept.count, parallel, sum_task, &w);
  }
}

/* --- typed primitives -------------------------------------------------------- */

#define DX_TYPED_FILE "backend/cpu/broadcast_typed.inc"
#include "backend/cpu/typed.h"

void dx_cpu_axpy_run(dx_dtype dt, void *y, double c, const void *x, int64_t sx, int64_t n) {
  DX_TYPED(dt, axpy_run, y, c, x, sx, n);
}

double dx_cpu_sum_run(dx_dtype dt, const void *x, int64_t n) { return DX_TYPED(dt, sum_run, x, n); }
