/* The per-step arena: a bump allocator over chunks.
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

void dx_arena_reset(dx_arena *a) {
  if (a->chunks && a->chunks->next) {
    /* Consolidate: one chunk big enough for the largest step seen so far. */
    free_chunks(a);
    chunk_new(a, a->peak);
  } else if (a->chunks) {
    a->chunks->off = 0;
  }
  a->used = 0;
}

void dx_arena_release(dx_arena *a) { free_chunks(a); }
