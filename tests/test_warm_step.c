/* A warm training step allocates nothing: after a few steps, forward,
 * backward, the optimiser update and the arena reset run without one call to
 * the system allocator anywhere in the process (libddpmx, OpenBLAS, libgomp).
 *
 * The test binary interposes malloc and friends (ELF symbol interposition
 * applies to every shared library) and counts calls while armed. */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dx_test.h"
#include "train/optim.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static volatile int armed;
static volatile long allocations;

void *malloc(size_t n) {
  if (armed) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  if (armed) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  if (armed) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n) {
  if (armed) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_memalign(al, n);
}
void *memalign(size_t al, size_t n) {
  if (armed) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  return __libc_memalign(al, n);
}
int posix_memalign(void **out, size_t al, size_t n) {
  if (armed) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
  *out = __libc_memalign(al, n);
  return *out ? 0 : 12;
}
void free(void *p) { __libc_free(p); }

typedef struct net {
  dx_tensor *w1, *b1, *g1, *be1, *w2, *b2, *lw, *lb, *qkv, *w3;
} net;

static dx_tensor *p(dx_ctx *ctx, int nd, int64_t a, int64_t b, int64_t c, int64_t d,
                    uint64_t seed) {
  int64_t s[4] = {a, b, c, d};
  return dxt_param(ctx, DX_F32, nd, s, -0.3, 0.3, seed);
}

/* A miniature of one U-Net level: conv, group norm, time scale-shift, SiLU,
 * linear attention, pixel-unshuffle, upsample, skip concat, MSE. */
static dx_tensor *step_loss(dx_ctx *ctx, const net *n, dx_tensor *x, dx_tensor *t,
                            dx_tensor *target) {
  dx_tensor *te = dx_linear(ctx, dx_silu(ctx, dx_time_embedding(ctx, t, 16)), n->lw, n->lb);
  int64_t s4[4] = {x->shape[0], 8, 1, 1};
  dx_tensor *h =
      dx_group_norm(ctx, dx_conv2d(ctx, x, n->w1, n->b1, 1, 1, 1), 4, n->g1, n->be1, 1e-5);
  h = dx_silu(ctx, dx_add(ctx, h, dx_reshape(ctx, te, 4, s4)));
  dx_tensor *qkv = dx_conv2d(ctx, h, n->qkv, NULL, 1, 0, 1), *part[3];
  if (dx_chunk(ctx, qkv, 3, part) != DX_OK) return NULL;
  int64_t hs[4] = {x->shape[0], 2, 4, 64};
  dx_tensor *q = dx_softmax(ctx, dx_reshape(ctx, part[0], 4, hs), -2);
  dx_tensor *k = dx_softmax(ctx, dx_reshape(ctx, part[1], 4, hs), -1);
  dx_tensor *o = dx_matmul(ctx, dx_matmul(ctx, k, dx_reshape(ctx, part[2], 4, hs), false, true), q,
                           true, false);
  int64_t img[4] = {x->shape[0], 8, 8, 8};
  h = dx_add(ctx, h, dx_reshape(ctx, o, 4, img));
  dx_tensor *d = dx_conv2d(ctx, dx_pixel_unshuffle(ctx, h, 2), n->w2, n->b2, 1, 0, 1);
  dx_tensor *cat[2] = {dx_upsample_nearest(ctx, d, 2), h};
  dx_tensor *y = dx_conv2d(ctx, dx_concat(ctx, cat, 2), n->w3, NULL, 1, 1, 1);
  return dx_mean(ctx, dx_square(ctx, dx_sub(ctx, y, target)));
}

START_TEST(warm_training_step_allocates_nothing) {
  dx_ctx *ctx = dxt_ctx(0);
  net n = {p(ctx, 4, 8, 1, 3, 3, 1),  p(ctx, 1, 8, 0, 0, 0, 2),  p(ctx, 1, 8, 0, 0, 0, 3),
           p(ctx, 1, 8, 0, 0, 0, 4),  p(ctx, 4, 8, 32, 1, 1, 5), p(ctx, 1, 8, 0, 0, 0, 6),
           p(ctx, 2, 8, 16, 0, 0, 7), p(ctx, 1, 8, 0, 0, 0, 8),  p(ctx, 4, 24, 8, 1, 1, 9),
           p(ctx, 4, 1, 16, 3, 3, 10)};
  dx_tensor *items[10];
  memcpy(items, &n, sizeof items);
  dx_param_list list = {items, 10, 10};
  dx_optim_config oc = {DX_OPTIM_ADAM, 0.9, 0.999, 1e-8, 0};
  dx_optim *opt = dx_optim_create(ctx, &list, &oc);
  ck_assert_ptr_nonnull(opt);
  int64_t xs[4] = {4, 1, 8, 8}, ts[1] = {4};
  double first = 0, last = 0;
  /* check's own assertions allocate, so the armed region records failures
   * and the assertions run after it. */
  int bad_step = -1;
  dx_status bad = DX_OK;
  for (int step = 0; step < 8 && bad_step < 0; step++) {
    armed = step >= 4;
    dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, xs), *target = dx_tensor_new(ctx, DX_F32, 4, xs);
    dx_tensor *t = dx_tensor_new(ctx, DX_F32, 1, ts);
    dx_tensor_randn(ctx, x, 1, (uint64_t)step * 1000);
    dx_tensor_copy(ctx, target, x);
    dx_tensor_rand(ctx, t, 2, (uint64_t)step * 10);
    dx_tensor *loss = step_loss(ctx, &n, x, t, target);
    float lv = NAN;
    if (loss) dx_tensor_read(ctx, loss, &lv, DX_F32);
    if (step == 0) first = lv;
    last = lv;
    dx_zero_grads(ctx, &list);
    if ((bad = dx_backward(ctx, loss)) == DX_OK) {
      dx_clip_grad_norm(ctx, &list, 1.0);
      bad = dx_optim_step(opt, 1e-2);
    }
    if (!loss || bad != DX_OK) bad_step = step;
    dx_step_reset(ctx);
    armed = 0;
  }
  ck_assert_msg(bad_step < 0, "step %d failed: %s", bad_step, dx_error_message(ctx));
  ck_assert_msg(allocations == 0, "%ld allocations during 4 warm steps", (long)allocations);
  ck_assert_double_lt(last, first); /* and it is really training */
  dx_optim_free(opt);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("warm_step");
  TCase *tc = tcase_create("warm_step");
  DXT_ADD(tc, warm_training_step_allocates_nothing);
  suite_add_tcase(s, tc);
  /* CK_NOFORK keeps the counters in this process (check forks by default). */
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
