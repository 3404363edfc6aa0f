/* The store's open of a foreign or damaged SQLite file, then what `ddpmx runs`,
 * `show`, `export` and `run` do with it: list, show, read grids back, record
 * a run. Strings the API promises are touched, so a NULL where the schema
 * says NOT NULL is a finding. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "store/store.h"
#include "util/png.h"

#define MAX_RUNS 8

typedef struct seen {
  int64_t ids[MAX_RUNS];
  int n;
  size_t chars;
} seen;

static size_t len_of(const char *s) { return strlen(s); } /* NULL: a finding */
static size_t len_or_0(const char *s) { return s ? strlen(s) : 0; }

static int on_summary(const dx_run_summary *r, void *user) {
  seen *s = user;
  s->chars += len_of(r->name) + len_of(r->started_at) + len_or_0(r->ended_at);
  if (s->n < MAX_RUNS) s->ids[s->n++] = r->id;
  return 0;
}

static int on_run(const dx_run_row *r, void *user) {
  seen *s = user;
  s->chars += len_of(r->name) + len_of(r->started_at) + len_or_0(r->ended_at) + len_or_0(r->error) +
              len_or_0(r->experiment_yaml) + len_or_0(r->experiment_json) +
              len_or_0(r->ddpmx_version) + len_or_0(r->host) + len_or_0(r->command_line);
  return 0;
}

static int on_param(const char *key, const char *value, void *user) {
  ((seen *)user)->chars += len_of(key) + len_or_0(value);
  return 0;
}

static int on_metric(const dx_metric_row *m, void *user) {
  ((seen *)user)->chars += len_of(m->name);
  return 0;
}

static int on_plugin(const dx_store_plugin *p, void *user) {
  ((seen *)user)->chars += len_of(p->kind) + len_of(p->name) + len_or_0(p->version) +
                           len_or_0(p->path) + len_or_0(p->sha256);
  return 0;
}

static int on_checkpoint(const dx_checkpoint_row *c, void *user) {
  ((seen *)user)->chars += len_of(c->path) + len_or_0(c->sha256) + len_or_0(c->created_at);
  return 0;
}

typedef struct grids {
  dx_store *st;
  int64_t run;
  int n;
  dx_status status; /* of the first grid that could not be read */
} grids;

static int on_sample(const dx_sample_row *r, void *user) {
  grids *g = user;
  if (g->n++ >= 4) return 1;
  dx_store_sample s;
  (void)len_of(r->tag);
  g->status = dx_store_get_sample(g->st, g->run, r->step, r->tag, &s);
  if (g->status != DX_OK) return 1; /* a refusal, as the commands that read grids give */
  dx_image img;
  char err[256];
  if (dx_png_decode(s.png, s.len, &img, err, sizeof err) == DX_OK) dx_image_free(&img);
  dx_store_sample_clear(&s);
  return 0;
}

static dx_status use(dx_store *st, char *err, size_t errlen) {
  seen s = {0};
  dx_status rc = dx_store_list_runs(st, on_summary, &s);
  const dx_run_visitor v = {on_run, on_param, on_metric, on_plugin, on_checkpoint, NULL};
  for (int i = 0; rc == DX_OK && i < s.n; i++) {
    rc = dx_store_show_run(st, s.ids[i], &v, &s);
    grids g = {st, s.ids[i], 0, DX_OK};
    const dx_run_visitor only_samples = {.sample = on_sample};
    if (rc == DX_OK) rc = dx_store_show_run(st, s.ids[i], &only_samples, &g);
    if (rc == DX_OK) rc = g.status;
  }
  int64_t id = 0;
  const char *keys[] = {"train.lr"}, *values[] = {"0.0002"};
  dx_run_info info = {.name = "fuzz",
                      .seed = 1,
                      .host = "fuzz",
                      .param_keys = keys,
                      .param_values = values,
                      .n_params = 1};
  if (rc == DX_OK) rc = dx_store_run_begin(st, &info, &id);
  if (rc == DX_OK) rc = dx_store_log_metric(st, id, 1, "loss", 0.5);
  if (rc == DX_OK) rc = dx_store_run_end(st, id, DX_RUN_FINISHED, NULL);
  if (rc != DX_OK) snprintf(err, errlen, "%s", dx_store_errmsg(st));
  return rc;
}

dx_status dxf_store(const uint8_t *data, size_t size, char *err, size_t errlen) {
  dx_store *st = NULL;
  dx_status s = dx_store_open(dxf_write("runs.db", data, size), &st, err, errlen);
  if (s == DX_OK) s = use(st, err, errlen);
  dx_store_close(st, NULL, 0);
  dxf_clear();
  return s;
}
