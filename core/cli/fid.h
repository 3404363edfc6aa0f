/* What `ddpmx eval --fid` and `ddpmx features fid` share: the feature
 * network and the test split's features, images scored against them, and
 * the printed line. */
#ifndef DX_CLI_FID_H
#define DX_CLI_FID_H

#include "cli/cli.h"
#include "train/features.h"

#define DX_CLI_DEFAULT_FEATURES "results/features"

typedef struct dx_cli_fid {
  dx_features *f;
  float *ref;                 /* (ref_n, dim): the whole test split */
  int *ref_labels, *ref_pred; /* (ref_n): its labels, and the network's */
  int64_t ref_n;
} dx_cli_fid;

/* The kind of a labelled dataset's word; -1 (after a usage message) else. */
int dx_cli_feature_dataset(const dx_cli_command *c, const char *word, dx_data_kind *kind);
/* Opens the network for the dataset in dir and runs the test split through
 * it. Returns an exit code (after printing why). */
int dx_cli_fid_open(const dx_cli_command *c, const char *dir, dx_data_kind kind,
                    const char *data_path, dx_cli_fid *out);
/* images (n, C, H, W) in [-1, 1] -> their score; pred (n) the predicted
 * classes, if not NULL. Returns an exit code. */
int dx_cli_fid_score(const dx_cli_command *c, dx_cli_fid *x, const float *images, int64_t n,
                     const int64_t shape[4], int *pred, dx_fid_score *out);
/* "FID 12.3  KID 0.0123 ± 0.0010  (what: N images against M test images;
 * feature network TAG, test accuracy A%)" */
void dx_cli_fid_print(const dx_cli_fid *x, const char *what, const dx_fid_score *s);
void dx_cli_fid_close(dx_cli_fid *x);

#endif
