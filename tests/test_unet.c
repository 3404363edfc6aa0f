/* The U-Net against PyTorch: the peer network's float64 dumps
 * (tests/data/unet/, written by make_unet_ref.py) give weights, inputs, the
 * output and every gradient of sum(output * r). ddpmx's float32 network,
 * loaded from those weights, must agree to 1e-4 as max|a - b| / max|b|
 * (SOURCE.md: the peer itself in float32 reaches 5e-7 and 7e-6). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dx_test.h"
#include "dxt_plugin.h"
#include "model/safetensors.h"
#include "model/unet.h"
#include "plugin/loader.h"

#define TOL 1e-4

typedef struct fixture {
  dx_plugin_path *path;
  dx_plugin *block, *attn, *mid;
  dx_params *block_p, *attn_p, *mid_p;
} fixture;

static dx_params *params_for(dx_plugin *p, const char *key, const char *value) {
  dx_plugin_arg arg = {(char *)key, (char *)value, DX_SCALAR_PLAIN, {"test", 1, 1}, {"test", 1, 1}};
  dx_plugin_ref ref = {(char *)p->desc->name, {"test", 1, 1}, key ? &arg : NULL, key ? 1 : 0};
  dx_params *out;
  char err[512];
  ck_assert_msg(dx_params_create(p->desc, &ref, &out, err, sizeof err) == DX_OK, "%s", err);
  return out;
}

static dx_plugin *load(fixture *f, const char *name) {
  dx_plugin *p;
  char err[512];
  ck_assert_msg(dx_plugin_load(f->path, name, DX_KIND_BLOCK, "model.block", &p, err, sizeof err) ==
                    DX_OK,
                "%s", err);
  return p;
}

static void fixture_open(fixture *f, const char *block) {
  f->path = dx_plugin_path_create(NULL, 0);
  f->block = load(f, block);
  f->attn = load(f, "attention_linear");
  f->mid = load(f, "attention_full");
  f->block_p = strcmp(block, "resnet") == 0 ? params_for(f->block, "groups", "4")
                                            : params_for(f->block, NULL, NULL);
  f->attn_p = params_for(f->attn, NULL, NULL);
  f->mid_p = params_for(f->mid, NULL, NULL);
}

static void fixture_close(fixture *f) {
  dx_params_free(f->block_p), dx_params_free(f->attn_p), dx_params_free(f->mid_p);
  dx_plugin_close(f->block), dx_plugin_close(f->attn), dx_plugin_close(f->mid);
  dx_plugin_path_free(f->path);
}

static dx_unet *peer_net(dx_ctx *ctx, fixture *f) {
  dx_unet_config c = {.in_channels = 1,
                      .out_channels = 1,
                      .dim = 8,
                      .n_levels = 3,
                      .mults = {1, 2, 4},
                      .image_size = 16};
  c.block = (dx_block_spec){f->block->desc, f->block_p};
  for (int i = 0; i < 3; i++)
    c.attention[i] = (dx_block_spec){f->attn->desc, f->attn_p};
  c.mid_attention = (dx_block_spec){f->mid->desc, f->mid_p};
  dx_unet *net = dx_unet_create(ctx, &c, 0);
  ck_assert_msg(net != NULL, "%s", dx_error_message(ctx));
  return net;
}

static dx_tensor *tensor_from(dx_ctx *ctx, const dx_safetensors *st, const char *name) {
  const dx_st_entry *e = dx_safetensors_find(st, name);
  ck_assert_msg(e != NULL, "%s missing from the reference", name);
  dx_tensor *t = dx_tensor_new(ctx, DX_F32, e->ndim, e->shape);
  ck_assert_int_eq(dx_safetensors_load(ctx, st, name, t), DX_OK);
  return t;
}

static double compare(dx_ctx *ctx, const dx_tensor *got, const dx_safetensors *st,
                      const char *name) {
  const dx_st_entry *e = dx_safetensors_find(st, name);
  ck_assert_msg(e != NULL, "%s missing from the reference", name);
  int64_t n = dx_numel(got);
  float *ref = malloc((size_t)n * sizeof *ref);
  memcpy(ref, e->data, (size_t)n * sizeof *ref);
  double *a = dxt_values(ctx, got), *b = malloc((size_t)n * sizeof *b);
  for (int64_t i = 0; i < n; i++)
    b[i] = ref[i];
  double err = dxt_rel_err(a, b, n, 1e-30);
  free(ref), free(a), free(b);
  return err;
}

static void check_against_peer(const char *block) {
  char err[512], wpath[128], iopath[128];
  snprintf(wpath, sizeof wpath, "data/unet/unet_%s.weights.safetensors", block);
  snprintf(iopath, sizeof iopath, "data/unet/unet_%s.io.safetensors", block);
  dx_safetensors *w, *io;
  ck_assert_msg(dx_safetensors_read(wpath, &w, err, sizeof err) == DX_OK, "%s", err);
  ck_assert_msg(dx_safetensors_read(iopath, &io, err, sizeof err) == DX_OK, "%s", err);
  dx_ctx *ctx = dxt_ctx(0);
  fixture f;
  fixture_open(&f, block);
  dx_unet *net = peer_net(ctx, &f);
  dx_param_list *ps = dx_unet_params(net);
  /* Same parameters, one for one, by name. */
  ck_assert_int_eq(ps->n, w->n);
  for (int64_t i = 0; i < ps->n; i++)
    ck_assert_msg(dx_safetensors_load(ctx, w, ps->items[i]->name, ps->items[i]) == DX_OK, "%s: %s",
                  ps->items[i]->name, dx_error_message(ctx));
  dx_tensor *x = dx_requires_grad(tensor_from(ctx, io, "input/x"));
  dx_tensor *t = tensor_from(ctx, io, "input/t"), *r = tensor_from(ctx, io, "input/r");
  dx_tensor *y = dx_unet_forward(ctx, net, x, t, false);
  ck_assert_msg(y != NULL, "forward: %s", dx_error_message(ctx));
  double out_err = compare(ctx, y, io, "output");
  ck_assert_msg(out_err <= TOL, "%s: output differs from PyTorch by %.3g", block, out_err);
  ck_assert_int_eq(dx_backward_seed(ctx, y, r), DX_OK);
  double worst = 0;
  const char *worst_name = "";
  for (int64_t i = 0; i < ps->n; i++) {
    char name[256];
    snprintf(name, sizeof name, "grad/%s", ps->items[i]->name);
    double e = compare(ctx, ps->items[i]->grad, io, name);
    if (e > worst) worst = e, worst_name = ps->items[i]->name;
  }
  double gx = compare(ctx, x->grad, io, "grad/input/x");
  ck_assert_msg(worst <= TOL, "%s: gradient of %s differs by %.3g", block, worst_name, worst);
  ck_assert_msg(gx <= TOL, "%s: gradient of the input differs by %.3g", block, gx);
  fprintf(
      stderr,
      "unet %s vs PyTorch: output %.2g, worst parameter gradient %.2g (%s), input gradient %.2g\n",
      block, out_err, worst, worst_name, gx);
  dx_unet_free(net);
  fixture_close(&f);
  dx_ctx_free(ctx);
  dx_safetensors_free(w), dx_safetensors_free(io);
}

START_TEST(resnet_unet_matches_pytorch) { check_against_peer("resnet"); }
END_TEST

START_TEST(convnext_unet_matches_pytorch) { check_against_peer("convnext"); }
END_TEST

START_TEST(init_is_seeded_and_follows_pytorch_bounds) {
  dx_ctx *ctx = dxt_ctx(1);
  fixture f;
  fixture_open(&f, "resnet");
  dx_unet *a = peer_net(ctx, &f), *b = peer_net(ctx, &f);
  /* 210,817 parameters, as the peer network (SOURCE.md). */
  ck_assert_int_eq(dx_param_list_numel(dx_unet_params(a)), 210817);
  dx_tensor *wa = dx_param_list_find(dx_unet_params(a), "downs.1.0.block1.proj.weight");
  dx_tensor *wb = dx_param_list_find(dx_unet_params(b), "downs.1.0.block1.proj.weight");
  ck_assert_ptr_nonnull(wa);
  double *va = dxt_values(ctx, wa), *vb = dxt_values(ctx, wb), bound = 1 / sqrt(8.0 * 9), mx = 0;
  for (int64_t i = 0; i < dx_numel(wa); i++) {
    ck_assert_double_eq(va[i], vb[i]);
    ck_assert_double_le(fabs(va[i]), bound);
    if (fabs(va[i]) > mx) mx = fabs(va[i]);
  }
  ck_assert_double_gt(mx, 0.9 * bound); /* 576 draws fill the interval */
  double *g =
      dxt_values(ctx, dx_param_list_find(dx_unet_params(a), "downs.1.0.block1.norm.weight"));
  ck_assert_double_eq(g[0], 1.0);
  free(va), free(vb), free(g);
  dx_unet_free(a), dx_unet_free(b);
  fixture_close(&f);
  dx_ctx_free(ctx);
}
END_TEST

/* The 3-level U-Net of these tests (1 channel in, 2 out, 16x16) with the
 * blocks of pl (block, linear attention, full attention) and c's other
 * settings. */
static dx_unet *small_net(dx_ctx *ctx, const dxt_plugin *pl, dx_unet_config c, uint64_t seed) {
  c.in_channels = 1, c.out_channels = 2, c.dim = 8, c.n_levels = 3, c.image_size = 16;
  c.mults[0] = 1, c.mults[1] = 2, c.mults[2] = 4;
  c.block = (dx_block_spec){pl[0].plugin->desc, pl[0].params};
  for (int i = 0; i < 3; i++)
    c.attention[i] = (dx_block_spec){pl[1].plugin->desc, pl[1].params};
  c.mid_attention = (dx_block_spec){pl[2].plugin->desc, pl[2].params};
  dx_unet *net = dx_unet_create(ctx, &c, seed);
  ck_assert_msg(net != NULL, "%s", dx_error_message(ctx));
  return net;
}

/* --- the forward pass without the tape, a few images at a time ------------- */

/* Without the tape a batch runs in chunks of images (unet.c: 8 each,
 * shared out between the threads): 35 images (two full chunks and a short one) through a
 * conditional, self-conditioning net on two threads, labels and x0 estimates cut with the chunks,
 * give what the whole batch gives with grad mode on, where the forward runs unchunked. */
START_TEST(chunked_forward_matches_the_whole_batch) {
  dx_ctx *ctx = dxt_ctx(2);
  const char *resnet_kv[1] = {"groups=4"};
  dxt_plugin pl[3] = {dxt_plugin_load("resnet", DX_KIND_BLOCK, resnet_kv, 1),
                      dxt_plugin_load("attention_linear", DX_KIND_BLOCK, NULL, 0),
                      dxt_plugin_load("attention_full", DX_KIND_BLOCK, NULL, 0)};
  dx_unet *net = small_net(ctx, pl, (dx_unet_config){.classes = 3, .self_condition = true}, 11);
  enum { N = 35 };
  int64_t xs[4] = {N, 1, 16, 16}, ts[1] = {N}, labels[N];
  double tv[N];
  for (int i = 0; i < N; i++)
    labels[i] = i % 4, tv[i] = (double)(i * 53 % 1000);
  dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, xs), *xself = dx_tensor_new(ctx, DX_F32, 4, xs);
  dx_tensor *t = dx_tensor_new(ctx, DX_F32, 1, ts);
  dx_tensor_randn(ctx, x, 1, 0), dx_tensor_randn(ctx, xself, 2, 0);
  dx_tensor_write(ctx, t, tv, DX_F64);
  dx_unet_cond cond = {labels, xself};
  dx_tensor *whole = dx_unet_forward_cond(ctx, net, x, t, &cond, false);
  bool was = dx_set_grad_enabled(ctx, false);
  dx_tensor *chunked = dx_unet_forward_cond(ctx, net, x, t, &cond, false);
  dx_set_grad_enabled(ctx, was);
  ck_assert_msg(whole && chunked, "%s", dx_error_message(ctx));
  ck_assert(dx_same_shape(whole, chunked));
  int64_t n = dx_numel(whole);
  double *a = dxt_values(ctx, whole), *b = dxt_values(ctx, chunked);
  double err = dxt_rel_err(b, a, n, 1e-30);
  fprintf(stderr, "test_unet: chunked forward against the whole batch: %.3g\n", err);
  ck_assert_msg(err < 1e-6, "chunked forward differs by %.3g", err);
  for (int64_t i = 1; i < N; i++) /* images differ: each chunk went to its place */
    ck_assert(a[i * n / N] != a[(i - 1) * n / N]);
  free(a), free(b);
  dx_unet_free(net);
  for (int i = 0; i < 3; i++)
    dxt_plugin_free(&pl[i]);
  dx_ctx_free(ctx);
}
END_TEST

/* --- recomputation ---------------------------------------------------------- */

typedef struct step_result {
  double *y, *grads; /* the output, then every parameter's gradient in order */
  int64_t ny, ngrads;
  size_t peak;          /* the arena's high-water mark over the two steps */
  uint64_t warm_allocs; /* times the arena grew during the second step */
} step_result;

/* Two training steps (forward, mean squared error, backward) of a 3-level
 * U-Net of `block` with dropout where the block has it, in a context of its
 * own, so that the arena's peak is this network's; the second step's output
 * and gradients in r. scopes false: every activation stays to the end. */
static void train_twice(const char *block, bool recompute, bool scopes, int threads,
                        step_result *r) {
  dx_ctx *ctx = dxt_ctx(threads);
  dx_set_scopes_enabled(ctx, scopes);
  const char *resnet_kv[2] = {"groups=4", "dropout=0.1"};
  bool resnet = strcmp(block, "resnet") == 0;
  dxt_plugin pl[3] = {
      dxt_plugin_load(block, DX_KIND_BLOCK, resnet ? resnet_kv : NULL, resnet ? 2 : 0),
      dxt_plugin_load("attention_linear", DX_KIND_BLOCK, NULL, 0),
      dxt_plugin_load("attention_full", DX_KIND_BLOCK, NULL, 0)};
  dx_unet *net = small_net(ctx, pl, (dx_unet_config){.recompute = recompute}, 5);
  dx_param_list *ps = dx_unet_params(net);
  int64_t xs[4] = {4, 1, 16, 16}, ys[4] = {4, 2, 16, 16}, ts[1] = {4};
  for (int step = 0; step < 2; step++) {
    dx_step_reset(ctx);
    uint64_t allocs = dx_arena_stats_of(ctx).sys_allocs;
    dx_tensor *x = dx_tensor_new(ctx, DX_F32, 4, xs), *t = dx_tensor_new(ctx, DX_F32, 1, ts);
    dx_tensor *target = dx_tensor_new(ctx, DX_F32, 4, ys);
    double tv[4] = {3, 250, 611, 999};
    dx_tensor_randn(ctx, x, 1, 0);
    dx_tensor_randn(ctx, target, 2, 0);
    dx_tensor_write(ctx, t, tv, DX_F64);
    dx_set_seed(ctx, 7 + (uint64_t)step);
    dx_tensor *y = dx_unet_forward(ctx, net, x, t, true);
    dx_tensor *loss = dx_mean(ctx, dx_square(ctx, dx_sub(ctx, y, target)));
    for (int64_t i = 0; i < ps->n; i++)
      dx_zero_grad(ctx, ps->items[i]);
    ck_assert_msg(dx_backward(ctx, loss) == DX_OK, "%s", dx_error_message(ctx));
    if (step == 0) continue;
    r->warm_allocs = dx_arena_stats_of(ctx).sys_allocs - allocs;
    r->y = dxt_values(ctx, y), r->ny = dx_numel(y);
    r->ngrads = dx_param_list_numel(ps);
    r->grads = malloc((size_t)r->ngrads * sizeof *r->grads);
    for (int64_t i = 0, at = 0; i < ps->n; at += dx_numel(ps->items[i]), i++) {
      double *g = dxt_values(ctx, ps->items[i]->grad);
      memcpy(r->grads + at, g, (size_t)dx_numel(ps->items[i]) * sizeof *g);
      free(g);
    }
  }
  r->peak = dx_arena_stats_of(ctx).peak;
  dx_unet_free(net);
  for (int i = 0; i < 3; i++)
    dxt_plugin_free(&pl[i]);
  dx_ctx_free(ctx);
}

/* Recomputation replays each level's forward pass (dropout masks included,
 * from the same stream position) and walks the same ops in the same order,
 * so the gradients are those of the plain network bit for bit; it keeps only
 * the levels' outputs, so the arena's peak is lower. */
static void recompute_matches(const char *block) {
  step_result a = {0}, b = {0};
  train_twice(block, false, true, 1, &a);
  train_twice(block, true, true, 1, &b);
  ck_assert_int_eq(a.ny, b.ny);
  for (int64_t i = 0; i < a.ny; i++)
    ck_assert_msg(a.y[i] == b.y[i], "output %lld: %.9g against %.9g", (long long)i, a.y[i], b.y[i]);
  int64_t nonzero = 0;
  for (int64_t i = 0; i < a.ngrads; i++) {
    ck_assert_msg(a.grads[i] == b.grads[i], "gradient element %lld: %.9g against %.9g",
                  (long long)i, a.grads[i], b.grads[i]);
    nonzero += a.grads[i] != 0;
  }
  ck_assert_int_gt(nonzero, a.ngrads / 2);
  fprintf(stderr, "test_unet: %s: arena peak %.2f MB plain, %.2f MB recomputing\n", block,
          (double)a.peak / 1048576.0, (double)b.peak / 1048576.0);
  ck_assert_msg(b.peak < a.peak * 3 / 4, "peak %zu recomputing against %zu", b.peak, a.peak);
  ck_assert_int_eq(b.warm_allocs, 0); /* rewinding keeps a warm step free of allocations */
  free(a.y), free(a.grads), free(b.y), free(b.grads);
}

/* With the tape the U-Net's scopes give back what no backward reads (the
 * additions' outputs, linear attention's qkv and its q and k slices, ...):
 * the same kernels on the same values, so the same output and gradients bit
 * for bit, from a lower peak. */
static void scopes_match(const char *block) {
  step_result a = {0}, b = {0};
  train_twice(block, false, false, 1, &a);
  train_twice(block, false, true, 1, &b);
  ck_assert_int_eq(a.ny, b.ny);
  ck_assert_mem_eq(a.y, b.y, (size_t)a.ny * sizeof *a.y);
  ck_assert_int_eq(a.ngrads, b.ngrads);
  for (int64_t i = 0; i < a.ngrads; i++)
    ck_assert_msg(a.grads[i] == b.grads[i], "gradient element %lld: %.9g against %.9g",
                  (long long)i, a.grads[i], b.grads[i]);
  fprintf(stderr, "test_unet: %s: arena peak %.2f MB keeping everything, %.2f MB in scopes\n",
          block, (double)a.peak / 1048576.0, (double)b.peak / 1048576.0);
  ck_assert_msg(b.peak < a.peak * 9 / 10, "peak %zu in scopes against %zu", b.peak, a.peak);
  ck_assert_int_eq(b.warm_allocs, 0);
  free(a.y), free(a.grads), free(b.y), free(b.grads);
}

/* With two threads each runs its half of the batch forward and back
 * (dx_run_shares): the dropout masks are the whole batch's, so the output
 * and gradients are those of one thread up to float32 rounding (the sums
 * go in another order); with recomputation too, bit for bit, and a warm
 * step allocates nothing in the workers either. */
static void shares_match(const char *block) {
  step_result a = {0}, b = {0}, c = {0};
  train_twice(block, false, true, 1, &a);
  train_twice(block, false, true, 2, &b);
  train_twice(block, true, true, 2, &c);
  ck_assert_int_eq(a.ny, b.ny);
  ck_assert_int_eq(a.ngrads, b.ngrads);
  double ey = dxt_rel_err(b.y, a.y, a.ny, 1e-30),
         eg = dxt_rel_err(b.grads, a.grads, a.ngrads, 1e-30);
  fprintf(stderr, "test_unet: %s: two shares against one thread: output %.3g, gradients %.3g\n",
          block, ey, eg);
  ck_assert_msg(ey < 1e-6 && eg < 1e-5, "output %.3g, gradients %.3g", ey, eg);
  for (int64_t i = 0; i < b.ngrads; i++)
    ck_assert_msg(b.grads[i] == c.grads[i], "recomputing, gradient element %lld: %.9g against %.9g",
                  (long long)i, c.grads[i], b.grads[i]);
  ck_assert_int_eq(b.warm_allocs, 0);
  ck_assert_int_eq(c.warm_allocs, 0);
  free(a.y), free(a.grads), free(b.y), free(b.grads), free(c.y), free(c.grads);
}

START_TEST(two_threads_give_one_threads_gradients_resnet) { shares_match("resnet"); }
END_TEST

START_TEST(two_threads_give_one_threads_gradients_convnext) { shares_match("convnext"); }
END_TEST

START_TEST(scopes_with_the_tape_give_the_same_gradients_resnet) { scopes_match("resnet"); }
END_TEST

START_TEST(scopes_with_the_tape_give_the_same_gradients_convnext) { scopes_match("convnext"); }
END_TEST

START_TEST(recomputation_gives_the_same_gradients_resnet) { recompute_matches("resnet"); }
END_TEST

START_TEST(recomputation_gives_the_same_gradients_convnext) { recompute_matches("convnext"); }
END_TEST

int main(void) {
  Suite *s = suite_create("unet");
  TCase *tc = tcase_create("unet");
  tcase_set_timeout(tc, 120);
  DXT_ADD(tc, init_is_seeded_and_follows_pytorch_bounds);
  DXT_ADD(tc, resnet_unet_matches_pytorch);
  DXT_ADD(tc, convnext_unet_matches_pytorch);
  DXT_ADD(tc, chunked_forward_matches_the_whole_batch);
  DXT_ADD(tc, scopes_with_the_tape_give_the_same_gradients_resnet);
  DXT_ADD(tc, scopes_with_the_tape_give_the_same_gradients_convnext);
  DXT_ADD(tc, recomputation_gives_the_same_gradients_resnet);
  DXT_ADD(tc, recomputation_gives_the_same_gradients_convnext);
  DXT_ADD(tc, two_threads_give_one_threads_gradients_resnet);
  DXT_ADD(tc, two_threads_give_one_threads_gradients_convnext);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
