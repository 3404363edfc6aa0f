/* Saving and restoring the training state as safetensors. */
#include "train/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"
#include "util/err.h"

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
  for (int64_t i = 0; i < n && names; i++)
    free(names[i]);
  free(names);
}

#define TS_NAME "timesteps.state"

/* The timestep sampler's history as a persistent F64 tensor (freed by the
 * caller), or NULL when out of memory. */
static dx_tensor *ts_tensor(dx_ctx *ctx, dx_timestep_sampler *ts, double **host) {
  int64_t n = dx_timestep_sampler_state_size(ts);
  *host = malloc((size_t)n * sizeof **host);
  dx_tensor *t = *host ? dx_tensor_new_persistent(ctx, DX_F64, 1, &n) : NULL;
  return t;
}

/* The logbook as hex floats: printf's %a round-trips a double exactly. */
static void format_log(const double *log, char *buf, size_t len) {
  size_t used = 0;
  for (int i = 0; i < DX_CHECKPOINT_LOG && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, i ? " %a" : "%a", log[i]);
}

static bool parse_log(const char *text, double *log) {
  for (int i = 0; i < DX_CHECKPOINT_LOG; i++) {
    char *end;
    log[i] = strtod(text, &end);
    if (end == text) return false;
    text = end;
  }
  return *text == '\0';
}

dx_status dx_checkpoint_save(dx_ctx *ctx, const char *path, const dx_train_state *s,
                             const char *experiment_json, char *err, size_t errlen) {
  int64_t n = 0, np = s->params->n;
  char **names = names_of(s, &n);
  dx_st_item *items = calloc((size_t)(n + 2), sizeof *items);
  double *host = NULL;
  dx_tensor *ts = s->ts ? ts_tensor(ctx, s->ts, &host) : NULL;
  if (!names || !items || (n && !names[n - 1]) || (s->ts && !ts)) {
    free_names(names, PREFIXES * np), free(items), free(host);
    if (ts) dx_tensor_free(ctx, ts);
    return dx_errf(err, errlen, DX_ERR_NOMEM, NULL, "out of memory writing %s", path);
  }
  for (int k = 0; k < PREFIXES; k++)
    for (int64_t i = 0; i < np; i++)
      items[k * np + i] = (dx_st_item){names[k * np + i], list_of(s, k)->items[i]};
  int64_t n_items = n;
  if (ts) {
    dx_timestep_sampler_save(s->ts, host);
    dx_tensor_write(ctx, ts, host, DX_F64);
    items[n_items++] = (dx_st_item){TS_NAME, ts};
  }
  char step[32], ostep[32], log[DX_CHECKPOINT_LOG * 32];
  snprintf(step, sizeof step, "%" PRId64, s->step);
  snprintf(ostep, sizeof ostep, "%" PRId64, s->opt->step);
  format_log(s->log, log, sizeof log);
  const char *meta[10] = {"format",         DX_CHECKPOINT_FORMAT,
                          "step",           step,
                          "optimizer_step", ostep,
                          "logbook",        log,
                          "experiment",     experiment_json ? experiment_json : "{}"};
  dx_status st = dx_safetensors_write(ctx, path, items, n_items, meta, 5, err, errlen);
  free_names(names, n), free(items), free(host);
  if (ts) dx_tensor_free(ctx, ts);
  return st;
}

/* The timestep history, when both the file and the run have one. A file
 * from before it was saved leaves the history empty, as it always was. */
static dx_status load_timesteps(dx_ctx *ctx, const dx_safetensors *f, dx_timestep_sampler *ts) {
  if (!ts || !dx_safetensors_find(f, TS_NAME)) return DX_OK;
  double *host = NULL;
  dx_tensor *t = ts_tensor(ctx, ts, &host);
  dx_status st = t ? dx_safetensors_load(ctx, f, TS_NAME, t)
                   : dx_set_error(ctx, DX_ERR_NOMEM, "out of memory");
  if (st == DX_OK) {
    dx_tensor_read(ctx, t, host, DX_F64);
    st = dx_timestep_sampler_restore(ctx, ts, host);
  }
  if (t) dx_tensor_free(ctx, t);
  free(host);
  return st;
}

static int64_t meta_int(const dx_safetensors *f, const char *key, bool *ok) {
  const char *v = dx_safetensors_meta(f, key);
  char *end;
  long long x = v ? strtoll(v, &end, 10) : 0;
  if (!v || *end) *ok = false;
  return x;
}

dx_status dx_checkpoint_load(dx_ctx *ctx, const char *path, dx_train_state *s, char *err,
                             size_t errlen) {
  dx_safetensors *f;
  dx_status st = dx_safetensors_read(path, &f, err, errlen);
  if (st != DX_OK) return st;
  const char *format = dx_safetensors_meta(f, "format");
  bool ok = format && strcmp(format, DX_CHECKPOINT_FORMAT) == 0;
  int64_t step = meta_int(f, "step", &ok), ostep = meta_int(f, "optimizer_step", &ok);
  if (!ok) {
    dx_safetensors_free(f);
    return snprintf(err, errlen,
                    "%s: not a ddpmx checkpoint (format, step or optimizer_step missing)", path),
           DX_ERR_PARSE;
  }
  int64_t n = 0, np = s->params->n;
  char **names = names_of(s, &n);
  for (int k = 0; k < PREFIXES && st == DX_OK && names; k++)
    for (int64_t i = 0; i < np && st == DX_OK; i++)
      st = dx_safetensors_load(ctx, f, names[k * np + i], list_of(s, k)->items[i]);
  if (!names) st = dx_set_error(ctx, DX_ERR_NOMEM, "out of memory");
  if (st == DX_OK) st = load_timesteps(ctx, f, s->ts);
  if (st != DX_OK)
    dx_errf(err, errlen, st, DX_AT(path), "%s", dx_error_message(ctx));
  else
    s->step = step, s->opt->step = ostep;
  const char *log = dx_safetensors_meta(f, "logbook");
  s->has_log = st == DX_OK && log && parse_log(log, s->log);
  free_names(names, n);
  dx_safetensors_free(f);
  return st;
}
