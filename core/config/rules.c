#include "config/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/value.h"

bool dx_check_name(const char *value, char *why, size_t whylen) {
  /* The name ends up in file names and SQL rows: keep it to a safe alphabet. */
  bool ok = *value != '\0';
  for (const char *c = value; *c && ok; c++)
    ok = isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-';
  if (!ok) snprintf(why, whylen, "may only use letters, digits, '_', '.' and '-'");
  return ok;
}

/* "cpu", "cuda", "cuda:N" (N a non-negative decimal) or "auto" into *d. */
static bool device_of(const char *value, dx_device *d) {
  const char *colon = strchr(value, ':'), *n = colon ? colon + 1 : "";
  char word[16];
  snprintf(word, sizeof word, "%.*s", colon ? (int)(colon - value) : (int)strlen(value), value);
  int kind = dx_words_find(DX_DEVICE_WORDS, word);
  *d = (dx_device){kind < 0 ? DX_DEVICE_CPU : (dx_device_kind)kind, atoi(n)};
  if (!colon) return kind >= 0;
  return kind == DX_DEVICE_CUDA && *n && strlen(n) <= 4 && strspn(n, "0123456789") == strlen(n);
}

bool dx_check_device(const char *value, char *why, size_t whylen) {
  dx_device d;
  if (device_of(value, &d)) return true;
  snprintf(why, whylen, "is not a device; use cpu, cuda, cuda:N or auto");
  return false;
}

/* auto leaves device_v at the CPU; device_auto says that it was asked for. */
static void parse_device(dx_experiment *e) {
  device_of(e->device, &e->device_v);
  e->device_auto = e->device_v.kind == DX_DEVICE_AUTO;
  if (e->device_auto) e->device_v = (dx_device){DX_DEVICE_CPU, 0};
}

static dx_status data_path(dx_experiment *e, const dx_ynode *root, char *err, size_t errlen) {
  if (e->data.path) return DX_OK;
  if (e->data.dataset == DX_DATA_FASHION_MNIST) {
    e->data.path = strdup(DX_FASHION_MNIST_PATH);
    return e->data.path ? DX_OK : DX_ERR_NOMEM;
  }
  const dx_ynode *data = dx_ynode_get(root, "data");
  const dx_ynode *dataset = dx_ynode_get(data, "dataset");
  return dx_errf(err, errlen, DX_ERR_CONFIG, &dataset->pos,
                 "data.path is required for the dataset '%s'; add the folder that holds it "
                 "under data",
                 dataset->text);
}

/* The place of key `section.leaf` for a message, or the file's start. */
static const dx_srcpos *place(const dx_ynode *root, const char *section, const char *leaf) {
  const dx_ynode *n = dx_ynode_get(dx_ynode_get(root, section), leaf);
  return n ? &n->pos : &root->pos;
}

/* Class conditioning: the grid's classes exist, and what needs classes has them. */
static dx_status classes(const dx_experiment *e, const dx_ynode *root, char *err, size_t errlen) {
  int64_t k = e->model.classes;
  for (int64_t i = 0; i < e->sample.n_classes; i++)
    if (e->sample.classes[i] >= k)
      return dx_errf(err, errlen, DX_ERR_CONFIG, place(root, "sample", "classes"),
                     "sample.classes[%lld] is %lld, but model.classes is %lld (labels 0 to %lld)",
                     (long long)i, (long long)e->sample.classes[i], (long long)k,
                     (long long)(k - 1));
  if (k == 0 && e->train.cond_drop > 0)
    return dx_errf(err, errlen, DX_ERR_CONFIG, place(root, "train", "cond_drop"),
                   "train.cond_drop needs a class-conditional model; set model.classes");
  if (k == 0 && e->sample.guidance != 0)
    return dx_errf(err, errlen, DX_ERR_CONFIG, place(root, "sample", "guidance"),
                   "sample.guidance needs a class-conditional model; set model.classes");
  return DX_OK;
}

dx_status dx_cfg_rules(dx_experiment *e, const dx_ynode *root, char *err, size_t errlen) {
  parse_device(e);
  dx_status st = data_path(e, root, err, errlen);
  return st == DX_OK ? classes(e, root, err, errlen) : st;
}
