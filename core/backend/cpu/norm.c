/* CPU kernels: group norm and softmax, forward and backward.
 *
 * The algorithms are written once over untyped rows; the few loops that touch
 * elements are instantiated for float and double by DEFINE_ROW_PRIMS. Every
 * sum accumulates in double, whatever the storage type: a float32 group of
 * 7*28*28 activations then keeps its mean and variance to ~1e-15 instead of
 * the ~1e-4 a float accumulator loses (and no E[x^2] - E[x]^2 cancellation:
 * the variance is the mean squared deviation, a second pass over data that is
 * still in cache). */
#include <math.h>

#include "backend/cpu/cpu.h"

/* Softmax columns handled at once when the axis is not the last one: the
 * loops then run along contiguous memory and vectorise. */
#define TILE 64

typedef struct row_prims {
  double (*sum)(const void *x, int64_t n);
  double (*sq_dev)(const void *x, int64_t n, double mu); /* sum (x - mu)^2 */
  /* y = (x - mu) a + b */
  void (*affine)(const void *x, int64_t n, double mu, double a, double b, void *y);
  /* *s_dy = sum dy, *s_dyx = sum dy (x - mu) */
  void (*dot_dev)(const void *dy, const void *x, int64_t n, double mu, double *s_dy,
                  double *s_dyx);
  /* dx += a dy + b (x - mu) + c */
  void (*acc_affine2)(const void *dy, const void *x, int64_t n, double a, double b, double mu,
                      double c, void *dx);
  /* Column primitives on a (rows, w) block with leading dimension ld. */
  void (*col_max)(const void *x, int64_t rows, int64_t w, int64_t ld, double *m);
  /* y = exp(x - m), s = column sums of y */
  void (*col_exp)(const void *x, void *y, int64_t rows, int64_t w, int64_t ld, const double *m,
                  double *s);
  void (*col_scale)(void *y, int64_t rows, int64_t w, int64_t ld, const double *k);
  void (*col_dot)(const void *a, const void *b, int64_t rows, int64_t w, int64_t ld, double *d);
  /* dx += y (dy - d) */
  void (*col_softmax_bwd)(const void *y, const void *dy, void *dx, int64_t rows, int64_t w,
                          int64_t ld, const double *d);
} row_prims;

#define DEFINE_ROW_PRIMS(T, EXP)                                                                 \
  static double sum_##T(const void *xv, int64_t n) {                                           \
    const T *x = xv;                                                                             \
    double s = 0;                                                                                \
    _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < n; i++) s += x[i];            \
    return s;                                                                                    \
  }                                                                                              \
  static double sq_dev_##T(const void *xv, int64_t n, double mu) {                             \
    const T *x = xv;                                                                             \
    double s = 0;                                                                                \
    _Pragma("omp simd reduction(+ : s)") for (int64_t i = 0; i < n; i++) s +=                  \
        (x[i] - mu) * (x[i] - mu);                                                               \
    return s;                                                                                    \
  }                                                                                              \
  static void affine_##T(const void *xv, int64_t n, double mu, double a, double b, void *yv) {  \
    const T *x = xv;                                                                             \
    T *y = yv;                                                                                   \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = (T)((x[i] - mu) * a + b);       \
  }                                                                                              \
  static void dot_dev_##T(const void *dyv, const void *xv, int64_t n, double mu, double *s_dy,  \
                          double *s_dyx) {                                                       \
    const T *dy = dyv, *x = xv;                                                                  \
    double a = 0, b = 0;                                                                         \
    _Pragma("omp simd reduction(+ : a, b)") for (int64_t i = 0; i < n; i++) {                  \
      a += dy[i];                                                                                \
      b += dy[i] * (x[i] - mu);                                                                  \
    }                                                                                            \
    *s_dy = a, *s_dyx = b;                                                                       \
  }                                                                                              \
  static void acc_affine2_##T(const void *dyv, const void *xv, int64_t n, double a, double b,   \
                              double mu, double c, void *dxv) {                                  \
    const T *dy = dyv, *x = xv;                                                                  \
    T *dx = dxv;                                                                                 \
    _Pragma("omp simd") for (int64_t i = 0; i < n; i++) dx[i] +=                               \
        (T)(a * dy[i] + b * (x[i] - mu) + c);                                                    \
  }                                                                                              \
  static void col_max_##T(const void *xv, int64_t rows, int64_t w, int64_t ld, double *m) {     \
    const T *x = xv;                                                                             \
    for (int64_t j = 0; j < w; j++) m[j] = x[j];                                                 \
    for (int64_t l = 1; l < rows; l++)                                                           \
      for (int64_t j = 0; j < w; j++) m[j] = x[l * ld + j] > m[j] ? x[l * ld + j] : m[j];       \
  }                                                                                              \
  static void col_exp_##T(const void *xv, void *yv, int64_t rows, int64_t w, int64_t ld,        \
                          const double *m, double *s) {                                          \
    const T *x = xv;                                                                             \
    T *y = yv;                                                                                   \
    for (int64_t j = 0; j < w; j++) s[j] = 0;                                                    \
    for (int64_t l = 0; l < rows; l++)                                                           \
      for (int64_t j = 0; j < w; j++) {                                                          \
        T e = EXP((T)(x[l * ld + j] - m[j]));                                                    \
        y[l * ld + j] = e;                                                                       \
        s[j] += e;                                                                               \
      }                                                                                          \
  }                                                                                              \
  static void col_scale_##T(void *yv, int64_t rows, int64_t w, int64_t ld, const double *k) {   \
    T *y = yv;                                                                                   \
    for (int64_t l = 0; l < rows; l++)                                                           \
      for (int64_t j = 0; j < w; j++) y[l * ld + j] *= (T)k[j];                                  \
  }                                                                                              \
  static void col_dot_##T(const void *av, const void *bv, int64_t rows, int64_t w, int64_t ld,  \
                          double *d) {                                                           \
    const T *a = av, *b = bv;                                                                    \
    for (int64_t j = 0; j < w; j++) d[j] = 0;                                                    \
    for (int64_t l = 0; l < rows; l++)                                                           \
      for (int64_t j = 0; j < w; j++) d[j] += (double)a[l * ld + j] * b[l * ld + j];             \
  }                                                                                              \
  static void col_softmax_bwd_##T(const void *yv, const void *dyv, void *dxv, int64_t rows,     \
                                  int64_t w, int64_t ld, const double *d) {                      \
    const T *y = yv, *dy = dyv;                                                                  \
    T *dx = dxv;                                                                                 \
    for (int64_t l = 0; l < rows; l++)                                                           \
      for (int64_t j = 0; j < w; j++)                                                            \
        dx[l * ld + j] += (T)(y[l * ld + j] * (dy[l * ld + j] - d[j]));                          \
  }                                                                                              \
  static const row_prims prims_##T = {sum_##T,       sq_dev_##T,    affine_##T,                 \
                                      dot_dev_##T,   acc_affine2_##T, col_max_##T,              \
                                      col_exp_##T,   col_scale_##T, col_dot_##T,                \
                                      col_softmax_bwd_##T};

DEFINE_ROW_PRIMS(float, expf)
DEFINE_ROW_PRIMS(double, exp)

static const row_prims *prims_for(dx_dtype dt) { return dt == DX_F32 ? &prims_float : &prims_double; }

/* Address of element i of t. */
static inline void *elem(const dx_tensor *t, int64_t i) {
  return (char *)t->data + i * (int64_t)dx_dtype_size(t->dtype);
}

static double get(const dx_tensor *t, int64_t i) {
  return t->dtype == DX_F32 ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}

static void set(dx_tensor *t, int64_t i, double v) {
  if (t->dtype == DX_F32) ((float *)t->data)[i] = (float)v;
  else ((double *)t->data)[i] = v;
}

/* --- group norm ------------------------------------------------------------------- */

/* Any rank >= 2 read as (N, C, S), S the product of the trailing dims. */
static void as_ncs(const dx_tensor *x, int64_t *n, int64_t *c, int64_t *s) {
  *n = x->shape[0], *c = x->shape[1], *s = 1;
  for (int d = 2; d < x->ndim; d++) *s *= x->shape[d];
}

/* x, y (N, C, S); gamma, beta (C) or NULL; mean, rstd (N*G).
 * y = (x - mu) rstd gamma + beta, mu and the biased variance taken over the
 * C/G channels of a group and all of S (Wu & He 2018, "Group Normalization",
 * eq. 1-3; torch.nn.GroupNorm). A group's C/G*S elements are contiguous. */
static void group_norm_fwd(const dx_tensor *x, const dx_tensor *gamma, const dx_tensor *beta,
                           int groups, double eps, dx_tensor *y, dx_tensor *mean, dx_tensor *rstd) {
  const row_prims *p = prims_for(x->dtype);
  int64_t n, c, s;
  as_ncs(x, &n, &c, &s);
  int64_t cg = c / groups, d = cg * s;
#pragma omp parallel for if (n * c * s > DX_CPU_PAR_MIN)
  for (int64_t t = 0; t < n * groups; t++) {
    double mu = p->sum(elem(x, t * d), d) / (double)d;
    double r = 1.0 / sqrt(p->sq_dev(elem(x, t * d), d, mu) / (double)d + eps);
    set(mean, t, mu);
    set(rstd, t, r);
    for (int64_t k = 0, ch = (t % groups) * cg; k < cg; k++, ch++) {
      double a = gamma ? r * get(gamma, ch) : r, b = beta ? get(beta, ch) : 0.0;
      p->affine(elem(x, t * d + k * s), s, mu, a, b, elem(y, t * d + k * s));
    }
  }
}

/* dx (N, C, S) += the gradient through the normalisation. With xhat = (x - mu) r
 * and g = gamma dy (the gradient reaching xhat), differentiating through mu
 * and r gives
 *   dx = r (g - mean(g) - xhat mean(g xhat)),   means over the group,
 * i.e. dx = r gamma dy - r^2 mean(g xhat) (x - mu) - r mean(g). */
static void group_norm_bwd_input(const row_prims *p, const dx_tensor *x, const dx_tensor *gamma,
                                 const dx_tensor *mean, const dx_tensor *rstd, int groups,
                                 const dx_tensor *dy, dx_tensor *dx) {
  int64_t n, c, s;
  as_ncs(x, &n, &c, &s);
  int64_t cg = c / groups, d = cg * s;
#pragma omp parallel for if (n * c * s > DX_CPU_PAR_MIN)
  for (int64_t t = 0; t < n * groups; t++) {
    double mu = get(mean, t), r = get(rstd, t), sg = 0, sgx = 0, a, b;
    int64_t ch0 = (t % groups) * cg;
    for (int64_t k = 0; k < cg; k++) {
      p->dot_dev(elem(dy, t * d + k * s), elem(x, t * d + k * s), s, mu, &a, &b);
      double gm = gamma ? get(gamma, ch0 + k) : 1.0;
      sg += gm * a;
      sgx += gm * b;
    }
    double mean_g = sg / (double)d, mean_gxhat = r * sgx / (double)d;
    for (int64_t k = 0; k < cg; k++) {
      double gm = gamma ? get(gamma, ch0 + k) : 1.0;
      p->acc_affine2(elem(dy, t * d + k * s), elem(x, t * d + k * s), s, r * gm,
                     -r * r * mean_gxhat, mu, -r * mean_g, elem(dx, t * d + k * s));
    }
  }
}

/* dgamma_c += sum_{n,s} dy xhat, dbeta_c += sum_{n,s} dy. One channel per
 * iteration, summing over n in order: no reduction across threads, so the
 * result does not depend on the thread count. */
static void group_norm_bwd_affine(const row_prims *p, const dx_tensor *x, const dx_tensor *mean,
                                  const dx_tensor *rstd, int groups, const dx_tensor *dy,
                                  dx_tensor *dgamma, dx_tensor *dbeta) {
  int64_t n, c, s;
  as_ncs(x, &n, &c, &s);
  int64_t cg = c / groups;
#pragma omp parallel for if (n * c * s > DX_CPU_PAR_MIN)
  for (int64_t ch = 0; ch < c; ch++) {
    double sum_dy = 0, sum_dyxhat = 0, a, b;
    for (int64_t i = 0; i < n; i++) {
      int64_t t = i * groups + ch / cg;
      p->dot_dev(elem(dy, (i * c + ch) * s), elem(x, (i * c + ch) * s), s, get(mean, t), &a, &b);
      sum_dy += a;
      sum_dyxhat += b * get(rstd, t);
    }
    if (dgamma) set(dgamma, ch, get(dgamma, ch) + sum_dyxhat);
    if (dbeta) set(dbeta, ch, get(dbeta, ch) + sum_dy);
  }
}

/* x, dy, dx (N, C, S); gamma, dgamma, dbeta (C) or NULL; mean, rstd (N*G). */
static void group_norm_bwd(const dx_tensor *x, const dx_tensor *gamma, const dx_tensor *mean,
                           const dx_tensor *rstd, int groups, const dx_tensor *dy, dx_tensor *dx,
                           dx_tensor *dgamma, dx_tensor *dbeta) {
  const row_prims *p = prims_for(x->dtype);
  if (dx) group_norm_bwd_input(p, x, gamma, mean, rstd, groups, dy, dx);
  if (dgamma || dbeta) group_norm_bwd_affine(p, x, mean, rstd, groups, dy, dgamma, dbeta);
}

/* --- softmax ------------------------------------------------------------------------ */

/* x read as (O, L, I) around the axis of length L. */
static void around_axis(const dx_tensor *x, int axis, int64_t *o, int64_t *l, int64_t *in) {
  *o = 1, *l = x->shape[axis], *in = 1;
  for (int d = 0; d < axis; d++) *o *= x->shape[d];
  for (int d = axis + 1; d < x->ndim; d++) *in *= x->shape[d];
}

/* x, y (O, L, I): y = exp(x - max) / sum exp(x - max) over L; subtracting the
 * column maximum keeps exp from overflowing and changes nothing else. */
static void softmax_fwd(const dx_tensor *x, dx_tensor *y, int axis) {
  const row_prims *p = prims_for(x->dtype);
  int64_t o, l, in;
  around_axis(x, axis, &o, &l, &in);
  int64_t tiles = (in + TILE - 1) / TILE;
#pragma omp parallel for if (o * l * in > DX_CPU_PAR_MIN)
  for (int64_t t = 0; t < o * tiles; t++) {
    int64_t i0 = (t % tiles) * TILE, w = in - i0 < TILE ? in - i0 : TILE;
    int64_t base = t / tiles * l * in + i0;
    double m[TILE], s[TILE];
    p->col_max(elem(x, base), l, w, in, m);
    p->col_exp(elem(x, base), elem(y, base), l, w, in, m, s);
    for (int64_t j = 0; j < w; j++) s[j] = 1.0 / s[j];
    p->col_scale(elem(y, base), l, w, in, s);
  }
}

/* y, dy, dx (O, L, I): dx += (diag(y) - y y^T) dy = y (dy - sum_L dy y), the
 * softmax Jacobian applied along L. */
static void softmax_bwd(const dx_tensor *y, const dx_tensor *dy, dx_tensor *dx, int axis) {
  const row_prims *p = prims_for(y->dtype);
  int64_t o, l, in;
  around_axis(y, axis, &o, &l, &in);
  int64_t tiles = (in + TILE - 1) / TILE;
#pragma omp parallel for if (o * l * in > DX_CPU_PAR_MIN)
  for (int64_t t = 0; t < o * tiles; t++) {
    int64_t i0 = (t % tiles) * TILE, w = in - i0 < TILE ? in - i0 : TILE;
    int64_t base = t / tiles * l * in + i0;
    double d[TILE];
    p->col_dot(elem(y, base), elem(dy, base), l, w, in, d);
    p->col_softmax_bwd(elem(y, base), elem(dy, base), elem(dx, base), l, w, in, d);
  }
}

void dx_cpu_init_norm(dx_backend *be) {
  be->group_norm_fwd = group_norm_fwd;
  be->group_norm_bwd = group_norm_bwd;
  be->softmax_fwd = softmax_fwd;
  be->softmax_bwd = softmax_bwd;
}
