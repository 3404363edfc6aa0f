/* bench/train_step: one DDPM training step of the peer's network, timed as
 * ../shared/bench/peer_torch_unet.py times its own: the annotated U-Net
 * (dim_mults 1,2,4; ResNet blocks with 4 groups or ConvNeXt blocks; linear
 * attention per level, full attention in the middle), a linear schedule with
 * T = 1000, x0 uniform in [-1, 1], t uniform, smooth-L1 on eps, backward,
 * Adam at 2e-4. --mode sample times one forward pass without the tape.
 * Not a test: it prints and judges nothing.
 *
 *   train_step [--mode train|sample] [--dim 28] [--mults 1,2,4] [--batch 128]
 *              [--size 28] [--steps 5] [--threads N] [--block resnet|convnext]
 *              [--device cpu|cuda|cuda:N] [--recompute 0|1] [--scopes 0|1]
 *              [--tf32 on|off] [--cudnn deterministic|fastest]
 *
 * --recompute 1 trains with activation recomputation per U-Net level
 * (train.recompute): compare peak_rss_mb and arena_peak_mb with and without.
 * --scopes 0 keeps every activation to the end of the step (no
 * dx_scope_end gives anything back), the memory before scopes.
 * --tf32 and --cudnn are an experiment's cuda.tf32 and cuda.deterministic
 * (docs/experiment.md); the defaults, off and deterministic, are FP32
 * throughout.
 *
 * On a GPU every step ends with dx_synchronize, so that the time is the
 * device's, not the time to queue the kernels (the peer calls
 * torch.cuda.synchronize() likewise).
 *
 * The first step is a warm-up and is not timed, as in the peer. Both
 * networks are the same parameter for parameter (tests/test_unet.c), so
 * bench/compare_peer.sh turns both times into GFLOP/s with the peer's own
 * FLOP count. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ddpmx/diffusion.h"
#include "model/unet.h"
#include "plugin/loader.h"
#include "train/optim.h"

typedef struct opts {
  const char *mode, *block;
  int64_t dim, batch, size, steps;
  int threads;
  int n_levels;
  int64_t mults[DX_UNET_MAX_LEVELS];
  dx_device device;
  bool recompute;
  dx_gpu_opts gpu;
  bool scopes;
} opts;

/* "1,2,2,2" -> mults; false when malformed. */
static bool parse_mults(const char *v, opts *o) {
  o->n_levels = 0;
  for (const char *p = v; *p;) {
    char *end;
    long m = strtol(p, &end, 10);
    if (end == p || m < 1 || o->n_levels == DX_UNET_MAX_LEVELS) return false;
    o->mults[o->n_levels++] = m;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return false;
  }
  return o->n_levels > 0;
}

/* "cpu", "cuda", "cuda:N" */
static bool parse_device(const char *v, dx_device *d) {
  if (!strcmp(v, "cpu")) return *d = (dx_device){DX_DEVICE_CPU, 0}, true;
  if (!strcmp(v, "cuda")) return *d = (dx_device){DX_DEVICE_CUDA, 0}, true;
  if (!strncmp(v, "cuda:", 5) && v[5]) return *d = (dx_device){DX_DEVICE_CUDA, atoi(v + 5)}, true;
  return false;
}

typedef struct bound {
  dx_plugin *p;
  dx_params *params;
} bound;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.mode = "train",
              .block = "resnet",
              .dim = 28,
              .batch = 128,
              .size = 28,
              .steps = 5,
              .n_levels = 3,
              .mults = {1, 2, 4},
              .device = {DX_DEVICE_CPU, 0},
              .scopes = true};
  for (int i = 1; i < argc; i += 2) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(k, "--mode"))
      o->mode = v;
    else if (!strcmp(k, "--mults")) {
      if (!parse_mults(v, o))
        return fprintf(stderr, "train_step: --mults '%s': want e.g. 1,2,2,2\n", v), 2;
    } else if (!strcmp(k, "--device")) {
      if (!parse_device(v, &o->device))
        return fprintf(stderr, "train_step: --device '%s': want cpu, cuda or cuda:N\n", v), 2;
    } else if (!strcmp(k, "--block"))
      o->block = v;
    else if (!strcmp(k, "--dim"))
      o->dim = atoll(v);
    else if (!strcmp(k, "--batch"))
      o->batch = atoll(v);
    else if (!strcmp(k, "--size"))
      o->size = atoll(v);
    else if (!strcmp(k, "--steps"))
      o->steps = atoll(v);
    else if (!strcmp(k, "--threads"))
      o->threads = atoi(v);
    else if (!strcmp(k, "--recompute"))
      o->recompute = atoi(v) != 0;
    else if (!strcmp(k, "--tf32") && (!strcmp(v, "on") || !strcmp(v, "off")))
      o->gpu.tf32 = !strcmp(v, "on");
    else if (!strcmp(k, "--cudnn") && (!strcmp(v, "deterministic") || !strcmp(v, "fastest")))
      o->gpu.fastest_algorithms = !strcmp(v, "fastest");
    else if (!strcmp(k, "--scopes"))
      o->scopes = atoi(v) != 0;
    else
      return fprintf(stderr,
                     "train_step: unknown option or value '%s %s' (see the comment atop "
                     "bench/train_step.c)\n",
                     k, v),
             2;
  }
  return strcmp(o->mode, "train") && strcmp(o->mode, "sample") ? 2 : 0;
}

static bound load(dx_plugin_path *sp, const char *name, const char *key, const char *value) {
  bound b = {0};
  char err[512];
  dx_plugin_arg arg = {
      (char *)key, (char *)value, DX_SCALAR_PLAIN, {"bench", 1, 1}, {"bench", 1, 1}};
  dx_plugin_ref ref = {(char *)name, {"bench", 1, 1}, key ? &arg : NULL, key ? 1 : 0};
  if (dx_plugin_load(sp, name, DX_KIND_BLOCK, "model.block", &b.p, err, sizeof err) != DX_OK ||
      dx_params_create(b.p->desc, &ref, &b.params, err, sizeof err) != DX_OK) {
    fprintf(stderr, "train_step: %s\n", err);
    exit(1);
  }
  return b;
}

static dx_unet *build(dx_ctx *ctx, const opts *o, bound *b) {
  dx_plugin_path *sp = dx_plugin_path_create(NULL, 0);
  b[0] = !strcmp(o->block, "resnet") ? load(sp, "resnet", "groups", "4")
                                     : load(sp, o->block, NULL, NULL);
  b[1] = load(sp, "attention_linear", NULL, NULL);
  b[2] = load(sp, "attention_full", NULL, NULL);
  dx_plugin_path_free(sp);
  dx_unet_config c = {.in_channels = 1,
                      .out_channels = 1,
                      .dim = o->dim,
                      .n_levels = o->n_levels,
                      .image_size = o->size,
                      .recompute = o->recompute};
  memcpy(c.mults, o->mults, sizeof c.mults);
  c.block = (dx_block_spec){b[0].p->desc, b[0].params};
  for (int i = 0; i < o->n_levels; i++)
    c.attention[i] = (dx_block_spec){b[1].p->desc, b[1].params};
  c.mid_attention = (dx_block_spec){b[2].p->desc, b[2].params};
  return dx_unet_create(ctx, &c, 0);
}

/* smooth_l1(a, b) with beta 1, mean over all elements */
static dx_tensor *smooth_l1(dx_ctx *ctx, dx_tensor *a, dx_tensor *b) {
  dx_tensor *d = dx_sub(ctx, a, b), *ad = dx_abs(ctx, d);
  dx_tensor *quad = dx_scale(ctx, dx_square(ctx, d), 0.5), *lin = dx_add_scalar(ctx, ad, -0.5);
  return dx_mean(ctx, dx_where(ctx, dx_compare(ctx, ad, DX_CMP_LT, 1.0), quad, lin));
}

/* One step; returns 0 or prints why not. */
static int step(dx_ctx *ctx, dx_unet *net, dx_optim *opt, const dx_diffusion *d, const opts *o,
                int64_t i, int64_t *t) {
  int64_t xs[4] = {o->batch, 1, o->size, o->size}, ts[1] = {o->batch};
  bool train = !strcmp(o->mode, "train");
  dx_step_reset(ctx);
  dx_tensor *x0 = dx_tensor_new(ctx, DX_F32, 4, xs), *eps = dx_tensor_new(ctx, DX_F32, 4, xs);
  dx_tensor *tt = dx_tensor_new(ctx, DX_F32, 1, ts);
  double *tv = malloc((size_t)o->batch * sizeof *tv);
  for (int64_t k = 0; k < o->batch; k++)
    t[k] = (k * 7919 + i * 104729) % d->T, tv[k] = (double)t[k];
  dx_tensor_write(ctx, tt, tv, DX_F64);
  free(tv);
  dx_tensor_rand(ctx, x0, 1, (uint64_t)i * 1000003);
  dx_tensor_randn(ctx, eps, 2, (uint64_t)i * 1000003);
  x0 = dx_add_scalar(ctx, dx_scale(ctx, x0, 2.0), -1.0);
  dx_set_grad_enabled(ctx, train);
  dx_tensor *y = dx_unet_forward(ctx, net, dx_q_sample(ctx, d, x0, t, eps), tt, train);
  if (train) {
    dx_tensor *loss = smooth_l1(ctx, y, eps);
    dx_zero_grads(ctx, dx_unet_params(net));
    if (dx_backward(ctx, loss) == DX_OK) dx_optim_step(opt, 2e-4);
  }
  dx_synchronize(ctx); /* a GPU's time, not the time to queue its kernels */
  if (dx_status_of(ctx) != DX_OK)
    return fprintf(stderr, "train_step: %s\n", dx_error_message(ctx)), 1;
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  opts o;
  char err[512];
  if (parse(argc, argv, &o)) return 2;
  dx_ctx_opts co = {.device = o.device, .threads = o.threads, .gpu = o.gpu};
  dx_ctx *ctx = dx_ctx_create(&co, err, sizeof err);
  if (ctx) dx_set_scopes_enabled(ctx, o.scopes);
  bound b[3];
  dx_unet *net = ctx ? build(ctx, &o, b) : NULL;
  if (!net) return fprintf(stderr, "train_step: %s\n", ctx ? dx_error_message(ctx) : err), 1;
  dx_optim_config oc = {DX_OPTIM_ADAM, 0.9, 0.999, 1e-8, 0};
  dx_optim *opt = dx_optim_create(ctx, dx_unet_params(net), &oc);
  double beta[1000];
  for (int k = 0; k < 1000; k++)
    beta[k] = 1e-4 + (0.02 - 1e-4) * k / 999.0;
  dx_diffusion *d = dx_diffusion_create(ctx, beta, 1000);
  int64_t *t = malloc((size_t)o.batch * sizeof *t);
  double *times = malloc((size_t)o.steps * sizeof *times);
  for (int64_t i = 0; i <= o.steps; i++) {
    double t0 = now();
    if (step(ctx, net, opt, d, &o, i, t)) return 1;
    if (i) times[i - 1] = now() - t0;
  }
  qsort(times, (size_t)o.steps, sizeof *times, cmp);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double med = times[o.steps / 2];
  dx_arena_stats as = dx_arena_stats_of(ctx);
  printf("mode=%s device=%s params=%" PRId64
         " threads=%d step_s_median=%.3f step_s_min=%.3f img_per_s=%.1f peak_rss_mb=%.0f "
         "arena_peak_mb=%.0f recompute=%d scopes=%d\n",
         o.mode, dx_ctx_device_name(ctx), dx_param_list_numel(dx_unet_params(net)),
         dx_ctx_threads(ctx), med, times[0], (double)o.batch / med, (double)ru.ru_maxrss / 1024.0,
         (double)as.peak / 1048576.0, o.recompute, o.scopes);
  return 0;
}
