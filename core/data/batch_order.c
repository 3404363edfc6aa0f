/* The order in which training sees the images: a fresh permutation of the
 * dataset each epoch, each a function of (seed, epoch) alone. */
#include <stdlib.h>

#include "data/dataset.h"
#include "data/images.h"
#include "data/mix.h"
#include "util/err.h"

struct dx_batch_order {
  int64_t count;
  uint64_t seed;
  int64_t epoch; /* whose permutation perm holds */
  bool have_epoch;
  int64_t *perm;
};

/* A uniform integer in [0, n): SplitMix64 outputs, rejecting the lowest
 * 2^64 mod n values so that every residue is equally likely. */
static uint64_t below(uint64_t *state, uint64_t n) {
  uint64_t reject = -n % n;
  for (;;) {
    uint64_t r = dx_mix64(*state += 0x9e3779b97f4a7c15ull);
    if (r >= reject) return r % n;
  }
}

void dx_epoch_permutation(int64_t count, uint64_t seed, int64_t epoch, int64_t *perm) {
  uint64_t state = dx_mix_key(DX_STREAM_ORDER, seed, (uint64_t)epoch);
  for (int64_t i = 0; i < count; i++)
    perm[i] = i;
  for (int64_t i = count - 1; i > 0; i--) {
    int64_t j = (int64_t)below(&state, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

dx_status dx_batch_order_create(int64_t count, uint64_t seed, char *err, size_t errlen,
                                dx_batch_order **out) {
  *out = NULL;
  if (count < 1)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL, "batch order over %lld images; need >= 1",
                   (long long)count);
  dx_batch_order *bo = malloc(sizeof *bo);
  int64_t *perm = malloc((size_t)count * sizeof *perm);
  if (!bo || !perm) {
    free(bo);
    free(perm);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory for a batch order of %lld",
                   (long long)count);
  }
  *bo = (dx_batch_order){.count = count, .seed = seed, .perm = perm};
  *out = bo;
  return DX_OK;
}

void dx_batch_order_free(dx_batch_order *bo) {
  if (!bo) return;
  free(bo->perm);
  free(bo);
}

void dx_batch_order_indices(dx_batch_order *bo, int64_t step, int64_t batch, int64_t *out) {
  for (int64_t k = 0; k < batch; k++) {
    int64_t pos = step * batch + k, epoch = pos / bo->count, off = pos % bo->count;
    if (off < 0) { /* floor division: negative steps are earlier epochs, not a crash */
      off += bo->count;
      epoch--;
    }
    if (!bo->have_epoch || epoch != bo->epoch) {
      dx_epoch_permutation(bo->count, bo->seed, epoch, bo->perm);
      bo->epoch = epoch;
      bo->have_epoch = true;
    }
    out[k] = bo->perm[off];
  }
}
