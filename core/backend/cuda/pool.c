/* The CUDA backend's device memory pool (see cuda.h): regions from
 * cudaMalloc cut into blocks, first fit, split on allocation and merged with
 * free neighbours on release. The bookkeeping lives on the host, since the
 * device memory it describes cannot be read from here. Allocations are rare
 * (persistent tensors at start-up, the arena's chunks, the scratch buffer),
 * so a linear walk of the block list costs nothing that matters. */
#include <stdint.h>
#include <stdlib.h>

#include "backend/cuda/cuda.h"

/* cuBLAS, cuDNN and vector loads want 256-byte alignment at most. */
#define POOL_ALIGN ((size_t)256)

struct dx_cuda_block {
  char *ptr;
  size_t size;
  bool free;
  bool region_start; /* first block of a cudaMalloc region: never merged with its predecessor */
  dx_cuda_block *next;
};

static size_t align_up(size_t v) { return (v + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN; }

/* Adds a region of at least bytes at the end of the list; false when
 * cudaMalloc refuses. */
static bool add_region(dx_cuda_pool *p, size_t bytes) {
  void *mem = NULL;
  if (cudaMalloc(&mem, bytes) != cudaSuccess) {
    (void)cudaGetLastError(); /* clear the sticky-free error cudaMalloc leaves */
    return false;
  }
  dx_cuda_block *b = calloc(1, sizeof *b);
  if (!b) {
    cudaFree(mem);
    return false;
  }
  b->ptr = mem;
  b->size = bytes;
  b->free = true;
  b->region_start = true;
  dx_cuda_block **tail = &p->head;
  while (*tail)
    tail = &(*tail)->next;
  *tail = b;
  p->reserved += bytes;
  return true;
}

int dx_cuda_pool_init(dx_cuda_pool *p, size_t first_bytes, size_t grow_bytes) {
  *p = (dx_cuda_pool){.grow_bytes = align_up(grow_bytes)};
  return add_region(p, align_up(first_bytes)) ? 0 : -1;
}

static dx_cuda_block *first_fit(dx_cuda_pool *p, size_t bytes) {
  for (dx_cuda_block *b = p->head; b; b = b->next)
    if (b->free && b->size >= bytes) return b;
  return NULL;
}

void *dx_cuda_pool_alloc(dx_cuda_pool *p, size_t bytes) {
  bytes = align_up(bytes ? bytes : 1);
  dx_cuda_block *b = first_fit(p, bytes);
  if (!b) {
    size_t region = bytes > p->grow_bytes ? bytes : p->grow_bytes;
    if (!add_region(p, region)) return NULL;
    p->grows++;
    b = first_fit(p, bytes);
    if (!b) return NULL;
  }
  if (b->size - bytes >= POOL_ALIGN) { /* split: the tail stays free */
    dx_cuda_block *rest = calloc(1, sizeof *rest);
    if (rest) {
      rest->ptr = b->ptr + bytes;
      rest->size = b->size - bytes;
      rest->free = true;
      rest->next = b->next;
      b->next = rest;
      b->size = bytes;
    }
  }
  b->free = false;
  p->in_use += b->size;
  if (p->in_use > p->peak) p->peak = p->in_use;
  return b->ptr;
}

/* Merges b with its successor when both are free and in one region. */
static void merge_next(dx_cuda_block *b) {
  dx_cuda_block *n = b->next;
  if (!n || !b->free || !n->free || n->region_start) return;
  b->size += n->size;
  b->next = n->next;
  free(n);
}

void dx_cuda_pool_free(dx_cuda_pool *p, void *ptr) {
  if (!ptr) return;
  dx_cuda_block *prev = NULL;
  for (dx_cuda_block *b = p->head; b; prev = b, b = b->next) {
    if (b->ptr != ptr) continue;
    b->free = true;
    p->in_use -= b->size;
    merge_next(b);
    if (prev && !b->region_start) merge_next(prev);
    return;
  }
}

void dx_cuda_pool_release(dx_cuda_pool *p) {
  for (dx_cuda_block *b = p->head, *next; b; b = next) {
    next = b->next;
    if (b->region_start) cudaFree(b->ptr);
    free(b);
  }
  p->head = NULL;
  p->reserved = p->in_use = 0;
}
