/* CUDA kernels: unary maps, broadcasting binary ops, compare and where, each
 * with its backward, mirroring the CPU backend's elementwise.c formula for
 * formula. */
#include "backend/cuda/broadcast.cuh"

/* GELU tanh form (Hendrycks & Gimpel 2016, sec. 2): sqrt(2/pi), 0.044715. */
#define GELU_K 0.79788456080286535587989211986876
#define GELU_C 0.044715
#define INV_SQRT_2PI 0.39894228040143267793994605993438
#define SQRT1_2 0.70710678118654752440084436210485

template <typename T> __device__ inline T sigmoid(T v) { return (T)1 / ((T)1 + exp(-v)); }

/* y = f(x; p0, p1) */
template <typename T> __device__ inline T unary_f(int op, T v, T p0, T p1) {
  switch (op) {
  case DX_UN_SCALE: return p0 * v;
  case DX_UN_ADD_SCALAR: return v + p0;
  case DX_UN_SILU: return v * sigmoid(v);
  case DX_UN_GELU_ERF: return (T)0.5 * v * ((T)1 + erf(v * (T)SQRT1_2));
  case DX_UN_GELU_TANH: return v * sigmoid((T)2 * (T)GELU_K * (v + (T)GELU_C * v * v * v));
  case DX_UN_EXP: return exp(v);
  case DX_UN_LOG: return log(v);
  case DX_UN_SQRT: return sqrt(v);
  case DX_UN_SQUARE: return v * v;
  case DX_UN_ABS: return fabs(v);
  case DX_UN_TANH: return tanh(v);
  case DX_UN_CLAMP: return v < p0 ? p0 : v > p1 ? p1 : v; /* NaN stays NaN */
  default: return v;
  }
}

/* f'(x), given y = f(x) where the derivative reuses it. */
template <typename T> __device__ inline T unary_df(int op, T v, T w, T p0, T p1) {
  switch (op) {
  case DX_UN_SCALE: return p0;
  case DX_UN_ADD_SCALAR: return (T)1;
  case DX_UN_SILU: { /* s (1 + x (1 - s)) (Elfwing et al. 2018, eq. 5) */
    T s = sigmoid(v);
    return s * ((T)1 + v * ((T)1 - s));
  }
  case DX_UN_GELU_ERF: /* Phi(x) + x phi(x) */
    return (T)0.5 * ((T)1 + erf(v * (T)SQRT1_2)) + v * exp((T)-0.5 * v * v) * (T)INV_SQRT_2PI;
  case DX_UN_GELU_TANH: { /* s (1 + 2 x (1 - s) u'), s = sigmoid(2u) (see the CPU loops) */
    T s = sigmoid((T)(2 * GELU_K) * (v + (T)GELU_C * v * v * v));
    T du = (T)GELU_K * ((T)1 + (T)(3 * GELU_C) * v * v);
    return s * ((T)1 + (T)2 * v * ((T)1 - s) * du);
  }
  case DX_UN_EXP: return w;
  case DX_UN_LOG: return (T)1 / v;
  case DX_UN_SQRT: return (T)0.5 / w;
  case DX_UN_SQUARE: return (T)2 * v;
  case DX_UN_ABS: return (T)((v > 0) - (v < 0));
  case DX_UN_TANH: return (T)1 - w * w;
  case DX_UN_CLAMP: return (T)(v > p0 && v < p1); /* strictly inside, as tensor.h says */
  default: return (T)0;
  }
}

template <typename T>
__global__ void unary_kernel(int op, const void *xv, void *yv, int64_t n, double p0, double p1) {
  const T *x = (const T *)xv;
  T *y = (T *)yv;
  DX_CUDA_FOR(i, n) y[i] = unary_f<T>(op, x[i], (T)p0, (T)p1);
}

/* x, y (same numel): y = f(x) */
static void cuda_unary(dx_backend *be, dx_unary_op op, const dx_tensor *x, dx_tensor *y, double p0,
                       double p1) {
  int64_t n = dx_cuda_numel(x);
  DX_CUDA_LAUNCH_T(be, x->dtype, n, unary_kernel, (int)op, x->data, y->data, n, p0, p1);
}

template <typename T>
__global__ void unary_bwd_kernel(int op, const void *xv, const void *yv, const void *dyv, void *dxv,
                                 int64_t n, double p0, double p1) {
  const T *x = (const T *)xv, *y = (const T *)yv, *dy = (const T *)dyv;
  T *dx = (T *)dxv;
  DX_CUDA_FOR(i, n) {
    T w = y ? y[i] : (T)0;
    T d = unary_df<T>(op, x[i], w, (T)p0, (T)p1);
    if (op == DX_UN_CLAMP) /* pass or block the gradient, never multiply it */
      dx[i] += d != 0 ? dy[i] : (T)0;
    else
      dx[i] += dy[i] * d;
  }
}

/* x, y, dy, dx (same shape): dx += dy f'(x) */
static void cuda_unary_bwd(dx_backend *be, dx_unary_op op, const dx_tensor *x, const dx_tensor *y,
                           const dx_tensor *dy, dx_tensor *dx, double p0, double p1) {
  if (!dx) return;
  int64_t n = dx_cuda_numel(x);
  DX_CUDA_LAUNCH_T(be, x->dtype, n, unary_bwd_kernel, (int)op, x->data, y ? y->data : NULL,
                   dy->data, dx->data, n, p0, p1);
}

/* --- binary with broadcasting ------------------------------------------------------- */

template <typename T> __device__ inline T binary_f(int op, T a, T b) {
  switch (op) {
  case DX_BIN_ADD: return a + b;
  case DX_BIN_SUB: return a - b;
  case DX_BIN_MUL: return a * b;
  default: return a / b;
  }
}

template <typename T>
__global__ void binary_kernel(int op, dx_cuda_bcast g, const void *av, const void *bv, void *yv) {
  const T *a = (const T *)av, *b = (const T *)bv;
  T *y = (T *)yv;
  DX_CUDA_FOR(i, g.numel) {
    int64_t off[3];
    dx_cuda_bcast_at(g, i, off);
    y[i] = binary_f<T>(op, a[off[1]], b[off[2]]);
  }
}

/* y (full) = a op b, a and b broadcast to y */
static void cuda_binary(dx_backend *be, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                        dx_tensor *y) {
  dx_cuda_bcast g = dx_cuda_bcast_of(y, a, b);
  DX_CUDA_LAUNCH_T(be, y->dtype, g.numel, binary_kernel, (int)op, g, a->data, b->data, y->data);
}

/* dy * d(a op b)/d(self), self = operand 1 (a) or 2 (b), in double. */
template <typename T>
__device__ inline double binary_grad(int op, int self, const T *a, const T *b, const T *dy,
                                     const int64_t off[3]) {
  double d = (double)dy[off[0]];
  switch (op) {
  case DX_BIN_ADD: return d;
  case DX_BIN_SUB: return self == 1 ? d : -d;
  case DX_BIN_MUL: return d * (double)(self == 1 ? b[off[2]] : a[off[1]]);
  default: {
    double bv = (double)b[off[2]];
    return self == 1 ? d / bv : -d * (double)a[off[1]] / (bv * bv);
  }
  }
}

/* The same in T, for an operand that is not stretched (one term each). */
template <typename T>
__device__ inline T binary_grad_t(int op, int self, const T *a, const T *b, const T *dy,
                                  const int64_t off[3]) {
  T d = dy[off[0]];
  switch (op) {
  case DX_BIN_ADD: return d;
  case DX_BIN_SUB: return self == 1 ? d : -d;
  case DX_BIN_MUL: return d * (self == 1 ? b[off[2]] : a[off[1]]);
  default: {
    T bv = b[off[2]];
    return self == 1 ? d / bv : -d * a[off[1]] / (bv * bv);
  }
  }
}

/* Operand `self` has the full shape: one term per element. */
template <typename T>
__global__ void grad_elem_kernel(int op, int self, dx_cuda_bcast g, const void *av, const void *bv,
                                 const void *dyv, void *outv) {
  const T *a = (const T *)av, *b = (const T *)bv, *dy = (const T *)dyv;
  T *out = (T *)outv;
  DX_CUDA_FOR(i, g.numel) {
    int64_t off[3];
    dx_cuda_bcast_at(g, i, off);
    out[off[self]] += binary_grad_t<T>(op, self, a, b, dy, off);
  }
}

/* Operand `self` is stretched over `fold` points: a thread per element. */
template <typename T>
__global__ void grad_fold_serial(int op, int self, dx_cuda_bcast g, int64_t count, int64_t fold,
                                 const void *av, const void *bv, const void *dyv, void *outv) {
  const T *a = (const T *)av, *b = (const T *)bv, *dy = (const T *)dyv;
  T *out = (T *)outv;
  DX_CUDA_FOR(j, count) {
    double s = 0;
    for (int64_t r = 0; r < fold; r++) {
      int64_t off[3];
      dx_cuda_bcast_fold(g, self, j, r, off);
      s += binary_grad<T>(op, self, a, b, dy, off);
    }
    out[j] += (T)s;
  }
}

/* ... or a block per element (long folds: per-channel sums of a batch). */
template <typename T>
__global__ void grad_fold_block(int op, int self, dx_cuda_bcast g, int64_t count, int64_t fold,
                                const void *av, const void *bv, const void *dyv, void *outv) {
  const T *a = (const T *)av, *b = (const T *)bv, *dy = (const T *)dyv;
  T *out = (T *)outv;
  for (int64_t j = blockIdx.x; j < count; j += gridDim.x) {
    double s = 0;
    for (int64_t r = threadIdx.x; r < fold; r += blockDim.x) {
      int64_t off[3];
      dx_cuda_bcast_fold(g, self, j, r, off);
      s += binary_grad<T>(op, self, a, b, dy, off);
    }
    s = dx_cuda_block_sum(s);
    if (threadIdx.x == 0) out[j] += (T)s;
  }
}

static void binary_grad_of(dx_backend *be, dx_binary_op op, const dx_cuda_bcast &g, int self,
                           const dx_tensor *a, const dx_tensor *b, const dx_tensor *dy,
                           dx_tensor *d) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t count = dx_cuda_bcast_count(g, self), fold = count ? g.numel / count : 0;
  if (fold == 1) {
    DX_CUDA_LAUNCH_T(be, dy->dtype, g.numel, grad_elem_kernel, (int)op, self, g, a->data, b->data,
                     dy->data, d->data);
  } else if (fold <= DX_CUDA_FOLD_SERIAL) {
    DX_CUDA_LAUNCH_T(be, dy->dtype, count, grad_fold_serial, (int)op, self, g, count, fold, a->data,
                     b->data, dy->data, d->data);
  } else if (count > 0) {
    unsigned blocks = (unsigned)(count < 65535 ? count : 65535);
    if (dy->dtype == DX_F32)
      grad_fold_block<float><<<blocks, DX_CUDA_THREADS, 0, c->stream>>>(
          (int)op, self, g, count, fold, a->data, b->data, dy->data, d->data);
    else
      grad_fold_block<double><<<blocks, DX_CUDA_THREADS, 0, c->stream>>>(
          (int)op, self, g, count, fold, a->data, b->data, dy->data, d->data);
    dx_cuda_launched(be, "grad_fold_block");
  }
}

/* a, b broadcast to dy; da, db shaped like a, b accumulate (NULL: skip) */
static void cuda_binary_bwd(dx_backend *be, dx_binary_op op, const dx_tensor *a, const dx_tensor *b,
                            const dx_tensor *dy, dx_tensor *da, dx_tensor *db) {
  dx_cuda_bcast g = dx_cuda_bcast_of(dy, a, b);
  if (da) binary_grad_of(be, op, g, 1, a, b, dy, da);
  if (db) binary_grad_of(be, op, g, 2, a, b, dy, db);
}

/* --- compare, where ------------------------------------------------------------------ */

template <typename T>
__global__ void compare_kernel(int op, const void *xv, double v, void *yv, int64_t n) {
  const T *x = (const T *)xv;
  T *y = (T *)yv, lim = (T)v;
  DX_CUDA_FOR(i, n) {
    T e = x[i];
    bool r = op == DX_CMP_LT   ? e < lim
             : op == DX_CMP_LE ? e <= lim
             : op == DX_CMP_GT ? e > lim
                               : e >= lim;
    y[i] = (T)r;
  }
}

/* x, y (same shape): y = (x op v) ? 1 : 0 */
static void cuda_compare(dx_backend *be, dx_cmp_op op, const dx_tensor *x, double v, dx_tensor *y) {
  int64_t n = dx_cuda_numel(x);
  DX_CUDA_LAUNCH_T(be, x->dtype, n, compare_kernel, (int)op, x->data, v, y->data, n);
}

template <typename T>
__global__ void where_kernel(const void *cv, const void *av, const void *bv, void *yv, int64_t n) {
  const T *c = (const T *)cv, *a = (const T *)av, *b = (const T *)bv;
  T *y = (T *)yv;
  DX_CUDA_FOR(i, n) y[i] = c[i] != 0 ? a[i] : b[i];
}

/* cond, a, b, y (same shape): y = cond ? a : b */
static void cuda_where(dx_backend *be, const dx_tensor *cond, const dx_tensor *a,
                       const dx_tensor *b, dx_tensor *y) {
  int64_t n = dx_cuda_numel(y);
  DX_CUDA_LAUNCH_T(be, y->dtype, n, where_kernel, cond->data, a->data, b->data, y->data, n);
}

template <typename T>
__global__ void where_bwd_kernel(const void *cv, const void *dyv, void *dav, void *dbv, int64_t n) {
  const T *c = (const T *)cv, *dy = (const T *)dyv;
  T *da = (T *)dav, *db = (T *)dbv;
  DX_CUDA_FOR(i, n) {
    if (da) da[i] += c[i] != 0 ? dy[i] : (T)0;
    if (db) db[i] += c[i] != 0 ? (T)0 : dy[i];
  }
}

/* cond, dy, da, db (same shape): da += cond ? dy : 0, db += cond ? 0 : dy */
static void cuda_where_bwd(dx_backend *be, const dx_tensor *cond, const dx_tensor *dy,
                           dx_tensor *da, dx_tensor *db) {
  if (!da && !db) return;
  int64_t n = dx_cuda_numel(dy);
  DX_CUDA_LAUNCH_T(be, dy->dtype, n, where_bwd_kernel, cond->data, dy->data, da ? da->data : NULL,
                   db ? db->data : NULL, n);
}

void dx_cuda_init_elementwise(dx_backend *be) {
  be->unary = cuda_unary;
  be->unary_bwd = cuda_unary_bwd;
  be->binary = cuda_binary;
  be->binary_bwd = cuda_binary_bwd;
  be->compare = cuda_compare;
  be->where = cuda_where;
  be->where_bwd = cuda_where_bwd;
}
