/* Scopes (dx_scope_begin / dx_scope_end): without the tape a scope gives back
 * what was made inside it except the one tensor kept, whose values survive
 * the move; with the tape it keeps what the backward reads too. The U-Net,
 * sampling and bits/dim run in scopes without the tape; their results must
 * be bit for bit those of the same pass with every activation kept (the pass
 * run with the tape on and scopes off), and the pass must peak lower. (The
 * gradients with scopes on and off: tests/test_unet.c.) */
#include <stdlib.h>
#include <string.h>

#include "ddpmx/sampler.h"
#include "dx_test.h"
#include "dxt_plugin.h"
#include "model/unet.h"

static dx_ctx *ctx_with_arena(size_t bytes) {
  char err[256] = "";
  dx_ctx_opts o = {.threads = 1, .arena_bytes = bytes};
  dx_ctx *ctx = dx_ctx_create(&o, err, sizeof err);
  ck_assert_msg(ctx != NULL, "dx_ctx_create: %s", err);
  return ctx;
}

/* A (n) float32 tensor holding base, base + 1, ... */
static dx_tensor *ramp(dx_ctx *ctx, int64_t n, double base) {
  double *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = base + (double)i;
  dx_tensor *t = dx_tensor_new(ctx, DX_F32, 1, &n);
  ck_assert_ptr_nonnull(t);
  dx_tensor_write(ctx, t, v, DX_F64);
  free(v);
  return t;
}

static void check_ramp_sum(dx_ctx *ctx, const dx_tensor *t, double base_sum) {
  double *v = dxt_values(ctx, t);
  for (int64_t i = 0; i < dx_numel(t); i++)
    ck_assert_double_eq(v[i], base_sum + 2.0 * (double)i);
  free(v);
}

static size_t used(const dx_ctx *ctx) { return dx_arena_stats_of(ctx).used; }

/* The stats count tensor headers too (a few hundred bytes here): data of n
 * bytes, rounded to 64, and less than 1 KiB besides. */
#define ck_assert_grew_by(mark, n)                                                                 \
  do {                                                                                             \
    size_t grew_ = used(ctx) - (mark), data_ = ((n) + 63) / 64 * 64;                               \
    ck_assert_msg(grew_ >= data_ && grew_ < data_ + 1024, "grew by %zu, want %zu", grew_, data_);  \
  } while (0)

START_TEST(scope_keeps_one_tensor_and_gives_back_the_rest) {
  dx_ctx *ctx = ctx_with_arena(1 << 20);
  dx_set_grad_enabled(ctx, false);
  dx_tensor *x = ramp(ctx, 1000, 0.0);
  size_t at_begin = used(ctx);
  dx_scope_begin(ctx);
  dx_tensor *a = ramp(ctx, 5000, 1.0), *b = ramp(ctx, 5000, 2.0);
  dx_tensor *y = dx_add(ctx, a, b); /* made last: it moves down over a and b */
  void *made_at = y->data;
  ck_assert_ptr_eq(dx_scope_end(ctx, y), y);
  ck_assert_ptr_ne(y->data, made_at);
  ck_assert_ptr_eq(y->data, a->data); /* where the scope began */
  check_ramp_sum(ctx, y, 3.0);
  ck_assert_grew_by(at_begin, 5000 * sizeof(float));
  /* Keeping a tensor made before the scope (a block that returns its input)
   * gives everything back and moves nothing. */
  size_t mark = used(ctx);
  dx_scope_begin(ctx);
  ramp(ctx, 3000, 0.0);
  ck_assert_ptr_eq(dx_scope_end(ctx, x), x);
  ck_assert_grew_by(mark, 0);
  check_ramp_sum(ctx, dx_add(ctx, x, x), 0.0);
  /* Nested: the inner keep survives the inner end, the outer keep the outer. */
  mark = used(ctx);
  dx_scope_begin(ctx);
  ramp(ctx, 2000, 0.0);
  dx_scope_begin(ctx);
  dx_tensor *inner = dx_add(ctx, ramp(ctx, 300, 5.0), ramp(ctx, 300, 6.0));
  inner = dx_scope_end(ctx, inner);
  dx_tensor *outer = dx_scope_end(ctx, dx_add(ctx, inner, ramp(ctx, 300, 0.0)));
  ck_assert_grew_by(mark, 300 * sizeof(float));
  double *v = dxt_values(ctx, outer);
  for (int i = 0; i < 300; i++)
    ck_assert_double_eq(v[i], 11.0 + 3.0 * i);
  free(v);
  /* An error inside: dx_scope_end(NULL) still closes the scope. */
  mark = used(ctx);
  dx_scope_begin(ctx);
  ramp(ctx, 100, 0.0);
  ck_assert_ptr_null(dx_scope_end(ctx, NULL));
  ck_assert_grew_by(mark, 0);
  dx_ctx_free(ctx);
}
END_TEST

/* With the tape a scope keeps, besides keep, what the recorded ops'
 * backward reads: here h (mul reads both factors) but not h * w (sum's
 * backward reads nothing), which is given back; h moves down over nothing,
 * the kept sum down over h * w. The gradient is that of the same ops with
 * scopes off. */
START_TEST(scope_keeps_what_the_backward_reads) {
  double grads[2][64];
  size_t grew[2];
  for (int on = 0; on < 2; on++) {
    dx_ctx *ctx = ctx_with_arena(1 << 20);
    dx_set_scopes_enabled(ctx, on);
    int64_t n = 64;
    dx_tensor *w = dxt_param(ctx, DX_F32, 1, &n, -1, 1, 3);
    size_t before = used(ctx);
    dx_scope_begin(ctx);
    dx_tensor *h = dx_mul(ctx, w, w);
    dx_tensor *y = dx_scope_end(ctx, dx_sum(ctx, dx_mul(ctx, h, w)));
    grew[on] = used(ctx) - before;
    if (on) ck_assert_ptr_eq((char *)y->data, (char *)h->data + 256);
    ck_assert_int_eq(dx_backward(ctx, y), DX_OK);
    double *g = dxt_values(ctx, w->grad), *wv = dxt_values(ctx, w);
    for (int i = 0; i < n; i++)
      ck_assert_double_eq_tol(g[i], 3.0 * wv[i] * wv[i], 1e-6);
    memcpy(grads[on], g, sizeof grads[on]);
    free(g), free(wv);
    dx_ctx_free(ctx);
  }
  ck_assert_mem_eq(grads[0], grads[1], sizeof grads[0]);
  ck_assert_uint_eq(grew[0] - grew[1], 256); /* h * w's data */
}
END_TEST

/* A first step grows the arena chunk by chunk, and scopes end across chunks;
 * the step after the reset runs in one chunk without asking the system. */
START_TEST(scope_ends_across_chunks_and_warm_steps_allocate_nothing) {
  dx_ctx *ctx = ctx_with_arena(4096);
  dx_set_grad_enabled(ctx, false);
  uint64_t warm_allocs = 0;
  for (int step = 0; step < 3; step++) {
    dx_step_reset(ctx);
    if (step == 2) warm_allocs = dx_arena_stats_of(ctx).sys_allocs;
    dx_tensor *x = ramp(ctx, 500, 0.0);
    for (int k = 1; k <= 6; k++) {
      dx_scope_begin(ctx);
      dx_tensor *big = ramp(ctx, 4000 * k, 1.0);
      dx_tensor *y = dx_add(ctx, x, ramp(ctx, 500, 0.0));
      (void)big;
      x = dx_scope_end(ctx, y);
      double *v = dxt_values(ctx, x);
      for (int i = 0; i < 500; i++)
        ck_assert_double_eq(v[i], (double)(k + 1) * (double)i);
      free(v);
    }
  }
  ck_assert_uint_eq(dx_arena_stats_of(ctx).sys_allocs, warm_allocs);
  ck_assert_int_eq(dx_status_of(ctx), DX_OK);
  dx_ctx_free(ctx);
}
END_TEST

/* A kept tensor with a small hole below it stays in place (moving it would
 * cost more than the hole), so a step fills more of the chunk than the peak
 * of bytes in use: the chunk a reset makes must hold that, or every warm
 * step overflows it and asks the system for memory again. */
START_TEST(warm_steps_fit_the_holes_scopes_leave) {
  dx_ctx *ctx = ctx_with_arena(4096);
  dx_set_grad_enabled(ctx, false);
  uint64_t warm_allocs = 0;
  for (int step = 0; step < 4; step++) {
    dx_step_reset(ctx);
    if (step == 2) warm_allocs = dx_arena_stats_of(ctx).sys_allocs;
    dx_tensor *x = ramp(ctx, 1000, 0.0);
    dx_scope_begin(ctx);
    (void)ramp(ctx, 1000, 0.0); /* the hole */
    dx_tensor *y = dx_scope_end(ctx, ramp(ctx, 16000, 1.0));
    dx_tensor *z = ramp(ctx, 20000, 2.0); /* fills past the peak of x, hole, y */
    check_ramp_sum(ctx, dx_add(ctx, x, x), 0.0);
    double *v = dxt_values(ctx, y);
    ck_assert_double_eq(v[15999], 16000.0);
    free(v);
    ck_assert_ptr_nonnull(z);
  }
  ck_assert_uint_eq(dx_arena_stats_of(ctx).sys_allocs, warm_allocs);
  ck_assert_int_eq(dx_status_of(ctx), DX_OK);
  dx_ctx_free(ctx);
}
END_TEST

/* --- the U-Net, sampling and bits/dim ------------------------------------------ */

typedef struct model {
  dxt_plugin block, attn, mid;
  dx_unet *net;
  bool with_tape; /* the reference: every activation kept */
} model;

static void model_open(dx_ctx *ctx, model *m, const char *block) {
  const char *groups[1] = {"groups=4"};
  bool resnet = strcmp(block, "resnet") == 0;
  m->block = dxt_plugin_load(block, DX_KIND_BLOCK, resnet ? groups : NULL, resnet ? 1 : 0);
  m->attn = dxt_plugin_load("attention_linear", DX_KIND_BLOCK, NULL, 0);
  m->mid = dxt_plugin_load("attention_full", DX_KIND_BLOCK, NULL, 0);
  dx_unet_config c = {.in_channels = 1,
                      .out_channels = 1,
                      .dim = 8,
                      .n_levels = 3,
                      .mults = {1, 2, 4},
                      .image_size = 16};
  c.block = (dx_block_spec){m->block.plugin->desc, m->block.params};
  for (int i = 0; i < 3; i++)
    c.attention[i] = (dx_block_spec){m->attn.plugin->desc, m->attn.params};
  c.mid_attention = (dx_block_spec){m->mid.plugin->desc, m->mid.params};
  m->net = dx_unet_create(ctx, &c, 7);
  ck_assert_msg(m->net != NULL, "%s", dx_error_message(ctx));
}

static void model_close(model *m) {
  dx_unet_free(m->net);
  dxt_plugin_free(&m->block), dxt_plugin_free(&m->attn), dxt_plugin_free(&m->mid);
}

static dx_tensor *model_fn(dx_ctx *ctx, void *user, dx_tensor *x_t, dx_tensor *t) {
  model *m = user;
  bool grad = dx_set_grad_enabled(ctx, m->with_tape);
  bool scopes = dx_set_scopes_enabled(ctx, !m->with_tape);
  dx_tensor *y = dx_unet_forward(ctx, m->net, x_t, t, false);
  dx_set_scopes_enabled(ctx, scopes);
  dx_set_grad_enabled(ctx, grad);
  return y;
}

/* The U-Net's output on a fixed batch, and the arena's peak during it. */
static double *forward_once(const char *block, bool with_tape, size_t *peak) {
  dx_ctx *ctx = dxt_ctx(1);
  model m = {.with_tape = with_tape};
  model_open(ctx, &m, block);
  int64_t xs[4] = {3, 1, 16, 16}, n = 3;
  dx_step_reset(ctx);
  size_t base = dx_arena_stats_of(ctx).peak;
  dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, xs), *t = dx_tensor_new(ctx, DX_F32, 1, &n);
  dx_tensor_randn(ctx, x, 11, 0);
  dx_tensor_write(ctx, t, (double[]){3, 250, 999}, DX_F64);
  dx_tensor *y = model_fn(ctx, &m, x, t);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  double *v = dxt_values(ctx, y);
  *peak = dx_arena_stats_of(ctx).peak - base;
  model_close(&m);
  dx_ctx_free(ctx);
  return v;
}

static void check_forward(const char *block) {
  size_t kept, scoped;
  double *ref = forward_once(block, true, &kept), *got = forward_once(block, false, &scoped);
  ck_assert_mem_eq(got, ref, 3 * 256 * sizeof(double));
  /* Measured 0.2 to 0.3 of the whole pass's activations at this size. */
  ck_assert_msg(scoped * 2 < kept, "%s: peak %zu bytes in scopes, %zu with every activation", block,
                scoped, kept);
  free(ref), free(got);
}

START_TEST(resnet_unet_without_tape_is_bit_identical_and_smaller) { check_forward("resnet"); }
END_TEST

START_TEST(convnext_unet_without_tape_is_bit_identical_and_smaller) { check_forward("convnext"); }
END_TEST

static dx_diffusion *schedule(dx_ctx *ctx, int T) {
  double b[40];
  for (int i = 0; i < T; i++)
    b[i] = 1e-3 + 0.2 * i / (T - 1.0);
  return dx_diffusion_create(ctx, b, T);
}

/* Ten ancestral steps and the bits/dim of the images they give. */
static void sample_and_bpd(bool with_tape, double *images, dx_bpd_result *res) {
  dx_ctx *ctx = dxt_ctx(1);
  model m = {.with_tape = with_tape};
  model_open(ctx, &m, "resnet");
  dxt_plugin sp = dxt_plugin_load("beta_tilde", DX_KIND_SAMPLER, NULL, 0);
  dx_sampler s;
  ck_assert_int_eq(dx_sampler_init(ctx, &s, sp.plugin->desc, sp.params), DX_OK);
  dx_diffusion *d = schedule(ctx, 10);
  int64_t xs[4] = {2, 1, 16, 16};
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F32, 4, xs);
  ck_assert_int_eq(dx_sample(ctx, &s, d, DX_PREDICT_EPS, model_fn, &m, 5, x), DX_OK);
  double *v = dxt_values(ctx, x);
  memcpy(images, v, 512 * sizeof *v);
  for (int i = 0; i < 512; i++) /* onto the 256-level grid that bits/dim expects */
    v[i] = v[i] < -1 ? -1 : v[i] > 1 ? 1 : (double)(int)((v[i] + 1) * 127.5 + 0.5) / 127.5 - 1;
  dx_tensor_write(ctx, x, v, DX_F64);
  free(v);
  *res = (dx_bpd_result){0};
  ck_assert_int_eq(dx_bits_per_dim(ctx, &s, d, DX_PREDICT_EPS, model_fn, &m, x, 9, res), DX_OK);
  dx_tensor_free(ctx, x);
  dx_diffusion_free(d);
  dx_sampler_release(&s);
  dxt_plugin_free(&sp);
  model_close(&m);
  dx_ctx_free(ctx);
}

START_TEST(sampling_and_bits_per_dim_are_bit_identical_without_the_tape) {
  double ref[512], got[512];
  dx_bpd_result rref, rgot;
  sample_and_bpd(true, ref, &rref);
  sample_and_bpd(false, got, &rgot);
  ck_assert_mem_eq(got, ref, sizeof ref);
  ck_assert_mem_eq(&rgot.total, &rref.total, sizeof(double));
  ck_assert_mem_eq(&rgot.prior, &rref.prior, sizeof(double));
  ck_assert_mem_eq(&rgot.decoder, &rref.decoder, sizeof(double));
}
END_TEST

Suite *scope_suite(void) {
  Suite *s = suite_create("scope");
  TCase *tc = tcase_create("scope");
  DXT_ADD(tc, scope_keeps_one_tensor_and_gives_back_the_rest);
  DXT_ADD(tc, scope_keeps_what_the_backward_reads);
  DXT_ADD(tc, scope_ends_across_chunks_and_warm_steps_allocate_nothing);
  DXT_ADD(tc, warm_steps_fit_the_holes_scopes_leave);
  DXT_ADD(tc, resnet_unet_without_tape_is_bit_identical_and_smaller);
  DXT_ADD(tc, convnext_unet_without_tape_is_bit_identical_and_smaller);
  DXT_ADD(tc, sampling_and_bits_per_dim_are_bit_identical_without_the_tape);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return dxt_run(scope_suite()); }
