/* A classifier's confusion counts on samples drawn for given classes: what
 * `ddpmx eval --fid` reports for a class-conditional run, to say whether
 * guidance draws the class asked for. */
#include <string.h>

#include "metrics/metrics.h"
#include "util/err.h"

dx_status dx_confusion(const int64_t *want, const int *pred, int64_t n, int64_t classes,
                       int64_t *counts, char *err, size_t errlen) {
  memset(counts, 0, (size_t)(classes * classes) * sizeof *counts);
  for (int64_t i = 0; i < n; i++) {
    if (want[i] < 0 || want[i] >= classes || pred[i] < 0 || pred[i] >= classes)
      return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                     "sample %lld: class %lld labelled %d, outside 0 to %lld", (long long)i,
                     (long long)want[i], pred[i], (long long)(classes - 1));
    counts[want[i] * classes + pred[i]]++;
  }
  return DX_OK;
}
