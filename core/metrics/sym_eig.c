/* The symmetric eigendecomposition, by LAPACK's divide-and-conquer dsyevd.
 * Debian's OpenBLAS builds LAPACK into libopenblas, which libddpmx links
 * already, so no package is added; the Fortran symbol is declared here as
 * there is no LAPACKE header to rely on. */
#include <limits.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "util/err.h"

/* Fortran calling convention: everything by pointer, and gfortran's hidden
 * lengths of the two character arguments at the end. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

dx_status dx_sym_eig(int64_t n, double *a, double *w, char *err, size_t errlen) {
  if (n < 1 || n > INT_MAX / 8)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL, "eigendecomposition of a %lld x %lld matrix",
                   (long long)n, (long long)n);
  /* Row-major symmetric a is its own column-major transpose; the
   * eigenvectors LAPACK leaves in its columns are then our rows. */
  int ni = (int)n, info = 0, lwork = -1, liwork = -1, iwq = 0;
  double wq = 0;
  dsyevd_("V", "U", &ni, a, &ni, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
  if (info != 0)
    return dx_errf(err, errlen, DX_ERR_INTERNAL, NULL, "dsyevd workspace query: info %d", info);
  lwork = (int)wq + 1, liwork = iwq;
  double *work = malloc((size_t)lwork * sizeof *work);
  int *iwork = malloc((size_t)liwork * sizeof *iwork);
  if (!work || !iwork) {
    free(work), free(iwork);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory for a %lld x %lld eigenproblem",
                   (long long)n, (long long)n);
  }
  dsyevd_("V", "U", &ni, a, &ni, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  free(work), free(iwork);
  if (info < 0)
    return dx_errf(err, errlen, DX_ERR_INTERNAL, NULL, "dsyevd: argument %d is wrong", -info);
  if (info > 0)
    return dx_errf(err, errlen, DX_ERR_NUMERIC, NULL,
                   "dsyevd did not converge (%d eigenvalues); is the matrix finite?", info);
  return DX_OK;
}
