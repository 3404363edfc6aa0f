/* CPU kernels: dense matrix products through OpenBLAS (cblas). */
#include <cblas.h>
#include <omp.h>

#include "backend/cpu/cpu.h"

/* Below this many flops per product, a batch runs one product per thread:
 * splitting a small GEMM across threads costs more in synchronisation than it
 * saves, while independent products need none. */
#define SMALL_GEMM_FLOPS (1 << 24)

static enum CBLAS_TRANSPOSE trans(bool t) { return t ? CblasTrans : CblasNoTrans; }

/* C (m,n) = alpha op(A) (m,k) op(B) (k,n) + beta C, row-major, one product.
 * Inside an OpenMP region OpenBLAS's OpenMP build runs single-threaded. */
void dx_cpu_gemm(dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                 const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c,
                 int64_t ldc) {
  if (dt == DX_F32)
    cblas_sgemm(CblasRowMajor, trans(ta), trans(tb), (blasint)m, (blasint)n, (blasint)k,
                (float)alpha, a, (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
  else
    cblas_dgemm(CblasRowMajor, trans(ta), trans(tb), (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

/* C_i (m,n) = alpha op(A_i) op(B_i) + beta C_i for i < batch, X_i = X + i*stride_x
 * elements. stride_c == 0 sums every product into one C (beta applied each
 * time), so those products run one after another. */
static void cpu_gemm(dx_backend *be, dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                     double alpha, const void *a, int64_t lda, int64_t stride_a, const void *b,
                     int64_t ldb, int64_t stride_b, double beta, void *c, int64_t ldc,
                     int64_t stride_c, int64_t batch) {
  size_t es = dx_dtype_size(dt);
  const char *ab = a, *bb = b;
  char *cb = c;
  double flops = 2.0 * (double)m * (double)n * (double)k;
  bool per_thread = batch > 1 && stride_c != 0 &&
                    (flops < SMALL_GEMM_FLOPS || batch >= 4 * (int64_t)omp_get_max_threads());
  DX_PAR_IF(per_thread, "omp parallel for schedule(dynamic)",
            for (int64_t i = 0; i < batch; i++)
                dx_cpu_gemm(dt, ta, tb, m, n, k, alpha, ab + (size_t)(i * stride_a) * es, lda,
                            bb + (size_t)(i * stride_b) * es, ldb, beta,
                            cb + (size_t)(i * stride_c) * es, ldc););
}

void dx_cpu_init_gemm(dx_backend *be) { be->gemm = cpu_gemm; }
