/* Loading a set of runs for comparison. */
#include "report/runset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dx_status add_id(dx_runset *rs, int64_t id) {
  for (size_t i = 0; i < rs->n; i++)
    if (rs->runs[i].id == id) return DX_OK;
  dx_rs_run *runs = realloc(rs->runs, (rs->n + 1) * sizeof *runs);
  if (!runs) return DX_ERR_NOMEM;
  rs->runs = runs;
  rs->runs[rs->n++] = (dx_rs_run){.id = id};
  return DX_OK;
}

static int add_summary(const dx_run_summary *r, void *user) {
  return add_id(user, r->id) == DX_OK ? 0 : 1;
}

dx_status dx_runset_add_sweep(dx_runset *rs, dx_store *st, int64_t sweep_id) {
  dx_run_filter f = {.sweep_id = sweep_id};
  return dx_store_list_runs_where(st, &f, add_summary, rs);
}

dx_status dx_runset_add(dx_runset *rs, dx_store *st, const char *ref) {
  int64_t id;
  /* A sweep's name first: sweep and run names differ (NAME-sweep against
   * NAME[...]), and a bare number is a run's id unless written sweep:N. */
  bool digits = ref[0] && strspn(ref, "0123456789") == strlen(ref);
  if (!digits && dx_store_find_sweep(st, ref, &id) == DX_OK) return dx_runset_add_sweep(rs, st, id);
  dx_status s = dx_store_find_run(st, ref, &id);
  return s == DX_OK ? add_id(rs, id) : s;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int on_run(const dx_run_row *row, void *user) {
  dx_rs_run *r = user;
  r->name = dup_or_null(row->name);
  r->error = dup_or_null(row->error);
  r->started_at = dup_or_null(row->started_at);
  r->ended_at = dup_or_null(row->ended_at);
  r->status = row->status;
  r->seed = row->seed;
  return r->name ? 0 : 1;
}

static int on_param(const char *key, const char *value, void *user) {
  dx_rs_run *r = user;
  char **k = realloc(r->keys, (r->n_params + 1) * sizeof *k);
  if (k) r->keys = k;
  char **v = k ? realloc(r->values, (r->n_params + 1) * sizeof *v) : NULL;
  if (v) r->values = v;
  if (!k || !v) return 1;
  r->keys[r->n_params] = strdup(key);
  r->values[r->n_params] = strdup(value ? value : "null");
  return r->keys[r->n_params++] && r->values[r->n_params - 1] ? 0 : 1;
}

static int on_metric(const dx_metric_row *m, void *user) {
  dx_rs_run *r = user;
  dx_rs_metric *ms = realloc(r->metrics, (r->n_metrics + 1) * sizeof *ms);
  if (!ms) return 1;
  r->metrics = ms;
  ms[r->n_metrics] = (dx_rs_metric){strdup(m->name), m->step, m->is_null ? NAN : m->value};
  return ms[r->n_metrics++].name ? 0 : 1;
}

static int on_sample(const dx_sample_row *s, void *user) {
  ((dx_rs_run *)user)->grid_bytes += s->bytes;
  return 0;
}

static int on_checkpoint(const dx_checkpoint_row *c, void *user) {
  (void)c;
  ((dx_rs_run *)user)->ckpt_count++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A key differs when some run lacks it or has another value. */
static bool differs(const dx_runset *rs, const char *key) {
  const char *first = dx_rs_param(&rs->runs[0], key);
  for (size_t i = 1; i < rs->n; i++) {
    const char *v = dx_rs_param(&rs->runs[i], key);
    if (!first || !v || strcmp(first, v) != 0) return true;
  }
  return !first;
}

static dx_status find_diff(dx_runset *rs) {
  for (size_t i = 0; i < rs->n; i++)
    for (size_t k = 0; k < rs->runs[i].n_params; k++) {
      const char *key = rs->runs[i].keys[k];
      bool seen = false;
      for (size_t d = 0; d < rs->n_diff && !seen; d++)
        seen = strcmp(rs->diff[d], key) == 0;
      if (seen || rs->n < 2 || !differs(rs, key)) continue;
      char **diff = realloc(rs->diff, (rs->n_diff + 1) * sizeof *diff);
      if (!diff) return DX_ERR_NOMEM;
      rs->diff = diff;
      if (!(rs->diff[rs->n_diff++] = strdup(key))) return DX_ERR_NOMEM;
      if (strcmp(key, "seed") == 0) rs->has_seed_axis = true;
    }
  if (rs->n_diff) qsort(rs->diff, rs->n_diff, sizeof *rs->diff, cmp_str);
  return DX_OK;
}

/* diffusion.schedule.s belongs to the plugin diffusion.schedule.plugin
 * names: when the plugin differs and some run has no such parameter, the
 * key says nothing beyond the plugin's row, and is left out. */
static bool follows_plugin(const dx_runset *rs, const char *key) {
  const char *dot = strrchr(key, '.');
  if (!dot || strcmp(dot + 1, "plugin") == 0) return false;
  char plugin_key[512];
  snprintf(plugin_key, sizeof plugin_key, "%.*s.plugin", (int)(dot - key), key);
  bool plugin_differs = false, someone_lacks = false;
  for (size_t d = 0; d < rs->n_diff; d++)
    plugin_differs = plugin_differs || strcmp(rs->diff[d], plugin_key) == 0;
  for (size_t i = 0; i < rs->n; i++)
    someone_lacks = someone_lacks || !dx_rs_param(&rs->runs[i], key);
  return plugin_differs && someone_lacks;
}

static dx_status drop_plugin_params(dx_runset *rs) {
  bool *drop = calloc(rs->n_diff + 1, sizeof *drop);
  if (!drop) return DX_ERR_NOMEM;
  for (size_t d = 0; d < rs->n_diff; d++)
    drop[d] = follows_plugin(rs, rs->diff[d]);
  size_t kept = 0;
  for (size_t d = 0; d < rs->n_diff; d++) {
    if (drop[d])
      free(rs->diff[d]), rs->hidden++;
    else
      rs->diff[kept++] = rs->diff[d];
  }
  rs->n_diff = kept;
  free(drop);
  return DX_OK;
}

dx_status dx_runset_load(dx_runset *rs, dx_store *st) {
  dx_run_visitor v = {.run = on_run,
                      .param = on_param,
                      .metric = on_metric,
                      .checkpoint = on_checkpoint,
                      .sample = on_sample};
  for (size_t i = 0; i < rs->n; i++) {
    dx_status s = dx_store_show_run(st, rs->runs[i].id, &v, &rs->runs[i]);
    if (s != DX_OK) return s;
    if (!rs->runs[i].name) return DX_ERR_NOMEM;
  }
  dx_status s = find_diff(rs);
  if (s == DX_OK) s = drop_plugin_params(rs);
  return s;
}

static void free_run(dx_rs_run *r) {
  for (size_t k = 0; k < r->n_params; k++)
    free(r->keys[k]), free(r->values[k]);
  for (size_t k = 0; k < r->n_metrics; k++)
    free(r->metrics[k].name);
  free(r->keys), free(r->values), free(r->metrics);
  free(r->name), free(r->error), free(r->started_at), free(r->ended_at);
}

void dx_runset_free(dx_runset *rs) {
  for (size_t i = 0; i < rs->n; i++)
    free_run(&rs->runs[i]);
  for (size_t d = 0; d < rs->n_diff; d++)
    free(rs->diff[d]);
  free(rs->runs);
  free(rs->diff);
  *rs = (dx_runset){0};
}

const char *dx_rs_param(const dx_rs_run *r, const char *key) {
  for (size_t k = 0; k < r->n_params; k++)
    if (strcmp(r->keys[k], key) == 0) return r->values[k];
  return NULL;
}

const dx_rs_metric *dx_rs_metric_of(const dx_rs_run *r, const char *name) {
  for (size_t k = 0; k < r->n_metrics; k++)
    if (strcmp(r->metrics[k].name, name) == 0) return &r->metrics[k];
  return NULL;
}

int dx_rs_metric_sense(const char *name) {
  if (strncmp(name, "loss", 4) == 0 || strncmp(name, "bpd", 3) == 0) return -1;
  if (strcmp(name, "images_per_s") == 0) return 1;
  return 0;
}

const char **dx_runset_metric_names(const dx_runset *rs, size_t *n) {
  const char **names = NULL;
  *n = 0;
  for (size_t i = 0; i < rs->n; i++)
    for (size_t k = 0; k < rs->runs[i].n_metrics; k++) {
      const char *m = rs->runs[i].metrics[k].name;
      bool seen = false;
      for (size_t j = 0; j < *n && !seen; j++)
        seen = strcmp(names[j], m) == 0;
      if (seen) continue;
      const char **more = realloc(names, (*n + 1) * sizeof *more);
      if (!more) {
        free(names);
        *n = 0;
        return NULL;
      }
      names = more;
      names[(*n)++] = m;
    }
  if (*n) qsort(names, *n, sizeof *names, cmp_str);
  return names;
}
