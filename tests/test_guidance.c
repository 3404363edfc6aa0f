/* Classifier-free guidance, self-conditioning and offset noise: the guided
 * noise against the formula worked on the host for eps, x0 and v models;
 * the sampling loop's one batched pass (2N images, the labels then "no
 * class") against a plain loop whose model returns the guided noise itself;
 * the x0 estimate the loop feeds back, recomputed from what the model saw;
 * offset noise against its draws; the U-Net's class embedding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpmx/sampler.h"
#include "dx_test.h"
#include "dxt_plugin.h"
#include "model/unet.h"

enum { N = 3, C = 2, H = 2, W = 2, D = C * H * W, T = 20, K = 4 };

static dx_diffusion *schedule(dx_ctx *ctx) {
  double b[T];
  for (int i = 0; i < T; i++)
    b[i] = 0.02 + 0.4 * i / (T - 1.0);
  dx_diffusion *d = dx_diffusion_create(ctx, b, T);
  ck_assert_ptr_nonnull(d);
  return d;
}

static dx_tensor *tensor_of(dx_ctx *ctx, const double *v, int64_t n) {
  int64_t shape[4] = {n, C, H, W};
  dx_tensor *t = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, t, v, DX_F64);
  return t;
}

/* eps from a prediction on the host: x0 = (x - sqrt(1-ab) eps) / sqrt(ab),
 * v: x0 = sqrt(ab) x - sqrt(1-ab) v. */
static double host_eps(dx_predict pr, double ab, double x, double p) {
  double x0 = pr == DX_PREDICT_X0 ? p : sqrt(ab) * x - sqrt(1 - ab) * p;
  return pr == DX_PREDICT_EPS ? p : (x - sqrt(ab) * x0) / sqrt(1 - ab);
}

START_TEST(guided_eps_is_the_formula_in_eps_space) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  double x[N * D], pc[N * D], pu[N * D];
  for (int k = 0; k < N * D; k++)
    x[k] = sin(0.7 * k) * 1.2, pc[k] = cos(1.1 * k), pu[k] = sin(0.3 * k + 1) * 0.8;
  int64_t t[N] = {0, 7, T - 1};
  dx_predict preds[3] = {DX_PREDICT_EPS, DX_PREDICT_X0, DX_PREDICT_V};
  double ws[3] = {0, 2, 0.5};
  for (int p = 0; p < 3; p++)
    for (int wi = 0; wi < 3; wi++) {
      double w = ws[wi];
      dx_tensor *g = dx_guided_eps(ctx, d, preds[p], tensor_of(ctx, x, N), t, tensor_of(ctx, pc, N),
                                   tensor_of(ctx, pu, N), w);
      ck_assert_msg(g != NULL, "%s", dx_error_message(ctx));
      double *got = dxt_values(ctx, g);
      for (int k = 0; k < N * D; k++) {
        double ab = d->alpha_bar[t[k / D]];
        double want =
            (1 + w) * host_eps(preds[p], ab, x[k], pc[k]) - w * host_eps(preds[p], ab, x[k], pu[k]);
        ck_assert_msg(fabs(got[k] - want) <= 1e-9 * (1 + fabs(want)),
                      "predict %d w %g [%d]: %.15g, by hand %.15g", p, w, k, got[k], want);
      }
      free(got);
    }
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* A model whose eps is a(label) x + b(t): each label gets its own slope. */
static double slope(int64_t label) { return 0.15 * (double)(label + 1); }

typedef struct fake {
  int calls, batch;
  bool halves_ok;
  const int64_t *labels; /* the draw's labels, to check what the loop passes */
  int64_t first, n;
  double w; /* for the plain model: the guidance it folds in */
  /* self-conditioning record: x and x_self (0 when NULL) of every call */
  double xs[64][N * D], selfs[64][N * D];
  bool self_null[64];
} fake;

static dx_tensor *eps_model(dx_ctx *ctx, dx_tensor *x, const int64_t *labels, int64_t n,
                            const fake *f, bool fold) {
  double *v = dxt_values(ctx, x);
  for (int64_t i = 0; i < n; i++) {
    double a = fold ? (1 + f->w) * slope(labels[i]) - f->w * slope(K) : slope(labels[i]);
    for (int k = 0; k < D; k++)
      v[i * D + k] *= a;
  }
  int64_t shape[4] = {n, C, H, W};
  dx_tensor *y = dx_tensor_new(ctx, DX_F64, 4, shape);
  dx_tensor_write(ctx, y, v, DX_F64);
  free(v);
  return y;
}

static dx_tensor *cond_model(dx_ctx *ctx, void *user, dx_tensor *x, dx_tensor *t,
                             const dx_model_cond *cond) {
  (void)t;
  fake *f = user;
  f->calls++;
  f->batch = (int)x->shape[0];
  for (int64_t i = 0; i < f->n; i++)
    if (cond->labels[i] != f->labels[f->first + i] || cond->labels[f->n + i] != K)
      f->halves_ok = false;
  return eps_model(ctx, x, cond->labels, x->shape[0], f, false);
}

static dx_tensor *plain_model(dx_ctx *ctx, void *user, dx_tensor *x, dx_tensor *t) {
  (void)t;
  fake *f = user;
  return eps_model(ctx, x, f->labels + f->first, x->shape[0], f, true);
}

static double *draw(dx_ctx *ctx, const dx_sampler *s, const dx_diffusion *d, const dx_guidance *g,
                    dx_model_fn plain, void *user, int64_t first, int64_t total) {
  int64_t shape[4] = {N, C, H, W};
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F64, 4, shape);
  dx_status st = g ? dx_sample_guided(ctx, s, d, DX_PREDICT_EPS, g, 5, first, total, x)
                   : dx_sample_range(ctx, s, d, DX_PREDICT_EPS, plain, user, 5, first, total, x);
  ck_assert_msg(st == DX_OK, "%s", dx_error_message(ctx));
  double *v = dxt_values(ctx, x);
  dx_tensor_free(ctx, x);
  return v;
}

/* The guided loop equals a plain loop whose model is the guided noise, for
 * the ancestral sampler and DDIM, on a share of a bigger draw. */
START_TEST(the_loop_guides_in_one_batched_pass) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *names[2] = {"beta_tilde", "ddim"};
  const char *kv[1] = {"steps=6"};
  int64_t labels[2 * N] = {2, 0, 3, 1, 1, 2};
  for (int s = 0; s < 2; s++) {
    dxt_plugin p = dxt_plugin_load(names[s], DX_KIND_SAMPLER, kv, 1);
    dx_sampler smp;
    ck_assert_int_eq(dx_sampler_init(ctx, &smp, p.plugin->desc, p.params), DX_OK);
    fake f = {.halves_ok = true, .labels = labels, .first = N, .n = N, .w = 2.0};
    dx_guidance g = {
        .model = cond_model, .user = &f, .labels = labels, .null_label = K, .weight = 2.0};
    double *guided = draw(ctx, &smp, d, &g, NULL, NULL, N, 2 * N);
    ck_assert_int_eq(f.calls, 6);
    ck_assert_int_eq(f.batch, 2 * N);
    ck_assert(f.halves_ok);
    double *plain = draw(ctx, &smp, d, NULL, plain_model, &f, N, 2 * N);
    double worst = 0;
    for (int k = 0; k < N * D; k++)
      worst = fmax(worst, fabs(guided[k] - plain[k]));
    ck_assert_msg(worst < 1e-12, "%s: guided and folded loops differ by %g", names[s], worst);
    /* Guidance changes the samples: w = 0 is the conditional model alone. */
    g.weight = 0;
    f.calls = 0;
    double *cond = draw(ctx, &smp, d, &g, NULL, NULL, N, 2 * N);
    ck_assert_int_eq(f.batch, N);
    worst = 0;
    for (int k = 0; k < N * D; k++)
      worst = fmax(worst, fabs(guided[k] - cond[k]));
    ck_assert_msg(worst > 1e-3, "%s: w = 2 drew what w = 0 drew", names[s]);
    free(guided), free(plain), free(cond);
    dx_sampler_release(&smp);
    dxt_plugin_free(&p);
  }
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

/* An x0 model, x0 = 0.5 x + 0.3 x_self, recording what it was handed. */
static dx_tensor *self_model(dx_ctx *ctx, void *user, dx_tensor *x, dx_tensor *t,
                             const dx_model_cond *cond) {
  (void)t;
  fake *f = user;
  int c = f->calls++;
  double *xv = dxt_values(ctx, x), *sv = cond->x_self ? dxt_values(ctx, cond->x_self) : NULL;
  f->self_null[c] = sv == NULL;
  for (int k = 0; k < N * D; k++) {
    f->xs[c][k] = xv[k], f->selfs[c][k] = sv ? sv[k] : 0;
    xv[k] = 0.5 * xv[k] + 0.3 * f->selfs[c][k];
  }
  dx_tensor *y = tensor_of(ctx, xv, N);
  free(xv), free(sv);
  return y;
}

START_TEST(self_conditioning_feeds_the_previous_x0) {
  dx_ctx *ctx = dxt_ctx(1);
  dx_diffusion *d = schedule(ctx);
  const char *kv[1] = {"steps=5"};
  dxt_plugin p = dxt_plugin_load("ddim", DX_KIND_SAMPLER, kv, 1);
  dx_sampler smp;
  ck_assert_int_eq(dx_sampler_init(ctx, &smp, p.plugin->desc, p.params), DX_OK);
  fake *f = calloc(1, sizeof *f);
  dx_guidance g = {.model = self_model, .user = f, .self_condition = true};
  int64_t shape[4] = {N, C, H, W};
  dx_tensor *x = dx_tensor_new_persistent(ctx, DX_F64, 4, shape);
  ck_assert_int_eq(dx_sample_guided(ctx, &smp, d, DX_PREDICT_X0, &g, 9, 0, N, x), DX_OK);
  ck_assert_int_eq(f->calls, 5);
  ck_assert(f->self_null[0]);
  for (int c = 1; c < 5; c++) {
    ck_assert(!f->self_null[c]);
    for (int k = 0; k < N * D; k++) {
      /* The previous step's x0, clipped as the sampler clips (clip: true). */
      double want = fmin(1, fmax(-1, 0.5 * f->xs[c - 1][k] + 0.3 * f->selfs[c - 1][k]));
      ck_assert_msg(fabs(f->selfs[c][k] - want) < 1e-12, "call %d [%d]: %g, by hand %g", c, k,
                    f->selfs[c][k], want);
    }
  }
  /* Without self-conditioning the model never gets an estimate. */
  memset(f, 0, sizeof *f);
  g.self_condition = false;
  ck_assert_int_eq(dx_sample_guided(ctx, &smp, d, DX_PREDICT_X0, &g, 9, 0, N, x), DX_OK);
  for (int c = 0; c < 5; c++)
    ck_assert(f->self_null[c]);
  free(f);
  dx_tensor_free(ctx, x);
  dx_sampler_release(&smp);
  dxt_plugin_free(&p);
  dx_diffusion_free(d);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(offset_noise_adds_one_draw_per_image_and_channel) {
  dx_ctx *ctx = dxt_ctx(1);
  double e[N * D];
  for (int k = 0; k < N * D; k++)
    e[k] = sin(1.7 * k);
  int64_t zs[2] = {N, C};
  dx_tensor *z = dx_tensor_new(ctx, DX_F64, 2, zs);
  ck_assert_int_eq(dx_tensor_randn(ctx, z, 77, 40), DX_OK);
  double *zv = dxt_values(ctx, z);
  dx_tensor *y = dx_offset_noise(ctx, tensor_of(ctx, e, N), 0.3, 77, 40);
  ck_assert_msg(y != NULL, "%s", dx_error_message(ctx));
  double *got = dxt_values(ctx, y);
  for (int k = 0; k < N * D; k++) {
    double want = e[k] + 0.3 * zv[k / (H * W)];
    ck_assert_msg(fabs(got[k] - want) < 1e-12, "[%d] %g, by hand %g", k, got[k], want);
  }
  /* Keyed: offset + C starts at the next image's draws. */
  dx_tensor *y1 = dx_offset_noise(ctx, tensor_of(ctx, e, 1), 1.0, 77, 40 + C);
  double *g1 = dxt_values(ctx, y1);
  for (int k = 0; k < D; k++)
    ck_assert(fabs(g1[k] - (e[k] + zv[C + k / (H * W)])) < 1e-12);
  dx_tensor *e0 = tensor_of(ctx, e, N);
  ck_assert_ptr_eq(dx_offset_noise(ctx, e0, 0, 77, 40), e0);
  free(zv), free(got), free(g1);
  dx_ctx_free(ctx);
}
END_TEST

/* --- the U-Net's class embedding ----------------------------------------------- */

static dx_unet *small_net(dx_ctx *ctx, dxt_plugin *block, int64_t classes, bool self_cond) {
  const char *kv[1] = {"groups=2"};
  *block = dxt_plugin_load("resnet", DX_KIND_BLOCK, kv, 1);
  dx_unet_config c = {.in_channels = C,
                      .out_channels = C,
                      .dim = 8,
                      .n_levels = 2,
                      .mults = {1, 2},
                      .image_size = 4,
                      .dtype = DX_F64,
                      .classes = classes,
                      .self_condition = self_cond};
  c.block = (dx_block_spec){block->plugin->desc, block->params};
  dx_unet *net = dx_unet_create(ctx, &c, 3);
  ck_assert_msg(net != NULL, "%s", dx_error_message(ctx));
  return net;
}

static double *forward(dx_ctx *ctx, dx_unet *net, const int64_t *labels, dx_tensor *x_self) {
  int64_t xs[4] = {2, C, 4, 4}, ts[1] = {2};
  double xv[2 * C * 16], tv[2] = {3, 11};
  for (int k = 0; k < 2 * C * 16; k++)
    xv[k] = cos(0.37 * k);
  dx_tensor *x = dx_tensor_new(ctx, DX_F64, 4, xs), *t = dx_tensor_new(ctx, DX_F64, 1, ts);
  dx_tensor_write(ctx, x, xv, DX_F64);
  dx_tensor_write(ctx, t, tv, DX_F64);
  dx_unet_cond cond = {labels, x_self};
  dx_tensor *y = dx_unet_forward_cond(ctx, net, x, t, &cond, false);
  return y ? dxt_values(ctx, y) : NULL;
}

static double diff(const double *a, const double *b) {
  double m = 0;
  for (int k = 0; k < 2 * C * 16; k++)
    m = fmax(m, fabs(a[k] - b[k]));
  return m;
}

START_TEST(the_class_embedding_conditions_the_unet) {
  dx_ctx *ctx = dxt_ctx(1);
  dxt_plugin block, b0;
  dx_unet *net = small_net(ctx, &block, K, false);
  dx_tensor *emb = dx_param_list_find(dx_unet_params(net), "classes_emb.weight");
  ck_assert_ptr_nonnull(emb);
  ck_assert_int_eq(emb->ndim, 2);
  ck_assert_int_eq(emb->shape[0], K + 1);
  ck_assert_int_eq(emb->shape[1], 4 * 8);
  /* The other parameters are initialised as in an unconditional net. */
  dx_unet *plain = small_net(ctx, &b0, 0, false);
  dx_param_list *pa = dx_unet_params(net), *pb = dx_unet_params(plain);
  ck_assert_int_eq(pa->n, pb->n + 1);
  for (int64_t i = 0; i < pb->n; i++) {
    double *a = dxt_values(ctx, pa->items[i]), *b = dxt_values(ctx, pb->items[i]);
    ck_assert_str_eq(pa->items[i]->name, pb->items[i]->name);
    ck_assert(memcmp(a, b, (size_t)dx_numel(pb->items[i]) * sizeof *a) == 0);
    free(a), free(b);
  }
  int64_t l01[2] = {0, 1}, l21[2] = {2, 1}, none[2] = {K, K};
  double *y01 = forward(ctx, net, l01, NULL), *y21 = forward(ctx, net, l21, NULL);
  double *yn = forward(ctx, net, none, NULL), *ynull = forward(ctx, net, NULL, NULL);
  ck_assert_ptr_nonnull(y01);
  /* Sample 0's class changed, sample 1's did not. */
  double d0 = 0, d1 = 0;
  for (int k = 0; k < C * 16; k++)
    d0 = fmax(d0, fabs(y01[k] - y21[k])), d1 = fmax(d1, fabs(y01[C * 16 + k] - y21[C * 16 + k]));
  ck_assert_msg(d0 > 1e-6 && d1 == 0, "class change: %g on its sample, %g on the other", d0, d1);
  ck_assert(diff(yn, ynull) == 0); /* no labels is "no class" */
  /* A row of the table is what the label adds: only the used rows get a
   * gradient. */
  dx_zero_grad(ctx, emb);
  int64_t xs[4] = {2, C, 4, 4}, ts[1] = {2};
  dx_tensor *x = dx_tensor_full(ctx, DX_F64, 4, xs, 0.3),
            *t = dx_tensor_full(ctx, DX_F64, 1, ts, 5);
  dx_unet_cond cond = {l21, NULL};
  ck_assert_int_eq(dx_backward(ctx, dx_sum(ctx, dx_unet_forward_cond(ctx, net, x, t, &cond, true))),
                   DX_OK);
  double *g = dxt_values(ctx, emb->grad);
  for (int r = 0; r <= K; r++) {
    double m = 0;
    for (int k = 0; k < 32; k++)
      m = fmax(m, fabs(g[r * 32 + k]));
    ck_assert_msg((r == 1 || r == 2) ? m > 0 : m == 0, "row %d gradient %g", r, m);
  }
  /* Labels outside [0, K], or given to an unconditional net, are refused. */
  int64_t bad[2] = {0, K + 1};
  ck_assert_ptr_null(forward(ctx, net, bad, NULL));
  ck_assert_int_eq(dx_status_of(ctx), DX_ERR_INVALID);
  dx_clear_error(ctx);
  ck_assert_ptr_null(forward(ctx, plain, l01, NULL));
  dx_clear_error(ctx);
  free(y01), free(y21), free(yn), free(ynull), free(g);
  dx_unet_free(net), dx_unet_free(plain);
  dxt_plugin_free(&block), dxt_plugin_free(&b0);
  dx_ctx_free(ctx);
}
END_TEST

/* The class table's gradient through the one-hot product, by finite
 * differences in float64 (the matmul op has its own; this checks the
 * wiring: the label picks the row that moves the output). */
static dx_tensor *through_net(dx_ctx *ctx, dx_tensor **in, void *user) {
  (void)in;
  dx_unet *net = user;
  int64_t xs[4] = {2, C, 4, 4}, ts[1] = {2}, labels[2] = {3, K};
  dx_tensor *x = dx_tensor_full(ctx, DX_F64, 4, xs, 0.2),
            *t = dx_tensor_full(ctx, DX_F64, 1, ts, 4);
  dx_unet_cond cond = {labels, NULL};
  return dx_unet_forward_cond(ctx, net, x, t, &cond, true);
}

START_TEST(class_embedding_gradient_by_finite_differences) {
  dx_ctx *ctx = dxt_ctx(1);
  dxt_plugin block;
  dx_unet *net = small_net(ctx, &block, K, false);
  dx_tensor *emb = dx_param_list_find(dx_unet_params(net), "classes_emb.weight");
  dxt_gradcheck_opts o = {.eps = 1e-6, .tol = 1e-5, .max_probe = 64};
  dxt_gradcheck(ctx, through_net, &emb, 1, net, &o);
  dx_unet_free(net);
  dxt_plugin_free(&block);
  dx_ctx_free(ctx);
}
END_TEST

START_TEST(a_self_conditioning_unet_takes_the_estimate) {
  dx_ctx *ctx = dxt_ctx(1);
  dxt_plugin block;
  dx_unet *net = small_net(ctx, &block, 0, true);
  dx_tensor *w = dx_param_list_find(dx_unet_params(net), "init_conv.weight");
  ck_assert_int_eq(w->shape[1], 2 * C);
  int64_t xs[4] = {2, C, 4, 4};
  dx_tensor *zeros = dx_tensor_zeros(ctx, DX_F64, 4, xs),
            *half = dx_tensor_full(ctx, DX_F64, 4, xs, 0.5);
  double *y0 = forward(ctx, net, NULL, NULL), *yz = forward(ctx, net, NULL, zeros);
  double *yh = forward(ctx, net, NULL, half);
  ck_assert(diff(y0, yz) == 0); /* none is zeros */
  ck_assert(diff(y0, yh) > 1e-6);
  free(y0), free(yz), free(yh);
  dx_unet_free(net);
  dxt_plugin_free(&block);
  dx_ctx_free(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("guidance");
  TCase *tc = tcase_create("guidance");
  tcase_set_timeout(tc, 120);
  DXT_ADD(tc, guided_eps_is_the_formula_in_eps_space);
  DXT_ADD(tc, the_loop_guides_in_one_batched_pass);
  DXT_ADD(tc, self_conditioning_feeds_the_previous_x0);
  DXT_ADD(tc, offset_noise_adds_one_draw_per_image_and_channel);
  DXT_ADD(tc, the_class_embedding_conditions_the_unet);
  DXT_ADD(tc, class_embedding_gradient_by_finite_differences);
  DXT_ADD(tc, a_self_conditioning_unet_takes_the_estimate);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
