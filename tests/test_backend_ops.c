/* The backend parity suite (issue 13), after ggml's test-backend-ops.
 *
 * `test_backend_ops --cuda` compares the CUDA backend with the CPU one: every
 * case of dxt_backend_ops.c (each slot of the table, forward and backward,
 * awkward shapes) in float32 and float64, then a whole U-Net training step
 * (loss and every gradient), 20 training steps (losses, parameters, EMA) and
 * 10 sampling steps. Without a GPU it prints one line and exits 77, which
 * ctest reports as skipped.
 *
 * Run without arguments, it checks the harness itself on the CPU, so that a
 * pass on the GPU means something: the CPU against itself agrees exactly;
 * float32 against float64 stays within every stated tolerance (they are not
 * too tight for float rounding); and deliberately broken backends (a slot
 * perturbed, a guard element overwritten, a NaN, an input changed, an
 * output left unwritten, an infinity, a failing synchronize) and a U-Net
 * with a 0.1% error in group norm are each caught. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/diffusion.h"
#include "dx_test.h"
#include "dxt_backend_ops.h"
#include "dxt_plugin.h"
#include "model/unet.h"
#include "tensor/internal.h" /* to break one slot of a context's backend */
#include "train/optim.h"

/* --- every case on two backends ------------------------------------------------- */

typedef struct sweep {
  int passed, failed;
  double worst_ratio; /* max err / tol over the passing cases with tol > 0 */
  char worst[112];
  char first_failure[400];
} sweep;

static sweep run_all(dx_backend *a, dx_dtype da, dx_backend *b, dx_dtype db, bool verbose) {
  bops_list l = {0};
  bops_all_cases(&l);
  sweep s = {0};
  for (int i = 0; i < l.n; i++) {
    bops_result r = bops_compare(a, da, b, db, &l.items[i], (uint64_t)i + 1);
    if (r.ok) {
      s.passed++;
      double ratio = l.items[i].tol > 0 ? r.err / l.items[i].tol : 0;
      if (ratio > s.worst_ratio) {
        s.worst_ratio = ratio;
        snprintf(s.worst, sizeof s.worst, "%s", l.items[i].name);
      }
    } else {
      if (!s.failed) snprintf(s.first_failure, sizeof s.first_failure, "%s", r.why);
      s.failed++;
    }
    if (verbose && !r.ok) printf("  FAIL %s\n", r.why);
  }
  bops_list_free(&l);
  return s;
}

static dx_backend *cpu(void) {
  dx_backend *be = dx_cpu_backend_create();
  ck_assert_ptr_nonnull(be);
  return be;
}

START_TEST(cpu_against_itself_agrees_exactly) {
  dx_backend *a = cpu(), *b = cpu();
  for (int dt = DX_F32; dt <= DX_F64; dt++) {
    sweep s = run_all(a, (dx_dtype)dt, b, (dx_dtype)dt, true);
    ck_assert_msg(s.failed == 0, "%d cases failed, first: %s", s.failed, s.first_failure);
    ck_assert_msg(s.worst_ratio == 0, "%s differs between two CPU runs", s.worst);
    ck_assert_int_gt(s.passed, 300);
  }
  a->destroy(a), b->destroy(b);
}
END_TEST

START_TEST(float32_against_float64_stays_within_every_tolerance) {
  dx_backend *a = cpu(), *b = cpu();
  sweep s = run_all(a, DX_F64, b, DX_F32, true);
  ck_assert_msg(s.failed == 0, "%d cases failed, first: %s", s.failed, s.first_failure);
  /* float32 rounding is seen (the comparison is not blind) ... */
  ck_assert_double_gt(s.worst_ratio, 1e-6);
  fprintf(stderr, "float32 vs float64: %d cases, worst at %.2g of its tolerance (%s)\n", s.passed,
          s.worst_ratio, s.worst);
  a->destroy(a), b->destroy(b);
}
END_TEST

START_TEST(nmse_rules) {
  double ref[4] = {1, 2, INFINITY, -3}, got[4] = {1, 2, INFINITY, -3}, err;
  char why[128];
  ck_assert(bops_nmse(ref, got, 4, &err, why, sizeof why));
  ck_assert_double_eq(err, 0);
  got[0] = 1.1; /* (0.1)^2 / (1 + 4 + 9) */
  ck_assert(bops_nmse(ref, got, 4, &err, why, sizeof why));
  ck_assert_double_eq_tol(err, 0.01 / 14, 1e-15);
  got[2] = -INFINITY;
  ck_assert(!bops_nmse(ref, got, 4, &err, why, sizeof why));
  ck_assert_ptr_nonnull(strstr(why, "infinity"));
  got[2] = INFINITY, got[3] = NAN;
  ck_assert(!bops_nmse(ref, got, 4, &err, why, sizeof why));
  ck_assert_ptr_nonnull(strstr(why, "NaN"));
  got[3] = -3, ref[1] = NAN; /* a NaN in the reference fails too */
  ck_assert(!bops_nmse(ref, got, 4, &err, why, sizeof why));
}
END_TEST

/* --- every slot of the table --------------------------------------------------- */

/* The table's slots in order; `lifetime` ones have no case (the harness
 * opens and closes backends with them). A slot added to backend.h and not
 * here fails the assertion below; one here without a case fails
 * every_slot_has_a_case; the --cuda run refuses a GPU table with any of
 * them NULL. */
typedef struct slot_name {
  size_t at;
  const char *name;
  bool lifetime;
} slot_name;
#define SLOT(f)                                                                                    \
  { offsetof(dx_backend, f), #f, false }
static const slot_name slots[] = {
    {offsetof(dx_backend, destroy), "destroy", true},
    SLOT(synchronize),
    {offsetof(dx_backend, set_threads), "set_threads", true},
    SLOT(alloc),
    SLOT(free),
    SLOT(write),
    SLOT(read),
    SLOT(write_start),
    SLOT(write_finish),
    SLOT(fill),
    SLOT(copy),
    SLOT(axpy),
    SLOT(rand),
    SLOT(gemm),
    SLOT(conv2d_workspace),
    SLOT(conv2d_fwd),
    SLOT(conv2d_bwd_data),
    SLOT(conv2d_bwd_filter),
    SLOT(unary),
    SLOT(unary_bwd),
    SLOT(binary),
    SLOT(binary_bwd),
    SLOT(compare),
    SLOT(where),
    SLOT(where_bwd),
    SLOT(reduce_sum),
    SLOT(broadcast_acc),
    SLOT(group_norm_fwd),
    SLOT(group_norm_bwd),
    SLOT(group_norm_silu_fwd),
    SLOT(group_norm_silu_bwd),
    SLOT(softmax_fwd),
    SLOT(softmax_bwd),
    SLOT(permute),
    SLOT(copy_channels),
    SLOT(pixel_shuffle),
    SLOT(upsample_nearest),
    SLOT(upsample_nearest_bwd),
    SLOT(dropout_mask),
    SLOT(time_embedding),
    SLOT(adam),
    SLOT(sum_squares),
    SLOT(scale_inplace),
    SLOT(lerp),
};
#define N_SLOTS (sizeof slots / sizeof slots[0])
typedef void (*any_fn)(void);
_Static_assert(sizeof(dx_backend) == offsetof(dx_backend, destroy) + N_SLOTS * sizeof(any_fn),
               "dx_backend has a slot that slots[] lacks: list it and give it parity cases");

static bool slot_set(const dx_backend *be, const slot_name *s) {
  any_fn f;
  memcpy(&f, (const char *)be + s->at, sizeof f);
  return f != NULL;
}

START_TEST(every_slot_has_a_case) {
  bops_list l = {0};
  bops_all_cases(&l);
  for (size_t i = 0; i < N_SLOTS; i++) {
    /* in the table's order, one each */
    ck_assert_uint_eq(slots[i].at, offsetof(dx_backend, destroy) + i * sizeof(any_fn));
    ck_assert_msg(slots[i].lifetime || bops_covers(&l, slots[i].name), "no case calls %s",
                  slots[i].name);
  }
  ck_assert(!bops_covers(&l, "set_threads")); /* the check can say no */
  /* The CPU backend fills every slot but the uploads ahead: it is synchronous. */
  dx_backend *be = cpu();
  for (size_t i = 0; i < N_SLOTS; i++) {
    bool ahead = strncmp(slots[i].name, "write_", 6) == 0;
    ck_assert_msg(slot_set(be, &slots[i]) != ahead, "CPU slot %s", slots[i].name);
  }
  be->destroy(be);
  bops_list_free(&l);
}
END_TEST

/* --- broken backends: a copy of the CPU table with one slot wrapped -------------- */

static dx_backend *real; /* the CPU backend the broken copies call into */

static float *f32(dx_tensor *t) { return (float *)t->data; }

static void perturbed_binary(dx_backend *be, dx_binary_op op, const dx_tensor *a,
                             const dx_tensor *b, dx_tensor *y) {
  real->binary(be, op, a, b, y);
  if (op != DX_BIN_ADD) return;
  /* the largest element 0.1% off: one near zero could hide below a
   * tolerance, whatever the harness is worth */
  int64_t at = 0;
  for (int64_t i = 1; i < dx_numel(y); i++)
    if (fabsf(f32(y)[i]) > fabsf(f32(y)[at])) at = i;
  f32(y)[at] *= 1.001f;
}
static void guard_writing_unary(dx_backend *be, dx_unary_op op, const dx_tensor *x, dx_tensor *y,
                                double p0, double p1) {
  real->unary(be, op, x, y, p0, p1);
  if (op == DX_UN_SILU) f32(y)[dx_numel(y)] = f32(y)[0]; /* one past the end */
}
static void nan_softmax(dx_backend *be, const dx_tensor *x, dx_tensor *y, int axis) {
  real->softmax_fwd(be, x, y, axis);
  f32(y)[dx_numel(y) - 1] = NAN;
}
static void input_changing_reduce(dx_backend *be, const dx_tensor *x, dx_tensor *y, double scale) {
  real->reduce_sum(be, x, y, scale);
  ((float *)x->data)[0] += 1.0f;
}
static void lazy_permute(dx_backend *be, const dx_tensor *x, dx_tensor *y, const int *perm,
                         bool acc) {
  if (acc) real->permute(be, x, y, perm, acc); /* forgets the plain copy */
}
static void infinite_lerp(dx_backend *be, dx_tensor *y, const dx_tensor *x, double w) {
  real->lerp(be, y, x, w);
  f32(y)[1] = INFINITY;
}
/* The fused norm 0.1% off in every output it writes. */
static void scaled_gns_fwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                           const dx_tensor *beta, const dx_tensor *film, int groups, double eps,
                           dx_tensor *y, dx_tensor *mean, dx_tensor *rstd) {
  real->group_norm_silu_fwd(be, x, gamma, beta, film, groups, eps, y, mean, rstd);
  real->scale_inplace(be, y, 1.001);
}
static void scaled_gns_bwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                           const dx_tensor *beta, const dx_tensor *film, const dx_tensor *mean,
                           const dx_tensor *rstd, int groups, const dx_tensor *dy, dx_tensor *ws,
                           dx_tensor *dx, dx_tensor *dgamma, dx_tensor *dbeta, dx_tensor *dfilm) {
  real->group_norm_silu_bwd(be, x, gamma, beta, film, mean, rstd, groups, dy, ws, dx, dgamma, dbeta,
                            dfilm);
  dx_tensor *outs[4] = {dx, dgamma, dbeta, dfilm};
  for (int i = 0; i < 4; i++)
    if (outs[i]) real->scale_inplace(be, outs[i], 1.001);
}
static dx_status failing_sync(dx_backend *be, char *err, size_t len) {
  (void)be;
  snprintf(err, len, "cuda:0: an illegal memory access was encountered (simulated)");
  return DX_ERR_DEVICE;
}

/* Runs the float32 cases whose name starts with `target` with the broken
 * copy as backend B: each must fail with `word` in the reason. (That intact
 * slots pass is cpu_against_itself_agrees_exactly's job.) */
static void expect_caught(void (*breaker)(dx_backend *b), const char *target, const char *word) {
  real = cpu();
  dx_backend broken = *real;
  breaker(&broken);
  bops_list l = {0};
  bops_all_cases(&l);
  int caught = 0;
  for (int i = 0; i < l.n; i++) {
    if (strncmp(l.items[i].name, target, strlen(target)) != 0) continue;
    bops_result r = bops_compare(real, DX_F32, &broken, DX_F32, &l.items[i], (uint64_t)i + 1);
    ck_assert_msg(!r.ok, "%s: the harness missed the broken slot", l.items[i].name);
    ck_assert_msg(strstr(r.why, word) != NULL, "%s: expected '%s' in: %s", l.items[i].name, word,
                  r.why);
    caught++;
  }
  ck_assert_int_gt(caught, 0);
  bops_list_free(&l);
  real->destroy(real);
}

/* Uploads ahead at the latest the contract allows: the values land only at
 * write_finish (a correct backend); or never (a broken one). */
static struct {
  dx_tensor *t;
  void *src;
  dx_dtype dt;
} deferred;
static void deferred_start(dx_backend *be, dx_tensor *t, const void *src, dx_dtype dt) {
  (void)be;
  size_t bytes = (size_t)dx_numel(t) * (dt == DX_F32 ? 4 : 8);
  free(deferred.src);
  deferred.src = malloc(bytes);
  memcpy(deferred.src, src, bytes);
  deferred.t = t, deferred.dt = dt;
}
static void deferred_finish(dx_backend *be, const dx_tensor *t) {
  if (deferred.t == t) real->write(be, deferred.t, deferred.src, deferred.dt);
  free(deferred.src);
  deferred.src = NULL, deferred.t = NULL;
}
static void lost_finish(dx_backend *be, const dx_tensor *t) {
  (void)be, (void)t;
  free(deferred.src);
  deferred.src = NULL, deferred.t = NULL;
}

static void break_binary(dx_backend *b) { b->binary = perturbed_binary; }
static void break_unary(dx_backend *b) { b->unary = guard_writing_unary; }
static void break_softmax(dx_backend *b) { b->softmax_fwd = nan_softmax; }
static void break_reduce(dx_backend *b) { b->reduce_sum = input_changing_reduce; }
static void break_permute(dx_backend *b) { b->permute = lazy_permute; }
static void break_lerp(dx_backend *b) { b->lerp = infinite_lerp; }
static void break_sync(dx_backend *b) { b->synchronize = failing_sync; }
static void break_gns(dx_backend *b) {
  b->group_norm_silu_fwd = scaled_gns_fwd;
  b->group_norm_silu_bwd = scaled_gns_bwd;
}

static void break_upload(dx_backend *b) {
  b->write_start = deferred_start;
  b->write_finish = lost_finish;
}

START_TEST(catches_a_perturbed_slot) { expect_caught(break_binary, "binary add (", "NMSE"); }
END_TEST
/* every fused case, forward and backward, whichever outputs it has */
START_TEST(catches_a_perturbed_fused_norm) { expect_caught(break_gns, "group_norm_silu", "NMSE"); }
END_TEST
START_TEST(catches_an_upload_ahead_that_never_lands) {
  expect_caught(break_upload, "write_start", "NMSE");
}
END_TEST
/* The case does not assume that write_start lands at once. */
START_TEST(an_upload_ahead_may_land_at_finish) {
  real = cpu();
  dx_backend late = *real;
  late.write_start = deferred_start;
  late.write_finish = deferred_finish;
  bops_list l = {0};
  bops_all_cases(&l);
  int seen = 0;
  for (int i = 0; i < l.n; i++) {
    if (strncmp(l.items[i].name, "write_start", 11) != 0) continue;
    bops_result r = bops_compare(real, DX_F32, &late, DX_F32, &l.items[i], (uint64_t)i + 1);
    ck_assert_msg(r.ok, "%s", r.why);
    ck_assert_double_eq(r.err, 0);
    seen++;
  }
  ck_assert_int_eq(seen, 1);
  bops_list_free(&l);
  real->destroy(real);
}
END_TEST
START_TEST(catches_a_guard_write) { expect_caught(break_unary, "unary silu (", "guard"); }
END_TEST
START_TEST(catches_a_nan) { expect_caught(break_softmax, "softmax (", "NaN"); }
END_TEST
START_TEST(catches_a_changed_input) { expect_caught(break_reduce, "reduce_sum", "changed input"); }
END_TEST
START_TEST(catches_an_unwritten_output) {
  /* the accumulating cases still pass: only the plain permutes are broken */
  real = cpu();
  dx_backend broken = *real;
  break_permute(&broken);
  bops_list l = {0};
  bops_all_cases(&l);
  int caught = 0;
  for (int i = 0; i < l.n; i++) {
    if (strncmp(l.items[i].name, "permute", 7) != 0) continue;
    bops_result r = bops_compare(real, DX_F32, &broken, DX_F32, &l.items[i], (uint64_t)i + 1);
    bool acc = strstr(l.items[i].name, "accumulating") != NULL;
    ck_assert_msg(r.ok == acc, "%s: %s", l.items[i].name, r.ok ? "missed" : r.why);
    if (!acc) {
      ck_assert_ptr_nonnull(strstr(r.why, "NaN"));
      caught++;
    }
  }
  ck_assert_int_gt(caught, 0);
  bops_list_free(&l);
  real->destroy(real);
}
END_TEST
START_TEST(catches_a_mismatched_infinity) { expect_caught(break_lerp, "lerp", "infinity"); }
END_TEST
START_TEST(catches_a_failed_synchronize) {
  real = cpu();
  dx_backend broken = *real;
  break_sync(&broken);
  bops_list l = {0};
  bops_all_cases(&l);
  bops_result r = bops_compare(real, DX_F32, &broken, DX_F32, &l.items[0], 1);
  ck_assert(!r.ok);
  ck_assert_ptr_nonnull(strstr(r.why, "illegal memory access"));
  bops_list_free(&l);
  real->destroy(real);
}
END_TEST

/* --- the U-Net: one step, 20 steps, 10 sampling steps ----------------------------- */

#define BATCH 4
#define SIDE 16
#define TRAIN_T 50
#define SAMPLE_T 10

/* Named arrays of values gathered from one run, compared run against run. */
typedef struct trace {
  int n;
  char name[400][96];
  double *v[400];
  int64_t len[400];
} trace;

static void trace_add(trace *tr, const char *name, dx_ctx *ctx, const dx_tensor *t) {
  ck_assert_int_lt(tr->n, 400);
  snprintf(tr->name[tr->n], sizeof tr->name[0], "%s", name);
  tr->v[tr->n] = dxt_values(ctx, t);
  tr->len[tr->n] = dx_numel(t);
  tr->n++;
}

static void trace_free(trace *tr) {
  for (int i = 0; i < tr->n; i++)
    free(tr->v[i]);
  tr->n = 0;
}

/* Every entry of b against a: false with the first one over tol. */
static bool trace_compare(const trace *a, const trace *b, double tol, double *worst, char *why,
                          size_t len) {
  ck_assert_int_eq(a->n, b->n);
  *worst = 0;
  for (int i = 0; i < a->n; i++) {
    double e;
    char w[160];
    if (!bops_nmse(a->v[i], b->v[i], a->len[i], &e, w, sizeof w)) {
      snprintf(why, len, "%s: %s", a->name[i], w);
      return false;
    }
    if (e > *worst) *worst = e;
    if (e > tol) {
      snprintf(why, len, "%s: NMSE %.3g above %.3g", a->name[i], e, tol);
      return false;
    }
  }
  return true;
}

typedef struct unet_run {
  dx_ctx *ctx;
  dxt_plugin pl[3];
  dx_unet *net;
  dx_dtype dt;
} unet_run;

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static unet_run unet_open(dx_device dev, int threads, dx_dtype dt) {
  unet_run r = {.dt = dt};
  char err[512] = "";
  dx_ctx_opts o = {.device = dev, .threads = threads};
  r.ctx = dx_ctx_create(&o, err, sizeof err);
  ck_assert_msg(r.ctx != NULL, "%s", err);
  const char *groups[1] = {"groups=4"};
  r.pl[0] = dxt_plugin_load("resnet", DX_KIND_BLOCK, groups, 1);
  r.pl[1] = dxt_plugin_load("attention_linear", DX_KIND_BLOCK, NULL, 0);
  r.pl[2] = dxt_plugin_load("attention_full", DX_KIND_BLOCK, NULL, 0);
  dx_unet_config c = {.in_channels = 1,
                      .out_channels = 1,
                      .dim = 8,
                      .n_levels = 2,
                      .mults = {1, 2},
                      .image_size = SIDE,
                      .dtype = dt};
  c.block = (dx_block_spec){r.pl[0].plugin->desc, r.pl[0].params};
  c.attention[0] = c.attention[1] = (dx_block_spec){r.pl[1].plugin->desc, r.pl[1].params};
  c.mid_attention = (dx_block_spec){r.pl[2].plugin->desc, r.pl[2].params};
  r.net = dx_unet_create(r.ctx, &c, 3);
  ck_assert_msg(r.net != NULL, "%s", dx_error_message(r.ctx));
  return r;
}

static void unet_close(unet_run *r) {
  dx_unet_free(r->net);
  for (int i = 0; i < 3; i++)
    dxt_plugin_free(&r->pl[i]);
  dx_ctx_free(r->ctx);
}

static dx_diffusion *linear_diffusion(dx_ctx *ctx, int64_t T) {
  double beta[TRAIN_T];
  for (int64_t i = 0; i < T; i++)
    beta[i] = 1e-4 + (0.02 - 1e-4) * (double)i / (double)(T - 1);
  dx_diffusion *d = dx_diffusion_create(ctx, beta, T);
  ck_assert_msg(d != NULL, "%s", dx_error_message(ctx));
  return d;
}

/* The loss of one step: eps from the device's generator at (11, offset),
 * x_t = q_sample(x0, t, eps), mean squared error of the U-Net's prediction. */
static dx_tensor *unet_loss(unet_run *r, const dx_diffusion *d, int step) {
  dx_ctx *ctx = r->ctx;
  int64_t xs[4] = {BATCH, 1, SIDE, SIDE}, ts[1] = {BATCH}, n = BATCH * SIDE * SIDE;
  double x0v[BATCH * SIDE * SIDE], tv[BATCH];
  int64_t t[BATCH];
  uint64_t s = 1234 + (uint64_t)step;
  for (int64_t i = 0; i < n; i++)
    x0v[i] = 2.0 * (double)(splitmix(&s) >> 11) * 0x1.0p-53 - 1.0;
  for (int i = 0; i < BATCH; i++)
    t[i] = (int64_t)(splitmix(&s) % TRAIN_T), tv[i] = (double)t[i];
  dx_tensor *x0 = dx_tensor_new(ctx, r->dt, 4, xs), *eps = dx_tensor_new(ctx, r->dt, 4, xs);
  dx_tensor *tf = dx_tensor_new(ctx, r->dt, 1, ts);
  ck_assert_ptr_nonnull(tf);
  dx_tensor_write(ctx, x0, x0v, DX_F64);
  dx_tensor_write(ctx, tf, tv, DX_F64);
  dx_tensor_randn(ctx, eps, 11, (uint64_t)(step * n));
  dx_tensor *xt = dx_q_sample(ctx, d, x0, t, eps);
  dx_tensor *pred = dx_unet_forward(ctx, r->net, xt, tf, true);
  dx_tensor *loss = dx_mean(ctx, dx_square(ctx, dx_sub(ctx, pred, eps)));
  ck_assert_msg(loss != NULL, "%s", dx_error_message(ctx));
  return loss;
}

/* Loss and every parameter gradient of one step. */
static void unet_one_step(unet_run *r, trace *tr) {
  dx_diffusion *d = linear_diffusion(r->ctx, TRAIN_T);
  dx_param_list *ps = dx_unet_params(r->net);
  dx_step_reset(r->ctx);
  dx_tensor *loss = unet_loss(r, d, 0);
  ck_assert_int_eq(dx_backward(r->ctx, loss), DX_OK);
  trace_add(tr, "loss", r->ctx, loss);
  for (int64_t i = 0; i < ps->n; i++) {
    char name[96];
    snprintf(name, sizeof name, "grad %s", ps->items[i]->name);
    trace_add(tr, name, r->ctx, ps->items[i]->grad);
  }
  dx_diffusion_free(d);
}

/* 20 steps of Adam with clipping and EMA: every loss, then every parameter
 * and EMA weight at the end. */
static void unet_train(unet_run *r, trace *tr) {
  dx_ctx *ctx = r->ctx;
  dx_diffusion *d = linear_diffusion(ctx, TRAIN_T);
  dx_param_list *ps = dx_unet_params(r->net);
  dx_optim_config oc = {
      .kind = DX_OPTIM_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4};
  dx_optim *opt = dx_optim_create(ctx, ps, &oc);
  dx_ema *ema = dx_ema_create(ctx, ps);
  ck_assert_msg(opt && ema, "%s", dx_error_message(ctx));
  for (int step = 0; step < 20; step++) {
    dx_step_reset(ctx);
    dx_zero_grads(ctx, ps);
    dx_tensor *loss = unet_loss(r, d, step);
    ck_assert_int_eq(dx_backward(ctx, loss), DX_OK);
    char name[32];
    snprintf(name, sizeof name, "loss at step %d", step);
    trace_add(tr, name, ctx, loss);
    dx_clip_grad_norm(ctx, ps, 1.0);
    ck_assert_int_eq(dx_optim_step(opt, 2e-3), DX_OK);
    dx_ema_update(ema, ps, 0.9);
  }
  for (int64_t i = 0; i < ps->n; i++) {
    char name[96];
    snprintf(name, sizeof name, "param %s", ps->items[i]->name);
    trace_add(tr, name, ctx, ps->items[i]);
    snprintf(name, sizeof name, "ema %s", ps->items[i]->name);
    trace_add(tr, name, ctx, ema->shadow.items[i]);
  }
  dx_ema_free(ema);
  dx_optim_free(opt);
  dx_diffusion_free(d);
}

/* 10 ancestral sampling steps from x_T ~ N(0, I): x_{t-1} = posterior mean
 * of the predicted (clipped) x0 plus sqrt(beta_tilde) z; every x_t kept. */
static void unet_sample(unet_run *r, trace *tr) {
  dx_ctx *ctx = r->ctx;
  dx_diffusion *d = linear_diffusion(ctx, SAMPLE_T);
  int64_t xs[4] = {BATCH, 1, SIDE, SIDE}, ts[1] = {BATCH}, n = BATCH * SIDE * SIDE;
  dx_tensor *x = dx_tensor_new_persistent(ctx, r->dt, 4, xs);
  dx_tensor_randn(ctx, x, 5, 0);
  bool old = dx_set_grad_enabled(ctx, false);
  for (int64_t i = SAMPLE_T - 1; i >= 0; i--) {
    dx_step_reset(ctx);
    int64_t t[BATCH];
    double tv[BATCH];
    for (int b = 0; b < BATCH; b++)
      t[b] = i, tv[b] = (double)i;
    dx_tensor *tf = dx_tensor_new(ctx, r->dt, 1, ts);
    dx_tensor_write(ctx, tf, tv, DX_F64);
    dx_tensor *eps = dx_unet_forward(ctx, r->net, x, tf, false);
    dx_tensor *x0 = dx_predict_x0(ctx, d, DX_PREDICT_EPS, x, t, eps, true);
    dx_tensor *next = dx_posterior_mean(ctx, d, x0, x, t);
    if (i > 0) {
      dx_tensor *z = dx_tensor_new(ctx, r->dt, 4, xs);
      dx_tensor_randn(ctx, z, 6, (uint64_t)(i * n));
      next = dx_add(ctx, next, dx_scale(ctx, z, exp(0.5 * d->log_beta_tilde_clipped[i])));
    }
    ck_assert_msg(next != NULL, "%s", dx_error_message(ctx));
    ck_assert_int_eq(dx_tensor_copy(ctx, x, next), DX_OK);
    char name[32];
    snprintf(name, sizeof name, "x at t=%lld", (long long)i);
    trace_add(tr, name, ctx, x);
  }
  dx_set_grad_enabled(ctx, old);
  dx_tensor_free(ctx, x);
  dx_diffusion_free(d);
}

/* Tolerances of the U-Net comparisons (NMSE, float32 against the reference).
 * One step: as the ops. Twenty steps: float32 rounding has had 20 Adam
 * updates to grow. Sampling: the same network ten times. */
#define TOL_STEP 1e-9
#define TOL_TRAIN 1e-7
#define TOL_SAMPLE 1e-10

static const dx_device CPU = {DX_DEVICE_CPU, 0};

/* A 0.1% error in every group norm output, alone (attention) or fused with
 * FiLM and SiLU (the ResNet blocks). */
static dx_backend *gn_real;
static void gn_off(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                   const dx_tensor *beta, int groups, double eps, dx_tensor *y, dx_tensor *mean,
                   dx_tensor *rstd) {
  gn_real->group_norm_fwd(be, x, gamma, beta, groups, eps, y, mean, rstd);
  be->scale_inplace(be, y, 1.001);
}
static void gns_off(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                    const dx_tensor *beta, const dx_tensor *film, int groups, double eps,
                    dx_tensor *y, dx_tensor *mean, dx_tensor *rstd) {
  gn_real->group_norm_silu_fwd(be, x, gamma, beta, film, groups, eps, y, mean, rstd);
  be->scale_inplace(be, y, 1.001);
}

static dx_backend gn_saved;
static void break_group_norm(unet_run *r) {
  gn_saved = *r->ctx->be;
  gn_real = &gn_saved;
  r->ctx->be->group_norm_fwd = gn_off;
  if (gn_saved.group_norm_silu_fwd) r->ctx->be->group_norm_silu_fwd = gns_off;
}

typedef void (*unet_fn)(unet_run *r, trace *tr);

/* Runs fn on two set-ups and compares; broken = break B's group norm. */
static bool unet_compare(unet_fn fn, unet_run *a, unet_run *b, bool broken, double tol,
                         double *worst, char *why, size_t len) {
  trace ta = {0}, tb = {0};
  fn(a, &ta);
  if (broken) break_group_norm(b);
  fn(b, &tb);
  bool ok = trace_compare(&ta, &tb, tol, worst, why, len);
  trace_free(&ta), trace_free(&tb);
  return ok;
}

START_TEST(unet_step_float32_against_float64) {
  unet_run a = unet_open(CPU, 0, DX_F64), b = unet_open(CPU, 0, DX_F32);
  double worst;
  char why[256];
  ck_assert_msg(unet_compare(unet_one_step, &a, &b, false, TOL_STEP, &worst, why, sizeof why), "%s",
                why);
  ck_assert_double_gt(worst, 0);
  fprintf(stderr, "U-Net step, float32 vs float64: worst NMSE %.3g (tolerance %.0e)\n", worst,
          TOL_STEP);
  unet_close(&a), unet_close(&b);
}
END_TEST

START_TEST(unet_step_catches_a_group_norm_error) {
  unet_run a = unet_open(CPU, 0, DX_F32), b = unet_open(CPU, 0, DX_F32);
  double worst;
  char why[256];
  ck_assert(!unet_compare(unet_one_step, &a, &b, true, TOL_STEP, &worst, why, sizeof why));
  fprintf(stderr, "U-Net step with group norm 0.1%% off: caught (%s)\n", why);
  unet_close(&a), unet_close(&b);
}
END_TEST

/* One trajectory, float32 against float64 within tol; then with a 0.1%
 * group norm error in float32 against float32, which must be caught. */
static void trajectory_check(unet_fn fn, const char *what, double tol, bool broken) {
  unet_run a = unet_open(CPU, 0, broken ? DX_F32 : DX_F64), b = unet_open(CPU, 0, DX_F32);
  double worst;
  char why[256];
  bool ok = unet_compare(fn, &a, &b, broken, tol, &worst, why, sizeof why);
  if (broken) {
    ck_assert_msg(!ok, "%s: a 0.1%% group norm error went unnoticed (worst NMSE %.3g)", what,
                  worst);
    fprintf(stderr, "%s with group norm 0.1%% off: caught (%s)\n", what, why);
  } else {
    ck_assert_msg(ok, "%s: %s", what, why);
    fprintf(stderr, "%s, float32 vs float64: worst NMSE %.3g (tolerance %.0e)\n", what, worst, tol);
  }
  unet_close(&a), unet_close(&b);
}

START_TEST(unet_training_float32_against_float64) {
  trajectory_check(unet_train, "20 training steps", TOL_TRAIN, false);
}
END_TEST
START_TEST(unet_training_catches_a_group_norm_error) {
  trajectory_check(unet_train, "20 training steps", TOL_TRAIN, true);
}
END_TEST
START_TEST(unet_sampling_float32_against_float64) {
  trajectory_check(unet_sample, "10 sampling steps", TOL_SAMPLE, false);
}
END_TEST
START_TEST(unet_sampling_catches_a_group_norm_error) {
  trajectory_check(unet_sample, "10 sampling steps", TOL_SAMPLE, true);
}
END_TEST

/* --- the CUDA comparison ---------------------------------------------------------- */

static int cuda_main(void) {
  dx_backend *gpu = NULL;
  char err[512] = "";
  dx_device dev = {DX_DEVICE_CUDA, 0};
  if (dx_backend_open(dev, NULL, &gpu, err, sizeof err) != DX_OK || !gpu) {
    printf("test_backend_ops --cuda: SKIPPED, no GPU: %s\n", err);
    return 77;
  }
  printf("CUDA backend on %s against the CPU backend\n", gpu->device_name);
  int failures = 0;
  for (size_t i = 0; i < N_SLOTS; i++)
    if (!slot_set(gpu, &slots[i])) {
      printf("  FAIL the CUDA backend leaves slot %s empty\n", slots[i].name);
      failures++;
    }
  dx_backend *host = dx_cpu_backend_create();
  for (int dt = DX_F32; dt <= DX_F64; dt++) {
    sweep s = run_all(host, (dx_dtype)dt, gpu, (dx_dtype)dt, true);
    printf("ops %s: %d passed, %d failed; worst passing case at %.2g of its tolerance (%s)\n",
           dt == DX_F32 ? "float32" : "float64", s.passed, s.failed, s.worst_ratio, s.worst);
    failures += s.failed;
  }
  host->destroy(host);
  gpu->destroy(gpu);
  unet_fn fns[3] = {unet_one_step, unet_train, unet_sample};
  const char *what[3] = {"U-Net step (loss, every gradient)", "20 training steps",
                         "10 sampling steps"};
  double tols[3] = {TOL_STEP, TOL_TRAIN, TOL_SAMPLE};
  for (int i = 0; i < 3; i++) {
    unet_run a = unet_open(CPU, 0, DX_F32), b = unet_open(dev, 0, DX_F32);
    double worst;
    char why[256] = "";
    bool ok = unet_compare(fns[i], &a, &b, false, tols[i], &worst, why, sizeof why);
    printf("%s: %s, worst NMSE %.3g (tolerance %.0e)%s%s\n", what[i], ok ? "passed" : "FAILED",
           worst, tols[i], ok ? "" : ": ", why);
    failures += !ok;
    unet_close(&a), unet_close(&b);
  }
  printf("%s\n", failures ? "CUDA parity: FAILED" : "CUDA parity: passed");
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--cuda") == 0) return cuda_main();
  Suite *s = suite_create("backend_ops");
  TCase *tc = tcase_create("harness");
  /* each test takes well under a minute of CPU time; the margin is for a
   * loaded machine */
  tcase_set_timeout(tc, 900);
  DXT_ADD(tc, nmse_rules);
  DXT_ADD(tc, every_slot_has_a_case);
  DXT_ADD(tc, cpu_against_itself_agrees_exactly);
  DXT_ADD(tc, float32_against_float64_stays_within_every_tolerance);
  DXT_ADD(tc, catches_a_perturbed_slot);
  DXT_ADD(tc, catches_a_perturbed_fused_norm);
  DXT_ADD(tc, catches_an_upload_ahead_that_never_lands);
  DXT_ADD(tc, an_upload_ahead_may_land_at_finish);
  DXT_ADD(tc, catches_a_guard_write);
  DXT_ADD(tc, catches_a_nan);
  DXT_ADD(tc, catches_a_changed_input);
  DXT_ADD(tc, catches_an_unwritten_output);
  DXT_ADD(tc, catches_a_mismatched_infinity);
  DXT_ADD(tc, catches_a_failed_synchronize);
  DXT_ADD(tc, unet_step_float32_against_float64);
  DXT_ADD(tc, unet_step_catches_a_group_norm_error);
  DXT_ADD(tc, unet_training_float32_against_float64);
  DXT_ADD(tc, unet_training_catches_a_group_norm_error);
  DXT_ADD(tc, unet_sampling_float32_against_float64);
  DXT_ADD(tc, unet_sampling_catches_a_group_norm_error);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
