/* CPU backend: transformed filters kept between calls.
 *
 * Winograd's forward pass multiplies by the filter transformed (G g G^T,
 * conv_winograd4.c). A forward pass without the tape runs the batch in
 * chunks of images (unet.c), and a sampling run calls it again at every
 * timestep with the same weights, so the transform was repeated once per
 * chunk: a fifth of a sampling step's CPU time with F(4x4, 3x3). Here each
 * transform is kept with a copy of the weights it came from, and reused
 * while the weights compare equal, byte for byte: whatever changed them
 * (an optimiser step, a checkpoint load, another tensor at the same
 * address), a difference means a new transform. The comparison reads the
 * weights once; the transform wrote 4x their size with scattered stores.
 *
 * Entries are found by weight address, shape and transform; a warm step
 * whose weights changed reuses its entry's buffers and allocates nothing
 * (test_warm_step). Calls into one backend come from one thread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"

#define ENTRIES 64
#define MAX_BYTES ((size_t)96 << 20) /* copies and transforms together */
#define STALE 4096                   /* calls since an entry's last use */

typedef struct entry {
  dx_cpu_transform_fn fn;
  const float *w;
  int64_t co, ci, kh, kw;
  size_t wn, un; /* floats of the weights and of the transform */
  float *copy, *u;
  uint64_t used; /* clock of the last use: the least recent goes first */
} entry;

typedef struct dx_cpu_filter_cache {
  entry e[ENTRIES];
  size_t bytes;
  uint64_t clock;
} dx_cpu_filter_cache;

static size_t entry_bytes(const entry *x) { return (x->wn + x->un) * sizeof(float); }

static void drop(dx_cpu_filter_cache *fc, entry *x) {
  if (!x->copy) return;
  fc->bytes -= entry_bytes(x);
  free(x->copy);
  free(x->u);
  memset(x, 0, sizeof *x);
}

void dx_cpu_filter_cache_free(dx_backend *be) {
  dx_cpu_filter_cache *fc = *dx_cpu_filters(be);
  if (!fc) return;
  for (int i = 0; i < ENTRIES; i++)
    drop(fc, &fc->e[i]);
  free(fc);
  *dx_cpu_filters(be) = NULL;
}

static bool same_key(const entry *x, dx_cpu_transform_fn fn, const dx_conv2d_desc *d,
                     const float *w) {
  return x->copy && x->fn == fn && x->w == w && x->co == d->co && x->ci == d->ci &&
         x->kh == d->kh && x->kw == d->kw;
}

/* A free entry with room for bytes more, evicting the least recently used
 * among those unused for STALE calls; NULL when the cache cannot hold it.
 * A network with more filters than fit keeps those it cached first rather
 * than evicting and transforming all of them on every pass. */
static entry *make_room(dx_cpu_filter_cache *fc, size_t bytes) {
  if (bytes > MAX_BYTES) return NULL;
  for (;;) {
    entry *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < ENTRIES; i++) {
      entry *x = &fc->e[i];
      if (!x->copy) {
        if (!free_slot) free_slot = x;
      } else if (!oldest || x->used < oldest->used) {
        oldest = x;
      }
    }
    if (free_slot && fc->bytes + bytes <= MAX_BYTES) return free_slot;
    if (!oldest || fc->clock - oldest->used < STALE) return NULL;
    drop(fc, oldest);
  }
}

const float *dx_cpu_transformed_filter(dx_backend *be, const dx_conv2d_desc *d, const float *w,
                                       size_t wn, size_t un, dx_cpu_transform_fn fn,
                                       float *scratch) {
  dx_cpu_filter_cache *fc = *dx_cpu_filters(be);
  if (!fc) fc = *dx_cpu_filters(be) = calloc(1, sizeof *fc);
  entry *x = NULL;
  for (int i = 0; fc && i < ENTRIES && !x; i++)
    if (same_key(&fc->e[i], fn, d, w)) x = &fc->e[i];
  if (x && x->wn == wn && x->un == un) {
    x->used = ++fc->clock;
    if (memcmp(x->copy, w, wn * sizeof(float)) != 0) {
      memcpy(x->copy, w, wn * sizeof(float));
      fn(d, w, x->u);
    }
    return x->u;
  }
  if (x) drop(fc, x);
  x = fc ? make_room(fc, (wn + un) * sizeof(float)) : NULL;
  if (x) {
    x->copy = malloc(wn * sizeof(float));
    x->u = aligned_alloc(DX_CONV_ALIGN, dx_conv_round_up(un * sizeof(float)));
    if (!x->copy || !x->u) {
      free(x->copy);
      free(x->u);
      x->copy = x->u = NULL;
      x = NULL;
    }
  }
  if (!x) { /* no room: transform into the caller's scratch, as before */
    fn(d, w, scratch);
    return scratch;
  }
  *x = (entry){.fn = fn,
               .w = w,
               .co = d->co,
               .ci = d->ci,
               .kh = d->kh,
               .kw = d->kw,
               .wn = wn,
               .un = un,
               .copy = x->copy,
               .u = x->u,
               .used = ++fc->clock};
  fc->bytes += entry_bytes(x);
  memcpy(x->copy, w, wn * sizeof(float));
  fn(d, w, x->u);
  return x->u;
}
