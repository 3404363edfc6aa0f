/* The feature network and the test split's features for the FID commands. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/fid.h"
#include "util/value.h"

int dx_cli_feature_dataset(const dx_cli_command *c, const char *word, dx_data_kind *kind) {
  int k = word ? dx_words_find(DX_DATA_KIND_WORDS, word) : -1;
  if (k < 0 || k == DX_DATA_FOLDER)
    return dx_cli_usage(c, "--dataset must be fashion-mnist, mnist or cifar10 (not '%s')",
                        word ? word : ""),
           -1;
  *kind = (dx_data_kind)k;
  return 0;
}

int dx_cli_fid_open(const dx_cli_command *c, const char *dir, dx_data_kind kind,
                    const char *data_path, dx_cli_fid *out) {
  char err[DX_ERRMSG_MAX], word[32];
  *out = (dx_cli_fid){0};
  dx_words_at(DX_DATA_KIND_WORDS, (int)kind, word, sizeof word);
  dx_status st = dx_features_open(dir, word, 0, &out->f, err, sizeof err);
  dx_dataset *test = NULL;
  if (st == DX_OK) st = dx_dataset_open(kind, data_path, DX_SPLIT_TEST, err, sizeof err, &test);
  if (st == DX_OK)
    st = dx_features_of_dataset(out->f, test, 0, &out->ref, &out->ref_labels, &out->ref_pred,
                                &out->ref_n, err, sizeof err);
  dx_dataset_free(test);
  if (st == DX_OK) return DX_EXIT_OK;
  dx_cli_fid_close(out);
  return dx_cli_fail(c, st, "%s", err);
}

int dx_cli_fid_score(const dx_cli_command *c, dx_cli_fid *x, const float *images, int64_t n,
                     const int64_t shape[4], int *pred, dx_fid_score *out) {
  char err[DX_ERRMSG_MAX];
  float *feat = malloc((size_t)(n * dx_features_info_of(x->f)->dim) * sizeof *feat);
  if (!feat) return dx_cli_fail(c, DX_ERR_NOMEM, "out of memory for %lld features", (long long)n);
  dx_status st =
      dx_features_embed(x->f, images, n, shape[1], shape[2], shape[3], feat, pred, err, sizeof err);
  dx_kid_opts ko = {0};
  if (st == DX_OK)
    st = dx_features_score(x->f, feat, n, x->ref, x->ref_n, &ko, out, err, sizeof err);
  free(feat);
  return st == DX_OK ? DX_EXIT_OK : dx_cli_fail(c, st, "%s", err);
}

void dx_cli_fid_print(const dx_cli_fid *x, const char *what, const dx_fid_score *s) {
  const dx_features_info *in = dx_features_info_of(x->f);
  char tag[64];
  dx_features_tag(x->f, tag, sizeof tag);
  printf("FID %.3f  KID %.5f ± %.5f  (%s: %lld images against %lld test images; feature network "
         "%s, test accuracy %.2f%%)\n",
         s->fid, s->kid, s->kid_spread, what, (long long)s->n, (long long)s->ref_n, tag,
         100 * in->accuracy);
}

void dx_cli_fid_close(dx_cli_fid *x) {
  dx_features_free(x->f);
  free(x->ref), free(x->ref_labels), free(x->ref_pred);
  *x = (dx_cli_fid){0};
}
