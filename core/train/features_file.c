/* The feature network on disk and in use: <dir>/<dataset>.safetensors (the
 * weights, with what they are in __metadata__) and <dataset>.json (the same
 * for people, with the file's SHA-256); loading it back, and running images
 * through it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "train/features_internal.h"
#include "util/err.h"
#include "util/file.h"
#include "util/sha256.h"
#include "util/strbuf.h"

void dx_features_file(const char *dir, const char *dataset, const char *ext, char *out,
                      size_t len) {
  snprintf(out, len, "%s/%s.%s", dir, dataset, ext);
}

static dx_status write_note(const char *path, const dx_features_info *in, char *err,
                            size_t errlen) {
  dx_strbuf b = {0};
  dx_strbuf_puts(&b, "{\n  \"format\": \"" DX_FEATURES_FORMAT "\",\n  \"dataset\": ");
  dx_json_string(&b, in->dataset);
  dx_strbuf_printf(&b, ",\n  \"sha256\": \"%s\",\n  \"test_accuracy\": %.4f,\n", in->sha256,
                   in->accuracy);
  dx_strbuf_puts(&b, "  \"architecture\": ");
  dx_json_string(&b, in->arch);
  dx_strbuf_printf(
      &b,
      ",\n  \"input\": [%" PRId64 ", %" PRId64 ", %" PRId64 "],\n  \"features\": %" PRId64
      ",\n  \"seed\": %" PRId64 ",\n  \"epochs\": %" PRId64 ",\n  \"train_images\": %" PRId64
      ",\n  \"train_seconds\": %.1f\n}\n",
      in->C, in->H, in->W, in->dim, in->seed, in->epochs, in->train_images, in->seconds);
  char *text = dx_strbuf_take(&b);
  if (!text) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  FILE *f = fopen(path, "w");
  bool ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) ok = false;
  free(text);
  return ok ? DX_OK
            : dx_errf(err, errlen, DX_ERR_IO, DX_AT(path), "cannot write: %s", strerror(errno));
}

dx_status dx_features_save(dx_ctx *ctx, const fnet *n, const char *dir, dx_features_info *info,
                           char *err, size_t errlen) {
  char path[4200], note[4200];
  dx_status st = dx_make_dirs(dir, err, errlen);
  if (st != DX_OK) return st;
  dx_features_file(dir, info->dataset, "safetensors", path, sizeof path);
  dx_features_file(dir, info->dataset, "json", note, sizeof note);
  dx_st_item *items = malloc((size_t)n->params.n * sizeof *items);
  if (!items) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  for (int64_t i = 0; i < n->params.n; i++)
    items[i] = (dx_st_item){n->params.items[i]->name, n->params.items[i]};
  /* Everything here follows from the seed and the data: the training time
   * stays out (it is in the JSON note), so one seed gives one SHA-256. */
  char c[24], h[24], w[24], width[24], classes[24], acc[32], seed[24], epochs[24], count[24];
  snprintf(c, sizeof c, "%" PRId64, info->C), snprintf(h, sizeof h, "%" PRId64, info->H);
  snprintf(w, sizeof w, "%" PRId64, info->W),
      snprintf(width, sizeof width, "%" PRId64, info->width);
  snprintf(classes, sizeof classes, "%" PRId64, info->classes);
  snprintf(acc, sizeof acc, "%.6f", info->accuracy);
  snprintf(seed, sizeof seed, "%" PRId64, info->seed);
  snprintf(epochs, sizeof epochs, "%" PRId64, info->epochs);
  snprintf(count, sizeof count, "%" PRId64, info->train_images);
  const char *meta[] = {"format",        DX_FEATURES_FORMAT,
                        "dataset",       info->dataset,
                        "channels",      c,
                        "height",        h,
                        "width",         w,
                        "base_width",    width,
                        "classes",       classes,
                        "test_accuracy", acc,
                        "seed",          seed,
                        "epochs",        epochs,
                        "train_images",  count,
                        "architecture",  info->arch};
  st = dx_safetensors_write(ctx, path, items, n->params.n, meta, sizeof meta / sizeof *meta / 2,
                            err, errlen);
  free(items);
  if (st == DX_OK) st = dx_sha256_file(path, info->sha256, err, errlen);
  if (st == DX_OK) st = write_note(note, info, err, errlen);
  return st;
}

static bool meta_int(const dx_safetensors *f, const char *key, int64_t *out) {
  const char *v = dx_safetensors_meta(f, key);
  char *end;
  if (!v) return false;
  long long x = strtoll(v, &end, 10);
  *out = x;
  return *end == '\0' && end != v;
}

static dx_status read_info(const dx_safetensors *f, const char *path, dx_features_info *in,
                           char *err, size_t errlen) {
  const char *format = dx_safetensors_meta(f, "format"), *ds = dx_safetensors_meta(f, "dataset");
  const char *acc = dx_safetensors_meta(f, "test_accuracy"),
             *arch = dx_safetensors_meta(f, "architecture");
  if (!format || strcmp(format, DX_FEATURES_FORMAT) != 0)
    return dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
                   "not a ddpmx feature network (format %s)", format ? format : "missing");
  bool ok = ds && acc && arch && meta_int(f, "channels", &in->C) && meta_int(f, "height", &in->H) &&
            meta_int(f, "width", &in->W) && meta_int(f, "base_width", &in->width) &&
            meta_int(f, "classes", &in->classes) && meta_int(f, "seed", &in->seed) &&
            meta_int(f, "epochs", &in->epochs) && meta_int(f, "train_images", &in->train_images);
  if (!ok || in->C < 1 || in->width < 1 || in->classes < 2 || in->H < 1 || in->W < 1)
    return dx_errf(err, errlen, DX_ERR_PARSE, DX_AT(path),
                   "the feature network's metadata is incomplete");
  snprintf(in->dataset, sizeof in->dataset, "%s", ds);
  snprintf(in->arch, sizeof in->arch, "%s", arch);
  in->accuracy = strtod(acc, NULL);
  in->dim = 8 * in->width;
  return DX_OK;
}

dx_status dx_features_open(const char *dir, const char *dataset, int threads, dx_features **out,
                           char *err, size_t errlen) {
  char path[4200];
  *out = NULL;
  dx_features_file(dir, dataset, "safetensors", path, sizeof path);
  if (access(path, F_OK) != 0)
    return dx_errf(err, errlen, DX_ERR_IO, NULL,
                   "no feature network for %s in %s: run `ddpmx features train --dataset %s` first",
                   dataset, dir, dataset);
  dx_features *f = calloc(1, sizeof *f);
  if (!f) return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  dx_safetensors *st_file = NULL;
  dx_ctx_opts co = {.device = {DX_DEVICE_CPU, 0}, .threads = threads};
  dx_status st = dx_safetensors_read(path, &st_file, err, errlen);
  if (st == DX_OK) st = read_info(st_file, path, &f->info, err, errlen);
  if (st == DX_OK && !(f->ctx = dx_ctx_create(&co, err, errlen))) st = DX_ERR_NOMEM;
  if (st == DX_OK &&
      (st = dx_fnet_build(f->ctx, &f->net, f->info.C, f->info.width, f->info.classes, 0)) != DX_OK)
    dx_errf(err, errlen, st, DX_AT(path), "%s", dx_error_message(f->ctx));
  for (int64_t i = 0; st == DX_OK && i < f->net.params.n; i++) {
    dx_tensor *t = f->net.params.items[i];
    if ((st = dx_safetensors_load(f->ctx, st_file, t->name, t)) != DX_OK)
      dx_errf(err, errlen, st, DX_AT(path), "%s", dx_error_message(f->ctx));
  }
  dx_safetensors_free(st_file);
  if (st == DX_OK) st = dx_sha256_file(path, f->info.sha256, err, errlen);
  if (st != DX_OK) {
    dx_features_free(f);
    return st;
  }
  *out = f;
  return DX_OK;
}

void dx_features_free(dx_features *f) {
  if (!f) return;
  if (f->ctx) dx_fnet_free(f->ctx, &f->net);
  dx_ctx_free(f->ctx);
  free(f);
}

const dx_features_info *dx_features_info_of(const dx_features *f) { return &f->info; }

void dx_features_tag(const dx_features *f, char *out, size_t len) {
  snprintf(out, len, "%s_%.8s", f->info.dataset, f->info.sha256);
}

/* mid: "" or "wW/" for samples drawn with classes. */
static void metric_name(const dx_features *f, const char *score, const char *sampler, int64_t steps,
                        const char *mid, int64_t n, char *out, size_t len) {
  snprintf(out, len, "%s/%s-%" PRId64 "/%sn%" PRId64 "/%s_%.8s", score, sampler, steps, mid, n,
           f->info.dataset, f->info.sha256);
}

void dx_features_metric(const dx_features *f, const char *score, const char *sampler, int64_t steps,
                        int64_t n, char *out, size_t len) {
  metric_name(f, score, sampler, steps, "", n, out, len);
}

void dx_features_metric_guided(const dx_features *f, const char *score, const char *sampler,
                               int64_t steps, double w, int64_t n, char *out, size_t len) {
  char mid[40];
  snprintf(mid, sizeof mid, "w%g/", w);
  metric_name(f, score, sampler, steps, mid, n, out, len);
}

/* Chunks of images through the network with the tape off. */
#define EMBED_CHUNK 250

dx_status dx_features_embed(dx_features *f, const float *images, int64_t n, int64_t C, int64_t H,
                            int64_t W, float *feat, int *pred, char *err, size_t errlen) {
  const dx_features_info *in = &f->info;
  if (C != in->C || H < in->H || W < in->W)
    return dx_errf(err, errlen, DX_ERR_INVALID, NULL,
                   "the feature network for %s takes %" PRId64 "x%" PRId64 "x%" PRId64
                   " images, not %" PRId64 "x%" PRId64 "x%" PRId64,
                   in->dataset, in->C, in->H, in->W, C, H, W);
  int64_t top = (H - in->H) / 2, left = (W - in->W) / 2, D = in->dim, K = in->classes;
  int64_t HW = in->H * in->W;
  float *crop = malloc((size_t)(EMBED_CHUNK * C * HW) * sizeof *crop);
  float *logits = malloc((size_t)(EMBED_CHUNK * K) * sizeof *logits);
  dx_status st = crop && logits ? DX_OK : dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory");
  bool grad = dx_set_grad_enabled(f->ctx, false);
  for (int64_t first = 0; first < n && st == DX_OK; first += EMBED_CHUNK) {
    int64_t m = n - first < EMBED_CHUNK ? n - first : EMBED_CHUNK;
    for (int64_t i = 0; i < m; i++) /* centre crop: a padded canvas back to the image */
      for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < in->H; y++)
          memcpy(crop + ((i * C + c) * in->H + y) * in->W,
                 images + (((first + i) * C + c) * H + top + y) * W + left,
                 (size_t)in->W * sizeof *crop);
    dx_step_reset(f->ctx);
    int64_t shape[4] = {m, C, in->H, in->W};
    dx_tensor *x = dx_tensor_new(f->ctx, DX_F32, 4, shape), *fe = NULL;
    if (x) dx_tensor_write(f->ctx, x, crop, DX_F32);
    dx_tensor *z = dx_fnet_forward(f->ctx, &f->net, x, &fe);
    if (!z || dx_tensor_read(f->ctx, fe, feat + first * D, DX_F32) != DX_OK ||
        dx_tensor_read(f->ctx, z, logits, DX_F32) != DX_OK) {
      st = dx_errf(err, errlen, dx_status_of(f->ctx) ? dx_status_of(f->ctx) : DX_ERR_INTERNAL, NULL,
                   "feature network: %s", dx_error_message(f->ctx));
      break;
    }
    for (int64_t i = 0; pred && i < m; i++) {
      int64_t best = 0;
      for (int64_t k = 1; k < K; k++)
        if (logits[i * K + k] > logits[i * K + best]) best = k;
      pred[first + i] = (int)best;
    }
  }
  dx_set_grad_enabled(f->ctx, grad);
  dx_step_reset(f->ctx);
  free(crop), free(logits);
  return st;
}

dx_status dx_features_of_dataset(dx_features *f, const dx_dataset *ds, int64_t limit, float **feat,
                                 int **labels, int **pred, int64_t *n, char *err, size_t errlen) {
  int64_t count = dx_dataset_count(ds);
  if (limit > 0 && limit < count) count = limit;
  int64_t C = dx_dataset_channels(ds), H = dx_dataset_height(ds, false),
          W = dx_dataset_width(ds, false), D = f->info.dim;
  *feat = malloc((size_t)(count * D) * sizeof **feat);
  if (labels) *labels = malloc((size_t)count * sizeof **labels);
  if (pred) *pred = malloc((size_t)count * sizeof **pred);
  int64_t *idx = malloc(EMBED_CHUNK * sizeof *idx);
  float *x = malloc((size_t)(EMBED_CHUNK * C * H * W) * sizeof *x);
  dx_status st =
      *feat && (!labels || *labels) && (!pred || *pred) && idx && x
          ? DX_OK
          : dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory for %" PRId64 " images", count);
  for (int64_t first = 0; first < count && st == DX_OK; first += EMBED_CHUNK) {
    int64_t m = count - first < EMBED_CHUNK ? count - first : EMBED_CHUNK;
    for (int64_t i = 0; i < m; i++)
      idx[i] = first + i;
    st = dx_dataset_batch(ds, idx, m, NULL, x, err, errlen);
    if (st == DX_OK)
      st = dx_features_embed(f, x, m, C, H, W, *feat + first * D, pred ? *pred + first : NULL, err,
                             errlen);
    for (int64_t i = 0; labels && st == DX_OK && i < m; i++)
      (*labels)[first + i] = dx_dataset_label(ds, first + i);
  }
  free(idx), free(x);
  if (st != DX_OK) {
    free(*feat), *feat = NULL;
    if (labels) free(*labels), *labels = NULL;
    if (pred) free(*pred), *pred = NULL;
    return st;
  }
  *n = count;
  return DX_OK;
}
