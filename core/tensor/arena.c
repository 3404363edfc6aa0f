/* The per-step arena: a bump allocator over chunks, popped like a stack at
 * the end of a scope (dx_arena_pop, for dx_scope_end) and rewound over a
 * checkpointed segment's work (dx_arena_rewind).
 *
 * The first steps of training grow it chunk by chunk. A reset that finds more
 * than one chunk replaces them with a single chunk as large as the most
 * space a step has filled, so from then on a step is served from one block
 * without calling the system allocator: the "warm step allocates nothing"
 * property. That space is more than the peak of bytes in use: a pop leaves
 * a kept block where it is when the gap below it is small, and the holes
 * count. (A chunk sized to the peak alone overflowed on every step of the
 * U-Net at batch 128, and each step allocated and faulted in 3.3 GB anew.) */
#include <stdint.h>
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
    size_t filled = bytes;
    for (dx_arena_chunk *k = c; k; k = k->next)
      filled += k->off;
    if (filled > a->span) a->span = filled;
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

/* The chunks made since the mark, oldest first (the mark's own first when
 * there is one), into list; returns how many. */
static int chunks_since(const dx_arena *a, dx_arena_mark m, dx_arena_chunk **list, int max) {
  int n = 0;
  for (dx_arena_chunk *c = a->chunks; c && n < max; c = c->next) {
    list[n++] = c;
    if (c == m.chunk) break;
  }
  for (int i = 0; i < n / 2; i++) {
    dx_arena_chunk *t = list[i];
    list[i] = list[n - 1 - i], list[n - 1 - i] = t;
  }
  return n;
}

static int by_place(const void *x, const void *y) {
  const dx_arena_range *a = x, *b = y;
  if (a->chunk != b->chunk) return a->chunk < b->chunk ? -1 : 1;
  return a->lo < b->lo ? -1 : a->lo > b->lo ? 1 : 0;
}

#define MAX_CHUNKS 64 /* a step grows the arena by doubling: far more than enough */

void dx_arena_pop(dx_arena *a, dx_arena_mark m, dx_arena_range *r, int n, dx_arena_move move,
                  void *user) {
  dx_arena_chunk *list[MAX_CHUNKS];
  int nc = chunks_since(a, m, list, MAX_CHUNKS), np = 0;
  /* The ranges made since the mark first, in the order they were made. */
  for (int i = 0; i < n; i++) {
    char *p = *r[i].slot;
    dx_arena_chunk *c = p ? holder(a, m, p, r[i].bytes ? r[i].bytes : 1) : NULL;
    if (!c) continue; /* made before the mark: stays */
    dx_arena_range t = r[i];
    t.p = p, t.chunk = 0;
    while (t.chunk < nc && list[t.chunk] != c)
      t.chunk++;
    t.lo = (char *)((uintptr_t)p / ALIGN * ALIGN);
    r[i] = r[np], r[np++] = t;
  }
  qsort(r, (size_t)np, sizeof *r, by_place);
  /* Overlapping or touching ranges of one chunk form a block that moves as
   * one, to the lowest free place of the oldest chunk that holds it. A
   * block less than a quarter of its size above that place stays: moving
   * it (piece by piece, the two overlap) would cost more than the gap it
   * closes. (Measured on the U-Net: moving those too, as with an eighth or
   * a sixteenth, moved a third more bytes for the same peaks.) */
  int dst = 0;
  size_t off = m.chunk ? m.off : 0, kept = 0;
  for (int i = 0; i < np;) {
    char *lo = r[i].lo, *hi = r[i].p + r[i].bytes;
    int j = i + 1;
    for (; j < np && r[j].chunk == r[i].chunk && r[j].lo <= hi; j++)
      if (r[j].p + r[j].bytes > hi) hi = r[j].p + r[j].bytes;
    size_t len = ((size_t)(hi - lo) + ALIGN - 1) / ALIGN * ALIGN;
    while (dst < r[i].chunk && off + len > list[dst]->size)
      dst++, off = 0;
    char *to = (char *)list[dst]->mem + off;
    if (dst == r[i].chunk && (size_t)(lo - to) * 4 < len) to = lo;
    if (to != lo) move(to, lo, (size_t)(hi - lo), user);
    for (int k = i; k < j; k++)
      *r[k].slot = to + (r[k].p - lo); /* a slot listed twice gets the same */
    off = (size_t)(to - (char *)list[dst]->mem) + len;
    kept += len;
    i = j;
  }
  /* Chunks newer than the last one written to hold nothing now; older ones
   * since the mark stay full until the reset (only while the arena grows). */
  if (np) {
    drop_newer(a, (dx_arena_mark){list[dst], 0, 0}, NULL);
    for (int k = 0; k < dst; k++)
      list[k]->off = list[k]->size;
    list[dst]->off = off;
  } else {
    drop_newer(a, m, NULL);
    if (m.chunk) m.chunk->off = m.off;
  }
  a->used = m.used + kept;
}

void dx_arena_reset(dx_arena *a) {
  /* A pop may have freed the chunk that held the peak: then the one left is
   * too small, and is replaced as several chunks are. */
  size_t want = a->span > a->peak ? a->span : a->peak;
  if (a->chunks && (a->chunks->next || a->chunks->size < want)) {
    /* Consolidate: one chunk big enough for the largest step seen so far,
     * and a sixteenth more, as where a pop leaves blocks shifts a little
     * from step to step (pages never written cost no memory). */
    free_chunks(a);
    chunk_new(a, want + want / 16);
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
