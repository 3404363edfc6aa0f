/* Every block plugin's forward, differentiated by the tape, against central
 * finite differences in float64: the gradient of each input (x, the time
 * embedding) and of each parameter the block declares. */
#include <stdlib.h>
#include <string.h>

#include "dx_test.h"
#include "dxt_plugin.h"
#include "model/module.h"

typedef struct block_case {
  const char *name;
  const char *kv[2];
  int nkv;
  int64_t in_ch, out_ch, time_dim;
} block_case;

typedef struct live {
  const dx_block_ops *ops;
  void *state;
} live;

static dx_tensor *run_block(dx_ctx *ctx, dx_tensor **in, void *user) {
  live *b = user;
  return b->ops->forward(ctx, b->state, in[0], b->ops->roles & DX_BLOCK_ROLE_RES ? in[1] : NULL,
                         false);
}

static void check_block(const block_case *c) {
  dx_ctx *ctx = dxt_ctx(1);
  dxt_plugin p = dxt_plugin_load(c->name, DX_KIND_BLOCK, c->kv, c->nkv);
  live b = {p.ops, NULL};
  dx_param_list params = {0};
  uint64_t offset = 0;
  dx_module *m = dx_module_create(ctx, &params, "blk", 7, &offset);
  dx_module_set_dtype(m, DX_F64);
  dx_block_shape shape = {c->in_ch, c->out_ch, c->time_dim, 5, 5};
  ck_assert_msg(b.ops->create(m, p.params, &shape, &b.state) == DX_OK, "%s: %s", c->name,
                dx_error_message(ctx));
  dx_module_free(m);
  /* Norm affines away from 1 and 0, so that a backward ignoring them shows. */
  for (int64_t i = 0; i < params.n; i++) {
    dx_tensor *t = dxt_param(ctx, DX_F64, params.items[i]->ndim, params.items[i]->shape, -0.6, 0.6,
                             100 + (uint64_t)i);
    dx_tensor_copy(ctx, params.items[i], t);
    dx_tensor_free(ctx, t);
  }
  int64_t xs[4] = {2, c->in_ch, 5, 5}, ts[2] = {2, c->time_dim};
  int n_in = 0;
  dx_tensor **in = calloc((size_t)(params.n + 2), sizeof *in);
  in[n_in++] = dxt_param(ctx, DX_F64, 4, xs, -1, 1, 1);
  if (b.ops->roles & DX_BLOCK_ROLE_RES) in[n_in++] = dxt_param(ctx, DX_F64, 2, ts, -1, 1, 2);
  for (int64_t i = 0; i < params.n; i++)
    in[n_in++] = params.items[i];
  dxt_gradcheck_opts o = {.eps = 1e-6, .tol = 1e-6, .max_probe = 48};
  double err = dxt_gradcheck(ctx, run_block, in, n_in, &b, &o);
  ck_assert_double_le(err, 1e-6);
  b.ops->destroy(b.state);
  dx_param_list_free(ctx, &params);
  free(in);
  dxt_plugin_free(&p);
  dx_ctx_free(ctx);
}

static const block_case cases[] = {
    {"resnet", {"groups=2"}, 1, 4, 6, 8},
    {"resnet", {"groups=2", "weight_standardization=true"}, 2, 4, 4, 8},
    {"convnext", {"mult=2"}, 1, 4, 6, 8},
    {"convnext", {"norm=false"}, 1, 4, 4, 8},
    {"attention_linear", {"heads=2", "dim_head=3"}, 2, 4, 4, 0},
    {"attention_full", {"heads=2", "dim_head=3"}, 2, 4, 4, 0},
};

START_TEST(block_gradients) { check_block(&cases[_i]); }
END_TEST

int main(void) {
  Suite *s = suite_create("blocks");
  TCase *tc = tcase_create("blocks");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, block_gradients, 0, (int)(sizeof cases / sizeof cases[0]));
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
