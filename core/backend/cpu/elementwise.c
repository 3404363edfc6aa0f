/* CPU kernels: unary maps, broadcasting binary ops, compare and where, each
 * with its backward. The loops themselves are in elementwise_typed.inc,
 * written once for float and double (cpu.h); this file walks the shapes
 * (broadcast.h) and dispatches on dtype. */
#include <string.h>
#include <tgmath.h>

#include "backend/cpu/broadcast.h"

/* GELU tanh form (Hendrycks & Gimpel 2016, sec. 2): sqrt(2/pi), 0.044715. */
#define GELU_K (M_2_SQRTPI * M_SQRT1_2)
#define GELU_C 0.044715
#define INV_SQRT_2PI (0.5 * M_2_SQRTPI * M_SQRT1_2)

/* The derivative of a op b with respect to one operand ("self"). */
typedef enum grad_kind {
  G_PLUS,  /* 1: add, sub w.r.t. a */
  G_MINUS, /* -1: sub w.r.t. b */
  G_OTHER, /* the other operand: mul */
  G_RECIP, /* 1/b: div w.r.t. a */
  G_QUOT   /* -a/b^2: div w.r.t. b */
} grad_kind;

/* Loop shapes used by the typed loops; each is one simple vectorisable loop. */
#define MAP(expr)                                                                                  \
  for (int64_t i = 0; i < n; i++) {                                                                \
    T v = x[i];                                                                                    \
    y[i] = (expr);                                                                                 \
  }
#define GRAD_X(expr)                                                                               \
  for (int64_t i = 0; i < n; i++) {                                                                \
    T v = x[i];                                                                                    \
    dx[i] += dy[i] * (expr);                                                                       \
  }
#define GRAD_C(c)                                                                                  \
  for (int64_t i = 0; i < n; i++)                                                                  \
    dx[i] += dy[i] * (c);
#define GRAD_Y(expr)                                                                               \
  for (int64_t i = 0; i < n; i++) {                                                                \
    T w = y[i];                                                                                    \
    dx[i] += dy[i] * (expr);                                                                       \
  }
#define PASS_IF(cond)                                                                              \
  for (int64_t i = 0; i < n; i++) {                                                                \
    T v = x[i];                                                                                    \
    dx[i] += (cond) ? dy[i] : 0;                                                                   \
  }
#define BINARY(A, B)                                                                               \
  switch (op) {                                                                                    \
  case DX_BIN_ADD:                                                                                 \
    for (int64_t i = 0; i < n; i++)                                                                \
      y[i] = (A) + (B);                                                                            \
    break;                                                                                         \
  case DX_BIN_SUB:                                                                                 \
    for (int64_t i = 0; i < n; i++)                                                                \
      y[i] = (A) - (B);                                                                            \
    break;                                                                                         \
  case DX_BIN_MUL:                                                                                 \
    for (int64_t i = 0; i < n; i++)                                                                \
      y[i] = (A) * (B);                                                                            \
    break;                                                                                         \
  case DX_BIN_DIV:                                                                                 \
    for (int64_t i = 0; i < n; i++)                                                                \
      y[i] = (A) / (B);                                                                            \
    break;                                                                                         \
  }
#define ACC(full, fixed)                                                                           \
  if (so)                                                                                          \
    for (int64_t i = 0; i < n; i++)                                                                \
      dx[i] += (full);                                                                             \
  else                                                                                             \
    for (int64_t i = 0; i < n; i++)                                                                \
      dx[i] += (fixed);

#define DX_TYPED_FILE "backend/cpu/elementwise_typed.inc"
#include "backend/cpu/typed.h"

/* Everything a walk's callbacks need; unused fields stay zero. */
typedef struct ew_args {
  dx_dtype dt;
  int op; /* dx_unary_op, dx_binary_op or dx_cmp_op */
  const void *x, *y, *a, *b, *dy;
  void *out, *out2;
  double p0, p1;
  int64_t sa, sb; /* inner strides of a, b */
  int self;       /* binary backward: 1 = a, 2 = b */
  grad_kind kind;
} ew_args;

/* A flat walk over n = numel(t) elements (all operands the same shape). */
static void walk_flat(const dx_tensor *t, void (*run)(void *, const int64_t *, int64_t),
                      ew_args *k) {
  dx_bcast g;
  dx_bcast_init(&g, t, NULL, NULL);
  dx_bcast_fns fns = {.run = run};
  dx_bcast_walk(&g, 0, &fns, k);
}

/* --- unary ------------------------------------------------------------------- */

static void unary_run(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  DX_TYPED(k->dt, unary_fwd, (dx_unary_op)k->op, k->x, k->out, off[0], n, k->p0, k->p1);
}

/* x, y (any shape, same numel): y = f(x; p0, p1) */
static void cpu_unary(dx_backend *be, dx_unary_op op, const dx_tensor *x, dx_tensor *y, double p0,
                      double p1) {
  ew_args k = {.dt = x->dtype, .op = op, .x = x->data, .out = y->data, .p0 = p0, .p1 = p1};
  walk_flat(x, unary_run, &k);
}

static void unary_bwd_run(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  DX_TYPED(k->dt, unary_bwd, (dx_unary_op)k->op, k->x, k->y, k->dy, k->out, off[0], n, k->p0,
           k->p1);
}

/* x, y, dy, dx (same shape): dx += dy * f'(x) */
static void cpu_unary_bwd(dx_backend *be, dx_unary_op op, const dx_tensor *x, const dx_tensor *y,
                          const dx_tensor *dy, dx_tensor *dx, double p0, double p1) {
  if (!dx) return;
  ew_args k = {.dt = x->dtype,
               .op = op,
               .x = x->data,
               .y = y ? y->data : NULL,
               .dy = dy->data,
               .out = dx->data,
               .p0 = p0,
               .p1 = p1};
  walk_flat(x, unary_bwd_run, &k);
}

/* --- binary with broadcasting ----------------------------------------------------- */

static void binary_run(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  DX_TYPED(k->dt, binary_fwd, (dx_binary_op)k->op, k->a, k->sa, k->b, k->sb, k->out, off, n);
}

/* y (full shape) = a op b, a and b broadcast to y */
static void cpu_binary(dx_backend *be, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                       dx_tensor *y) {
  dx_bcast g;
  dx_bcast_init(&g, y, a, b);
  ew_args k = {.dt = y->dtype,
               .op = op,
               .a = a->data,
               .b = b->data,
               .out = y->data,
               .sa = g.stride[1][g.nd - 1],
               .sb = g.stride[2][g.nd - 1]};
  dx_bcast_fns fns = {.run = binary_run};
  dx_bcast_walk(&g, 0, &fns, &k);
}

static grad_kind kind_of(dx_binary_op op, int self) {
  switch (op) {
  case DX_BIN_ADD: return G_PLUS;
  case DX_BIN_SUB: return self == 1 ? G_PLUS : G_MINUS;
  case DX_BIN_MUL: return G_OTHER;
  case DX_BIN_DIV: return self == 1 ? G_RECIP : G_QUOT;
  }
  return G_PLUS;
}

static void grad_run_cb(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  const void *self = k->self == 1 ? k->a : k->b, *other = k->self == 1 ? k->b : k->a;
  int64_t so = k->self == 1 ? k->sb : k->sa;
  DX_TYPED(k->dt, grad_run, k->kind, self, other, so, k->dy, k->out, off, k->self, n);
}

static double grad_sum_cb(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  const void *self = k->self == 1 ? k->a : k->b, *other = k->self == 1 ? k->b : k->a;
  return DX_TYPED(k->dt, grad_sum, k->kind, self, other, k->dy, off, k->self, n);
}

static void grad_put_cb(void *p, int64_t off, double total) {
  ew_args *k = p;
  dx_cpu_add(k->dt, k->out, off, total);
}

/* d (the gradient of operand self, shaped like it) += the sum, over the dims
 * where that operand was stretched, of dy * d(a op b)/d(self). */
static void binary_grad(const dx_bcast *g, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                        const dx_tensor *dy, dx_tensor *d, int self) {
  ew_args k = {.dt = dy->dtype,
               .op = op,
               .a = a->data,
               .b = b->data,
               .dy = dy->data,
               .out = d->data,
               .sa = g->stride[1][g->nd - 1],
               .sb = g->stride[2][g->nd - 1],
               .self = self,
               .kind = kind_of(op, self)};
  dx_bcast_fns fns = {.run = grad_run_cb, .sum = grad_sum_cb, .put = grad_put_cb};
  dx_bcast_walk(g, self, &fns, &k);
}

/* a, b broadcast to dy's shape; da, db shaped like a, b (NULL: skip) */
static void cpu_binary_bwd(dx_backend *be, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                           const dx_tensor *dy, dx_tensor *da, dx_tensor *db) {
  dx_bcast g;
  dx_bcast_init(&g, dy, a, b);
  if (da) binary_grad(&g, op, a, b, dy, da, 1);
  if (db) binary_grad(&g, op, a, b, dy, db, 2);
}

/* --- compare, where ------------------------------------------------------------- */

static void compare_run(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  DX_TYPED(k->dt, compare, (dx_cmp_op)k->op, k->x, k->p0, k->out, off[0], n);
}

/* x, y (same shape): y = (x op v) ? 1 : 0 */
static void cpu_compare(dx_backend *be, dx_cmp_op op, const dx_tensor *x, double v, dx_tensor *y) {
  ew_args k = {.dt = x->dtype, .op = op, .x = x->data, .out = y->data, .p0 = v};
  walk_flat(x, compare_run, &k);
}

static void where_run(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  DX_TYPED(k->dt, where_fwd, k->x, k->a, k->b, k->out, off[0], n);
}

/* cond, a, b, y (same shape): y = cond ? a : b */
static void cpu_where(dx_backend *be, const dx_tensor *cond, const dx_tensor *a, const dx_tensor *b,
                      dx_tensor *y) {
  ew_args k = {.dt = y->dtype, .x = cond->data, .a = a->data, .b = b->data, .out = y->data};
  walk_flat(y, where_run, &k);
}

static void where_bwd_run(void *p, const int64_t *off, int64_t n) {
  ew_args *k = p;
  DX_TYPED(k->dt, where_bwd, k->x, k->dy, k->out, k->out2, off[0], n);
}

/* cond, dy, da, db (same shape): da += cond ? dy : 0, db += cond ? 0 : dy */
static void cpu_where_bwd(dx_backend *be, const dx_tensor *cond, const dx_tensor *dy, dx_tensor *da,
                          dx_tensor *db) {
  if (!da && !db) return;
  ew_args k = {.dt = dy->dtype,
               .x = cond->data,
               .dy = dy->data,
               .out = da ? da->data : NULL,
               .out2 = db ? db->data : NULL};
  walk_flat(dy, where_bwd_run, &k);
}

void dx_cpu_init_elementwise(dx_backend *be) {
  be->unary = cpu_unary;
  be->unary_bwd = cpu_unary_bwd;
  be->binary = cpu_binary;
  be->binary_bwd = cpu_binary_bwd;
  be->compare = cpu_compare;
  be->where = cpu_where;
  be->where_bwd = cpu_where_bwd;
}
