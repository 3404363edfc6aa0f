/* Checking, before any work, that the experiment's data is there and sound
 * (DESIGN 8: --dry-run catches what a real run would trip on). */
#include <stdio.h>

#include "data/dataset.h"
#include "train/run_plugins.h"
#include "util/err.h"

dx_status dx_experiment_check_data(const dx_experiment *e, char *err, size_t errlen) {
  char why[DX_ERRMSG_MAX];
  dx_data_split splits[2] = {DX_SPLIT_TRAIN, DX_SPLIT_TEST};
  int n = e->eval.every > 0 ? 2 : 1;
  for (int i = 0; i < n; i++) {
    dx_dataset *ds = NULL;
    dx_status st = dx_dataset_open(e->data.dataset, e->data.path, splits[i], why, sizeof why, &ds);
    dx_dataset_free(ds);
    if (st != DX_OK) return dx_errf(err, errlen, st, NULL, "data: %s", why);
  }
  return DX_OK;
}
