/* The per-step arena: a bump allocator over chunks, popped like a stack at
 * the end of a scope (dx_arena_pop, for dx_scope_end) and rewound over a
 * checkpointed segment's work (dx_arena_rewind).
 *
 * The first steps of training grow it chunk by chunk. A reset that finds more
 * than one chunk replaces them with a single chunk as large as the step's
 * peak, so from then on a step is served from one block without calling the
 * system allocator: the "warm step allocates nothing" property. */
#include <stdlib.h>

#include "tensor/internal.h"

#define ALIGN 64

struct dx_arena_chunk {
  dx_arena_chunk *next;
  void *mem;
  size_t size, off;
};

static void *sys_alloc(dx_arena *a, size_t bytes) {
  a->sys_allocs++;
  if (a->be) return a->be->alloc(a->be, bytes);
  return aligned_alloc(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN);
}

static void sys_free(dx_arena *a, void *p) {
  if (a->be)
    a->be->free(a->be, p);
  else
    free(p);
}

static dx_arena_chunk *chunk_new(dx_arena *a, size_t size) {
  dx_arena_chunk *c = malloc(sizeof *c);
  if (!c) return NULL;
  c->mem = sys_alloc(a, size);
  if (!c->mem) {
    free(c);
    return NULL;
  }
  c->size = size;
  c->off = 0;
  c->next = a->chunks;
  a->chunks = c;
  a->capacity += size;
  return c;
}

void dx_arena_init(dx_arena *a, dx_backend *be, size_t initial) {
  *a = (dx_arena){.be = be};
  /* Failure here is not fatal: the first allocation retries. */
  chunk_new(a, initial);
}

void *dx_arena_alloc(dx_arena *a, size_t bytes) {
  bytes = (bytes + ALIGN - 1) / ALIGN * ALIGN;
  if (bytes == 0) bytes = ALIGN;
  dx_arena_chunk *c = a->chunks;
  if (!c || c->size - c->off < bytes) {
    size_t size = c ? c->size * 2 : bytes;
    if (size < bytes) size = bytes;
    c = chunk_new(a, size);
    if (!c) return NULL;
  }
  void *p = (char *)c->mem + c->off;
  c->off += bytes;
  a->used += bytes;
  if (a->used > a->peak) a->peak = a->used;
  return p;
}

static void free_chunks(dx_arena *a) {
  for (dx_arena_chunk *c = a->chunks, *next; c; c = next) {
    next = c->next;
    sys_free(a, c->mem);
    free(c);
  }
  a->chunks = NULL;
  a->capacity = 0;
}

dx_arena_mark dx_arena_mark_of(const dx_arena *a) {
  return (dx_arena_mark){a->chunks, a->chunks ? a->chunks->off : 0, a->used};
}

/* The chunk at or after the mark that holds [p, p + bytes), or NULL when p
 * lies below the mark (made before it) or outside the arena. */
static dx_arena_chunk *holder(const dx_arena *a, dx_arena_mark m, const void *p, size_t bytes) {
  const char *q = p;
  for (dx_arena_chunk *c = a->chunks; c; c = c->next) {
    const char *lo = (const char *)c->mem + (c == m.chunk ? m.off : 0);
    if (q >= lo && q + bytes <= (const char *)c->mem + c->off) return c;
    if (c == m.chunk) break;
  }
  return NULL;
}

/* Frees the chunks made after the mark's chunk, except `spare`. */
static void drop_newer(dx_arena *a, dx_arena_mark m, dx_arena_chunk *spare) {
  dx_arena_chunk **link = &a->chunks;
  while (*link && *link != m.chunk) {
    dx_arena_chunk *c = *link;
    if (c == spare) {
      link = &c->next;
      continue;
    }
    *link = c->next;
    a->capacity -= c->size;
    sys_free(a, c->mem);
    free(c);
  }
}

void *dx_arena_pop(dx_arena *a, dx_arena_mark m, void *keep, size_t bytes,
                   void (*move)(void *dst, const void *src, size_t n, void *user), void *user) {
  size_t need = (bytes + ALIGN - 1) / ALIGN * ALIGN;
  dx_arena_chunk *k = keep ? holder(a, m, keep, bytes) : NULL;
  size_t room = m.chunk ? m.chunk->size - m.off : 0;
  void *at = keep;
  if (!k) {
    drop_newer(a, m, NULL);
    need = 0;
  } else if (k == m.chunk && (size_t)((char *)keep - (char *)k->mem - m.off) * 16 < bytes) {
    /* Just above the mark: moving it (piece by piece, the two overlap)
     * would cost more than the gap it closes. */
    need += (size_t)((char *)keep - (char *)k->mem - m.off);
    need = (need + ALIGN - 1) / ALIGN * ALIGN;
    drop_newer(a, m, NULL);
  } else if (need <= room) {
    at = (char *)m.chunk->mem + m.off;
    if (at != keep) move(at, keep, bytes, user);
    drop_newer(a, m, NULL);
  } else {
    /* Only while the arena still grows (its first steps): the kept tensor
     * does not fit in the mark's chunk, so it moves to the start of its own,
     * which stays; the mark's chunk is full from here to the reset. */
    size_t gap = (size_t)((char *)keep - (char *)k->mem);
    if (gap * 16 < bytes) { /* as above: not worth moving */
      need = (gap + need + ALIGN - 1) / ALIGN * ALIGN;
    } else {
      at = k->mem;
      move(at, keep, bytes, user);
    }
    k->off = need;
    drop_newer(a, m, k);
    if (m.chunk) m.chunk->off = m.chunk->size;
    a->used = m.used + need;
    return at;
  }
  if (m.chunk) m.chunk->off = m.off + need;
  a->used = m.used + need;
  return at;
}

void dx_arena_reset(dx_arena *a) {
  /* A pop may have freed the chunk that held the peak: then the one left is
   * too small, and is replaced as several chunks are. */
  if (a->chunks && (a->chunks->next || a->chunks->size < a->peak)) {
    /* Consolidate: one chunk big enough for the largest step seen so far. */
    free_chunks(a);
    chunk_new(a, a->peak);
  } else if (a->chunks) {
    a->chunks->off = 0;
  }
  a->used = 0;
}

void dx_arena_release(dx_arena *a) { free_chunks(a); }

void dx_arena_rewind(dx_arena *a, dx_arena_mark m) { dx_arena_pop(a, m, NULL, 0, NULL, NULL); }

bool dx_arena_since(const dx_arena *a, dx_arena_mark m, const void *p) {
  return holder(a, m, p, 1) != NULL;
}
