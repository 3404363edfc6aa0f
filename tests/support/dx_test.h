/* Helpers shared by the check-based tests.
 *
 * dxt_gradcheck: the analytic gradient of L = sum(f(inputs) * r), r a fixed
 * random tensor, against central finite differences, all in float64.
 * dxt_f32_vs_f64: the same function run in float32 against float64, for the
 * output and every input gradient. Both compare as max|a - b| / max|b| over a
 * tensor (the measure ../shared/testdata uses), so one tolerance fits tensors
 * of any scale. */
#ifndef DX_TEST_H
#define DX_TEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include "ddpmx/ddpmx.h"

/* A context with `threads` threads (0: default); fails the test if NULL. */
dx_ctx *dxt_ctx(int threads);

/* A persistent float tensor with uniform values in [lo, hi) from seed, that
 * requires a gradient (a dx_param). */
dx_tensor *dxt_param(dx_ctx *ctx, dx_dtype dt, int ndim, const int64_t *shape, double lo, double hi,
                     uint64_t seed);
/* Values of t as a malloc'ed float64 array (caller frees). */
double *dxt_values(dx_ctx *ctx, const dx_tensor *t);
/* max|a-b| / max(max|b|, floor) over n values. */
double dxt_rel_err(const double *a, const double *b, int64_t n, double floor);

typedef dx_tensor *(*dxt_fn)(dx_ctx *ctx, dx_tensor **in, void *user);

typedef struct dxt_gradcheck_opts {
  double eps;        /* finite-difference step; 0: 1e-6 */
  double tol;        /* max relative error allowed; 0: 1e-6 */
  int64_t max_probe; /* elements probed per input (spread evenly); 0: all up to 4096 */
} dxt_gradcheck_opts;

/* in[i] are float64 dx_params. Returns the worst relative error found and
 * fails the test (with the input index and error) if it exceeds tol. */
double dxt_gradcheck(dx_ctx *ctx, dxt_fn f, dx_tensor **in, int n_in, void *user,
                     const dxt_gradcheck_opts *opts);

/* Runs f on float64 inputs and on float32 copies; checks output and input
 * gradients agree within tol (relative, as above). Returns the worst. */
double dxt_f32_vs_f64(dx_ctx *ctx, dxt_fn f, dx_tensor **in64, int n_in, void *user, double tol);

/* Adds a test case named after the function to suite s with a timeout. */
#define DXT_ADD(tc, fn) tcase_add_test(tc, fn)

/* Runs a suite; returns the process exit status. */
int dxt_run(Suite *s);

#endif
