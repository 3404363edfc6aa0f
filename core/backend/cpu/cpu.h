/* Private to the CPU backend: each kernel family fills its slots of the table.
 *
 * One way to write a kernel for float and double: write it once, over an
 * element type T, in the family's typed file (<family>_typed.inc), and
 * instantiate that file for both types with
 *
 *   #define DX_TYPED_FILE "backend/cpu/<family>_typed.inc"
 *   #include "backend/cpu/typed.h"
 *
 * which defines SFX(name)_f32 and _f64 versions of each function (typed.h
 * says what T, SFX and FAST_EXP mean there). The family's .c keeps what does
 * not depend on the type (shapes, threads, dispatch) and calls an instance
 * with DX_TYPED(dt, name, args...). Single elements go through dx_cpu_load,
 * dx_cpu_store and dx_cpu_add below, themselves instantiated this way.
 * Where the type is not a parameter but the subject, a plain if chooses:
 * BLAS's sgemm or dgemm (gemm.c), converting float to double (memory.c). */
#ifndef DX_CPU_H
#define DX_CPU_H

#include <string.h>

#include <omp.h>

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

/* filter_cache.c: a filter's transform u (un floats) of the weights w (wn
 * floats), made by fn(d, w, u) and kept in the backend while the weights
 * compare equal; if the cache cannot hold it, made into scratch. */
typedef void (*dx_cpu_transform_fn)(const dx_conv2d_desc *d, const float *w, float *u);
const float *dx_cpu_transformed_filter(dx_backend *be, const dx_conv2d_desc *d, const float *w,
                                       size_t wn, size_t un, dx_cpu_transform_fn fn,
                                       float *scratch);
void dx_cpu_filter_cache_free(dx_backend *be);
/* backend.c: where the backend keeps its cache (NULL until first used). */
struct dx_cpu_filter_cache **dx_cpu_filters(dx_backend *be);

/* gemm.c: one row-major product C (m,n) = alpha op(A) op(B) + beta C through
 * BLAS, for kernels that build their own operands (conv.c). */
void dx_cpu_gemm(dx_dtype dt, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                 const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c,
                 int64_t ldc);

/* Runs the loop (the variadic part: one `for` statement) on the OpenMP team
 * when cond holds, else on this thread without entering a parallel region.
 * An if() clause would read better, but libgomp allocates a one-thread team
 * for every region whose if() is false (or that runs on one thread), and a
 * warm step must not allocate. */
#define DX_PAR_IF(cond, pragma, ...)                                                               \
  do {                                                                                             \
    if ((cond) && omp_get_max_threads() > 1) {                                                     \
      _Pragma(pragma) __VA_ARGS__                                                                  \
    } else {                                                                                       \
      __VA_ARGS__                                                                                  \
    }                                                                                              \
  } while (0)

/* Loops shorter than this run on one thread: a parallel region costs a few
 * microseconds, which is more than a small element-wise loop. */
#define DX_CPU_PAR_MIN 32768

/* e^x in float32, in plain arithmetic that the compiler vectorises (libm's
 * expf is one call per element, ~5x slower in a loop). x = k ln2 + r with
 * |r| <= ln2/2, ln2 split in two (Cody & Waite 1980) so that k ln2 loses
 * nothing; e^r by its Taylor series to r^7 (remainder r^8/8! < 6e-9, below
 * float32's half ulp), times 2^k written into the exponent bits: 1.7 ulp at
 * worst. x is clamped to [-87, 88], where 2^k stays a normal float; a NaN
 * stays NaN. Unsigned bit arithmetic throughout: no float-to-int conversion. */
static inline float dx_cpu_expf(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float kf = x * 1.44269504f + 0x1.8p23f; /* adding 1.5 * 2^23 rounds k into the low bits */
  uint32_t kb, sb;
  memcpy(&kb, &kf, sizeof kb);
  kf -= 0x1.8p23f;
  float r = (x - kf * 0.693359375f) + kf * 2.12194440e-4f; /* ln2 = 0.693359375 - 2.12194440e-4 */
  float p = 1.0f / 5040; /* sum_{k <= 7} r^k / k! by Horner's rule */
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 1.0f / 2;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  sb = (kb - 0x4B400000u + 127u) << 23; /* (k + 127) << 23: the float 2^k */
  float scale;
  memcpy(&scale, &sb, sizeof scale);
  return p * scale;
}

/* erfc(x) in float32, in arithmetic that vectorises like dx_cpu_expf (libm's
 * erff is one call per element: GELU's forward and backward spent ~10 % of a
 * ConvNeXt training step in it). With z = |x| and t = 1 / (1 + z/2),
 * erfc(z) = t exp(-z^2 + P(t)), P the degree-9 polynomial fitted by Press et
 * al., Numerical Recipes (2nd ed., sec. 6.2, erfcc): relative error below
 * 1.2e-7 for every z >= 0, so GELU's tail for negative x, 0.5 x erfc(-x/sqrt2),
 * keeps its relative accuracy where 1 + erf(x) would cancel. erfc(-z) = 2 -
 * erfc(z). A NaN stays NaN. */
static inline float dx_cpu_erfcf(float x) {
  float z = x < 0 ? -x : x;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float r = t * dx_cpu_expf(p - z * z);
  return x < 0 ? 2.0f - r : r;
}

/* Calls the float or the double instance of a typed function. */
#define DX_TYPED(dt, name, ...) ((dt) == DX_F32 ? name##_f32(__VA_ARGS__) : name##_f64(__VA_ARGS__))

#define DX_TYPED_FILE "backend/cpu/element_typed.inc"
#include "backend/cpu/typed.h"

/* Address of element i of an array of type dt at p; of element i of t. */
static inline void *dx_cpu_at(dx_dtype dt, const void *p, int64_t i) {
  return (char *)p + i * (int64_t)dx_dtype_size(dt);
}
static inline void *dx_cpu_elem(const dx_tensor *t, int64_t i) {
  return dx_cpu_at(t->dtype, t->data, i);
}

/* p[i] of type dt as a double; p[i] = v; p[i] += v. */
static inline double dx_cpu_load(dx_dtype dt, const void *p, int64_t i) {
  return DX_TYPED(dt, load, p, i);
}
static inline void dx_cpu_store(dx_dtype dt, void *p, int64_t i, double v) {
  DX_TYPED(dt, store, p, i, v);
}
static inline void dx_cpu_add(dx_dtype dt, void *p, int64_t i, double v) {
  DX_TYPED(dt, add, p, i, v);
}

#endif
