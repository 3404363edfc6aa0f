/* Private to the CPU backend: each kernel family fills its slots of the table. */
#ifndef DX_CPU_H
#define DX_CPU_H

#include "backend/backend.h"

void dx_cpu_init_memory(dx_backend *be);      /* memory.c */
void dx_cpu_init_random(dx_backend *be);      /* random.c */
void dx_cpu_init_gemm(dx_backend *be);        /* gemm.c */
void dx_cpu_init_conv(dx_backend *be);        /* conv.c */
void dx_cpu_init_elementwise(dx_backend *be); /* elementwise.c */
void dx_cpu_init_reduce(dx_backend *be);      /* reduce.c */
void dx_cpu_init_norm(dx_backend *be);        /* norm.c: group norm, softmax */
void dx_cpu_init_movement(dx_backend *be);    /* movement.c: permute, concat, shuffles */
void dx_cpu_init_embedding(dx_backend *be);   /* embedding.c */
void dx_cpu_init_optim(dx_backend *be);       /* optim.c: Adam, norms, EMA */

/* gemm.c: one row-major product C (m,n) = alpha op(A) op(B) + beta C through
 * BLAS, for kernels that build their own operands (conv.c). */
void dx_cpu_gemm(dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                 const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c,
                 int64_t ldc);

/* The i-th of 4 32-bit words of Philox-4x32-10 at counter (c0, c1), key (k0, k1). */
void dx_philox4x32(uint32_t ctr[4], const uint32_t key[2]);
/* Uniform in [0, 1) with 53 random bits, from element index (seed, offset + i). */
double dx_philox_uniform(uint64_t seed, uint64_t index);
double dx_philox_normal(uint64_t seed, uint64_t index);

/* Runs the loop (the variadic part: one `for` statement) on the OpenMP team
 * when cond holds, else on this thread without entering a parallel region.
 * An if() clause would read better, but libgomp allocates a one-thread team
 * for every region whose if() is false, and a warm step must not allocate. */
#define DX_PAR_IF(cond, pragma, ...)                                             \
  do {                                                                           \
    if (cond) {                                                                  \
      _Pragma(pragma) __VA_ARGS__                                                \
    } else {                                                                     \
      __VA_ARGS__                                                                \
    }                                                                            \
  } while (0)

/* Loops shorter than this run on one thread: a parallel region costs a few
 * microseconds, which is more than a small element-wise loop. */
#define DX_CPU_PAR_MIN 32768

#endif
