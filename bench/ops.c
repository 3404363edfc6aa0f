/* bench/ops: GFLOP/s of the CPU backend's GEMM and convolution kernels at the
 * U-Net's shapes (issue 2). Not a test: it prints a table and judges nothing.
 *
 *   ops [--threads N] [--reps N] [--batch N] [--clock wall|cpu]
 *
 * Kernels are called through the backend table, as the tensor core calls
 * them, so the figures are the kernels' own: no tape, no gradient buffers.
 * FLOPs per pass: 2 N Co Ho Wo (Ci/groups) kh kw, the same for forward,
 * backward-data and backward-weights (bias work is done but not counted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensor/internal.h"

/* OpenBLAS's name for the kernels it picked at load time (it reads
 * OPENBLAS_CORETYPE then; see README.md). */
char *openblas_get_corename(void);

typedef struct shape {
  int64_t c, hw, k;
  int groups;
} shape;

/* Channels and size of each U-Net level (dim 28, mults 1,2,4), 3x3 and 1x1:
 * the shapes, averaged. */
static const shape shapes[] = {{28, 28, 3, 1}, {56, 14, 3, 1}, {112, 7, 3, 1},
                               {28, 28, 1, 1}, {56, 14, 1, 1}, {112, 7, 1, 1}};
#define NSHAPES (sizeof shapes / sizeof shapes[0])
/* ConvNeXt's depthwise 7x7 at the same levels: shown, not averaged. */
static const shape depthwise[] = {{28, 28, 7, 28}, {56, 14, 7, 56}, {112, 7, 7, 112}};
#define NDEPTHWISE (sizeof depthwise / sizeof depthwise[0])

typedef struct opts {
  int threads, reps;
  int64_t batch;
  bool cpu_clock;
} opts;

/* Wall time, or the process's CPU time: on a shared machine with --threads
 * 1 the latter is the kernel's own time, whoever else holds the cores
 * (with more threads it also counts time spent waiting at barriers). */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void) {
  struct timespec ts;
  clock_gettime(clock_id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct timing {
  double best, median; /* seconds */
} timing;

/* What one timed call does: a kernel on prepared buffers. */
typedef struct job job;
typedef void (*job_fn)(const job *j);
struct job {
  dx_backend *be;
  dx_conv2d_desc d;
  dx_tensor *x, *w, *b, *y, *dx, *dw, *db;
  void *ws;
  job_fn fn;
};

static timing time_job(const job *j, int reps) {
  double *t = malloc((size_t)reps * sizeof *t);
  j->fn(j); /* warm-up: page faults, BLAS buffers */
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    j->fn(j);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_double);
  timing out = {t[0], t[reps / 2]};
  free(t);
  return out;
}

static void run_fwd(const job *j) {
  j->be->conv2d_fwd(j->be, &j->d, j->x, j->w, j->b, j->y, j->ws);
}
static void run_bwd_data(const job *j) {
  j->be->conv2d_bwd_data(j->be, &j->d, j->y, j->w, j->dx, j->ws);
}
static void run_bwd_filter(const job *j) {
  j->be->conv2d_bwd_filter(j->be, &j->d, j->x, j->y, j->dw, j->db, j->ws);
}
static void run_gemm(const job *j) {
  int64_t n = j->x->shape[0];
  j->be->gemm(j->be, DX_F32, false, false, n, n, n, 1.0, j->x->data, n, 0, j->w->data, n, 0, 0.0,
              j->y->data, n, 0, 1);
}

static dx_tensor *randn(dx_ctx *ctx, int ndim, const int64_t *shape, uint64_t seed) {
  dx_tensor *t = dx_tensor_new(ctx, DX_F32, ndim, shape);
  if (t) dx_tensor_randn(ctx, t, seed, 0);
  return t;
}

static void row(const char *op, const char *what, double gflop, timing t) {
  printf("%-13s %-22s %8.3f %9.2f %9.1f %9.1f\n", op, what, gflop, 1e3 * t.best, gflop / t.best,
         gflop / t.median);
}

/* Times the 2048^3 product; returns its best GFLOP/s, or -1. */
static double bench_gemm(dx_ctx *ctx, const opts *o) {
  int64_t n = 2048, s[2] = {n, n};
  job j = {.be = ctx->be, .fn = run_gemm};
  j.x = randn(ctx, 2, s, 1), j.w = randn(ctx, 2, s, 2), j.y = dx_tensor_new(ctx, DX_F32, 2, s);
  if (!j.x || !j.w || !j.y) return -1;
  double gflop = 2.0 * (double)n * n * n * 1e-9;
  timing t = time_job(&j, o->reps);
  row("sgemm", "2048^3", gflop, t);
  dx_step_reset(ctx);
  return gflop / t.best;
}

/* Times the three passes at one shape; returns their summed best times. */
static double bench_conv(dx_ctx *ctx, const opts *o, const shape *sh, double *gflop_out) {
  job j = {.be = ctx->be};
  j.d = (dx_conv2d_desc){.n = o->batch,
                         .ci = sh->c,
                         .h = sh->hw,
                         .w = sh->hw,
                         .co = sh->c,
                         .kh = sh->k,
                         .kw = sh->k,
                         .ho = sh->hw,
                         .wo = sh->hw,
                         .stride = 1,
                         .pad = (int)(sh->k / 2),
                         .groups = sh->groups,
                         .dtype = DX_F32};
  int64_t xs[4] = {o->batch, sh->c, sh->hw, sh->hw},
          ws[4] = {sh->c, sh->c / sh->groups, sh->k, sh->k};
  int64_t bs[1] = {sh->c};
  j.x = randn(ctx, 4, xs, 3), j.w = randn(ctx, 4, ws, 4), j.b = randn(ctx, 1, bs, 5);
  j.y = randn(ctx, 4, xs, 6), j.dx = dx_tensor_zeros(ctx, DX_F32, 4, xs);
  j.dw = dx_tensor_zeros(ctx, DX_F32, 4, ws), j.db = dx_tensor_zeros(ctx, DX_F32, 1, bs);
  size_t wsb = ctx->be->conv2d_workspace(ctx->be, &j.d);
  j.ws = wsb ? dx_scratch(ctx, wsb) : NULL;
  if (dx_status_of(ctx) != DX_OK) return -1;
  double gflop =
      2.0 * (double)(o->batch * sh->c * sh->hw * sh->hw * (sh->c / sh->groups) * sh->k * sh->k) *
      1e-9;
  char what[64];
  snprintf(what, sizeof what, "%lldx%lldx%lldx%lld k%lld%s", (long long)o->batch, (long long)sh->c,
           (long long)sh->hw, (long long)sh->hw, (long long)sh->k, sh->groups > 1 ? " dw" : "");
  const char *names[3] = {"conv fwd", "conv bwd-data", "conv bwd-w"};
  job_fn fns[3] = {run_fwd, run_bwd_data, run_bwd_filter};
  double total = 0;
  for (int p = 0; p < 3; p++) {
    j.fn = fns[p];
    timing t = time_job(&j, o->reps);
    row(names[p], what, gflop, t);
    total += t.best;
  }
  dx_step_reset(ctx);
  *gflop_out = 3 * gflop;
  return total;
}

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){.threads = 0, .reps = 5, .batch = 128};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return 1;
    if (!strcmp(a, "--threads"))
      o->threads = atoi(v);
    else if (!strcmp(a, "--reps"))
      o->reps = atoi(v);
    else if (!strcmp(a, "--batch"))
      o->batch = atoll(v);
    else if (!strcmp(a, "--clock") && (!strcmp(v, "wall") || !strcmp(v, "cpu")))
      o->cpu_clock = !strcmp(v, "cpu");
    else
      return 1;
    i++;
  }
  return o->reps < 1 || o->batch < 1 || o->threads < 0;
}

int main(int argc, char **argv) {
  opts o;
  if (parse(argc, argv, &o)) {
    fprintf(stderr, "usage: %s [--threads N] [--reps N] [--batch N] [--clock wall|cpu]\n", argv[0]);
    return 2;
  }
  if (o.cpu_clock) clock_id = CLOCK_PROCESS_CPUTIME_ID;
  char err[256];
  dx_ctx *ctx = dx_ctx_create(&(dx_ctx_opts){.threads = o.threads}, err, sizeof err);
  if (!ctx) {
    fprintf(stderr, "ops: %s\n", err);
    return 1;
  }
  printf("threads %d, reps %d (best and median of the reps), %s time, float32, OpenBLAS kernels: "
         "%s\n\n",
         dx_ctx_threads(ctx), o.reps, o.cpu_clock ? "CPU" : "wall", openblas_get_corename());
  printf("%-13s %-22s %8s %9s %9s %9s\n", "op", "shape", "GFLOP", "best ms", "GFLOP/s", "median");
  double sgemm = bench_gemm(ctx, &o);
  if (sgemm < 0) goto fail;
  double mean = 0, flops = 0, secs = 0;
  for (size_t s = 0; s < NSHAPES; s++) {
    double gflop, t = bench_conv(ctx, &o, &shapes[s], &gflop);
    if (t < 0) goto fail;
    mean += gflop / t / (double)NSHAPES, flops += gflop, secs += t;
  }
  printf("\nconv fwd+bwd-data+bwd-w, GFLOP/s per shape averaged over the %zu shapes: %.1f\n",
         NSHAPES, mean);
  printf("  that average over the sgemm rate (issue 14 asks >= 80 %%):        %.0f %%\n",
         100.0 * mean / sgemm);
  printf("conv fwd+bwd-data+bwd-w, all FLOPs over all time:                  %.1f\n\n",
         flops / secs);
  for (size_t s = 0; s < NDEPTHWISE; s++) {
    double gflop;
    if (bench_conv(ctx, &o, &depthwise[s], &gflop) < 0) goto fail;
  }
  dx_ctx_free(ctx);
  return 0;
fail:
  fprintf(stderr, "ops: %s\n", dx_error_message(ctx));
  dx_ctx_free(ctx);
  return 1;
}
