/* The backend parity harness (dxt_backend_ops.h): running one case on one
 * backend with guards, comparing two runs, and the list of cases. */
#include "dxt_backend_ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 16 /* elements on each side of every tensor */
#define F32_GUARD 0x7fa5a5a5u
#define F64_GUARD 0x7ff4a5a5a5a5a5a5ull
#define F64_TOL_SCALE 1e-12 /* float64 against float64: tolerances shrink by this */

/* --- random inputs, independent of the library's generator ---------------------- */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int64_t spec_numel(const bops_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++)
    n *= t->shape[d];
  return n;
}

/* The starting values of tensor k of a case, in double. */
static double *start_values(const bops_case *c, int k, uint64_t seed) {
  const bops_tensor *t = &c->t[k];
  int64_t n = spec_numel(t);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  uint64_t s = seed * 1000003u + (uint64_t)k * 7919u + 17u;
  for (int64_t i = 0; i < n; i++) {
    double u = (double)(splitmix(&s) >> 11) * 0x1.0p-53;
    if (t->role == BOPS_OUT)
      v[i] = NAN;
    else if (t->mask)
      v[i] = u < 0.5 ? 0.0 : 1.0;
    else
      v[i] = t->integer ? floor(t->lo + (t->hi - t->lo) * u) : t->lo + (t->hi - t->lo) * u;
  }
  return v;
}

static dx_dtype dtype_of(const bops_tensor *t, dx_dtype dt) {
  if (t->f64) return DX_F64;
  if (t->flip) return dt == DX_F32 ? DX_F64 : DX_F32;
  return dt;
}

static size_t esize(dx_dtype dt) { return dt == DX_F32 ? 4 : 8; }

/* One tensor of a run: the guarded buffer and the tensor inside it. */
typedef struct slot {
  dx_tensor whole; /* 1-D over guard + data + guard */
  dx_tensor t;
  void *written; /* what was written, in the tensor's dtype (guards included) */
  int64_t n;
} slot;

/* The host image of a guarded tensor: guards, then v in dtype dt. */
static void *host_image(const double *v, int64_t n, dx_dtype dt) {
  int64_t total = n + 2 * GUARD;
  void *h = malloc((size_t)total * esize(dt));
  for (int64_t i = 0; i < total; i++) {
    bool guard = i < GUARD || i >= GUARD + n;
    if (dt == DX_F32) {
      uint32_t bits = F32_GUARD;
      float f = guard ? 0 : (float)v[i - GUARD];
      if (!guard) memcpy(&bits, &f, sizeof bits);
      memcpy((char *)h + i * 4, &bits, 4);
    } else {
      uint64_t bits = F64_GUARD;
      double d = guard ? 0 : v[i - GUARD];
      if (!guard) memcpy(&bits, &d, sizeof bits);
      memcpy((char *)h + i * 8, &bits, 8);
    }
  }
  return h;
}

/* Records the first failure of a case. */
static void fail(bops_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(bops_result *r, const char *fmt, ...) {
  if (!r->ok) return;
  r->ok = false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
}

/* Runs c on be in dtype dt; out[k] receives tensor k's values after the run
 * (NULL for absent ones). Failures of the run itself go into r. */
static void run_on(dx_backend *be, dx_dtype dt, const bops_case *c, uint64_t seed, double **out,
                   bops_result *r) {
  slot s[BOPS_MAX_T];
  dx_tensor *args[BOPS_MAX_T];
  memset(s, 0, sizeof s);
  for (int k = 0; k < c->nt; k++) {
    out[k] = NULL;
    args[k] = NULL;
    if (c->t[k].absent) continue;
    dx_dtype tdt = dtype_of(&c->t[k], dt);
    int64_t n = spec_numel(&c->t[k]);
    double *v = start_values(c, k, seed);
    s[k].n = n;
    s[k].written = host_image(v, n, tdt);
    free(v);
    void *base = be->alloc(be, (size_t)(n + 2 * GUARD) * esize(tdt));
    s[k].whole = (dx_tensor){.ndim = 1, .shape = {n + 2 * GUARD}, .dtype = tdt, .data = base};
    s[k].whole.device.kind = be->kind;
    s[k].t = s[k].whole;
    s[k].t.ndim = c->t[k].ndim;
    memcpy(s[k].t.shape, c->t[k].shape, sizeof s[k].t.shape);
    s[k].t.data = (char *)base + GUARD * esize(tdt);
    be->write(be, &s[k].whole, s[k].written, tdt);
    args[k] = &s[k].t;
  }
  c->run(be, args, c);
  char why[256] = "";
  if (be->synchronize && be->synchronize(be, why, sizeof why) != DX_OK)
    fail(r, "%s: %s backend: synchronize failed: %s", c->name, be->name, why);
  for (int k = 0; k < c->nt; k++) {
    if (c->t[k].absent) continue;
    dx_dtype tdt = s[k].whole.dtype;
    size_t es = esize(tdt);
    int64_t total = s[k].n + 2 * GUARD;
    void *h = malloc((size_t)total * es);
    be->read(be, &s[k].whole, h, tdt);
    for (int64_t i = 0; i < total; i++) {
      bool guard = i < GUARD || i >= GUARD + s[k].n;
      bool same = memcmp((char *)h + i * es, (char *)s[k].written + i * es, es) == 0;
      if (guard && !same)
        fail(r, "%s: %s backend wrote a guard element beside tensor %d (at offset %lld)", c->name,
             be->name, k, (long long)(i < GUARD ? i - GUARD : i - GUARD - s[k].n));
      else if (!guard && !same && c->t[k].role == BOPS_IN)
        fail(r, "%s: %s backend changed input tensor %d (element %lld)", c->name, be->name, k,
             (long long)(i - GUARD));
    }
    out[k] = malloc((size_t)(s[k].n ? s[k].n : 1) * sizeof(double));
    for (int64_t i = 0; i < s[k].n; i++)
      out[k][i] = tdt == DX_F32 ? (double)((float *)h)[i + GUARD] : ((double *)h)[i + GUARD];
    free(h);
    free(s[k].written);
    be->free(be, s[k].whole.data);
  }
}

bool bops_nmse(const double *ref, const double *got, int64_t n, double *err, char *why,
               size_t len) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    if (isnan(ref[i]) || isnan(got[i])) {
      snprintf(why, len, "NaN at element %lld (reference %g, got %g)", (long long)i, ref[i],
               got[i]);
      return false;
    }
    if (isinf(ref[i]) || isinf(got[i])) {
      if (ref[i] != got[i]) {
        snprintf(why, len, "infinity mismatch at element %lld (reference %g, got %g)", (long long)i,
                 ref[i], got[i]);
        return false;
      }
      continue;
    }
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  *err = den > 0 ? num / den : num;
  return true;
}

bops_result bops_compare(dx_backend *a, dx_dtype da, dx_backend *b, dx_dtype db, const bops_case *c,
                         uint64_t seed) {
  bops_result r = {.ok = true};
  double *va[BOPS_MAX_T], *vb[BOPS_MAX_T];
  run_on(a, da, c, seed, va, &r);
  run_on(b, db, c, seed, vb, &r);
  double tol = da == DX_F64 && db == DX_F64 ? c->tol * F64_TOL_SCALE : c->tol;
  for (int k = 0; k < c->nt; k++) {
    if (c->t[k].absent || c->t[k].role == BOPS_IN || !r.ok) continue;
    double e = 0;
    char why[200];
    if (!bops_nmse(va[k], vb[k], spec_numel(&c->t[k]), &e, why, sizeof why)) {
      r.ok = false;
      snprintf(r.why, sizeof r.why, "%s: output %d: %s", c->name, k, why);
    } else if (e > tol) {
      r.ok = false;
      snprintf(r.why, sizeof r.why, "%s: output %d: NMSE %.3g above the tolerance %.3g", c->name, k,
               e, tol);
    }
    if (e > r.err) r.err = e;
  }
  for (int k = 0; k < c->nt; k++)
    free(va[k]), free(vb[k]);
  return r;
}

/* --- the cases ------------------------------------------------------------------- */

static bops_case *add(bops_list *l, bops_run_fn run, double tol, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bops_case *add(bops_list *l, bops_run_fn run, double tol, const char *fmt, ...) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
  }
  bops_case *c = &l->items[l->n++];
  memset(c, 0, sizeof *c);
  c->run = run;
  c->tol = tol;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->name, sizeof c->name, fmt, ap);
  va_end(ap);
  return c;
}

/* Appends a tensor of the given shape; returns it for further flags. */
static bops_tensor *ten(bops_case *c, bops_role role, double lo, double hi, int ndim, int64_t d0,
                        int64_t d1, int64_t d2, int64_t d3) {
  bops_tensor *t = &c->t[c->nt++];
  int64_t d[4] = {d0, d1, d2, d3};
  *t = (bops_tensor){.ndim = ndim, .role = role, .lo = lo, .hi = hi};
  for (int i = 0; i < ndim; i++)
    t->shape[i] = d[i];
  return t;
}

static bops_tensor *ten_like(bops_case *c, bops_role role, double lo, double hi,
                             const bops_tensor *like) {
  bops_tensor *t = &c->t[c->nt++];
  *t = *like;
  t->role = role, t->lo = lo, t->hi = hi;
  t->integer = t->mask = t->f64 = t->flip = t->absent = false;
  return t;
}

void bops_list_free(bops_list *l) {
  free(l->items);
  *l = (bops_list){0};
}

static const char *shape_str(const bops_tensor *t, char *buf, size_t len) {
  int o = snprintf(buf, len, "(");
  for (int d = 0; d < t->ndim; d++)
    o += snprintf(buf + o, len - (size_t)o, d ? ",%lld" : "%lld", (long long)t->shape[d]);
  snprintf(buf + o, len - (size_t)o, ")");
  return buf;
}

/* memory and copies */
static void run_fill(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->fill(be, t[0], c->fa[0]);
}
static void run_copy(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  be->copy(be, t[1], t[0]);
}
static void run_axpy(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->axpy(be, t[0], c->fa[0], t[1]);
}
static void run_rand(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->rand(be, t[0], (dx_rand_dist)c->ia[0], (uint64_t)c->ia[1], (uint64_t)c->ia[2]);
}
static void run_dropout(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->dropout_mask(be, t[0], c->fa[0], (uint64_t)c->ia[1], (uint64_t)c->ia[2]);
}
static void run_time_embedding(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  be->time_embedding(be, t[0], t[1]);
}

/* Host values of an upload: fixed by the case alone, so both backends get them. */
static double *upload_values(const dx_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++)
    n *= t->shape[d];
  double *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++)
    v[i] = sin(0.37 * (double)i) + 0.25 * (double)(i % 3);
  return v;
}
static void run_write(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  double *v = upload_values(t[0]);
  be->write(be, t[0], v, DX_F64);
  free(v);
}
/* An upload ahead: a kernel queued before write_start must see the old
 * values (t1), one queued after write_finish the new ones (t2). Backends
 * without the slots write synchronously, as the core does for them. */
static void run_write_ahead(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  double *v = upload_values(t[0]);
  be->copy(be, t[1], t[0]);
  if (be->write_start)
    be->write_start(be, t[0], v, DX_F64);
  else
    be->write(be, t[0], v, DX_F64);
  for (size_t i = 0; i < 4; i++) /* src may be reused at once */
    v[i] = NAN;
  if (be->write_finish) be->write_finish(be, t[0]);
  be->copy(be, t[2], t[0]);
  free(v);
}

static void memory_cases(bops_list *l) {
  bops_case *w = add(l, run_write, 1e-14, "write from float64 (3,1,7,5)");
  ten(w, BOPS_OUT, 0, 0, 4, 3, 1, 7, 5);
  w = add(l, run_write_ahead, 1e-14, "write_start, write_finish (2,3,5,7)");
  ten(w, BOPS_ACC, -2, 2, 4, 2, 3, 5, 7);
  ten(w, BOPS_OUT, 0, 0, 4, 2, 3, 5, 7);
  ten(w, BOPS_OUT, 0, 0, 4, 2, 3, 5, 7);
  double vals[2] = {0.0, -1.25};
  for (int i = 0; i < 2; i++) {
    bops_case *c = add(l, run_fill, 0, "fill %g (3,5,7)", vals[i]);
    c->fa[0] = vals[i];
    ten(c, BOPS_OUT, 0, 0, 3, 3, 5, 7, 0);
  }
  for (int flip = 0; flip < 2; flip++) {
    bops_case *c = add(l, run_copy, 1e-14, "copy%s (2,3,5)", flip ? " converting dtype" : "");
    ten(c, BOPS_IN, -2, 2, 3, 2, 3, 5, 0);
    ten(c, BOPS_OUT, 0, 0, 3, 2, 3, 5, 0)->flip = flip;
  }
  bops_case *c = add(l, run_axpy, 1e-13, "axpy (1001)");
  c->fa[0] = -0.37;
  ten(c, BOPS_ACC, 2, 3, 1, 1001, 0, 0, 0);
  ten(c, BOPS_IN, -1, 1, 1, 1001, 0, 0, 0);
  for (int dist = 0; dist < 2; dist++) {
    c = add(l, run_rand, 1e-13, "rand %s (7,11,13) offset 12345",
            dist == DX_RAND_NORMAL ? "normal" : "uniform");
    c->ia[0] = dist, c->ia[1] = 42, c->ia[2] = 12345;
    ten(c, BOPS_OUT, 0, 0, 3, 7, 11, 13, 0);
  }
  c = add(l, run_dropout, 1e-13, "dropout_mask p=0.3 (3,100)");
  c->fa[0] = 0.3, c->ia[1] = 7, c->ia[2] = 99;
  ten(c, BOPS_OUT, 0, 0, 2, 3, 100, 0, 0);
  int dims[2] = {4, 64};
  for (int i = 0; i < 2; i++) {
    c = add(l, run_time_embedding, 1e-12, "time_embedding dim %d (5)", dims[i]);
    ten(c, BOPS_IN, 0, 1000, 1, 5, 0, 0, 0)->integer = true;
    ten(c, BOPS_OUT, 0, 0, 2, 5, dims[i], 0, 0);
  }
}

/* gemm: ia = ta, tb, m, n, k, batch, stride_c_zero; fa = alpha, beta.
 * Tensors A (batch, stored rows, cols), B, C. */
static void run_gemm(dx_backend *be, dx_tensor **t, const bops_case *c) {
  bool ta = c->ia[0], tb = c->ia[1], czero = c->ia[6];
  int64_t m = c->ia[2], n = c->ia[3], k = c->ia[4], batch = c->ia[5];
  be->gemm(be, t[0]->dtype, ta, tb, m, n, k, c->fa[0], t[0]->data, ta ? m : k, m * k, t[1]->data,
           tb ? k : n, k * n, c->fa[1], t[2]->data, n, czero ? 0 : m * n, batch);
}

static void gemm_case(bops_list *l, bool ta, bool tb, int m, int n, int k, int batch, double alpha,
                      double beta, bool czero) {
  bops_case *c = add(l, run_gemm, 1e-11, "gemm%s%s m=%d n=%d k=%d batch=%d alpha=%g beta=%g%s",
                     ta ? " A^T" : "", tb ? " B^T" : "", m, n, k, batch, alpha, beta,
                     czero ? " summed into one C" : "");
  c->ia[0] = ta, c->ia[1] = tb, c->ia[2] = m, c->ia[3] = n, c->ia[4] = k, c->ia[5] = batch;
  c->ia[6] = czero;
  c->fa[0] = alpha, c->fa[1] = beta;
  ten(c, BOPS_IN, -1, 1, 3, batch, ta ? k : m, ta ? m : k, 0);
  ten(c, BOPS_IN, -1, 1, 3, batch, tb ? n : k, tb ? k : n, 0);
  ten(c, beta != 0 ? BOPS_ACC : BOPS_OUT, -1, 1, 3, czero ? 1 : batch, m, n, 0);
}

static void gemm_cases(bops_list *l) {
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      gemm_case(l, ta, tb, 7, 5, 3, 1, 1.0, 0.0, false);
  gemm_case(l, false, false, 33, 17, 65, 3, 1.0, 1.0, false);
  gemm_case(l, true, false, 1, 1, 1, 1, 0.5, 1.0, false);
  gemm_case(l, false, true, 64, 96, 128, 4, 1.0, 0.0, false);
  gemm_case(l, true, false, 9, 11, 13, 5, 1.0, 1.0, true);
}

/* conv2d: ia = stride, pad, groups, with bias; tensors x, w, b, y (forward),
 * dy, w, dx (backward data), x, dy, dw, db (backward filter). */
static dx_conv2d_desc conv_desc(const bops_case *c, const bops_tensor *x, const bops_tensor *w) {
  dx_conv2d_desc d = {.n = x->shape[0],
                      .ci = x->shape[1],
                      .h = x->shape[2],
                      .w = x->shape[3],
                      .co = w->shape[0],
                      .kh = w->shape[2],
                      .kw = w->shape[3],
                      .stride = c->ia[0],
                      .pad = c->ia[1],
                      .groups = c->ia[2]};
  d.ho = (d.h + 2 * d.pad - d.kh) / d.stride + 1;
  d.wo = (d.w + 2 * d.pad - d.kw) / d.stride + 1;
  return d;
}

static void *workspace(dx_backend *be, const dx_conv2d_desc *d, size_t *bytes) {
  *bytes = be->conv2d_workspace ? be->conv2d_workspace(be, d) : 0;
  return *bytes ? be->alloc(be, *bytes) : NULL;
}

static void run_conv_fwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  dx_conv2d_desc d = conv_desc(c, &c->t[0], &c->t[1]);
  d.dtype = t[0]->dtype;
  size_t bytes;
  void *ws = workspace(be, &d, &bytes);
  be->conv2d_fwd(be, &d, t[0], t[1], t[2], t[3], ws);
  if (ws) be->free(be, ws);
}

static void run_conv_bwd_data(dx_backend *be, dx_tensor **t, const bops_case *c) {
  dx_conv2d_desc d = conv_desc(c, &c->t[2], &c->t[1]);
  d.dtype = t[0]->dtype;
  size_t bytes;
  void *ws = workspace(be, &d, &bytes);
  be->conv2d_bwd_data(be, &d, t[0], t[1], t[2], ws);
  if (ws) be->free(be, ws);
}

static void run_conv_bwd_filter(dx_backend *be, dx_tensor **t, const bops_case *c) {
  dx_conv2d_desc d = conv_desc(c, &c->t[0], &c->t[2]);
  d.dtype = t[0]->dtype;
  size_t bytes;
  void *ws = workspace(be, &d, &bytes);
  be->conv2d_bwd_filter(be, &d, t[0], t[1], t[2], t[3], ws);
  if (ws) be->free(be, ws);
}

static void conv_case(bops_list *l, int n, int ci, int h, int w, int co, int k, int stride, int pad,
                      int groups) {
  bops_tensor x = {.ndim = 4, .shape = {n, ci, h, w}};
  bops_tensor wt = {.ndim = 4, .shape = {co, ci / groups, k, k}};
  bops_case probe = {.ia = {stride, pad, groups}};
  dx_conv2d_desc d = conv_desc(&probe, &x, &wt);
  bops_tensor y = {.ndim = 4, .shape = {n, co, d.ho, d.wo}};
  char xs[48], ws[48];
  shape_str(&x, xs, sizeof xs), shape_str(&wt, ws, sizeof ws);
  for (int bias = 0; bias < 2; bias++) {
    bops_case *c =
        add(l, run_conv_fwd, 1e-11, "conv2d forward x%s w%s stride %d pad %d groups %d%s", xs, ws,
            stride, pad, groups, bias ? " +bias" : "");
    c->ia[0] = stride, c->ia[1] = pad, c->ia[2] = groups;
    ten_like(c, BOPS_IN, -1, 1, &x);
    ten_like(c, BOPS_IN, -1, 1, &wt);
    ten(c, BOPS_IN, -1, 1, 1, co, 0, 0, 0)->absent = !bias;
    ten_like(c, BOPS_OUT, 0, 0, &y);
  }
  bops_case *c =
      add(l, run_conv_bwd_data, 1e-11, "conv2d backward data x%s w%s stride %d pad %d groups %d",
          xs, ws, stride, pad, groups);
  c->ia[0] = stride, c->ia[1] = pad, c->ia[2] = groups;
  ten_like(c, BOPS_IN, -1, 1, &y);
  ten_like(c, BOPS_IN, -1, 1, &wt);
  ten_like(c, BOPS_ACC, 2, 3, &x);
  for (int which = 0; which < 3; which++) { /* dw and db, dw only, db only */
    c = add(l, run_conv_bwd_filter, 1e-11,
            "conv2d backward filter x%s w%s stride %d pad %d groups %d%s", xs, ws, stride, pad,
            groups,
            which == 0   ? ""
            : which == 1 ? " (dw only)"
                         : " (db only)");
    c->ia[0] = stride, c->ia[1] = pad, c->ia[2] = groups;
    ten_like(c, BOPS_IN, -1, 1, &x);
    ten_like(c, BOPS_IN, -1, 1, &y);
    ten_like(c, BOPS_ACC, 2, 3, &wt)->absent = which == 2;
    ten(c, BOPS_ACC, 2, 3, 1, co, 0, 0, 0)->absent = which == 1;
  }
}

static void conv_cases(bops_list *l) {
  conv_case(l, 2, 3, 9, 7, 5, 3, 1, 1, 1);    /* odd sizes */
  conv_case(l, 1, 4, 8, 8, 6, 3, 2, 1, 1);    /* batch 1, stride 2 */
  conv_case(l, 3, 8, 5, 5, 4, 1, 1, 0, 1);    /* 1x1 */
  conv_case(l, 2, 6, 7, 7, 6, 7, 1, 3, 6);    /* depthwise 7x7: groups = C */
  conv_case(l, 2, 4, 6, 6, 8, 3, 1, 1, 2);    /* groups = 2 */
  conv_case(l, 2, 5, 1, 1, 3, 3, 1, 1, 1);    /* 1x1 spatial input */
  conv_case(l, 2, 8, 16, 16, 16, 4, 2, 1, 1); /* the U-Net's downsampling 4x4 stride 2 */
}

/* element-wise: unary ia0 = op, fa = p0, p1; tensors x, y / x, y, dy, dx */
static void run_unary(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->unary(be, (dx_unary_op)c->ia[0], t[0], t[1], c->fa[0], c->fa[1]);
}
static void run_unary_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->unary_bwd(be, (dx_unary_op)c->ia[0], t[0], t[1], t[2], t[3], c->fa[0], c->fa[1]);
}
static void run_binary(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->binary(be, (dx_binary_op)c->ia[0], t[0], t[1], t[2]);
}
static void run_binary_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->binary_bwd(be, (dx_binary_op)c->ia[0], t[0], t[1], t[2], t[3], t[4]);
}
static void run_compare(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->compare(be, (dx_cmp_op)c->ia[0], t[0], c->fa[0], t[1]);
}
static void run_where(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  be->where(be, t[0], t[1], t[2], t[3]);
}
static void run_where_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  be->where_bwd(be, t[0], t[1], t[2], t[3]);
}

static const char *unary_names[DX_UN_COUNT] = {"scale",     "add_scalar", "silu", "gelu_erf",
                                               "gelu_tanh", "exp",        "log",  "sqrt",
                                               "square",    "abs",        "tanh", "clamp"};

static void elementwise_cases(bops_list *l) {
  for (int op = 0; op < DX_UN_COUNT; op++) {
    bool positive = op == DX_UN_LOG || op == DX_UN_SQRT;
    double lo = positive ? 0.1 : -3, hi = 3, p0 = op == DX_UN_CLAMP ? -0.5 : 1.7, p1 = 0.7;
    bops_case *c = add(l, run_unary, 1e-12, "unary %s (3,5,7,9)", unary_names[op]);
    c->ia[0] = op, c->fa[0] = p0, c->fa[1] = p1;
    ten(c, BOPS_IN, lo, hi, 4, 3, 5, 7, 9);
    ten(c, BOPS_OUT, 0, 0, 4, 3, 5, 7, 9);
    c = add(l, run_unary_bwd, 1e-12, "unary %s backward (3,5,7,9)", unary_names[op]);
    c->ia[0] = op, c->fa[0] = p0, c->fa[1] = p1;
    ten(c, BOPS_IN, lo, hi, 4, 3, 5, 7, 9);
    ten(c, BOPS_IN, 0.5, 2, 4, 3, 5, 7, 9); /* y, used by exp, sqrt, tanh */
    ten(c, BOPS_IN, -1, 1, 4, 3, 5, 7, 9);
    ten(c, BOPS_ACC, 2, 3, 4, 3, 5, 7, 9);
  }
  /* broadcast patterns: a, b, full */
  static const int64_t pat[][3][5] = {
      {{4, 2, 3, 5, 7}, {4, 2, 3, 5, 7}, {4, 2, 3, 5, 7}},
      {{4, 2, 3, 5, 7}, {4, 1, 3, 1, 1}, {4, 2, 3, 5, 7}},
      {{4, 2, 3, 5, 7}, {4, 2, 3, 1, 1}, {4, 2, 3, 5, 7}},
      {{4, 1, 3, 1, 1}, {4, 2, 3, 5, 7}, {4, 2, 3, 5, 7}},
      {{2, 4, 1, 0, 0}, {2, 1, 6, 0, 0}, {2, 4, 6, 0, 0}},
      {{1, 5, 0, 0, 0}, {2, 3, 5, 0, 0}, {2, 3, 5, 0, 0}},
      {{1, 1, 0, 0, 0}, {4, 2, 3, 4, 5}, {4, 2, 3, 4, 5}},
      {{4, 4, 16, 16, 16}, {4, 1, 16, 1, 1}, {4, 4, 16, 16, 16}},
      {{3, 1, 1, 1, 0}, {3, 1, 1, 1, 0}, {3, 1, 1, 1, 0}},
  };
  static const char *bin_names[4] = {"add", "sub", "mul", "div"};
  for (size_t p = 0; p < sizeof pat / sizeof pat[0]; p++)
    for (int op = 0; op < 4; op++) {
      bops_tensor ts[3];
      char names[3][48];
      for (int k = 0; k < 3; k++) {
        ts[k] = (bops_tensor){.ndim = (int)pat[p][k][0]};
        for (int d = 0; d < ts[k].ndim; d++)
          ts[k].shape[d] = pat[p][k][d + 1];
        shape_str(&ts[k], names[k], sizeof names[k]);
      }
      double blo = op == DX_BIN_DIV ? 0.5 : -1;
      bops_case *c =
          add(l, run_binary, 1e-12, "binary %s %s %s", bin_names[op], names[0], names[1]);
      c->ia[0] = op;
      ten_like(c, BOPS_IN, -1, 1, &ts[0]);
      ten_like(c, BOPS_IN, blo, 2, &ts[1]);
      ten_like(c, BOPS_OUT, 0, 0, &ts[2]);
      for (int which = 0; which < 3; which++) {
        c = add(l, run_binary_bwd, 1e-11, "binary %s backward %s %s%s", bin_names[op], names[0],
                names[1],
                which == 0   ? ""
                : which == 1 ? " (da only)"
                             : " (db only)");
        c->ia[0] = op;
        ten_like(c, BOPS_IN, -1, 1, &ts[0]);
        ten_like(c, BOPS_IN, blo, 2, &ts[1]);
        ten_like(c, BOPS_IN, -1, 1, &ts[2]);
        ten_like(c, BOPS_ACC, 2, 3, &ts[0])->absent = which == 2;
        ten_like(c, BOPS_ACC, 2, 3, &ts[1])->absent = which == 1;
      }
    }
  static const char *cmp_names[4] = {"<", "<=", ">", ">="};
  for (int op = 0; op < 4; op++) {
    bops_case *c = add(l, run_compare, 0, "compare x %s 0.1 (5,7,3)", cmp_names[op]);
    c->ia[0] = op, c->fa[0] = 0.1;
    ten(c, BOPS_IN, -1, 1, 3, 5, 7, 3, 0);
    ten(c, BOPS_OUT, 0, 0, 3, 5, 7, 3, 0);
  }
  bops_case *c = add(l, run_where, 1e-13, "where (4,9,5)");
  ten(c, BOPS_IN, 0, 1, 3, 4, 9, 5, 0)->mask = true;
  ten(c, BOPS_IN, -1, 1, 3, 4, 9, 5, 0);
  ten(c, BOPS_IN, -1, 1, 3, 4, 9, 5, 0);
  ten(c, BOPS_OUT, 0, 0, 3, 4, 9, 5, 0);
  for (int which = 0; which < 3; which++) {
    c = add(l, run_where_bwd, 1e-13, "where backward (4,9,5)%s",
            which == 0   ? ""
            : which == 1 ? " (da only)"
                         : " (db only)");
    ten(c, BOPS_IN, 0, 1, 3, 4, 9, 5, 0)->mask = true;
    ten(c, BOPS_IN, -1, 1, 3, 4, 9, 5, 0);
    ten(c, BOPS_ACC, 2, 3, 3, 4, 9, 5, 0)->absent = which == 2;
    ten(c, BOPS_ACC, 2, 3, 3, 4, 9, 5, 0)->absent = which == 1;
  }
}

/* reductions: ia none, fa0 = scale; tensors x, y / dy, dx */
static void run_reduce_sum(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->reduce_sum(be, t[0], t[1], c->fa[0]);
}
static void run_broadcast_acc(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->broadcast_acc(be, t[0], t[1], c->fa[0]);
}

static void reduce_cases(bops_list *l) {
  static const int64_t red[][2][4] = {
      {{2, 3, 5, 7}, {1, 1, 1, 1}},      {{2, 3, 5, 7}, {2, 1, 1, 1}},
      {{2, 3, 5, 7}, {1, 3, 1, 1}},      {{2, 3, 5, 7}, {2, 3, 1, 1}},
      {{2, 3, 5, 7}, {1, 1, 5, 7}},      {{2, 3, 5, 7}, {2, 1, 5, 1}},
      {{4, 16, 16, 16}, {1, 16, 1, 1}},  {{1, 1, 1, 1}, {1, 1, 1, 1}},
      {{64, 300, 1, 1}, {1, 300, 1, 1}},
  };
  for (size_t i = 0; i < sizeof red / sizeof red[0]; i++) {
    bops_tensor x = {.ndim = 4}, y = {.ndim = 4};
    memcpy(x.shape, red[i][0], sizeof x.shape);
    memcpy(y.shape, red[i][1], sizeof y.shape);
    char xs[48], ys[48];
    shape_str(&x, xs, sizeof xs), shape_str(&y, ys, sizeof ys);
    bops_case *c = add(l, run_reduce_sum, 1e-12, "reduce_sum %s -> %s", xs, ys);
    c->fa[0] = 0.5;
    ten_like(c, BOPS_IN, -1, 1, &x);
    ten_like(c, BOPS_OUT, 0, 0, &y);
    c = add(l, run_broadcast_acc, 1e-13, "broadcast_acc %s -> %s", ys, xs);
    c->fa[0] = -1.5;
    ten_like(c, BOPS_IN, -1, 1, &y);
    ten_like(c, BOPS_ACC, 2, 3, &x);
  }
}

/* group norm: ia0 = groups, fa0 = eps; forward x, gamma, beta, y, mean, rstd;
 * backward x, gamma, beta, dy, dx, dgamma, dbeta (the statistics from a
 * forward run on the same backend, so that they belong to x). */
static void run_gn_fwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->group_norm_fwd(be, t[0], t[1], t[2], c->ia[0], c->fa[0], t[3], t[4], t[5]);
}

static dx_tensor temp(dx_backend *be, dx_dtype dt, int ndim, const int64_t *shape) {
  dx_tensor t = {.ndim = ndim, .dtype = dt};
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    t.shape[d] = shape[d], n *= shape[d];
  t.device.kind = be->kind;
  t.data = be->alloc(be, (size_t)n * esize(dt));
  return t;
}

static void run_gn_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  int64_t stats[1] = {t[0]->shape[0] * c->ia[0]};
  dx_tensor y = temp(be, t[0]->dtype, t[0]->ndim, t[0]->shape);
  dx_tensor mean = temp(be, t[0]->dtype, 1, stats), rstd = temp(be, t[0]->dtype, 1, stats);
  be->group_norm_fwd(be, t[0], t[1], t[2], c->ia[0], c->fa[0], &y, &mean, &rstd);
  be->group_norm_bwd(be, t[0], t[1], &mean, &rstd, c->ia[0], t[3], t[4], t[5], t[6]);
  be->free(be, y.data), be->free(be, mean.data), be->free(be, rstd.data);
}

static void gn_case(bops_list *l, int ndim, int64_t n, int64_t ch, int64_t h, int64_t w, int groups,
                    bool affine) {
  bops_tensor x = {.ndim = ndim, .shape = {n, ch, h, w}};
  char xs[48];
  shape_str(&x, xs, sizeof xs);
  bops_case *c = add(l, run_gn_fwd, 1e-11, "group_norm %s groups %d%s", xs, groups,
                     affine ? "" : " without gamma, beta");
  c->ia[0] = groups, c->fa[0] = 1e-5;
  ten_like(c, BOPS_IN, -2, 3, &x);
  ten(c, BOPS_IN, 0.5, 1.5, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_IN, -1, 1, 1, ch, 0, 0, 0)->absent = !affine;
  ten_like(c, BOPS_OUT, 0, 0, &x);
  ten(c, BOPS_OUT, 0, 0, 1, n * groups, 0, 0, 0);
  ten(c, BOPS_OUT, 0, 0, 1, n * groups, 0, 0, 0);
  c = add(l, run_gn_bwd, 1e-10, "group_norm backward %s groups %d%s", xs, groups,
          affine ? "" : " without gamma, beta");
  c->ia[0] = groups, c->fa[0] = 1e-5;
  ten_like(c, BOPS_IN, -2, 3, &x);
  ten(c, BOPS_IN, 0.5, 1.5, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_IN, -1, 1, 1, ch, 0, 0, 0)->absent = !affine;
  ten_like(c, BOPS_IN, -1, 1, &x);
  ten_like(c, BOPS_ACC, 2, 3, &x);
  ten(c, BOPS_ACC, 2, 3, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_ACC, 2, 3, 1, ch, 0, 0, 0)->absent = !affine;
}

/* group norm -> FiLM -> SiLU: ia0 = groups, fa0 = eps; forward x, gamma,
 * beta, film, y, mean, rstd; backward x, gamma, beta, film, dy, dx, dgamma,
 * dbeta, dfilm (the statistics from a forward run on the same backend, the
 * float64 workspace a scratch buffer of the run's). */
static void run_gns_fwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->group_norm_silu_fwd(be, t[0], t[1], t[2], t[3], c->ia[0], c->fa[0], t[4], t[5], t[6]);
}

static void run_gns_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  int64_t stats[1] = {t[0]->shape[0] * c->ia[0]},
          ws_shape[1] = {2 * t[0]->shape[0] * t[0]->shape[1]};
  dx_tensor y = temp(be, t[0]->dtype, t[0]->ndim, t[0]->shape);
  dx_tensor mean = temp(be, t[0]->dtype, 1, stats), rstd = temp(be, t[0]->dtype, 1, stats);
  dx_tensor ws = temp(be, DX_F64, 1, ws_shape);
  be->group_norm_silu_fwd(be, t[0], t[1], t[2], t[3], c->ia[0], c->fa[0], &y, &mean, &rstd);
  be->group_norm_silu_bwd(be, t[0], t[1], t[2], t[3], &mean, &rstd, c->ia[0], t[4], &ws, t[5], t[6],
                          t[7], t[8]);
  be->free(be, y.data), be->free(be, mean.data), be->free(be, rstd.data), be->free(be, ws.data);
}

/* what a fused case leaves out */
enum { GNS_NO_AFFINE = 1, GNS_NO_FILM = 2, GNS_NO_DX = 4, GNS_NO_DFILM = 8 };

static void gns_case(bops_list *l, int ndim, int64_t n, int64_t ch, int64_t h, int64_t w,
                     int groups, int without) {
  bops_tensor x = {.ndim = ndim, .shape = {n, ch, h, w}};
  bool affine = !(without & GNS_NO_AFFINE), film = !(without & GNS_NO_FILM);
  char xs[48], what[64];
  shape_str(&x, xs, sizeof xs);
  snprintf(what, sizeof what, "%s%s%s%s", affine ? "" : " without gamma, beta",
           film ? "" : " without film", without & GNS_NO_DX ? " without dx" : "",
           without & GNS_NO_DFILM ? " without dfilm" : "");
  bops_case *c;
  if (!(without & (GNS_NO_DX | GNS_NO_DFILM))) { /* those differ in the backward only */
    c = add(l, run_gns_fwd, 1e-11, "group_norm_silu %s groups %d%s", xs, groups, what);
    c->ia[0] = groups, c->fa[0] = 1e-5;
    ten_like(c, BOPS_IN, -2, 3, &x);
    ten(c, BOPS_IN, 0.5, 1.5, 1, ch, 0, 0, 0)->absent = !affine;
    ten(c, BOPS_IN, -1, 1, 1, ch, 0, 0, 0)->absent = !affine;
    ten(c, BOPS_IN, -0.5, 0.5, 2, n, 2 * ch, 0, 0)->absent = !film;
    ten_like(c, BOPS_OUT, 0, 0, &x);
    ten(c, BOPS_OUT, 0, 0, 1, n * groups, 0, 0, 0);
    ten(c, BOPS_OUT, 0, 0, 1, n * groups, 0, 0, 0);
  }
  c = add(l, run_gns_bwd, 1e-10, "group_norm_silu backward %s groups %d%s", xs, groups, what);
  c->ia[0] = groups, c->fa[0] = 1e-5;
  ten_like(c, BOPS_IN, -2, 3, &x);
  ten(c, BOPS_IN, 0.5, 1.5, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_IN, -1, 1, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_IN, -0.5, 0.5, 2, n, 2 * ch, 0, 0)->absent = !film;
  ten_like(c, BOPS_IN, -1, 1, &x);
  ten_like(c, BOPS_ACC, 2, 3, &x)->absent = without & GNS_NO_DX;
  ten(c, BOPS_ACC, 2, 3, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_ACC, 2, 3, 1, ch, 0, 0, 0)->absent = !affine;
  ten(c, BOPS_ACC, 2, 3, 2, n, 2 * ch, 0, 0)->absent = !film || (without & GNS_NO_DFILM);
}

/* softmax: ia0 = axis; forward x, y; backward y, dy, dx */
static void run_sm_fwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->softmax_fwd(be, t[0], t[1], c->ia[0]);
}
static void run_sm_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->softmax_bwd(be, t[0], t[1], t[2], c->ia[0]);
}

static void norm_cases(bops_list *l) {
  gn_case(l, 4, 2, 8, 5, 7, 4, true);
  gn_case(l, 4, 1, 6, 1, 1, 6, true); /* batch 1, 1x1 spatial, groups = C */
  gn_case(l, 4, 3, 4, 9, 9, 1, true);
  gn_case(l, 4, 2, 8, 5, 7, 2, false);
  gn_case(l, 2, 5, 12, 0, 0, 3, true); /* (N, C) */
  gn_case(l, 4, 4, 64, 16, 16, 32, true);
  gns_case(l, 4, 2, 8, 5, 7, 4, 0);
  gns_case(l, 4, 1, 6, 1, 1, 6, 0); /* batch 1, 1x1 spatial, groups = C */
  gns_case(l, 4, 3, 4, 9, 9, 1, GNS_NO_FILM);
  gns_case(l, 4, 2, 8, 5, 7, 2, GNS_NO_AFFINE);
  gns_case(l, 4, 2, 8, 5, 7, 2, GNS_NO_AFFINE | GNS_NO_FILM);
  gns_case(l, 2, 5, 12, 0, 0, 3, 0); /* (N, C) */
  gns_case(l, 4, 3, 6, 3, 5, 3, GNS_NO_DX);
  gns_case(l, 4, 3, 6, 3, 5, 2, GNS_NO_DFILM);
  gns_case(l, 4, 4, 64, 16, 16, 32, 0);
  static const int64_t sm[][6] = {/* ndim, shape, axis */
                                  {3, 4, 7, 33, 0, 2}, {3, 3, 5, 6, 0, 1},    {4, 2, 3, 4, 5, 0},
                                  {2, 1, 1, 0, 0, 1},  {2, 6, 1000, 0, 0, 1}, {4, 2, 4, 49, 49, 3}};
  for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++) {
    bops_tensor x = {.ndim = (int)sm[i][0]};
    for (int d = 0; d < x.ndim; d++)
      x.shape[d] = sm[i][d + 1];
    int axis = (int)sm[i][5];
    char xs[48];
    shape_str(&x, xs, sizeof xs);
    bops_case *c = add(l, run_sm_fwd, 1e-12, "softmax %s axis %d", xs, axis);
    c->ia[0] = axis;
    ten_like(c, BOPS_IN, -4, 4, &x);
    ten_like(c, BOPS_OUT, 0, 0, &x);
    c = add(l, run_sm_bwd, 1e-11, "softmax backward %s axis %d", xs, axis);
    c->ia[0] = axis;
    ten_like(c, BOPS_IN, 0, 1, &x);
    ten_like(c, BOPS_IN, -1, 1, &x);
    ten_like(c, BOPS_ACC, 2, 3, &x);
  }
}

/* data movement */
static void run_permute(dx_backend *be, dx_tensor **t, const bops_case *c) {
  int perm[4] = {c->ia[0], c->ia[1], c->ia[2], c->ia[3]};
  be->permute(be, t[0], t[1], perm, c->ia[4]);
}
static void run_copy_channels(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->copy_channels(be, t[0], c->ia[0], t[1], c->ia[1], c->ia[2], c->ia[3]);
}
static void run_pixel_shuffle(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->pixel_shuffle(be, t[0], t[1], c->ia[0], c->ia[1], c->ia[2]);
}
static void run_upsample(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->upsample_nearest(be, t[0], t[1], c->ia[0]);
}
static void run_upsample_bwd(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->upsample_nearest_bwd(be, t[0], t[1], c->ia[0]);
}

static void movement_cases(bops_list *l) {
  static const int perms[][6] = {/* ndim, perm */
                                 {4, 0, 1, 3, 2}, {4, 0, 2, 1, 3}, {4, 3, 2, 1, 0},
                                 {2, 1, 0},       {3, 2, 0, 1},    {4, 0, 2, 3, 1}};
  static const int64_t base[4] = {2, 3, 37, 5};
  for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++)
    for (int acc = 0; acc < 2; acc++) {
      bops_tensor x = {.ndim = perms[i][0]}, y = {.ndim = perms[i][0]};
      for (int d = 0; d < x.ndim; d++)
        x.shape[d] = base[d + 4 - x.ndim];
      for (int d = 0; d < x.ndim; d++)
        y.shape[d] = x.shape[perms[i][d + 1]];
      char xs[48];
      shape_str(&x, xs, sizeof xs);
      bops_case *c = add(l, run_permute, 1e-14, "permute %s by (%d,%d,%d,%d)%s", xs, perms[i][1],
                         perms[i][2], perms[i][3], perms[i][4], acc ? " accumulating" : "");
      for (int d = 0; d < 4; d++)
        c->ia[d] = perms[i][d + 1];
      c->ia[4] = acc;
      ten_like(c, BOPS_IN, -1, 1, &x);
      ten_like(c, acc ? BOPS_ACC : BOPS_OUT, 2, 3, &y);
    }
  for (int acc = 0; acc < 2; acc++) {
    bops_case *c =
        add(l, run_copy_channels, 1e-14, "copy_channels 3 of (2,5,3,4) at 1 to (2,7,3,4) at 4%s",
            acc ? " accumulating" : "");
    c->ia[0] = 1, c->ia[1] = 4, c->ia[2] = 3, c->ia[3] = acc;
    ten(c, BOPS_IN, -1, 1, 4, 2, 5, 3, 4);
    ten(c, BOPS_ACC, 2, 3, 4, 2, 7, 3, 4); /* channels outside the copy keep their values */
    for (int un = 0; un < 2; un++) {
      static const int64_t big[2][4] = {{2, 3, 8, 6}, {1, 2, 9, 3}};
      for (int s = 0; s < 2; s++) {
        int r = s == 0 ? 2 : 3;
        bops_tensor b = {.ndim = 4}, sm = {.ndim = 4};
        memcpy(b.shape, big[s], sizeof b.shape);
        sm.shape[0] = b.shape[0], sm.shape[1] = b.shape[1] * r * r;
        sm.shape[2] = b.shape[2] / r, sm.shape[3] = b.shape[3] / r;
        char bs[48];
        shape_str(&b, bs, sizeof bs);
        c = add(l, run_pixel_shuffle, 1e-14, "pixel_%s r=%d %s%s", un ? "unshuffle" : "shuffle", r,
                bs, acc ? " accumulating" : "");
        c->ia[0] = r, c->ia[1] = un, c->ia[2] = acc;
        ten_like(c, BOPS_IN, -1, 1, un ? &b : &sm);
        ten_like(c, acc ? BOPS_ACC : BOPS_OUT, 2, 3, un ? &sm : &b);
      }
    }
  }
  static const int64_t up[2][5] = {{2, 3, 4, 5, 2}, {1, 1, 3, 1, 3}};
  for (int i = 0; i < 2; i++) {
    int r = (int)up[i][4];
    bops_tensor x = {.ndim = 4, .shape = {up[i][0], up[i][1], up[i][2], up[i][3]}};
    bops_tensor y = {.ndim = 4, .shape = {up[i][0], up[i][1], up[i][2] * r, up[i][3] * r}};
    char xs[48];
    shape_str(&x, xs, sizeof xs);
    bops_case *c = add(l, run_upsample, 1e-14, "upsample_nearest r=%d %s", r, xs);
    c->ia[0] = r;
    ten_like(c, BOPS_IN, -1, 1, &x);
    ten_like(c, BOPS_OUT, 0, 0, &y);
    c = add(l, run_upsample_bwd, 1e-13, "upsample_nearest backward r=%d %s", r, xs);
    c->ia[0] = r;
    ten_like(c, BOPS_IN, -1, 1, &y);
    ten_like(c, BOPS_ACC, 2, 3, &x);
  }
}

/* optimiser: adam fa = beta1, beta2, step_size, eps_hat, decay, l2 */
static void run_adam(dx_backend *be, dx_tensor **t, const bops_case *c) {
  dx_adam_args a = {c->fa[0], c->fa[1], c->fa[2], c->fa[3], c->fa[4], c->fa[5]};
  be->adam(be, t[0], t[1], t[2], t[3], &a);
}
static void run_sum_squares(dx_backend *be, dx_tensor **t, const bops_case *c) {
  (void)c;
  be->sum_squares(be, t[0], t[1]);
  be->sum_squares(be, t[2], t[1]); /* accumulates across calls */
}
static void run_scale_inplace(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->scale_inplace(be, t[0], c->fa[0]);
}
static void run_lerp(dx_backend *be, dx_tensor **t, const bops_case *c) {
  be->lerp(be, t[0], t[1], c->fa[0]);
}

static void optim_cases(bops_list *l) {
  for (int w = 0; w < 2; w++) {
    bops_case *c = add(l, run_adam, 1e-10, "adam%s (3001)", w ? "W with decay" : " with L2");
    double fa[6] = {0.9, 0.999, 1e-3, 1e-8, w ? 1e-4 : 0, w ? 0 : 1e-2};
    memcpy(c->fa, fa, sizeof fa);
    ten(c, BOPS_ACC, 2, 3, 1, 3001, 0, 0, 0);
    ten(c, BOPS_IN, -1, 1, 1, 3001, 0, 0, 0);
    ten(c, BOPS_ACC, -0.1, 0.1, 1, 3001, 0, 0, 0);
    ten(c, BOPS_ACC, 0, 0.01, 1, 3001, 0, 0, 0);
  }
  bops_case *c = add(l, run_sum_squares, 1e-13, "sum_squares (100003) then (7) into one sum");
  ten(c, BOPS_IN, -1, 1, 1, 100003, 0, 0, 0);
  ten(c, BOPS_ACC, 0, 1, 1, 1, 0, 0, 0)->f64 = true;
  ten(c, BOPS_IN, -1, 1, 1, 7, 0, 0, 0);
  c = add(l, run_scale_inplace, 1e-14, "scale_inplace 0.3 (2,999)");
  c->fa[0] = 0.3;
  ten(c, BOPS_ACC, 2, 3, 2, 2, 999, 0, 0);
  c = add(l, run_lerp, 1e-13, "lerp 0.001 (5,321)");
  c->fa[0] = 1e-3;
  ten(c, BOPS_ACC, 2, 3, 2, 5, 321, 0, 0);
  ten(c, BOPS_IN, -1, 1, 2, 5, 321, 0, 0);
}

/* The slots each run function calls, besides those of the harness (run_on). */
static const struct {
  bops_run_fn run;
  const char *slots;
} calls[] = {
    {run_fill, "fill"},
    {run_copy, "copy"},
    {run_axpy, "axpy"},
    {run_rand, "rand"},
    {run_dropout, "dropout_mask"},
    {run_time_embedding, "time_embedding"},
    {run_write, "write"},
    {run_write_ahead, "copy write_start write_finish"},
    {run_gemm, "gemm"},
    {run_conv_fwd, "conv2d_workspace conv2d_fwd"},
    {run_conv_bwd_data, "conv2d_workspace conv2d_bwd_data"},
    {run_conv_bwd_filter, "conv2d_workspace conv2d_bwd_filter"},
    {run_unary, "unary"},
    {run_unary_bwd, "unary_bwd"},
    {run_binary, "binary"},
    {run_binary_bwd, "binary_bwd"},
    {run_compare, "compare"},
    {run_where, "where"},
    {run_where_bwd, "where_bwd"},
    {run_reduce_sum, "reduce_sum"},
    {run_broadcast_acc, "broadcast_acc"},
    {run_gn_fwd, "group_norm_fwd"},
    {run_gn_bwd, "group_norm_fwd group_norm_bwd"},
    {run_gns_fwd, "group_norm_silu_fwd"},
    {run_gns_bwd, "group_norm_silu_fwd group_norm_silu_bwd"},
    {run_sm_fwd, "softmax_fwd"},
    {run_sm_bwd, "softmax_bwd"},
    {run_permute, "permute"},
    {run_copy_channels, "copy_channels"},
    {run_pixel_shuffle, "pixel_shuffle"},
    {run_upsample, "upsample_nearest"},
    {run_upsample_bwd, "upsample_nearest_bwd"},
    {run_adam, "adam"},
    {run_sum_squares, "sum_squares"},
    {run_scale_inplace, "scale_inplace"},
    {run_lerp, "lerp"},
};

/* whether the space-separated list has the word w */
static bool has_word(const char *list, const char *w) {
  size_t n = strlen(w);
  for (const char *p = list; (p = strstr(p, w)) != NULL; p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return true;
  return false;
}

bool bops_covers(const bops_list *l, const char *slot) {
  if (has_word("alloc free write read synchronize", slot)) return true;
  for (int i = 0; i < l->n; i++)
    for (size_t k = 0; k < sizeof calls / sizeof calls[0]; k++)
      if (calls[k].run == l->items[i].run && has_word(calls[k].slots, slot)) return true;
  return false;
}

void bops_all_cases(bops_list *l) {
  memory_cases(l);
  gemm_cases(l);
  conv_cases(l);
  elementwise_cases(l);
  reduce_cases(l);
  norm_cases(l);
  movement_cases(l);
  optim_cases(l);
}
