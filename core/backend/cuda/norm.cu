/* CUDA kernels: group norm (alone and fused with FiLM and SiLU) and softmax,
 * forward and backward.
 *
 * As on the CPU, every sum runs in double and the variance is the mean
 * squared deviation (a second pass), not E[x^2] - E[x]^2. Each output is
 * written by the one block that owns it (a group, a channel, a row): no
 * atomics, so the results are the same bits on every run. */
#include "backend/cuda/cuda.h"

#define NORM_THREADS 512

/* --- group norm ------------------------------------------------------------------- */

/* Launches kern<float> or kern<double> with the given grid on the compute
 * stream and records a launch failure. */
#define NORM_LAUNCH(be, dt, blocks, threads, kern, ...)                                            \
  do {                                                                                             \
    dx_cuda *c_ = dx_cuda_of(be);                                                                  \
    if ((dt) == DX_F32)                                                                            \
      kern<float><<<(blocks), (threads), 0, c_->stream>>>(__VA_ARGS__);                            \
    else                                                                                           \
      kern<double><<<(blocks), (threads), 0, c_->stream>>>(__VA_ARGS__);                           \
    dx_cuda_launched(be, #kern);                                                                   \
  } while (0)

/* The mean and 1/std of the group's d contiguous elements, on every thread
 * of the block: the biased variance as the mean squared deviation. */
template <typename T>
__device__ inline void gn_group_stats(const T *xg, int64_t d, double eps, double *mu, double *r) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    acc += (double)xg[i];
  *mu = dx_cuda_block_sum(acc) / (double)d;
  acc = 0;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    double e = (double)xg[i] - *mu;
    acc += e * e;
  }
  *r = 1.0 / sqrt(dx_cuda_block_sum(acc) / (double)d + eps);
}

/* Block t = (n, g) of x, y (N, C, S): the group's d = cg*S elements are
 * contiguous from t*d. mu and the biased variance over the group; then
 * y = (x - mu) rstd gamma + beta (Wu & He 2018, eq. 1-3; torch.nn.GroupNorm). */
template <typename T>
__global__ void gn_fwd_kernel(const void *xv, const void *gv, const void *bv, void *yv, void *mv,
                              void *rv, int64_t groups, int64_t cg, int64_t s, double eps) {
  const T *x = (const T *)xv, *gamma = (const T *)gv, *beta = (const T *)bv;
  T *y = (T *)yv, *mean = (T *)mv, *rstd = (T *)rv;
  int64_t t = blockIdx.x, d = cg * s;
  const T *xg = x + t * d;
  double mu, r;
  gn_group_stats(xg, d, eps, &mu, &r);
  if (threadIdx.x == 0) {
    mean[t] = (T)mu;
    rstd[t] = (T)r;
  }
  int64_t ch0 = t % groups * cg;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    int64_t ch = ch0 + i / s;
    double a = gamma ? r * (double)gamma[ch] : r, b = beta ? (double)beta[ch] : 0.0;
    y[t * d + i] = (T)(((double)xg[i] - mu) * a + b);
  }
}

/* x, y (N, C, S...); gamma, beta (C) or NULL; mean, rstd (N*G) */
static void cuda_group_norm_fwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                                const dx_tensor *beta, int groups, double eps, dx_tensor *y,
                                dx_tensor *mean, dx_tensor *rstd) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = x->shape[0], ch = x->shape[1], s = 1;
  for (int d = 2; d < x->ndim; d++)
    s *= x->shape[d];
  unsigned blocks = (unsigned)(n * groups);
  if (blocks == 0) return;
  const void *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
  if (x->dtype == DX_F32)
    gn_fwd_kernel<float><<<blocks, NORM_THREADS, 0, c->stream>>>(
        x->data, g, b, y->data, mean->data, rstd->data, groups, ch / groups, s, eps);
  else
    gn_fwd_kernel<double><<<blocks, NORM_THREADS, 0, c->stream>>>(
        x->data, g, b, y->data, mean->data, rstd->data, groups, ch / groups, s, eps);
  dx_cuda_launched(be, "gn_fwd_kernel");
}

/* Block t = (n, g): with xhat = (x - mu) r and g = gamma dy,
 *   dx += r (g - mean(g) - xhat mean(g xhat)),   means over the group. */
template <typename T>
__global__ void gn_bwd_data_kernel(const void *xv, const void *gv, const void *mv, const void *rv,
                                   const void *dyv, void *dxv, int64_t groups, int64_t cg,
                                   int64_t s) {
  const T *x = (const T *)xv, *gamma = (const T *)gv, *dy = (const T *)dyv;
  T *dx = (T *)dxv;
  int64_t t = blockIdx.x, d = cg * s, ch0 = t % groups * cg;
  double mu = (double)((const T *)mv)[t], r = (double)((const T *)rv)[t];
  const T *xg = x + t * d, *dyg = dy + t * d;
  double sg = 0, sgx = 0;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    double gm = gamma ? (double)gamma[ch0 + i / s] : 1.0, gy = gm * (double)dyg[i];
    sg += gy;
    sgx += gy * ((double)xg[i] - mu);
  }
  double mean_g = dx_cuda_block_sum(sg) / (double)d;
  double mean_gxhat = r * dx_cuda_block_sum(sgx) / (double)d;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    double gm = gamma ? (double)gamma[ch0 + i / s] : 1.0;
    dx[t * d + i] +=
        (T)(r * gm * (double)dyg[i] - r * r * mean_gxhat * ((double)xg[i] - mu) - r * mean_g);
  }
}

/* Block ch: dgamma[ch] += sum_{n,s} dy xhat, dbeta[ch] += sum_{n,s} dy. */
template <typename T>
__global__ void gn_bwd_affine_kernel(const void *xv, const void *mv, const void *rv,
                                     const void *dyv, void *dgv, void *dbv, int64_t n, int64_t c,
                                     int64_t groups, int64_t s) {
  const T *x = (const T *)xv, *mean = (const T *)mv, *rstd = (const T *)rv, *dy = (const T *)dyv;
  int64_t ch = blockIdx.x, cg = c / groups;
  double sdy = 0, sdyx = 0;
  for (int64_t k = threadIdx.x; k < n * s; k += blockDim.x) {
    int64_t i = k / s, at = (i * c + ch) * s + k % s, t = i * groups + ch / cg;
    double e = (double)dy[at];
    sdy += e;
    sdyx += e * ((double)x[at] - (double)mean[t]) * (double)rstd[t];
  }
  sdy = dx_cuda_block_sum(sdy);
  sdyx = dx_cuda_block_sum(sdyx);
  if (threadIdx.x == 0) {
    if (dgv) ((T *)dgv)[ch] += (T)sdyx;
    if (dbv) ((T *)dbv)[ch] += (T)sdy;
  }
}

/* x, dy, dx (N, C, S...); gamma, dgamma, dbeta (C) or NULL; mean, rstd (N*G).
 * dx, dgamma, dbeta accumulate; any may be NULL. */
static void cuda_group_norm_bwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                                const dx_tensor *mean, const dx_tensor *rstd, int groups,
                                const dx_tensor *dy, dx_tensor *dx, dx_tensor *dgamma,
                                dx_tensor *dbeta) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t n = x->shape[0], ch = x->shape[1], s = 1;
  for (int d = 2; d < x->ndim; d++)
    s *= x->shape[d];
  bool f32 = x->dtype == DX_F32;
  const void *g = gamma ? gamma->data : NULL;
  if (dx && n * groups > 0) {
    unsigned blocks = (unsigned)(n * groups);
    if (f32)
      gn_bwd_data_kernel<float><<<blocks, NORM_THREADS, 0, c->stream>>>(
          x->data, g, mean->data, rstd->data, dy->data, dx->data, groups, ch / groups, s);
    else
      gn_bwd_data_kernel<double><<<blocks, NORM_THREADS, 0, c->stream>>>(
          x->data, g, mean->data, rstd->data, dy->data, dx->data, groups, ch / groups, s);
    dx_cuda_launched(be, "gn_bwd_data_kernel");
  }
  if ((dgamma || dbeta) && ch > 0) {
    void *dg = dgamma ? dgamma->data : NULL, *db = dbeta ? dbeta->data : NULL;
    if (f32)
      gn_bwd_affine_kernel<float><<<(unsigned)ch, NORM_THREADS, 0, c->stream>>>(
          x->data, mean->data, rstd->data, dy->data, dg, db, n, ch, groups, s);
    else
      gn_bwd_affine_kernel<double><<<(unsigned)ch, NORM_THREADS, 0, c->stream>>>(
          x->data, mean->data, rstd->data, dy->data, dg, db, n, ch, groups, s);
    dx_cuda_launched(be, "gn_bwd_affine_kernel");
  }
}

/* --- group norm -> FiLM -> SiLU ----------------------------------------------------- */

/* y = SiLU(u (1 + sc) + sh), u = xhat gamma + beta and (sc, sh) =
 * film[i, ch], film[i, C + ch]; per channel one affine map
 * z = (x - mu) a + b with a = r gamma (1 + sc), b = beta (1 + sc) + sh, then
 * the SiLU, evaluated in the storage type as on the CPU
 * (core/backend/cpu/norm.c has the derivation of the backward). */
typedef struct gns_map {
  double gm, bt, sc1, a, b; /* gamma, beta, 1 + sc; the map */
} gns_map;

template <typename T>
__device__ inline gns_map gns_map_of(const T *gamma, const T *beta, const T *film, int64_t c,
                                     int64_t i, int64_t ch, double r) {
  gns_map m;
  m.gm = gamma ? (double)gamma[ch] : 1.0;
  m.bt = beta ? (double)beta[ch] : 0.0;
  m.sc1 = 1.0;
  double sh = 0;
  if (film) {
    m.sc1 += (double)film[2 * c * i + ch];
    sh = (double)film[2 * c * i + c + ch];
  }
  m.a = r * m.gm * m.sc1;
  m.b = m.bt * m.sc1 + sh;
  return m;
}

template <typename T> __device__ inline T gns_silu(T z) { return z / ((T)1 + exp(-z)); }
/* SiLU'(z) = s (1 + z (1 - s)), s = sigmoid(z) (Elfwing et al. 2018, eq. 5) */
template <typename T> __device__ inline T gns_silu_grad(T z) {
  T sg = (T)1 / ((T)1 + exp(-z));
  return sg * ((T)1 + z * ((T)1 - sg));
}

/* Block t = (i, g): the group's statistics, then y element by element. */
template <typename T>
__global__ void gns_fwd_kernel(const void *xv, const void *gv, const void *bv, const void *fv,
                               void *yv, void *mv, void *rv, int64_t c, int64_t groups, int64_t cg,
                               int64_t s, double eps) {
  const T *x = (const T *)xv, *gamma = (const T *)gv, *beta = (const T *)bv, *film = (const T *)fv;
  T *y = (T *)yv;
  int64_t t = blockIdx.x, d = cg * s, i = t / groups, ch0 = t % groups * cg;
  const T *xg = x + t * d;
  double mu, r;
  gn_group_stats(xg, d, eps, &mu, &r);
  if (threadIdx.x == 0) {
    ((T *)mv)[t] = (T)mu;
    ((T *)rv)[t] = (T)r;
  }
  for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
    gns_map m = gns_map_of(gamma, beta, film, c, i, ch0 + k / s, r);
    y[t * d + k] = gns_silu((T)(((double)xg[k] - mu) * m.a + m.b));
  }
}

/* x, y (N, C, S...); gamma, beta (C) or NULL; film (N, 2C) or NULL; mean, rstd (N*G) */
static void cuda_group_norm_silu_fwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                                     const dx_tensor *beta, const dx_tensor *film, int groups,
                                     double eps, dx_tensor *y, dx_tensor *mean, dx_tensor *rstd) {
  int64_t n = x->shape[0], ch = x->shape[1], s = 1;
  for (int d = 2; d < x->ndim; d++)
    s *= x->shape[d];
  if (n * groups == 0) return;
  const void *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
  const void *f = film ? film->data : NULL;
  NORM_LAUNCH(be, x->dtype, (unsigned)(n * groups), NORM_THREADS, gns_fwd_kernel, x->data, g, b, f,
              y->data, mean->data, rstd->data, ch, groups, ch / groups, s, eps);
}

/* Block t = (i, g). Channel by channel, with g_z = dy SiLU'(z):
 * S1 = sum g_z, S2 = sum g_z (x - mu); they go to the workspace (for dgamma,
 * dbeta) and make dfilm's two entries of (i, ch), which only this block
 * owns: dsc = gamma r S2 + beta S1, dsh = S1. Then the group norm's input
 * gradient with gamma dy replaced by gamma (1 + sc) g_z:
 *   dx += r gamma (1 + sc) g_z - r^2 mean(G xhat) (x - mu) - r mean(G). */
template <typename T>
__global__ void gns_bwd_group_kernel(const void *xv, const void *gv, const void *bv, const void *fv,
                                     const void *mv, const void *rv, const void *dyv, double *ws,
                                     void *dxv, void *dfv, int64_t n, int64_t c, int64_t groups,
                                     int64_t cg, int64_t s) {
  const T *x = (const T *)xv, *gamma = (const T *)gv, *beta = (const T *)bv, *film = (const T *)fv;
  const T *dy = (const T *)dyv;
  T *dx = (T *)dxv, *dfilm = (T *)dfv;
  int64_t t = blockIdx.x, d = cg * s, i = t / groups, ch0 = t % groups * cg;
  double mu = (double)((const T *)mv)[t], r = (double)((const T *)rv)[t];
  const T *xg = x + t * d, *dyg = dy + t * d;
  double sg = 0, sgx = 0;
  for (int64_t k = 0; k < cg; k++) {
    gns_map m = gns_map_of(gamma, beta, film, c, i, ch0 + k, r);
    double s1 = 0, s2 = 0;
    for (int64_t j = threadIdx.x; j < s; j += blockDim.x) {
      double e = (double)xg[k * s + j] - mu;
      T gz = dyg[k * s + j] * gns_silu_grad((T)(e * m.a + m.b));
      s1 += (double)gz;
      s2 += (double)gz * e;
    }
    s1 = dx_cuda_block_sum(s1);
    s2 = dx_cuda_block_sum(s2);
    if (threadIdx.x == 0) {
      int64_t ch = ch0 + k;
      if (ws) {
        ws[i * c + ch] = s1;
        ws[(n + i) * c + ch] = s2;
      }
      if (dfilm) {
        dfilm[2 * c * i + ch] += (T)(m.gm * r * s2 + m.bt * s1);
        dfilm[2 * c * i + c + ch] += (T)s1;
      }
    }
    sg += m.gm * m.sc1 * s1;
    sgx += m.gm * m.sc1 * s2;
  }
  if (!dx) return;
  double mean_g = sg / (double)d, mean_gxhat = r * sgx / (double)d;
  for (int64_t k = threadIdx.x; k < d; k += blockDim.x) {
    gns_map m = gns_map_of(gamma, beta, film, c, i, ch0 + k / s, r);
    double e = (double)xg[k] - mu;
    T gz = dyg[k] * gns_silu_grad((T)(e * m.a + m.b));
    dx[t * d + k] += (T)(r * m.gm * m.sc1 * (double)gz - r * r * mean_gxhat * e - r * mean_g);
  }
}

/* Block ch: the gradient reaching u is g_z (1 + sc), so
 * dgamma += sum_i (1 + sc) r S2, dbeta += sum_i (1 + sc) S1. */
template <typename T>
__global__ void gns_bwd_affine_kernel(const void *fv, const void *rv, const double *ws, void *dgv,
                                      void *dbv, int64_t n, int64_t c, int64_t groups) {
  const T *film = (const T *)fv, *rstd = (const T *)rv;
  int64_t ch = blockIdx.x, cg = c / groups;
  double su = 0, sux = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    double sc1 = film ? 1.0 + (double)film[2 * c * i + ch] : 1.0;
    su += sc1 * ws[i * c + ch];
    sux += sc1 * (double)rstd[i * groups + ch / cg] * ws[(n + i) * c + ch];
  }
  su = dx_cuda_block_sum(su);
  sux = dx_cuda_block_sum(sux);
  if (threadIdx.x == 0) {
    if (dgv) ((T *)dgv)[ch] += (T)sux;
    if (dbv) ((T *)dbv)[ch] += (T)su;
  }
}

/* As group_norm_bwd, plus film and dfilm (N, 2C) or NULL; ws (2*N*C
 * float64), needed when dgamma or dbeta is. dx, dgamma, dbeta, dfilm
 * accumulate; any may be NULL. */
static void cuda_group_norm_silu_bwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                                     const dx_tensor *beta, const dx_tensor *film,
                                     const dx_tensor *mean, const dx_tensor *rstd, int groups,
                                     const dx_tensor *dy, dx_tensor *ws, dx_tensor *dx,
                                     dx_tensor *dgamma, dx_tensor *dbeta, dx_tensor *dfilm) {
  int64_t n = x->shape[0], ch = x->shape[1], s = 1;
  for (int d = 2; d < x->ndim; d++)
    s *= x->shape[d];
  double *w = (dgamma || dbeta) && ws ? (double *)ws->data : NULL;
  if (n * groups == 0 || (!dx && !dfilm && !w)) return;
  const void *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
  const void *f = film ? film->data : NULL;
  NORM_LAUNCH(be, x->dtype, (unsigned)(n * groups), NORM_THREADS, gns_bwd_group_kernel, x->data, g,
              b, f, mean->data, rstd->data, dy->data, w, dx ? dx->data : NULL,
              dfilm ? dfilm->data : NULL, n, ch, groups, ch / groups, s);
  if (w && ch > 0)
    NORM_LAUNCH(be, x->dtype, (unsigned)ch, 128, gns_bwd_affine_kernel, f, rstd->data, w,
                dgamma ? dgamma->data : NULL, dbeta ? dbeta->data : NULL, n, ch, groups);
}

/* --- softmax ------------------------------------------------------------------------ */

/* Tensors are read as (O, L, I) around the axis of length L. Along the last
 * axis (I = 1) a block owns a row; otherwise a thread owns a column (o, i)
 * and walks its L elements at stride I. */

/* Row o: y = exp(x - max) / sum exp(x - max); the maximum keeps exp finite. */
template <typename T> __global__ void sm_fwd_rows(const void *xv, void *yv, int64_t o, int64_t l) {
  for (int64_t row = blockIdx.x; row < o; row += gridDim.x) {
    const T *x = (const T *)xv + row * l;
    T *y = (T *)yv + row * l;
    double m = -INFINITY;
    for (int64_t i = threadIdx.x; i < l; i += blockDim.x)
      m = fmax(m, (double)x[i]);
    m = dx_cuda_block_max(m);
    double s = 0;
    for (int64_t i = threadIdx.x; i < l; i += blockDim.x) {
      T e = exp((T)((double)x[i] - m));
      y[i] = e;
      s += (double)e;
    }
    double k = 1.0 / dx_cuda_block_sum(s);
    for (int64_t i = threadIdx.x; i < l; i += blockDim.x)
      y[i] = (T)((double)y[i] * k);
  }
}

template <typename T>
__global__ void sm_fwd_cols(const void *xv, void *yv, int64_t o, int64_t l, int64_t in) {
  DX_CUDA_FOR(col, o * in) {
    int64_t base = col / in * l * in + col % in;
    const T *x = (const T *)xv + base;
    T *y = (T *)yv + base;
    double m = (double)x[0];
    for (int64_t j = 1; j < l; j++)
      m = fmax(m, (double)x[j * in]);
    double s = 0;
    for (int64_t j = 0; j < l; j++) {
      T e = exp((T)((double)x[j * in] - m));
      y[j * in] = e;
      s += (double)e;
    }
    double k = 1.0 / s;
    for (int64_t j = 0; j < l; j++)
      y[j * in] = (T)((double)y[j * in] * k);
  }
}

/* (O, L, I) of t around axis */
static void sm_geometry(const dx_tensor *t, int axis, int64_t *o, int64_t *l, int64_t *in) {
  *o = 1, *l = t->shape[axis], *in = 1;
  for (int d = 0; d < axis; d++)
    *o *= t->shape[d];
  for (int d = axis + 1; d < t->ndim; d++)
    *in *= t->shape[d];
}

static unsigned row_blocks(int64_t o) { return (unsigned)(o < 65535 ? (o > 0 ? o : 1) : 65535); }

/* x, y any shape of rank <= 4, axis in [0, rank) */
static void cuda_softmax_fwd(dx_backend *be, const dx_tensor *x, dx_tensor *y, int axis) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t o, l, in;
  sm_geometry(x, axis, &o, &l, &in);
  if (o * l * in == 0) return;
  if (in > 1) {
    DX_CUDA_LAUNCH_T(be, x->dtype, o * in, sm_fwd_cols, x->data, y->data, o, l, in);
    return;
  }
  if (x->dtype == DX_F32)
    sm_fwd_rows<float><<<row_blocks(o), DX_CUDA_THREADS, 0, c->stream>>>(x->data, y->data, o, l);
  else
    sm_fwd_rows<double><<<row_blocks(o), DX_CUDA_THREADS, 0, c->stream>>>(x->data, y->data, o, l);
  dx_cuda_launched(be, "sm_fwd_rows");
}

/* The softmax Jacobian diag(y) - y y^T along L: dx += y (dy - sum_L y dy). */
template <typename T>
__global__ void sm_bwd_rows(const void *yv, const void *dyv, void *dxv, int64_t o, int64_t l) {
  for (int64_t row = blockIdx.x; row < o; row += gridDim.x) {
    const T *y = (const T *)yv + row * l, *dy = (const T *)dyv + row * l;
    T *dx = (T *)dxv + row * l;
    double d = 0;
    for (int64_t i = threadIdx.x; i < l; i += blockDim.x)
      d += (double)y[i] * (double)dy[i];
    d = dx_cuda_block_sum(d);
    for (int64_t i = threadIdx.x; i < l; i += blockDim.x)
      dx[i] += (T)((double)y[i] * ((double)dy[i] - d));
  }
}

template <typename T>
__global__ void sm_bwd_cols(const void *yv, const void *dyv, void *dxv, int64_t o, int64_t l,
                            int64_t in) {
  DX_CUDA_FOR(col, o * in) {
    int64_t base = col / in * l * in + col % in;
    const T *y = (const T *)yv + base, *dy = (const T *)dyv + base;
    T *dx = (T *)dxv + base;
    double d = 0;
    for (int64_t j = 0; j < l; j++)
      d += (double)y[j * in] * (double)dy[j * in];
    for (int64_t j = 0; j < l; j++)
      dx[j * in] += (T)((double)y[j * in] * ((double)dy[j * in] - d));
  }
}

/* y, dy, dx: the forward's shape; dx accumulates */
static void cuda_softmax_bwd(dx_backend *be, const dx_tensor *y, const dx_tensor *dy, dx_tensor *dx,
                             int axis) {
  dx_cuda *c = dx_cuda_of(be);
  int64_t o, l, in;
  sm_geometry(y, axis, &o, &l, &in);
  if (o * l * in == 0) return;
  if (in > 1) {
    DX_CUDA_LAUNCH_T(be, y->dtype, o * in, sm_bwd_cols, y->data, dy->data, dx->data, o, l, in);
    return;
  }
  if (y->dtype == DX_F32)
    sm_bwd_rows<float>
        <<<row_blocks(o), DX_CUDA_THREADS, 0, c->stream>>>(y->data, dy->data, dx->data, o, l);
  else
    sm_bwd_rows<double>
        <<<row_blocks(o), DX_CUDA_THREADS, 0, c->stream>>>(y->data, dy->data, dx->data, o, l);
  dx_cuda_launched(be, "sm_bwd_rows");
}

void dx_cuda_init_norm(dx_backend *be) {
  be->group_norm_fwd = cuda_group_norm_fwd;
  be->group_norm_bwd = cuda_group_norm_bwd;
  be->group_norm_silu_fwd = cuda_group_norm_silu_fwd;
  be->group_norm_silu_bwd = cuda_group_norm_silu_bwd;
  be->softmax_fwd = cuda_softmax_fwd;
  be->softmax_bwd = cuda_softmax_bwd;
}
