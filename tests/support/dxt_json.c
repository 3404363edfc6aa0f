#include "dxt_json.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file.h"

dx_json *dxt_json_load(const char *path) {
  uint8_t *text;
  size_t len;
  char err[DX_ERRMSG_MAX];
  ck_assert_msg(dx_file_read(path, &text, &len, err, sizeof err) == DX_OK, "%s", err);
  dx_json *root = dx_json_parse((const char *)text, len, err, sizeof err);
  ck_assert_msg(root != NULL, "%s: %s", path, err);
  free(text);
  return root;
}

static const dx_json *child(const dx_json *j, const char *seg, size_t len) {
  char key[128];
  snprintf(key, sizeof key, "%.*s", (int)len, seg);
  if (j->type == DX_JSON_OBJECT) return dx_json_get(j, key);
  if (j->type != DX_JSON_ARRAY) return NULL;
  long i = strtol(key, NULL, 10);
  for (const dx_json *e = j->child; e; e = e->next, i--)
    if (i == 0) return e;
  return NULL;
}

const dx_json *dxt_json_at(const dx_json *j, const char *path) {
  for (const char *p = path; *p;) {
    size_t len = strcspn(p, ".");
    j = child(j, p, len);
    ck_assert_msg(j != NULL, "reference has no '%s' (in '%s')", p, path);
    p += len + (p[len] == '.');
  }
  return j;
}

double dxt_json_num(const dx_json *j, const char *path) {
  const dx_json *v = dxt_json_at(j, path);
  ck_assert_msg(v->type == DX_JSON_NUMBER, "reference '%s' is not a number", path);
  return v->num;
}

int64_t dxt_json_len(const dx_json *j, const char *path) {
  return (int64_t)dx_json_count(dxt_json_at(j, path));
}

double *dxt_json_nums(const dx_json *j, const char *path, int64_t *n) {
  const dx_json *v = dxt_json_at(j, path);
  ck_assert_msg(v->type == DX_JSON_ARRAY, "reference '%s' is not an array", path);
  *n = (int64_t)dx_json_count(v);
  double *out = malloc((size_t)(*n ? *n : 1) * sizeof *out), *o = out;
  for (const dx_json *e = v->child; e; e = e->next) {
    ck_assert_msg(e->type == DX_JSON_NUMBER, "reference '%s' holds a non-number", path);
    *o++ = e->num;
  }
  return out;
}
