/* FID and KID of a set of features against a reference set. */
#include <stdlib.h>

#include "train/features_internal.h"
#include "util/err.h"

dx_status dx_features_score(const dx_features *f, const float *feat, int64_t n, const float *ref,
                            int64_t ref_n, const dx_kid_opts *ko, dx_fid_score *out, char *err,
                            size_t errlen) {
  int64_t D = f->info.dim;
  *out = (dx_fid_score){.n = n, .ref_n = ref_n};
  double *m1 = malloc((size_t)D * sizeof *m1), *m2 = malloc((size_t)D * sizeof *m2);
  double *c1 = malloc((size_t)(D * D) * sizeof *c1), *c2 = malloc((size_t)(D * D) * sizeof *c2);
  dx_status st =
      m1 && m2 && c1 && c2 ? DX_OK : dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  if (st == DX_OK) st = dx_feature_stats(feat, n, D, m1, c1, err, errlen);
  if (st == DX_OK) st = dx_feature_stats(ref, ref_n, D, m2, c2, err, errlen);
  if (st == DX_OK) st = dx_frechet_distance(D, m1, c1, m2, c2, &out->fid, err, errlen);
  if (st == DX_OK)
    st = dx_kid(feat, n, ref, ref_n, D, ko, &out->kid, &out->kid_spread, err, errlen);
  free(m1), free(m2), free(c1), free(c2);
  return st;
}
