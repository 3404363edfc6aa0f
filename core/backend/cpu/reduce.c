/* CPU kernels: sums over axes and their adjoint, the broadcast-accumulate.
 * Both are walks of broadcast.h with the small tensor stretched to the large
 * one, so every reduction shape (all, per sample, per channel, ...) takes
 * the same path and runs in parallel over the elements it writes. */
#include <string.h>

#include "backend/cpu/broadcast.h"

typedef struct reduce_args {
  dx_dtype dt;
  const void *src; /* read: x in reduce_sum, dy in broadcast_acc */
  void *dst;       /* written: y, dx */
  double scale;
  int64_t s_src; /* inner stride of src */
} reduce_args;

/* reduce_sum: operand 0 is x (full), operand 1 is y (stretched). */
static void sum_into_run(void *p, const int64_t *off, int64_t n) {
  reduce_args *k = p;
  size_t es = dx_dtype_size(k->dt);
  dx_cpu_axpy_run(k->dt, (char *)k->dst + off[1] * es, k->scale, (const char *)k->src + off[0] * es,
                  1, n);
}

static double sum_run(void *p, const int64_t *off, int64_t n) {
  reduce_args *k = p;
  return dx_cpu_sum_run(k->dt, (const char *)k->src + off[0] * dx_dtype_size(k->dt), n);
}

static void sum_put(void *p, int64_t off, double total) {
  reduce_args *k = p;
  dx_cpu_add(k->dt, k->dst, off, k->scale * total);
}

/* x (any), y (x's rank, reduced dims of size 1): y = scale * sum over them */
static void cpu_reduce_sum(dx_backend *be, const dx_tensor *x, dx_tensor *y, double scale) {
  memset(y->data, 0, (size_t)dx_numel(y) * dx_dtype_size(y->dtype));
  dx_bcast g;
  dx_bcast_init(&g, x, y, NULL);
  reduce_args k = {.dt = x->dtype, .src = x->data, .dst = y->data, .scale = scale};
  dx_bcast_fns fns = {.run = sum_into_run, .sum = sum_run, .put = sum_put};
  dx_bcast_walk(&g, 1, &fns, &k);
}

/* broadcast_acc: operand 0 is dx (full), operand 1 is dy (stretched). */
static void acc_run(void *p, const int64_t *off, int64_t n) {
  reduce_args *k = p;
  size_t es = dx_dtype_size(k->dt);
  dx_cpu_axpy_run(k->dt, (char *)k->dst + off[0] * es, k->scale, (const char *)k->src + off[1] * es,
                  k->s_src, n);
}

/* dy (dx's rank, stretched dims of size 1), dx (any): dx += scale * dy */
static void cpu_broadcast_acc(dx_backend *be, const dx_tensor *dy, dx_tensor *dx, double scale) {
  dx_bcast g;
  dx_bcast_init(&g, dx, dy, NULL);
  reduce_args k = {.dt = dx->dtype,
                   .src = dy->data,
                   .dst = dx->data,
                   .scale = scale,
                   .s_src = g.stride[1][g.nd - 1]};
  dx_bcast_fns fns = {.run = acc_run};
  dx_bcast_walk(&g, 0, &fns, &k);
}

void dx_cpu_init_reduce(dx_backend *be) {
  be->reduce_sum = cpu_reduce_sum;
  be->broadcast_acc = cpu_broadcast_acc;
}
