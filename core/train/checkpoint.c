/* Saving and restoring the training state as safetensors. */
#include "train/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

#define PREFIXES 4
static const char *const prefix[PREFIXES] = {"", "ema/", "adam.m/", "adam.v/"};

static const dx_param_list *list_of(const dx_train_state *s, int k) {
  const dx_param_list *l[PREFIXES] = {s->params, &s->ema->shadow, &s->opt->m, &s->opt->v};
  return l[k];
}

/* Names "<prefix><param name>" for every tensor of the state, in one block. */
static char **names_of(const dx_train_state *s, int64_t *n) {
  int64_t np = s->params->n;
  char **names = calloc((size_t)(PREFIXES * np + 1), sizeof *names);
  if (!names) return NULL;
  for (int k = 0; k < PREFIXES; k++)
    for (int64_t i = 0; i < np; i++) {
      const char *base = s->params->items[i]->name;
      size_t len = strlen(prefix[k]) + strlen(base) + 1;
      if (!(names[k * np + i] = malloc(len))) return names;
      snprintf(names[k * np + i], len, "%s%s", prefix[k], base);
    }
  *n = PREFIXES * np;
  return names;
}

static void free_names(char **names, int64_t n) {
  for (int64_t i = 0; i < n && names; i++) free(names[i]);
  free(names);
}

dx_status dx_checkpoint_save(dx_ctx *ctx, const char *path, const dx_train_state *s,
                             const char *experiment_json, char *err, size_t errlen) {
  int64_t n = 0, np = s->params->n;
  char **names = names_of(s, &n);
  dx_st_item *items = calloc((size_t)(n + 1), sizeof *items);
  if (!names || !items || (n && !names[n - 1])) {
    free_names(names, PREFIXES * np), free(items);
    return snprintf(err, errlen, "out of memory writing %s", path), DX_ERR_NOMEM;
  }
  for (int k = 0; k < PREFIXES; k++)
    for (int64_t i = 0; i < np; i++) items[k * np + i] = (dx_st_item){names[k * np + i], list_of(s, k)->items[i]};
  char step[32], ostep[32];
  snprintf(step, sizeof step, "%" PRId64, s->step);
  snprintf(ostep, sizeof ostep, "%" PRId64, s->opt->step);
  const char *meta[8] = {"format", DX_CHECKPOINT_FORMAT, "step", step, "optimizer_step", ostep,
                         "experiment", experiment_json ? experiment_json : "{}"};
  dx_status st = dx_safetensors_write(ctx, path, items, n, meta, 4, err, errlen);
  free_names(names, n), free(items);
  return st;
}

static int64_t meta_int(const dx_safetensors *f, const char *key, bool *ok) {
  const char *v = dx_safetensors_meta(f, key);
  char *end;
  long long x = v ? strtoll(v, &end, 10) : 0;
  if (!v || *end) *ok = false;
  return x;
}

dx_status dx_checkpoint_load(dx_ctx *ctx, const char *path, dx_train_state *s, char *err, size_t errlen) {
  dx_safetensors *f;
  dx_status st = dx_safetensors_read(path, &f, err, errlen);
  if (st != DX_OK) return st;
  const char *format = dx_safetensors_meta(f, "format");
  bool ok = format && strcmp(format, DX_CHECKPOINT_FORMAT) == 0;
  int64_t step = meta_int(f, "step", &ok), ostep = meta_int(f, "optimizer_step", &ok);
  if (!ok) {
    dx_safetensors_free(f);
    return snprintf(err, errlen, "%s: not a ddpmx checkpoint (format, step or optimizer_step missing)", path),
           DX_ERR_PARSE;
  }
  int64_t n = 0, np = s->params->n;
  char **names = names_of(s, &n);
  for (int k = 0; k < PREFIXES && st == DX_OK && names; k++)
    for (int64_t i = 0; i < np && st == DX_OK; i++)
      st = dx_safetensors_load(ctx, f, names[k * np + i], list_of(s, k)->items[i]);
  if (!names) st = dx_set_error(ctx, DX_ERR_NOMEM, "out of memory");
  if (st != DX_OK) snprintf(err, errlen, "%s: %s", path, dx_error_message(ctx));
  else s->step = step, s->opt->step = ostep;
  free_names(names, n);
  dx_safetensors_free(f);
  return st;
}
