/* CUDA kernels: dense matrix products through cuBLAS, in FP32 (or FP64) as
 * the CPU backend computes them; TF32 only when the backend was opened with
 * it (backend.c). */
#include "backend/cuda/cuda.h"

static cublasOperation_t op_of(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

/* C_i (m,n) = alpha op(A_i) op(B_i) + beta C_i for i < batch, row-major, X_i =
 * X + i*stride_x elements. cuBLAS is column-major, where a row-major matrix
 * reads as its transpose: C^T = op(B)^T op(A)^T is the same call with the
 * operands swapped. stride_c == 0 sums every product into one C, so those
 * run one after another on the stream. */
static void cuda_gemm(dx_backend *be, dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n,
                      int64_t k, double alpha, const void *a, int64_t lda, int64_t stride_a,
                      const void *b, int64_t ldb, int64_t stride_b, double beta, void *c,
                      int64_t ldc, int64_t stride_c, int64_t batch) {
  dx_cuda *cu = dx_cuda_of(be);
  if (m == 0 || n == 0 || batch == 0) return;
  float af = (float)alpha, bf = (float)beta;
  size_t es = dx_cuda_esize(dt);
  if (stride_c == 0 && batch > 1) {
    for (int64_t i = 0; i < batch; i++)
      cuda_gemm(be, dt, ta, tb, m, n, k, alpha, (const char *)a + (size_t)(i * stride_a) * es, lda,
                0, (const char *)b + (size_t)(i * stride_b) * es, ldb, 0, beta, c, ldc, 0, 1);
    return;
  }
  cublasStatus_t st;
  if (dt == DX_F32)
    st = cublasSgemmStridedBatched(cu->blas, op_of(tb), op_of(ta), (int)n, (int)m, (int)k, &af,
                                   (const float *)b, (int)ldb, stride_b, (const float *)a, (int)lda,
                                   stride_a, &bf, (float *)c, (int)ldc, stride_c, (int)batch);
  else
    st = cublasDgemmStridedBatched(cu->blas, op_of(tb), op_of(ta), (int)n, (int)m, (int)k, &alpha,
                                   (const double *)b, (int)ldb, stride_b, (const double *)a,
                                   (int)lda, stride_a, &beta, (double *)c, (int)ldc, stride_c,
                                   (int)batch);
  dx_cuda_blas_ok(be, st, "gemm");
}

void dx_cuda_init_gemm(dx_backend *be) { be->gemm = cuda_gemm; }
