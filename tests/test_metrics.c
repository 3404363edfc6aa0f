/* The sample-quality numerics (core/metrics) against closed forms computed
 * here in float64: eigenvalues of matrices built from known rotations, the
 * Fréchet distance of diagonal, rotated and non-commuting covariances (the
 * last against Denman-Beavers iteration on the non-symmetric product), and
 * KID by hand on sets small enough to add up on paper. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dx_test.h"
#include "metrics/metrics.h"

static char err[DX_ERRMSG_MAX];

/* An orthogonal n x n matrix as a product of Givens rotations. */
static void rotation(int n, double *r, uint64_t seed) {
  memset(r, 0, (size_t)(n * n) * sizeof *r);
  for (int i = 0; i < n; i++)
    r[i * n + i] = 1;
  srand((unsigned)seed);
  for (int p = 0; p < n; p++)
    for (int q = p + 1; q < n; q++) {
      double th = 6.283185307179586 * rand() / (double)RAND_MAX, c = cos(th), s = sin(th);
      for (int i = 0; i < n; i++) { /* columns p and q of r, rotated */
        double a = r[i * n + p], b = r[i * n + q];
        r[i * n + p] = c * a - s * b, r[i * n + q] = s * a + c * b;
      }
    }
}

/* out = r diag(d) r^T */
static void conjugate(int n, const double *r, const double *d, double *out) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++)
        s += r[i * n + k] * d[k] * r[j * n + k];
      out[i * n + j] = s;
    }
}

static void matmul(int n, const double *a, const double *b, double *c) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++)
        s += a[i * n + k] * b[k * n + j];
      c[i * n + j] = s;
    }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

START_TEST(eigenvalues_of_a_rotated_diagonal) {
  enum { N = 7 };
  double r[N * N], d[N] = {3, -1, 0.5, 2, 2, 10, 1e-3}, a[N * N], a0[N * N], w[N];
  rotation(N, r, 1);
  conjugate(N, r, d, a);
  memcpy(a0, a, sizeof a);
  ck_assert_int_eq(dx_sym_eig(N, a, w, err, sizeof err), DX_OK);
  qsort(d, N, sizeof *d, cmp_double);
  for (int k = 0; k < N; k++) {
    ck_assert_double_eq_tol(w[k], d[k], 1e-12);
    /* row k of a is a unit eigenvector: a0 v = w v */
    double norm = 0;
    for (int i = 0; i < N; i++) {
      double s = 0;
      for (int j = 0; j < N; j++)
        s += a0[i * N + j] * a[k * N + j];
      ck_assert_double_eq_tol(s, w[k] * a[k * N + i], 1e-11);
      norm += a[k * N + i] * a[k * N + i];
    }
    ck_assert_double_eq_tol(norm, 1, 1e-12);
  }
}
END_TEST

START_TEST(square_root_squares_back) {
  enum { N = 6 };
  double r[N * N], d[N] = {4, 9, 0.25, 1, 16, 0}, s[N * N], q[N * N], qq[N * N], sd[N];
  rotation(N, r, 2);
  conjugate(N, r, d, s);
  ck_assert_int_eq(dx_sqrtm_psd(N, s, q, err, sizeof err), DX_OK);
  matmul(N, q, q, qq);
  for (int i = 0; i < N * N; i++)
    ck_assert_double_eq_tol(qq[i], s[i], 1e-11);
  for (int k = 0; k < N; k++) /* and it is r diag(sqrt d) r^T */
    sd[k] = sqrt(d[k]);
  conjugate(N, r, sd, s);
  for (int i = 0; i < N * N; i++)
    ck_assert_double_eq_tol(q[i], s[i], 1e-7); /* sqrt of the zero eigenvalue: ~sqrt(eps) */
}
END_TEST

/* FID of N(mu1, diag(a)) and N(mu2, diag(b)), in either frame rotated by r:
 * |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2. */
static void check_diagonal(int n, bool rotate) {
  double *r = malloc((size_t)(n * n) * sizeof *r), *s1 = malloc((size_t)(n * n) * sizeof *s1),
         *s2 = malloc((size_t)(n * n) * sizeof *s2), *mu1 = malloc((size_t)n * sizeof *mu1),
         *mu2 = malloc((size_t)n * sizeof *mu2), *a = malloc((size_t)n * sizeof *a),
         *b = malloc((size_t)n * sizeof *b);
  double want = 0;
  for (int i = 0; i < n; i++) {
    mu1[i] = 0.1 * i, mu2[i] = 0.3 - 0.05 * i;
    a[i] = 0.5 + i, b[i] = 2.0 / (1 + i);
    want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) +
            (sqrt(a[i]) - sqrt(b[i])) * (sqrt(a[i]) - sqrt(b[i]));
  }
  if (rotate) {
    rotation(n, r, 3);
  } else {
    memset(r, 0, (size_t)(n * n) * sizeof *r);
    for (int i = 0; i < n; i++)
      r[i * n + i] = 1;
  }
  conjugate(n, r, a, s1);
  conjugate(n, r, b, s2);
  double got;
  ck_assert_int_eq(dx_frechet_distance(n, mu1, s1, mu2, s2, &got, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(got, want, 1e-10 * (1 + want));
  /* a distribution against itself */
  ck_assert_int_eq(dx_frechet_distance(n, mu1, s1, mu1, s1, &got, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(got, 0, 1e-10);
  free(r), free(s1), free(s2), free(mu1), free(mu2), free(a), free(b);
}

START_TEST(frechet_of_diagonal_covariances) { check_diagonal(9, false); }
END_TEST
START_TEST(frechet_of_rotated_covariances) { check_diagonal(9, true); }
END_TEST

/* For 2 x 2 PSD s1, s2 the eigenvalues p, q of s1 s2 give tr sqrt(s1 s2) =
 * sqrt(p) + sqrt(q) = sqrt(tr(s1 s2) + 2 sqrt(det s1 det s2)). */
START_TEST(frechet_of_non_commuting_2x2) {
  double s1[4] = {2, 0.7, 0.7, 1}, s2[4] = {0.5, -0.3, -0.3, 3}, mu1[2] = {1, -1},
         mu2[2] = {0, 0.5}, p[4];
  matmul(2, s1, s2, p);
  double det1 = s1[0] * s1[3] - s1[1] * s1[2], det2 = s2[0] * s2[3] - s2[1] * s2[2];
  double tsp = sqrt(p[0] + p[3] + 2 * sqrt(det1 * det2));
  double want = 1 + 2.25 + s1[0] + s1[3] + s2[0] + s2[3] - 2 * tsp, got;
  ck_assert_int_eq(dx_trace_sqrt_product(2, s1, s2, &got, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(got, tsp, 1e-12);
  ck_assert_int_eq(dx_frechet_distance(2, mu1, s1, mu2, s2, &got, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(got, want, 1e-12);
}
END_TEST

/* Gauss-Jordan inverse with partial pivoting. */
static void inverse(int n, const double *a, double *inv) {
  double *m = malloc((size_t)(n * n) * sizeof *m);
  memcpy(m, a, (size_t)(n * n) * sizeof *m);
  for (int i = 0; i < n * n; i++)
    inv[i] = i % (n + 1) == 0;
  for (int c = 0; c < n; c++) {
    int p = c;
    for (int i = c + 1; i < n; i++)
      if (fabs(m[i * n + c]) > fabs(m[p * n + c])) p = i;
    for (int j = 0; j < n; j++) {
      double t = m[c * n + j];
      m[c * n + j] = m[p * n + j], m[p * n + j] = t;
      t = inv[c * n + j], inv[c * n + j] = inv[p * n + j], inv[p * n + j] = t;
    }
    double piv = m[c * n + c];
    for (int j = 0; j < n; j++)
      m[c * n + j] /= piv, inv[c * n + j] /= piv;
    for (int i = 0; i < n; i++)
      if (i != c) {
        double f = m[i * n + c];
        for (int j = 0; j < n; j++)
          m[i * n + j] -= f * m[c * n + j], inv[i * n + j] -= f * inv[c * n + j];
      }
  }
  free(m);
}

/* tr sqrt(s1 s2) by Denman-Beavers iteration on the (non-symmetric)
 * product itself: Y -> (Y + Z^-1)/2, Z -> (Z + Y^-1)/2 from Y = M, Z = I. */
START_TEST(trace_sqrt_product_matches_denman_beavers) {
  enum { N = 6 };
  double r1[N * N], r2[N * N], d1[N] = {1, 2, 3, 0.5, 4, 0.2}, d2[N] = {0.3, 5, 1, 2, 0.7, 1.5};
  double s1[N * N], s2[N * N], y[N * N], z[N * N], yi[N * N], zi[N * N];
  rotation(N, r1, 4), rotation(N, r2, 5);
  conjugate(N, r1, d1, s1), conjugate(N, r2, d2, s2);
  matmul(N, s1, s2, y);
  for (int i = 0; i < N * N; i++)
    z[i] = i % (N + 1) == 0;
  for (int it = 0; it < 60; it++) {
    inverse(N, y, yi), inverse(N, z, zi);
    for (int i = 0; i < N * N; i++)
      y[i] = 0.5 * (y[i] + zi[i]), z[i] = 0.5 * (z[i] + yi[i]);
  }
  double want = 0, got;
  for (int i = 0; i < N; i++)
    want += y[i * N + i];
  ck_assert_int_eq(dx_trace_sqrt_product(N, s1, s2, &got, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(got, want, 1e-10 * want);
}
END_TEST

START_TEST(feature_stats_by_hand) {
  /* rows (1,2) (3,6) (5,4): mean (3,4); deviations (-2,-2) (0,2) (2,0) */
  float f[6] = {1, 2, 3, 6, 5, 4};
  double mean[2], cov[4];
  ck_assert_int_eq(dx_feature_stats(f, 3, 2, mean, cov, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(mean[0], 3, 1e-15);
  ck_assert_double_eq_tol(mean[1], 4, 1e-15);
  ck_assert_double_eq_tol(cov[0], 4, 1e-15);
  ck_assert_double_eq_tol(cov[1], 2, 1e-15);
  ck_assert_double_eq_tol(cov[2], 2, 1e-15);
  ck_assert_double_eq_tol(cov[3], 4, 1e-15);
  ck_assert_int_eq(dx_feature_stats(f, 1, 2, mean, cov, err, sizeof err), DX_ERR_INVALID);
  f[3] = NAN;
  ck_assert_int_eq(dx_feature_stats(f, 3, 2, mean, cov, err, sizeof err), DX_ERR_NUMERIC);
}
END_TEST

START_TEST(kid_by_hand) {
  /* d = 1, k(a, b) = (ab + 1)^3. x = {0, 1}: off-diagonal pairs k(0,1) twice
   * -> 2/2 = 1; y = {1, 2}: k(1,2) = 27 twice -> 27; across: k(0,1) +
   * k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37 -> 37/4. KID = 28 - 18.5. */
  float x[2] = {0, 1}, y[2] = {1, 2};
  dx_kid_opts o = {.subsets = 5, .subset_size = 2, .seed = 9};
  double kid, spread;
  ck_assert_int_eq(dx_kid(x, 2, y, 2, 1, &o, &kid, &spread, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(kid, 9.5, 1e-12);
  ck_assert_double_eq_tol(spread, 0, 1e-12); /* every subset is the whole set */
  /* d = 2, k = (a.b/2 + 1)^3: x = {(1,0), (0,1)} -> 1; y = {(1,1), (0,0)}
   * -> 1; across 1.5^3 + 1 + 1.5^3 + 1 = 8.75 -> 8.75/4. KID = 2 - 4.375. */
  float x2[4] = {1, 0, 0, 1}, y2[4] = {1, 1, 0, 0};
  ck_assert_int_eq(dx_kid(x2, 2, y2, 2, 2, &o, &kid, &spread, err, sizeof err), DX_OK);
  ck_assert_double_eq_tol(kid, -2.375, 1e-12);
  o.subset_size = 3;
  ck_assert_int_eq(dx_kid(x2, 2, y2, 2, 2, &o, &kid, &spread, err, sizeof err), DX_ERR_INVALID);
}
END_TEST

/* A sum of 12 uniforms: close enough to a normal draw for these checks. */
static float gauss(void) {
  double s = -6;
  for (int i = 0; i < 12; i++)
    s += rand() / (double)RAND_MAX;
  return (float)s;
}

START_TEST(kid_and_fid_on_gaussian_draws) {
  enum { N = 600, D = 8 };
  float *a = malloc(N * D * sizeof *a), *b = malloc(N * D * sizeof *b),
        *c = malloc(N * D * sizeof *c);
  srand(7);
  for (int i = 0; i < N * D; i++)
    a[i] = gauss(), b[i] = gauss(), c[i] = gauss() * 1.5f + 0.5f;
  dx_kid_opts o = {.subsets = 50, .seed = 1};
  double same, same_sd, other, other_sd;
  ck_assert_int_eq(dx_kid(a, N, b, N, D, &o, &same, &same_sd, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_kid(a, N, c, N, D, &o, &other, &other_sd, err, sizeof err), DX_OK);
  ck_assert_double_gt(same_sd, 0);
  ck_assert_double_lt(fabs(same), 3 * same_sd + 1e-3);
  ck_assert_double_gt(other, 10 * (fabs(same) + same_sd));
  /* FID: N(0, I) against N(0.5, 2.25 I) is D (0.25 + 0.25) = 4 */
  double m1[D], c1[D * D], m2[D], c2[D * D], m3[D], c3[D * D], f_same, f_other;
  ck_assert_int_eq(dx_feature_stats(a, N, D, m1, c1, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_feature_stats(b, N, D, m2, c2, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_feature_stats(c, N, D, m3, c3, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_frechet_distance(D, m1, c1, m2, c2, &f_same, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_frechet_distance(D, m1, c1, m3, c3, &f_other, err, sizeof err), DX_OK);
  ck_assert_double_lt(f_same, 0.2);
  ck_assert_double_eq_tol(f_other, 4, 0.8);
  free(a), free(b), free(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("metrics");
  DXT_ADD(tc, eigenvalues_of_a_rotated_diagonal);
  DXT_ADD(tc, square_root_squares_back);
  DXT_ADD(tc, frechet_of_diagonal_covariances);
  DXT_ADD(tc, frechet_of_rotated_covariances);
  DXT_ADD(tc, frechet_of_non_commuting_2x2);
  DXT_ADD(tc, trace_sqrt_product_matches_denman_beavers);
  DXT_ADD(tc, feature_stats_by_hand);
  DXT_ADD(tc, kid_by_hand);
  DXT_ADD(tc, kid_and_fid_on_gaussian_draws);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
