/* The backend parity harness (after ggml's test-backend-ops): every slot of
 * the backend table run on two backends from the same random inputs, the
 * outputs compared as a normalised error against a tolerance each case
 * states. Used by test_backend_ops.c, whose CPU self-checks prove that the
 * harness catches what it claims to catch, and whose --cuda mode compares
 * the CUDA backend with the CPU one.
 *
 * What a case run checks, on each backend:
 * - every tensor sits between guard elements holding a NaN-payload bit
 *   pattern; a kernel that writes one bit outside its tensor fails;
 * - inputs must come back bit for bit as written (a kernel that writes into
 *   an input fails);
 * - outputs that a kernel overwrites start as NaN, so an element it forgets
 *   fails; accumulated outputs start from the same random values on both;
 * - the backend's synchronize must report success;
 * and between the two backends, for every output:
 * - a NaN anywhere fails, an infinity must match an infinity of the same sign;
 * - NMSE = sum (b - a)^2 / sum a^2 (a the reference) must not exceed the
 *   case's tolerance. Tolerances are stated for float32 against the
 *   reference; two float64 runs must agree 1e12 times more closely. */
#ifndef DXT_BACKEND_OPS_H
#define DXT_BACKEND_OPS_H

#include <stdbool.h>

#include "backend/backend.h"

#define BOPS_MAX_T 10

typedef enum bops_role {
  BOPS_IN,  /* read only: must come back unchanged */
  BOPS_ACC, /* starts random, the kernel adds to it or updates it in place */
  BOPS_OUT  /* starts NaN, the kernel must write every element */
} bops_role;

typedef struct bops_tensor {
  int ndim;
  int64_t shape[4];
  bops_role role;
  double lo, hi; /* uniform values in [lo, hi) */
  bool integer;  /* rounded down to whole numbers (timesteps) */
  bool mask;     /* 0 or 1 */
  bool f64;      /* always float64, whatever the case's dtype */
  bool flip;     /* the other dtype than the case's (conversions) */
  bool absent;   /* passed as NULL (optional operands) */
} bops_tensor;

typedef struct bops_case bops_case;
typedef void (*bops_run_fn)(dx_backend *be, dx_tensor **t, const bops_case *c);

struct bops_case {
  char name[112];
  bops_run_fn run;
  int nt;
  bops_tensor t[BOPS_MAX_T];
  double tol; /* max NMSE of a float32 run against the reference */
  int ia[8];
  double fa[8];
};

typedef struct bops_list {
  bops_case *items;
  int n, cap;
} bops_list;

/* Every case: each slot, forward and backward, on awkward shapes. */
void bops_all_cases(bops_list *l);
void bops_list_free(bops_list *l);

/* Whether some case of l calls the table's slot `slot` (named as in
 * backend.h); alloc, free, write, read and synchronize: every case. */
bool bops_covers(const bops_list *l, const char *slot);

typedef struct bops_result {
  bool ok;
  double err;    /* worst NMSE over the outputs */
  char why[400]; /* the first failure */
} bops_result;

/* Runs case c on a (dtype da, the reference) and b (dtype db); seed picks
 * the inputs. */
bops_result bops_compare(dx_backend *a, dx_dtype da, dx_backend *b, dx_dtype db, const bops_case *c,
                         uint64_t seed);

/* The NMSE of got against ref over n values, with the NaN/infinity rules;
 * returns false (and why) when a rule is broken. */
bool bops_nmse(const double *ref, const double *got, int64_t n, double *err, char *why, size_t len);

#endif
