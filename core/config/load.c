/* Reading experiment files and following `extends:` from file to file. */
#include "config/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml_read.h"
#include "util/err.h"
#include "util/file.h"

#define MAX_CHAIN 32
/* An experiment is a page of YAML; anything far bigger is the wrong file
 * (extends: /dev/zero would otherwise be read until memory runs out). */
#define MAX_FILE_BYTES ((size_t)1 << 20)

/* The files being loaded, outermost first, for finding cycles. */
typedef struct chain {
  const char *shown[MAX_CHAIN]; /* as they appear in messages */
  char real[MAX_CHAIN][PATH_MAX];
  int n;
} chain;

static dx_status load(dx_experiment *e, const char *path, const dx_srcpos *from, chain *c,
                      dx_ynode **out, char *err, size_t errlen);

static dx_status cannot_read(const char *path, const dx_srcpos *from, int why, char *err,
                             size_t errlen) {
  if (why == EFBIG && !from)
    return dx_errf(err, errlen, DX_ERR_IO, NULL,
                   "%s: cannot read the experiment: it holds more than %zu bytes (1 MiB), the "
                   "limit for an experiment file",
                   path, MAX_FILE_BYTES);
  if (why == EFBIG)
    return dx_errf(err, errlen, DX_ERR_IO, from,
                   "cannot read '%s' named by extends: it holds more than %zu bytes (1 MiB), the "
                   "limit for an experiment file",
                   path, MAX_FILE_BYTES);
  if (!from)
    return dx_errf(err, errlen, DX_ERR_IO, NULL, "%s: cannot read the experiment: %s", path,
                   strerror(why));
  return dx_errf(err, errlen, DX_ERR_IO, from, "cannot read '%s' named by extends: %s", path,
                 strerror(why));
}

static dx_status cycle(const chain *c, int first, const char *path, const dx_srcpos *from,
                       char *err, size_t errlen) {
  char trail[768] = "";
  for (int i = first; i < c->n; i++) {
    size_t used = strlen(trail);
    snprintf(trail + used, sizeof trail - used, "%s -> ", c->shown[i]);
  }
  return dx_errf(err, errlen, DX_ERR_CONFIG, from,
                 "extends cycle: %s%s; remove one of these extends", trail, path);
}

/* Keeps the file's path and text in the experiment, which positions in the
 * tree (and in the plugin references made from it) point into. */
static dx_status keep_source(dx_experiment *e, const char *path, char *text, const char **kept) {
  dx_exp_source *s = realloc(e->sources, (size_t)(e->n_sources + 1) * sizeof *s);
  char *p = strdup(path);
  if (s) e->sources = s;
  if (!s || !p) {
    free(p);
    free(text);
    return DX_ERR_NOMEM;
  }
  e->sources[e->n_sources++] = (dx_exp_source){p, text};
  *kept = p;
  return DX_OK;
}

/* Reads and parses one file; an empty file is an empty mapping. */
static dx_status read_tree(dx_experiment *e, const char *path, const dx_srcpos *from,
                           dx_ynode **out, char *err, size_t errlen) {
  size_t len = 0;
  uint8_t *bytes;
  dx_status got = dx_file_read_upto(path, MAX_FILE_BYTES + 1, &bytes, &len, err, errlen);
  /* An unreadable file says which experiment, or which extends:, named it. */
  if (got == DX_ERR_IO) return cannot_read(path, from, errno, err, errlen);
  if (got != DX_OK) return got;
  if (len > MAX_FILE_BYTES) {
    free(bytes);
    return cannot_read(path, from, EFBIG, err, errlen);
  }
  char *text = (char *)bytes;
  const char *file;
  dx_status st = keep_source(e, path, text, &file);
  if (st == DX_OK) st = dx_yaml_parse(text, len, file, NULL, out, err, errlen);
  if (st != DX_OK || *out) return st;
  *out = dx_ynode_new(DX_YNODE_MAP, (dx_srcpos){file, 1, 1});
  return *out ? DX_OK : DX_ERR_NOMEM;
}

static dx_status follow_extends(dx_experiment *e, const char *path, chain *c, dx_ynode **tree,
                                char *err, size_t errlen) {
  const dx_ynode *ext = dx_ynode_get(*tree, "extends");
  if (!ext) return DX_OK;
  char got[256];
  if (ext->kind != DX_YNODE_SCALAR || dx_ynode_is_null(ext))
    return dx_errf(err, errlen, DX_ERR_CONFIG, &ext->pos,
                   "extends: expected the name of an experiment file, got %s",
                   dx_ynode_describe(ext, got, sizeof got));
  char *base_path = dx_cfg_path_beside(path, ext->text);
  if (!base_path) return DX_ERR_NOMEM;
  dx_ynode *base = NULL;
  dx_status st = load(e, base_path, &ext->pos, c, &base, err, errlen);
  free(base_path);
  if (st != DX_OK) return st;
  /* The base's own extends is done with; the tree keeps this file's. */
  dx_ynode_remove(base, "extends");
  *tree = dx_ynode_merge(base, *tree);
  return *tree ? DX_OK : DX_ERR_NOMEM;
}

static dx_status load(dx_experiment *e, const char *path, const dx_srcpos *from, chain *c,
                      dx_ynode **out, char *err, size_t errlen) {
  char real[PATH_MAX];
  if (!realpath(path, real)) return cannot_read(path, from, errno, err, errlen);
  for (int i = 0; i < c->n; i++)
    if (strcmp(c->real[i], real) == 0) return cycle(c, i, path, from, err, errlen);
  if (c->n == MAX_CHAIN)
    return dx_errf(err, errlen, DX_ERR_CONFIG, from,
                   "extends goes more than %d files deep; shorten the chain", MAX_CHAIN);
  dx_status st = read_tree(e, path, from, out, err, errlen);
  if (st != DX_OK) return st;
  char got[256];
  if ((*out)->kind != DX_YNODE_MAP) {
    st = dx_errf(err, errlen, DX_ERR_CONFIG, &(*out)->pos,
                 "an experiment is a mapping of keys (name: ..., train: ...), got %s",
                 dx_ynode_describe(*out, got, sizeof got));
  } else {
    c->shown[c->n] = path;
    memcpy(c->real[c->n++], real, sizeof real);
    st = follow_extends(e, path, c, out, err, errlen);
    c->n--;
  }
  if (st != DX_OK) {
    dx_ynode_free(*out);
    *out = NULL;
  }
  return st;
}

dx_status dx_cfg_load_file(dx_experiment *e, const char *path, dx_ynode **out, char *err,
                           size_t errlen) {
  chain *c = calloc(1, sizeof *c); /* PATH_MAX per level: too big for the stack */
  if (!c) return DX_ERR_NOMEM;
  *out = NULL;
  dx_status st = load(e, path, NULL, c, out, err, errlen);
  free(c);
  return st;
}
