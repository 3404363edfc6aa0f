/* CUDA kernels: 2-D convolution through cuDNN's legacy API (libcudnn_cnn),
 * forward, backward-data and backward-filter with its bias gradient.
 *
 * The descriptors and the three algorithms are chosen once per geometry and
 * cached. With determinism asked for (the default, backend.c), the choice
 * follows cuDNN's heuristics (a function of the device and the shape, so the
 * same on every run) among the algorithms that give the same bits every
 * time; otherwise cuDNN times every algorithm and the fastest wins. Unless
 * TF32 is allowed, the math type is FMA, so FP32 convolutions round as FP32
 * (cuDNN's default lets Ampere and later use TF32 tensor cores). */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda.h"

/* The most workspace one algorithm may ask for. */
#define MAX_WORKSPACE ((size_t)1 << 30)

struct dx_cuda_conv_cache {
  dx_conv2d_desc d;
  cudnnTensorDescriptor_t x, y, bias;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  size_t workspace; /* the largest of the three algorithms' */
  dx_cuda_conv_cache *next;
};

static bool same_geometry(const dx_conv2d_desc *a, const dx_conv2d_desc *b) {
  return a->n == b->n && a->ci == b->ci && a->h == b->h && a->w == b->w && a->co == b->co &&
         a->kh == b->kh && a->kw == b->kw && a->ho == b->ho && a->wo == b->wo &&
         a->stride == b->stride && a->pad == b->pad && a->groups == b->groups &&
         a->dtype == b->dtype;
}

static void entry_free(dx_cuda_conv_cache *e) {
  if (e->x) cudnnDestroyTensorDescriptor(e->x);
  if (e->y) cudnnDestroyTensorDescriptor(e->y);
  if (e->bias) cudnnDestroyTensorDescriptor(e->bias);
  if (e->w) cudnnDestroyFilterDescriptor(e->w);
  if (e->conv) cudnnDestroyConvolutionDescriptor(e->conv);
  free(e);
}

void dx_cuda_conv_free(dx_cuda *c) {
  for (dx_cuda_conv_cache *e = c->conv, *next; e; e = next) {
    next = e->next;
    entry_free(e);
  }
  c->conv = NULL;
}

/* Is an algorithm acceptable: it ran, fits, is deterministic when that is
 * asked for, and was not timed on tensor cores unless TF32 is allowed (it
 * then runs with the descriptor's math type, FMA). */
static bool acceptable(const dx_cuda *c, cudnnStatus_t st, size_t memory, cudnnDeterminism_t det,
                       cudnnMathType_t math) {
  bool tensor_op = math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
  return st == CUDNN_STATUS_SUCCESS && memory <= MAX_WORKSPACE &&
         (!c->deterministic || det == CUDNN_DETERMINISTIC) && (c->tf32 || !tensor_op);
}

/* Picks the first acceptable result of a Find (ordered by time) or a Get_v7
 * (ordered by the heuristics' preference), else keeps the fallback. */
#define PICK(c, perf, count, out, ws)                                                              \
  do {                                                                                             \
    for (int i_ = 0; i_ < (count); i_++)                                                           \
      if (acceptable(c, perf[i_].status, perf[i_].memory, perf[i_].determinism,                    \
                     perf[i_].mathType)) {                                                         \
        (out) = perf[i_].algo;                                                                     \
        (ws) = perf[i_].memory;                                                                    \
        break;                                                                                     \
      }                                                                                            \
  } while (0)

/* The three algorithms of an entry. The fallbacks (implicit GEMM, and the
 * ALGO_1 backwards) are deterministic, need little workspace and support
 * every geometry. */
static bool choose(dx_backend *be, dx_cuda_conv_cache *e) {
  dx_cuda *c = dx_cuda_of(be);
  int count = 0;
  size_t ws_f = 0, ws_d = 0, ws_w = 0;
  e->fwd = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  e->bwd_data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  e->bwd_filter = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  cudnnConvolutionFwdAlgoPerf_t pf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  cudnnConvolutionBwdDataAlgoPerf_t pd[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  cudnnConvolutionBwdFilterAlgoPerf_t pw[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  cudnnStatus_t st;
  if (c->deterministic)
    st = cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, e->x, e->w, e->conv, e->y,
                                                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, pf);
  else
    st = cudnnFindConvolutionForwardAlgorithm(c->dnn, e->x, e->w, e->conv, e->y,
                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, pf);
  if (st == CUDNN_STATUS_SUCCESS) PICK(c, pf, count, e->fwd, ws_f);
  if (c->deterministic)
    st = cudnnGetConvolutionBackwardDataAlgorithm_v7(
        c->dnn, e->w, e->y, e->conv, e->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, pd);
  else
    st = cudnnFindConvolutionBackwardDataAlgorithm(
        c->dnn, e->w, e->y, e->conv, e->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, pd);
  if (st == CUDNN_STATUS_SUCCESS) PICK(c, pd, count, e->bwd_data, ws_d);
  if (c->deterministic)
    st = cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        c->dnn, e->x, e->y, e->conv, e->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, pw);
  else
    st = cudnnFindConvolutionBackwardFilterAlgorithm(
        c->dnn, e->x, e->y, e->conv, e->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, pw);
  if (st == CUDNN_STATUS_SUCCESS) PICK(c, pw, count, e->bwd_filter, ws_w);
  /* The sizes for the algorithms actually kept (a fallback's included). */
  bool ok = dx_cuda_dnn_ok(be,
                           cudnnGetConvolutionForwardWorkspaceSize(c->dnn, e->x, e->w, e->conv,
                                                                   e->y, e->fwd, &ws_f),
                           "conv2d: forward workspace") &&
            dx_cuda_dnn_ok(be,
                           cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, e->w, e->y, e->conv,
                                                                        e->x, e->bwd_data, &ws_d),
                           "conv2d: backward-data workspace") &&
            dx_cuda_dnn_ok(be,
                           cudnnGetConvolutionBackwardFilterWorkspaceSize(
                               c->dnn, e->x, e->y, e->conv, e->w, e->bwd_filter, &ws_w),
                           "conv2d: backward-filter workspace");
  e->workspace = ws_f > ws_d ? ws_f : ws_d;
  if (ws_w > e->workspace) e->workspace = ws_w;
  return ok;
}

/* The cache entry of d, made on first use; NULL (recorded) on failure. */
static dx_cuda_conv_cache *entry_of(dx_backend *be, const dx_conv2d_desc *d) {
  dx_cuda *c = dx_cuda_of(be);
  for (dx_cuda_conv_cache *e = c->conv; e; e = e->next)
    if (same_geometry(&e->d, d)) return e;
  dx_cuda_conv_cache *e = calloc(1, sizeof *e);
  if (!e) {
    dx_cuda_ok(be, cudaErrorMemoryAllocation, "conv2d: descriptor cache");
    return NULL;
  }
  e->d = *d;
  cudnnDataType_t t = d->dtype == DX_F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  bool ok =
      dx_cuda_dnn_ok(be, cudnnCreateTensorDescriptor(&e->x), "conv2d: descriptor") &&
      dx_cuda_dnn_ok(be, cudnnCreateTensorDescriptor(&e->y), "conv2d: descriptor") &&
      dx_cuda_dnn_ok(be, cudnnCreateTensorDescriptor(&e->bias), "conv2d: descriptor") &&
      dx_cuda_dnn_ok(be, cudnnCreateFilterDescriptor(&e->w), "conv2d: descriptor") &&
      dx_cuda_dnn_ok(be, cudnnCreateConvolutionDescriptor(&e->conv), "conv2d: descriptor") &&
      dx_cuda_dnn_ok(be,
                     cudnnSetTensor4dDescriptor(e->x, CUDNN_TENSOR_NCHW, t, (int)d->n, (int)d->ci,
                                                (int)d->h, (int)d->w),
                     "conv2d: input descriptor") &&
      dx_cuda_dnn_ok(be,
                     cudnnSetTensor4dDescriptor(e->y, CUDNN_TENSOR_NCHW, t, (int)d->n, (int)d->co,
                                                (int)d->ho, (int)d->wo),
                     "conv2d: output descriptor") &&
      dx_cuda_dnn_ok(be,
                     cudnnSetTensor4dDescriptor(e->bias, CUDNN_TENSOR_NCHW, t, 1, (int)d->co, 1, 1),
                     "conv2d: bias descriptor") &&
      dx_cuda_dnn_ok(be,
                     cudnnSetFilter4dDescriptor(e->w, t, CUDNN_TENSOR_NCHW, (int)d->co,
                                                (int)(d->ci / d->groups), (int)d->kh, (int)d->kw),
                     "conv2d: filter descriptor") &&
      dx_cuda_dnn_ok(be,
                     cudnnSetConvolution2dDescriptor(e->conv, d->pad, d->pad, d->stride, d->stride,
                                                     1, 1, CUDNN_CROSS_CORRELATION, t),
                     "conv2d: convolution descriptor") &&
      dx_cuda_dnn_ok(be, cudnnSetConvolutionGroupCount(e->conv, d->groups), "conv2d: groups") &&
      dx_cuda_dnn_ok(
          be, cudnnSetConvolutionMathType(e->conv, c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH),
          "conv2d: math type") &&
      choose(be, e);
  if (!ok) {
    entry_free(e);
    return NULL;
  }
  e->next = c->conv;
  c->conv = e;
  return e;
}

static size_t cuda_conv2d_workspace(dx_backend *be, const dx_conv2d_desc *d) {
  dx_cuda_conv_cache *e = entry_of(be, d);
  return e ? e->workspace : 0;
}

/* Scaling factors as cuDNN wants them: double for double data, else float. */
typedef struct scale {
  float f;
  double d;
} scale;
static const void *sc(const scale *s, dx_dtype dt) {
  return dt == DX_F32 ? (const void *)&s->f : (const void *)&s->d;
}
static const scale ONE = {1.0f, 1.0}, ZERO = {0.0f, 0.0};

/* y = conv(x, w) (+ b) */
static void cuda_conv2d_fwd(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *x,
                            const dx_tensor *w, const dx_tensor *b, dx_tensor *y, void *ws) {
  dx_cuda *c = dx_cuda_of(be);
  dx_cuda_conv_cache *e = entry_of(be, d);
  if (!e) return;
  if (!dx_cuda_dnn_ok(be,
                      cudnnConvolutionForward(c->dnn, sc(&ONE, d->dtype), e->x, x->data, e->w,
                                              w->data, e->conv, e->fwd, ws, e->workspace,
                                              sc(&ZERO, d->dtype), e->y, y->data),
                      "conv2d: forward"))
    return;
  if (b)
    dx_cuda_dnn_ok(be,
                   cudnnAddTensor(c->dnn, sc(&ONE, d->dtype), e->bias, b->data, sc(&ONE, d->dtype),
                                  e->y, y->data),
                   "conv2d: bias");
}

/* dx += conv_transpose(dy, w) */
static void cuda_conv2d_bwd_data(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *dy,
                                 const dx_tensor *w, dx_tensor *dx, void *ws) {
  dx_cuda *c = dx_cuda_of(be);
  dx_cuda_conv_cache *e = entry_of(be, d);
  if (!e || !dx) return;
  dx_cuda_dnn_ok(be,
                 cudnnConvolutionBackwardData(c->dnn, sc(&ONE, d->dtype), e->w, w->data, e->y,
                                              dy->data, e->conv, e->bwd_data, ws, e->workspace,
                                              sc(&ONE, d->dtype), e->x, dx->data),
                 "conv2d: backward data");
}

/* dw += corr(x, dy); db += sum of dy over N, H, W; either may be NULL */
static void cuda_conv2d_bwd_filter(dx_backend *be, const dx_conv2d_desc *d, const dx_tensor *x,
                                   const dx_tensor *dy, dx_tensor *dw, dx_tensor *db, void *ws) {
  dx_cuda *c = dx_cuda_of(be);
  dx_cuda_conv_cache *e = entry_of(be, d);
  if (!e) return;
  if (dw)
    dx_cuda_dnn_ok(be,
                   cudnnConvolutionBackwardFilter(c->dnn, sc(&ONE, d->dtype), e->x, x->data, e->y,
                                                  dy->data, e->conv, e->bwd_filter, ws,
                                                  e->workspace, sc(&ONE, d->dtype), e->w, dw->data),
                   "conv2d: backward filter");
  if (db)
    dx_cuda_dnn_ok(be,
                   cudnnConvolutionBackwardBias(c->dnn, sc(&ONE, d->dtype), e->y, dy->data,
                                                sc(&ONE, d->dtype), e->bias, db->data),
                   "conv2d: backward bias");
}

void dx_cuda_init_conv(dx_backend *be) {
  be->conv2d_workspace = cuda_conv2d_workspace;
  be->conv2d_fwd = cuda_conv2d_fwd;
  be->conv2d_bwd_data = cuda_conv2d_bwd_data;
  be->conv2d_bwd_filter = cuda_conv2d_bwd_filter;
}
