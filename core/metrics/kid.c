/* Kernel inception distance (Bińkowski et al. 2018, "Demystifying MMD
 * GANs", eq. 4): the unbiased estimator of the squared maximum mean
 * discrepancy with the cubic polynomial kernel, averaged over subsets. */
#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "util/err.h"

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* m rows of f (n, d) chosen without replacement (a partial Fisher-Yates
 * over perm) into out (m, d) as doubles. */
static void pick(const float *f, int64_t n, int64_t d, int64_t m, int64_t *perm, uint64_t *rng,
                 double *out) {
  for (int64_t i = 0; i < n; i++)
    perm[i] = i;
  for (int64_t i = 0; i < m; i++) {
    int64_t j = i + (int64_t)(splitmix(rng) % (uint64_t)(n - i)), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
    for (int64_t k = 0; k < d; k++)
      out[i * d + k] = f[perm[i] * d + k];
  }
}

/* The sum of k(a_i, b_j) = (a_i.b_j / d + 1)^3 over all i, j, or over
 * i != j when `off_diagonal` (a and b the same set). g: (m, m) scratch. */
static double kernel_sum(const double *a, const double *b, int64_t m, int64_t d, bool off_diagonal,
                         double *g) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)d, 1.0 / (double)d, a,
              (int)d, b, (int)d, 0.0, g, (int)m);
  double s = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < m; j++)
      if (!off_diagonal || i != j) {
        double v = g[i * m + j] + 1;
        s += v * v * v;
      }
  return s;
}

dx_status dx_kid(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d,
                 const dx_kid_opts *o, double *kid, double *spread, char *err, size_t errlen) {
  int64_t subsets = o && o->subsets > 0 ? o->subsets : 100;
  int64_t m = o && o->subset_size > 0 ? o->subset_size : 0;
  if (m == 0) {
    m = nx < ny ? nx / 2 : ny / 2;
    m = m > 1000 ? 1000 : m < 2 ? 2 : m;
  }
  if (d < 1 || m < 2 || m > nx || m > ny)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                   "KID needs subsets of at least 2 vectors from each set (subsets of %lld from "
                   "%lld and %lld)",
                   (long long)m, (long long)nx, (long long)ny);
  double *xs = malloc((size_t)(m * d) * sizeof *xs), *ys = malloc((size_t)(m * d) * sizeof *ys);
  double *g = malloc((size_t)(m * m) * sizeof *g), *est = malloc((size_t)subsets * sizeof *est);
  int64_t *perm = malloc((size_t)(nx > ny ? nx : ny) * sizeof *perm);
  if (!xs || !ys || !g || !est || !perm) {
    free(xs), free(ys), free(g), free(est), free(perm);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory for KID");
  }
  uint64_t rng = o ? o->seed : 0;
  double mean = 0, pairs = (double)m * (double)(m - 1);
  for (int64_t s = 0; s < subsets; s++) {
    pick(x, nx, d, m, perm, &rng, xs);
    pick(y, ny, d, m, perm, &rng, ys);
    est[s] = kernel_sum(xs, xs, m, d, true, g) / pairs + kernel_sum(ys, ys, m, d, true, g) / pairs -
             2 * kernel_sum(xs, ys, m, d, false, g) / ((double)m * (double)m);
    mean += est[s];
  }
  mean /= (double)subsets;
  double var = 0;
  for (int64_t s = 0; s < subsets; s++)
    var += (est[s] - mean) * (est[s] - mean);
  *kid = mean;
  *spread = subsets > 1 ? sqrt(var / (double)(subsets - 1)) : 0;
  free(xs), free(ys), free(g), free(est), free(perm);
  if (!isfinite(*kid))
    return dx_errf(err, errlen, DX_ERR_NUMERIC, NULL, "KID is not finite: are the features?");
  return DX_OK;
}
