/* CPU kernels: group norm and softmax, forward and backward.
 *
 * The algorithms are written once over untyped rows; the few loops that touch
 * elements are in norm_typed.inc, written once for float and double (cpu.h). Every
 * sum accumulates in double, whatever the storage type: the statistics of a
 * float32 group of 7*28*28 activations keep double precision where a float
 * accumulator can lose ~1e-4. Nor is there E[x^2] - E[x]^2 cancellation: the
 * variance is the mean squared deviation, a second pass over a group that is
 * still in cache.
 *
 * Tasks never write the same element, and each sums in a fixed order, so the
 * results are the same for any thread count. */
#include <math.h>

#include "backend/cpu/broadcast.h" /* dx_cpu_for, dx_cpu_sum_run */
#include "backend/cpu/cpu.h"

/* Softmax columns handled at once when the axis is not the last one: the
 * loops then run along contiguous memory and vectorise. */
#define TILE 64

typedef struct row_prims {
  double (*sq_dev)(const void *x, int64_t n, double mu); /* sum (x - mu)^2 */
  /* y = (x - mu) a + b */
  void (*affine)(const void *x, int64_t n, double mu, double a, double b, void *y);
  /* *s_dy = sum dy, *s_dyx = sum dy (x - mu) */
  void (*dot_dev)(const void *dy, const void *x, int64_t n, double mu, double *s_dy, double *s_dyx);
  /* dx += a dy + b (x - mu) + c */
  void (*acc_affine2)(const void *dy, const void *x, int64_t n, double a, double b, double mu,
                      double c, void *dx);
  /* The same through a SiLU, z = (x - mu) a + b: y = SiLU(z); with
   * g = dy SiLU'(z): *s_g = sum g, *s_gx = sum g (x - mu); dx += c1 g + c2 (x - mu) + c3. */
  void (*affine_silu)(const void *x, int64_t n, double mu, double a, double b, void *y);
  void (*silu_dot_dev)(const void *dy, const void *x, int64_t n, double mu, double a, double b,
                       double *s_g, double *s_gx);
  void (*silu_acc_affine2)(const void *dy, const void *x, int64_t n, double mu, double a, double b,
                           double c1, double c2, double c3, void *dx);
  /* Softmax along a contiguous row: max; y = exp(x - m); dx += y (dy - d).
   * (Sums stay out of the exp loops: a double accumulator there stops the
   * compiler from vectorising them.) */
  double (*row_max)(const void *x, int64_t n);
  void (*row_exp)(const void *x, void *y, int64_t n, double m);
  void (*row_softmax_bwd)(const void *y, const void *dy, void *dx, int64_t n, double d);
  /* The same down the columns of a (rows, w) block with leading dimension ld. */
  void (*col_max)(const void *x, int64_t rows, int64_t w, int64_t ld, double *m);
  void (*col_exp)(const void *x, void *y, int64_t rows, int64_t w, int64_t ld, const double *m);
  void (*col_sum)(const void *x, int64_t rows, int64_t w, int64_t ld, double *s);
  void (*col_scale)(void *y, int64_t rows, int64_t w, int64_t ld, const double *k);
  void (*col_dot)(const void *a, const void *b, int64_t rows, int64_t w, int64_t ld, double *d);
  /* dx += y (dy - d) */
  void (*col_softmax_bwd)(const void *y, const void *dy, void *dx, int64_t rows, int64_t w,
                          int64_t ld, const double *d);
} row_prims;

#define DX_TYPED_FILE "backend/cpu/norm_typed.inc"
#include "backend/cpu/typed.h"

static const row_prims *prims_for(dx_dtype dt) { return dt == DX_F32 ? &prims_f32 : &prims_f64; }

static double get(const dx_tensor *t, int64_t i) { return dx_cpu_load(t->dtype, t->data, i); }

static void set(dx_tensor *t, int64_t i, double v) { dx_cpu_store(t->dtype, t->data, i, v); }

/* --- group norm ------------------------------------------------------------------- */

/* One group norm call, shared by its tasks: x, y, dy, dx are (N, C, S) with S
 * the product of the dims after C; gamma, beta, dgamma, dbeta (C) or NULL;
 * mean, rstd (N*G). A group's cg*S elements (cg = C/G) are contiguous. */
typedef struct gn_job {
  const row_prims *p;
  const dx_tensor *x, *gamma, *beta, *dy, *film;
  dx_tensor *y, *mean, *rstd, *dx, *dgamma, *dbeta, *dfilm, *ws;
  int64_t n, c, s, groups, cg, d; /* d = cg * s */
  double eps;
} gn_job;

static gn_job gn_job_of(const dx_tensor *x, int groups) {
  gn_job j = {.p = prims_for(x->dtype), .x = x, .n = x->shape[0], .c = x->shape[1], .s = 1};
  for (int d = 2; d < x->ndim; d++)
    j.s *= x->shape[d];
  j.groups = groups, j.cg = j.c / groups, j.d = j.cg * j.s;
  return j;
}

static bool gn_parallel(const gn_job *j) { return j->n * j->c * j->s > DX_CPU_PAR_MIN; }

/* Group t's mean and 1/std, saved for the backward. */
static void gn_stats(const gn_job *j, int64_t t, double *mu, double *r) {
  int64_t d = j->d;
  *mu = dx_cpu_sum_run(j->x->dtype, dx_cpu_elem(j->x, t * d), d) / (double)d;
  *r = 1.0 / sqrt(j->p->sq_dev(dx_cpu_elem(j->x, t * d), d, *mu) / (double)d + j->eps);
  set(j->mean, t, *mu);
  set(j->rstd, t, *r);
}

/* Group t = (n, g): y = (x - mu) rstd gamma + beta, mu and the biased
 * variance over the group (Wu & He 2018, "Group Normalization", eq. 1-3;
 * torch.nn.GroupNorm). */
static void gn_fwd_task(const void *arg, int64_t t) {
  const gn_job *j = arg;
  const row_prims *p = j->p;
  int64_t d = j->d, s = j->s;
  double mu, r;
  gn_stats(j, t, &mu, &r);
  for (int64_t k = 0, ch = t % j->groups * j->cg; k < j->cg; k++, ch++) {
    double a = j->gamma ? r * get(j->gamma, ch) : r, b = j->beta ? get(j->beta, ch) : 0.0;
    p->affine(dx_cpu_elem(j->x, t * d + k * s), s, mu, a, b, dx_cpu_elem(j->y, t * d + k * s));
  }
}

/* x, y (N, C, S...); gamma, beta (C) or NULL; mean, rstd (N*G) */
static void group_norm_fwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                           const dx_tensor *beta, int groups, double eps, dx_tensor *y,
                           dx_tensor *mean, dx_tensor *rstd) {
  gn_job j = gn_job_of(x, groups);
  j.gamma = gamma, j.beta = beta, j.eps = eps, j.y = y, j.mean = mean, j.rstd = rstd;
  dx_cpu_for(j.n * groups, gn_parallel(&j), gn_fwd_task, &j);
}

/* Group t: dx += the gradient through the normalisation. With xhat = (x - mu) r
 * and g = gamma dy (the gradient reaching xhat), differentiating through mu
 * and r gives
 *   dx = r (g - mean(g) - xhat mean(g xhat)),   means over the group,
 * i.e. dx = r gamma dy - r^2 mean(g xhat) (x - mu) - r mean(g). */
static void gn_bwd_input_task(const void *arg, int64_t t) {
  const gn_job *j = arg;
  const row_prims *p = j->p;
  int64_t d = j->d, s = j->s, ch0 = t % j->groups * j->cg;
  double mu = get(j->mean, t), r = get(j->rstd, t), sg = 0, sgx = 0, a, b;
  for (int64_t k = 0; k < j->cg; k++) {
    p->dot_dev(dx_cpu_elem(j->dy, t * d + k * s), dx_cpu_elem(j->x, t * d + k * s), s, mu, &a, &b);
    double gm = j->gamma ? get(j->gamma, ch0 + k) : 1.0;
    sg += gm * a;
    sgx += gm * b;
  }
  double mean_g = sg / (double)d, mean_gxhat = r * sgx / (double)d;
  for (int64_t k = 0; k < j->cg; k++) {
    double gm = j->gamma ? get(j->gamma, ch0 + k) : 1.0;
    p->acc_affine2(dx_cpu_elem(j->dy, t * d + k * s), dx_cpu_elem(j->x, t * d + k * s), s, r * gm,
                   -r * r * mean_gxhat, mu, -r * mean_g, dx_cpu_elem(j->dx, t * d + k * s));
  }
}

/* Channel ch: dgamma += sum_{n,s} dy xhat, dbeta += sum_{n,s} dy. A task per
 * channel summing over n in order: no reduction across threads, so the
 * result does not depend on the thread count. */
static void gn_bwd_affine_task(const void *arg, int64_t ch) {
  const gn_job *j = arg;
  double sum_dy = 0, sum_dyxhat = 0, a, b;
  for (int64_t i = 0; i < j->n; i++) {
    int64_t t = i * j->groups + ch / j->cg, at = (i * j->c + ch) * j->s;
    j->p->dot_dev(dx_cpu_elem(j->dy, at), dx_cpu_elem(j->x, at), j->s, get(j->mean, t), &a, &b);
    sum_dy += a;
    sum_dyxhat += b * get(j->rstd, t);
  }
  if (j->dgamma) dx_cpu_add(j->dgamma->dtype, j->dgamma->data, ch, sum_dyxhat);
  if (j->dbeta) dx_cpu_add(j->dbeta->dtype, j->dbeta->data, ch, sum_dy);
}

/* x, dy, dx (N, C, S...); gamma, dgamma, dbeta (C) or NULL; mean, rstd (N*G).
 * dx, dgamma, dbeta accumulate; any may be NULL. */
static void group_norm_bwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                           const dx_tensor *mean, const dx_tensor *rstd, int groups,
                           const dx_tensor *dy, dx_tensor *dx, dx_tensor *dgamma,
                           dx_tensor *dbeta) {
  gn_job j = gn_job_of(x, groups);
  /* The job's mean and rstd are read-only here. */
  j.gamma = gamma, j.mean = (dx_tensor *)mean, j.rstd = (dx_tensor *)rstd, j.dy = dy;
  j.dx = dx, j.dgamma = dgamma, j.dbeta = dbeta;
  if (dx) dx_cpu_for(j.n * groups, gn_parallel(&j), gn_bwd_input_task, &j);
  if (dgamma || dbeta) dx_cpu_for(j.c, gn_parallel(&j), gn_bwd_affine_task, &j);
}

/* --- group norm -> FiLM -> SiLU ----------------------------------------------------- */

/* y = SiLU(u (1 + sc) + sh), u = xhat gamma + beta the group norm's output
 * and (sc, sh) = film[i, ch], film[i, C + ch] the FiLM scale and shift
 * (Perez et al. 2018; (1 + scale) as in Dhariwal & Nichol 2021): the ResNet
 * block's norm, conditioning and activation, one pass over x instead of four.
 * Per channel it is one affine map z = (x - mu) a + b followed by the SiLU:
 * a = r gamma (1 + sc), b = beta (1 + sc) + sh. */
typedef struct gns_map {
  double gm, bt, sc1, a, b; /* gamma, beta, 1 + sc; the map */
} gns_map;

static gns_map gns_map_of(const gn_job *j, int64_t t, int64_t ch, double r) {
  gns_map m = {
      .gm = j->gamma ? get(j->gamma, ch) : 1.0, .bt = j->beta ? get(j->beta, ch) : 0.0, .sc1 = 1.0};
  double sh = 0;
  if (j->film) {
    int64_t i = t / j->groups;
    m.sc1 += get(j->film, 2 * j->c * i + ch);
    sh = get(j->film, 2 * j->c * i + j->c + ch);
  }
  m.a = r * m.gm * m.sc1;
  m.b = m.bt * m.sc1 + sh;
  return m;
}

static void gns_fwd_task(const void *arg, int64_t t) {
  const gn_job *j = arg;
  int64_t d = j->d, s = j->s, ch0 = t % j->groups * j->cg;
  double mu, r;
  gn_stats(j, t, &mu, &r);
  for (int64_t k = 0; k < j->cg; k++) {
    gns_map m = gns_map_of(j, t, ch0 + k, r);
    j->p->affine_silu(dx_cpu_elem(j->x, t * d + k * s), s, mu, m.a, m.b,
                      dx_cpu_elem(j->y, t * d + k * s));
  }
}

/* x, y (N, C, S...); gamma, beta (C) or NULL; film (N, 2C) or NULL; mean, rstd (N*G) */
static void group_norm_silu_fwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                                const dx_tensor *beta, const dx_tensor *film, int groups,
                                double eps, dx_tensor *y, dx_tensor *mean, dx_tensor *rstd) {
  gn_job j = gn_job_of(x, groups);
  j.gamma = gamma, j.beta = beta, j.film = film, j.eps = eps, j.y = y, j.mean = mean, j.rstd = rstd;
  dx_cpu_for(j.n * groups, gn_parallel(&j), gns_fwd_task, &j);
}

/* Group t = (i, g). With g_z = dy SiLU'(z), per channel S1 = sum g_z and
 * S2 = sum g_z (x - mu), so that sum g_z xhat = r S2:
 *   dsh = S1,  dsc = sum g_z u = gamma r S2 + beta S1,
 * and the gradient reaching u is g_z (1 + sc), so the group norm's backward
 * (gn_bwd_input_task) runs with gamma dy replaced by gamma (1 + sc) g_z:
 *   dx = r gamma (1 + sc) g_z - r^2 mean(G xhat) (x - mu) - r mean(G),
 * mean(G) = sum_k gamma (1 + sc) S1 / d, mean(G xhat) = r sum_k gamma (1 + sc) S2 / d.
 * S1 and S2 go to the workspace for dgamma and dbeta (gns_bwd_affine_task). */
static void gns_bwd_input_task(const void *arg, int64_t t) {
  const gn_job *j = arg;
  const row_prims *p = j->p;
  int64_t d = j->d, s = j->s, ch0 = t % j->groups * j->cg, i = t / j->groups;
  double mu = get(j->mean, t), r = get(j->rstd, t), sg = 0, sgx = 0, s1, s2;
  for (int64_t k = 0, ch = ch0; k < j->cg; k++, ch++) {
    gns_map m = gns_map_of(j, t, ch, r);
    p->silu_dot_dev(dx_cpu_elem(j->dy, t * d + k * s), dx_cpu_elem(j->x, t * d + k * s), s, mu, m.a,
                    m.b, &s1, &s2);
    if (j->ws) {
      set(j->ws, i * j->c + ch, s1);
      set(j->ws, (j->n + i) * j->c + ch, s2);
    }
    if (j->dfilm) {
      dx_cpu_add(j->dfilm->dtype, j->dfilm->data, 2 * j->c * i + ch, m.gm * r * s2 + m.bt * s1);
      dx_cpu_add(j->dfilm->dtype, j->dfilm->data, 2 * j->c * i + j->c + ch, s1);
    }
    sg += m.gm * m.sc1 * s1;
    sgx += m.gm * m.sc1 * s2;
  }
  if (!j->dx) return;
  double mean_g = sg / (double)d, mean_gxhat = r * sgx / (double)d;
  for (int64_t k = 0, ch = ch0; k < j->cg; k++, ch++) {
    gns_map m = gns_map_of(j, t, ch, r);
    p->silu_acc_affine2(dx_cpu_elem(j->dy, t * d + k * s), dx_cpu_elem(j->x, t * d + k * s), s, mu,
                        m.a, m.b, r * m.gm * m.sc1, -r * r * mean_gxhat, -r * mean_g,
                        dx_cpu_elem(j->dx, t * d + k * s));
  }
}

/* Channel ch: the gradient reaching u is g_z (1 + sc), so
 * dgamma += sum_i (1 + sc) r S2, dbeta += sum_i (1 + sc) S1, summed over the
 * images in order (the same result for any thread count). */
static void gns_bwd_affine_task(const void *arg, int64_t ch) {
  const gn_job *j = arg;
  double sum_u = 0, sum_uxhat = 0;
  for (int64_t i = 0; i < j->n; i++) {
    int64_t t = i * j->groups + ch / j->cg;
    gns_map m = gns_map_of(j, t, ch, get(j->rstd, t));
    sum_u += m.sc1 * get(j->ws, i * j->c + ch);
    sum_uxhat += m.sc1 * get(j->rstd, t) * get(j->ws, (j->n + i) * j->c + ch);
  }
  if (j->dgamma) dx_cpu_add(j->dgamma->dtype, j->dgamma->data, ch, sum_uxhat);
  if (j->dbeta) dx_cpu_add(j->dbeta->dtype, j->dbeta->data, ch, sum_u);
}

/* As group_norm_bwd, plus film and dfilm (N, 2C) or NULL; ws (2*N*C), needed
 * when dgamma or dbeta is. dx, dgamma, dbeta, dfilm accumulate. */
static void group_norm_silu_bwd(dx_backend *be, const dx_tensor *x, const dx_tensor *gamma,
                                const dx_tensor *beta, const dx_tensor *film, const dx_tensor *mean,
                                const dx_tensor *rstd, int groups, const dx_tensor *dy,
                                dx_tensor *ws, dx_tensor *dx, dx_tensor *dgamma, dx_tensor *dbeta,
                                dx_tensor *dfilm) {
  gn_job j = gn_job_of(x, groups);
  j.gamma = gamma, j.beta = beta, j.film = film, j.mean = (dx_tensor *)mean;
  j.rstd = (dx_tensor *)rstd, j.dy = dy, j.ws = dgamma || dbeta ? ws : NULL;
  j.dx = dx, j.dgamma = dgamma, j.dbeta = dbeta, j.dfilm = dfilm;
  dx_cpu_for(j.n * groups, gn_parallel(&j), gns_bwd_input_task, &j);
  /* N*C small sums: a parallel region would cost more than it saves. */
  if (j.ws) dx_cpu_for(j.c, false, gns_bwd_affine_task, &j);
}

/* --- softmax ------------------------------------------------------------------------ */

/* One softmax call: x, y, dy, dx read as (O, L, I) around the axis of length
 * L. Along the last axis (I = 1) a task is a contiguous row; otherwise a task
 * is a block of up to TILE columns, so that the inner loops run along memory. */
typedef struct sm_job {
  const row_prims *p;
  const dx_tensor *x, *y, *dy; /* forward reads x; backward y and dy */
  dx_tensor *out;              /* forward: y; backward: dx */
  int64_t o, l, in, tiles;
} sm_job;

static sm_job sm_job_of(const dx_tensor *t, int axis) {
  sm_job j = {.p = prims_for(t->dtype), .o = 1, .l = t->shape[axis], .in = 1};
  for (int d = 0; d < axis; d++)
    j.o *= t->shape[d];
  for (int d = axis + 1; d < t->ndim; d++)
    j.in *= t->shape[d];
  j.tiles = (j.in + TILE - 1) / TILE;
  return j;
}

/* Runs the row or the column task over the job. */
static void sm_run(const sm_job *j, void (*row)(const void *, int64_t),
                   void (*cols)(const void *, int64_t)) {
  bool parallel = j->o * j->l * j->in > DX_CPU_PAR_MIN;
  if (j->in == 1)
    dx_cpu_for(j->o, parallel, row, j);
  else
    dx_cpu_for(j->o * j->tiles, parallel, cols, j);
}

/* Offset and width of column block t. */
static int64_t sm_block(const sm_job *j, int64_t t, int64_t *w) {
  int64_t i0 = t % j->tiles * TILE;
  *w = j->in - i0 < TILE ? j->in - i0 : TILE;
  return t / j->tiles * j->l * j->in + i0;
}

/* y = exp(x - max) / sum exp(x - max) along L; subtracting the maximum keeps
 * exp from overflowing and changes nothing else. */
static void sm_fwd_row(const void *arg, int64_t t) {
  const sm_job *j = arg;
  const void *x = dx_cpu_elem(j->x, t * j->l);
  void *y = dx_cpu_elem(j->out, t * j->l);
  j->p->row_exp(x, y, j->l, j->p->row_max(x, j->l));
  j->p->affine(y, j->l, 0.0, 1.0 / dx_cpu_sum_run(j->out->dtype, y, j->l), 0.0, y);
}

static void sm_fwd_cols(const void *arg, int64_t t) {
  const sm_job *j = arg;
  int64_t w, base = sm_block(j, t, &w);
  double m[TILE], s[TILE];
  j->p->col_max(dx_cpu_elem(j->x, base), j->l, w, j->in, m);
  j->p->col_exp(dx_cpu_elem(j->x, base), dx_cpu_elem(j->out, base), j->l, w, j->in, m);
  j->p->col_sum(dx_cpu_elem(j->out, base), j->l, w, j->in, s);
  for (int64_t i = 0; i < w; i++)
    s[i] = 1.0 / s[i];
  j->p->col_scale(dx_cpu_elem(j->out, base), j->l, w, j->in, s);
}

/* x, y any shape of rank <= 4, axis in [0, rank) */
static void softmax_fwd(dx_backend *be, const dx_tensor *x, dx_tensor *y, int axis) {
  sm_job j = sm_job_of(x, axis);
  j.x = x, j.out = y;
  sm_run(&j, sm_fwd_row, sm_fwd_cols);
}

/* The softmax Jacobian diag(y) - y y^T applied along L:
 * dx += y (dy - sum_L dy y). */
static void sm_bwd_row(const void *arg, int64_t t) {
  const sm_job *j = arg;
  const void *y = dx_cpu_elem(j->y, t * j->l), *dy = dx_cpu_elem(j->dy, t * j->l);
  double sum_y, sum_ydy; /* dot_dev with mu = 0: sum y and sum y dy */
  j->p->dot_dev(y, dy, j->l, 0.0, &sum_y, &sum_ydy);
  j->p->row_softmax_bwd(y, dy, dx_cpu_elem(j->out, t * j->l), j->l, sum_ydy);
}

static void sm_bwd_cols(const void *arg, int64_t t) {
  const sm_job *j = arg;
  int64_t w, base = sm_block(j, t, &w);
  double d[TILE];
  j->p->col_dot(dx_cpu_elem(j->y, base), dx_cpu_elem(j->dy, base), j->l, w, j->in, d);
  j->p->col_softmax_bwd(dx_cpu_elem(j->y, base), dx_cpu_elem(j->dy, base),
                        dx_cpu_elem(j->out, base), j->l, w, j->in, d);
}

/* y, dy, dx: the forward's shape; dx accumulates */
static void softmax_bwd(dx_backend *be, const dx_tensor *y, const dx_tensor *dy, dx_tensor *dx,
                        int axis) {
  sm_job j = sm_job_of(y, axis);
  j.y = y, j.dy = dy, j.out = dx;
  sm_run(&j, sm_bwd_row, sm_bwd_cols);
}

void dx_cpu_init_norm(dx_backend *be) {
  be->group_norm_fwd = group_norm_fwd;
  be->group_norm_bwd = group_norm_bwd;
  be->group_norm_silu_fwd = group_norm_silu_fwd;
  be->group_norm_silu_bwd = group_norm_silu_bwd;
  be->softmax_fwd = softmax_fwd;
  be->softmax_bwd = softmax_bwd;
}
