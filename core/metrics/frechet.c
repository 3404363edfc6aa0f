/* Feature statistics and the Fréchet distance between two Gaussians (FID,
 * Heusel et al. 2017, eq. 6), in float64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/err.h"

dx_status dx_feature_stats(const float *f, int64_t n, int64_t d, double *mean, double *cov,
                           char *err, size_t errlen) {
  if (n < 2 || d < 1)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                   "feature statistics need at least 2 vectors (got %lld of size %lld)",
                   (long long)n, (long long)d);
  double *c = malloc((size_t)d * sizeof *c);
  if (!c) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory for feature statistics");
  memset(mean, 0, (size_t)d * sizeof *mean);
  memset(cov, 0, (size_t)(d * d) * sizeof *cov);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++)
      mean[j] += f[i * d + j];
  for (int64_t j = 0; j < d; j++)
    mean[j] /= (double)n;
  /* Centred first: the one-pass sum of squares loses the digits FID needs
   * when the mean is large against the spread. */
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < d; j++)
      c[j] = f[i * d + j] - mean[j];
    for (int64_t j = 0; j < d; j++)
      for (int64_t k = j; k < d; k++)
        cov[j * d + k] += c[j] * c[k];
  }
  for (int64_t j = 0; j < d; j++)
    for (int64_t k = j; k < d; k++)
      cov[k * d + j] = cov[j * d + k] /= (double)(n - 1);
  free(c);
  for (int64_t j = 0; j < d * d; j++)
    if (!isfinite(cov[j]))
      return dx_errf(err, errlen, DX_ERR_NUMERIC, NULL, "the features are not all finite");
  return DX_OK;
}

/* r = v^T diag(g(w)) v, v's rows the eigenvectors. */
static void compose(int64_t n, const double *v, const double *w, double *r) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i; j < n; j++) {
      double s = 0;
      for (int64_t k = 0; k < n; k++)
        s += v[k * n + i] * w[k] * v[k * n + j];
      r[i * n + j] = r[j * n + i] = s;
    }
}

dx_status dx_sqrtm_psd(int64_t n, const double *s, double *r, char *err, size_t errlen) {
  double *v = malloc((size_t)(n * n) * sizeof *v), *w = malloc((size_t)n * sizeof *w);
  dx_status st = v && w ? DX_OK : dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  if (st == DX_OK) memcpy(v, s, (size_t)(n * n) * sizeof *v);
  if (st == DX_OK) st = dx_sym_eig(n, v, w, err, errlen);
  if (st == DX_OK) {
    for (int64_t k = 0; k < n; k++)
      w[k] = w[k] > 0 ? sqrt(w[k]) : 0;
    compose(n, v, w, r);
  }
  free(v), free(w);
  return st;
}

dx_status dx_trace_sqrt_product(int64_t n, const double *s1, const double *s2, double *out,
                                char *err, size_t errlen) {
  size_t nn = (size_t)(n * n);
  double *a = malloc(nn * sizeof *a), *t = malloc(nn * sizeof *t), *m = malloc(nn * sizeof *m);
  double *w = malloc((size_t)n * sizeof *w);
  dx_status st =
      a && t && m && w ? DX_OK : dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  if (st == DX_OK) st = dx_sqrtm_psd(n, s1, a, err, errlen);
  if (st == DX_OK) {
    for (int64_t i = 0; i < n; i++) /* t = a s2 */
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t k = 0; k < n; k++)
          s += a[i * n + k] * s2[k * n + j];
        t[i * n + j] = s;
      }
    for (int64_t i = 0; i < n; i++) /* m = t a, symmetrised against rounding */
      for (int64_t j = i; j < n; j++) {
        double x = 0, y = 0;
        for (int64_t k = 0; k < n; k++)
          x += t[i * n + k] * a[k * n + j], y += t[j * n + k] * a[k * n + i];
        m[i * n + j] = m[j * n + i] = 0.5 * (x + y);
      }
    st = dx_sym_eig(n, m, w, err, errlen);
  }
  if (st == DX_OK) {
    double tr = 0;
    for (int64_t k = 0; k < n; k++)
      tr += w[k] > 0 ? sqrt(w[k]) : 0;
    *out = tr;
  }
  free(a), free(t), free(m), free(w);
  return st;
}

dx_status dx_frechet_distance(int64_t d, const double *mu1, const double *s1, const double *mu2,
                              const double *s2, double *out, char *err, size_t errlen) {
  double tsp = 0;
  dx_status st = dx_trace_sqrt_product(d, s1, s2, &tsp, err, errlen);
  if (st != DX_OK) return st;
  double dist = 0, tr = 0;
  for (int64_t i = 0; i < d; i++)
    dist += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]), tr += s1[i * d + i] + s2[i * d + i];
  *out = dist + tr - 2 * tsp;
  if (!isfinite(*out))
    return dx_errf(err, errlen, DX_ERR_NUMERIC, NULL, "the Fréchet distance is not finite");
  return DX_OK;
}
