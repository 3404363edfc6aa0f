/* Sample-quality numerics on feature vectors, in float64: the feature
 * statistics, the symmetric eigendecomposition, the Fréchet distance (FID,
 * Heusel et al. 2017), the kernel inception distance (KID, Bińkowski et
 * al. 2018), and a classifier's confusion counts. Pure numerics: which
 * network made the features is the caller's business
 * (core/train/features.h). */
#ifndef DX_METRICS_METRICS_H
#define DX_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"

/* f (n, d) row-major -> mean (d) and the unbiased covariance (d, d), divided
 * by n - 1 as numpy.cov does (n >= 2). */
DX_API dx_status dx_feature_stats(const float *f, int64_t n, int64_t d, double *mean, double *cov,
                                  char *err, size_t errlen);

/* a (n, n) symmetric, row-major -> w (n) its eigenvalues in ascending order,
 * and a overwritten by the orthonormal eigenvectors: row k of a (a[k*n + i],
 * i = 0..n-1) belongs to w[k]. LAPACK's dsyevd (OpenBLAS carries LAPACK). */
DX_API dx_status dx_sym_eig(int64_t n, double *a, double *w, char *err, size_t errlen);

/* s (n, n) symmetric positive semi-definite -> r its square root (the one
 * that is itself PSD). Eigenvalues below zero, which rounding makes of
 * zeros, count as zero. */
DX_API dx_status dx_sqrtm_psd(int64_t n, const double *s, double *r, char *err, size_t errlen);

/* tr sqrt(s1 s2) for two PSD matrices, as tr sqrt(A s2 A) with A =
 * sqrt(s1): A s2 A is symmetric PSD and similar to s1 s2 (A^-1 (A s2 A) A),
 * so the traces of their square roots agree, and only symmetric
 * eigendecompositions are needed. */
DX_API dx_status dx_trace_sqrt_product(int64_t n, const double *s1, const double *s2, double *out,
                                       char *err, size_t errlen);

/* ||mu1 - mu2||^2 + tr(s1) + tr(s2) - 2 tr sqrt(s1 s2): the Fréchet
 * distance between N(mu1, s1) and N(mu2, s2). */
DX_API dx_status dx_frechet_distance(int64_t d, const double *mu1, const double *s1,
                                     const double *mu2, const double *s2, double *out, char *err,
                                     size_t errlen);

typedef struct dx_kid_opts {
  int64_t subsets;     /* how many subset pairs (0: 100) */
  int64_t subset_size; /* m (0: min(1000, nx/2, ny/2), at least 2) */
  uint64_t seed;       /* which subsets */
} dx_kid_opts;

/* KID: the unbiased estimate of the squared MMD with the polynomial kernel
 * k(a, b) = (a.b / d + 1)^3, averaged over `subsets` pairs of subsets of m
 * rows of x (nx, d) and of y (ny, d) drawn without replacement;
 * *spread is the standard deviation of the per-subset estimates (the "±" of
 * Bińkowski et al.). One subset: *spread = 0. */
DX_API dx_status dx_kid(const float *x, int64_t nx, const float *y, int64_t ny, int64_t d,
                        const dx_kid_opts *o, double *kid, double *spread, char *err,
                        size_t errlen);

/* counts (classes, classes): counts[k * classes + j] is how many of the n
 * samples drawn for class want[i] = k the classifier labelled pred[i] = j,
 * so row k's diagonal over its sum is class k's accuracy. A class outside
 * 0..classes-1 is DX_ERR_INVALID. */
DX_API dx_status dx_confusion(const int64_t *want, const int *pred, int64_t n, int64_t classes,
                              int64_t *counts, char *err, size_t errlen);

#endif
