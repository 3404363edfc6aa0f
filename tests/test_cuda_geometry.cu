/* The CUDA backend's broadcasting geometry (core/backend/cuda/broadcast.cuh),
 * checked on the host, so that a wrong stride for an awkward shape shows up
 * on a machine without a GPU. The element-wise, binary-backward and
 * reduction kernels find every operand's element through dx_cuda_bcast_at
 * (one full element) and dx_cuda_bcast_fold (the r-th full element folding
 * onto element j of a stretched operand); here both are compared with NumPy's
 * broadcasting rule computed naively, and every fold must visit each full
 * element exactly once. Built by nvcc as a host program with the CUDA module;
 * it needs no device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/broadcast.cuh"

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      if (failures++ < 20) {                                                                       \
        printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
      }                                                                                            \
    }                                                                                              \
  } while (0)

typedef struct shape {
  int ndim;
  int64_t d[4];
} shape;

static dx_tensor tensor_of(const shape &s) {
  dx_tensor t;
  memset(&t, 0, sizeof t);
  t.ndim = s.ndim;
  for (int i = 0; i < s.ndim; i++)
    t.shape[i] = s.d[i];
  return t;
}

/* NumPy: the offset in operand `op` (right-aligned against the full shape,
 * size-1 dims stretched) of the full element whose 4-D coordinates are c. */
static int64_t reference_offset(const shape &op, const int64_t full[4], const int64_t c[4]) {
  int lead = 4 - op.ndim;
  int64_t off = 0, stride = 1;
  for (int d = 3; d >= lead; d--) {
    int64_t size = op.d[d - lead];
    if (size != 1 && size != full[d]) return -1; /* not broadcastable: a broken case */
    off += (size == 1 ? 0 : c[d]) * stride;
    stride *= size;
  }
  return off;
}

static void coords(int64_t i, const int64_t full[4], int64_t c[4]) {
  for (int d = 3; d >= 0; d--) {
    c[d] = i % full[d];
    i /= full[d];
  }
}

/* One geometry: operand 0 the full shape, 1 and 2 broadcast to it (b may
 * have ndim 0: absent, as reduce_sum passes it). */
static void check(const char *name, const shape &y, const shape &a, const shape &b) {
  dx_tensor ty = tensor_of(y), ta = tensor_of(a), tb = tensor_of(b);
  dx_cuda_bcast g = dx_cuda_bcast_of(&ty, &ta, b.ndim ? &tb : NULL);
  int64_t full[4];
  dx_cuda_padded(&ty, full);
  int64_t numel = full[0] * full[1] * full[2] * full[3];
  CHECK(g.numel == numel, "%s: numel %lld, want %lld", name, (long long)g.numel, (long long)numel);
  const shape ops[3] = {y, a, b.ndim ? b : shape{1, {1}}};
  /* every full element: the offsets of all three operands */
  for (int64_t i = 0; i < numel; i++) {
    int64_t off[3], c[4];
    dx_cuda_bcast_at(g, i, off);
    coords(i, full, c);
    for (int k = 0; k < 3; k++)
      CHECK(off[k] == reference_offset(ops[k], full, c),
            "%s: element %lld, operand %d: offset %lld, want %lld", name, (long long)i, k,
            (long long)off[k], (long long)reference_offset(ops[k], full, c));
  }
  /* every stretched operand: its folds cover the full shape once */
  for (int k = 1; k < 3; k++) {
    int64_t count = dx_cuda_bcast_count(g, k), fold = count ? numel / count : 0;
    int64_t own = 1;
    for (int d = 0; d < ops[k].ndim; d++)
      own *= ops[k].d[d];
    CHECK(count == own, "%s: operand %d counts %lld elements, has %lld", name, k, (long long)count,
          (long long)own);
    CHECK(count * fold == numel, "%s: operand %d: %lld x %lld != %lld", name, k, (long long)count,
          (long long)fold, (long long)numel);
    unsigned char *seen = (unsigned char *)calloc((size_t)numel + 1, 1);
    for (int64_t j = 0; j < count; j++)
      for (int64_t r = 0; r < fold; r++) {
        int64_t off[3], c[4];
        dx_cuda_bcast_fold(g, k, j, r, off);
        CHECK(off[k] == j, "%s: operand %d, fold (%lld, %lld) lands on its element %lld", name, k,
              (long long)j, (long long)r, (long long)off[k]);
        int64_t i = off[0]; /* operand 0 is contiguous: its offset is the full index */
        if (i < 0 || i >= numel) {
          CHECK(false, "%s: operand %d, fold (%lld, %lld): full index %lld out of range", name, k,
                (long long)j, (long long)r, (long long)i);
          continue;
        }
        CHECK(!seen[i], "%s: operand %d: full element %lld folded twice", name, k, (long long)i);
        seen[i] = 1;
        coords(i, full, c);
        for (int o = 1; o < 3; o++)
          CHECK(off[o] == reference_offset(ops[o], full, c),
                "%s: operand %d, fold (%lld, %lld): operand %d offset %lld, want %lld", name, k,
                (long long)j, (long long)r, o, (long long)off[o],
                (long long)reference_offset(ops[o], full, c));
      }
    int64_t missed = 0;
    for (int64_t i = 0; i < numel; i++)
      missed += !seen[i];
    CHECK(missed == 0, "%s: operand %d: %lld full elements never folded", name, k,
          (long long)missed);
    free(seen);
  }
}

int main(void) {
  /* The shapes of the parity suite's element-wise and reduction cases and
   * more: ranks 1 to 4, sizes of 1 at either end, an operand of lower rank,
   * both operands stretched along different dims, a scalar, odd sizes. */
  static const struct {
    const char *name;
    shape y, a, b;
  } cases[] = {
      {"same shape", {4, {2, 3, 5, 7}}, {4, {2, 3, 5, 7}}, {4, {2, 3, 5, 7}}},
      {"bias per channel", {4, {2, 3, 5, 7}}, {4, {2, 3, 5, 7}}, {3, {3, 1, 1}}},
      {"per sample", {4, {4, 3, 5, 5}}, {4, {4, 1, 1, 1}}, {4, {4, 3, 5, 5}}},
      {"row against column", {2, {6, 7}}, {2, {6, 1}}, {2, {1, 7}}},
      {"scalar", {3, {3, 4, 5}}, {3, {3, 4, 5}}, {1, {1}}},
      {"lower rank", {4, {2, 3, 5, 7}}, {1, {7}}, {2, {5, 7}}},
      {"both stretched", {4, {3, 1, 4, 9}}, {4, {3, 1, 1, 9}}, {4, {1, 1, 4, 1}}},
      {"1x1 spatial", {4, {5, 8, 1, 1}}, {4, {5, 8, 1, 1}}, {4, {1, 8, 1, 1}}},
      {"batch 1", {4, {1, 6, 3, 3}}, {4, {1, 6, 3, 3}}, {4, {1, 6, 1, 1}}},
      {"odd sizes", {3, {7, 11, 13}}, {3, {7, 1, 13}}, {3, {1, 11, 1}}},
      {"long fold", {2, {300, 3}}, {2, {1, 3}}, {2, {300, 3}}},
      {"all ones", {4, {1, 1, 1, 1}}, {4, {1, 1, 1, 1}}, {1, {1}}},
      /* reductions: y keeps x's rank with reduced dims of size 1; no b */
      {"sum over batch and space", {4, {2, 3, 5, 7}}, {4, {1, 3, 1, 1}}, {0, {0}}},
      {"sum of everything", {3, {4, 5, 6}}, {3, {1, 1, 1}}, {0, {0}}},
      {"sum over the last axis", {2, {9, 10}}, {2, {9, 1}}, {0, {0}}},
      {"sum over the middle", {4, {2, 6, 4, 3}}, {4, {2, 1, 4, 3}}, {0, {0}}},
  };
  int n = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < n; i++)
    check(cases[i].name, cases[i].y, cases[i].a, cases[i].b);
  if (failures) {
    printf("test_cuda_geometry: %d failures\n", failures);
    return 1;
  }
  printf("test_cuda_geometry: %d broadcast geometries agree with NumPy's rule\n", n);
  return 0;
}
