#include "config/ynode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dx_ynode *dx_ynode_new(dx_ynode_kind kind, dx_srcpos pos) {
  dx_ynode *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->pos = pos;
  return n;
}

dx_ynode *dx_ynode_scalar(const char *text, dx_scalar_style style, dx_srcpos pos) {
  dx_ynode *n = dx_ynode_new(DX_YNODE_SCALAR, pos);
  if (!n) return NULL;
  n->text = strdup(text);
  if (!n->text) {
    free(n);
    return NULL;
  }
  n->style = style;
  return n;
}

void dx_ynode_free(dx_ynode *n) {
  if (!n) return;
  for (int64_t i = 0; i < n->n; i++) {
    if (n->kind == DX_YNODE_SEQ) {
      dx_ynode_free(n->items[i]);
    } else {
      free(n->entries[i].key);
      dx_ynode_free(n->entries[i].value);
    }
  }
  free(n->items);
  free(n->entries);
  free(n->text);
  free(n);
}

dx_ynode *dx_ynode_copy(const dx_ynode *n) {
  if (n->kind == DX_YNODE_SCALAR) return dx_ynode_scalar(n->text, n->style, n->pos);
  dx_ynode *c = dx_ynode_new(n->kind, n->pos);
  if (!c) return NULL;
  for (int64_t i = 0; i < n->n; i++) {
    dx_status st;
    if (n->kind == DX_YNODE_SEQ) {
      dx_ynode *item = dx_ynode_copy(n->items[i]);
      st = item ? dx_ynode_push(c, item) : DX_ERR_NOMEM;
    } else {
      const dx_ynode_entry *en = &n->entries[i];
      dx_ynode *v = dx_ynode_copy(en->value);
      st = v ? dx_ynode_put(c, en->key, en->key_pos, v) : DX_ERR_NOMEM;
    }
    if (st != DX_OK) {
      dx_ynode_free(c);
      return NULL;
    }
  }
  return c;
}

int64_t dx_ynode_count(const dx_ynode *n) {
  int64_t c = 1;
  for (int64_t i = 0; i < n->n; i++)
    c += dx_ynode_count(n->kind == DX_YNODE_SEQ ? n->items[i] : n->entries[i].value);
  return c;
}

/* Makes room for one more item or entry. */
static bool grow(dx_ynode *n) {
  if (n->n < n->cap) return true;
  int64_t cap = n->cap ? 2 * n->cap : 4;
  if (n->kind == DX_YNODE_SEQ) {
    dx_ynode **items = realloc(n->items, (size_t)cap * sizeof *items);
    if (!items) return false;
    n->items = items;
  } else {
    dx_ynode_entry *entries = realloc(n->entries, (size_t)cap * sizeof *entries);
    if (!entries) return false;
    n->entries = entries;
  }
  n->cap = cap;
  return true;
}

dx_status dx_ynode_push(dx_ynode *seq, dx_ynode *item) {
  if (!grow(seq)) {
    dx_ynode_free(item);
    return DX_ERR_NOMEM;
  }
  seq->items[seq->n++] = item;
  return DX_OK;
}

dx_status dx_ynode_put(dx_ynode *map, const char *key, dx_srcpos key_pos, dx_ynode *value) {
  char *k = strdup(key);
  if (!k || !grow(map)) {
    free(k);
    dx_ynode_free(value);
    return DX_ERR_NOMEM;
  }
  map->entries[map->n++] = (dx_ynode_entry){k, key_pos, value};
  return DX_OK;
}

dx_ynode_entry *dx_ynode_find(const dx_ynode *map, const char *key) {
  if (!map || map->kind != DX_YNODE_MAP) return NULL;
  for (int64_t i = 0; i < map->n; i++)
    if (strcmp(map->entries[i].key, key) == 0) return &map->entries[i];
  return NULL;
}

dx_ynode *dx_ynode_get(const dx_ynode *map, const char *key) {
  dx_ynode_entry *en = dx_ynode_find(map, key);
  return en ? en->value : NULL;
}

void dx_ynode_remove(dx_ynode *map, const char *key) {
  dx_ynode_entry *en = dx_ynode_find(map, key);
  if (!en) return;
  free(en->key);
  dx_ynode_free(en->value);
  int64_t i = en - map->entries;
  memmove(en, en + 1, (size_t)(map->n - i - 1) * sizeof *en);
  map->n--;
}

dx_ynode *dx_ynode_at(const dx_ynode *root, const char *path) {
  char key[128];
  const dx_ynode *n = root;
  while (n && *path) {
    size_t len = strcspn(path, ".");
    if (len >= sizeof key) return NULL;
    memcpy(key, path, len);
    key[len] = '\0';
    n = dx_ynode_get(n, key);
    path += len + (path[len] == '.');
  }
  return (dx_ynode *)n;
}

dx_ynode *dx_ynode_parent(const dx_ynode *root, const char *path) {
  char section[128];
  const char *dot = strrchr(path, '.');
  if (!dot) return (dx_ynode *)root;
  if ((size_t)(dot - path) >= sizeof section) return NULL;
  snprintf(section, sizeof section, "%.*s", (int)(dot - path), path);
  return dx_ynode_at(root, section);
}

bool dx_ynode_is_null(const dx_ynode *n) {
  if (!n || n->kind != DX_YNODE_SCALAR || n->style != DX_SCALAR_PLAIN) return false;
  const char *t = n->text;
  return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL");
}

bool dx_ynode_all_scalars(const dx_ynode *seq) {
  for (int64_t i = 0; i < seq->n; i++)
    if (seq->items[i]->kind != DX_YNODE_SCALAR) return false;
  return true;
}

bool dx_ynode_is_plugin(const dx_ynode *n) { return dx_ynode_find(n, "plugin") != NULL; }

const char *dx_ynode_describe(const dx_ynode *n, char *buf, size_t len) {
  if (n->kind == DX_YNODE_MAP) return "a mapping";
  if (n->kind == DX_YNODE_SEQ) return "a list";
  if (dx_ynode_is_null(n)) return "nothing";
  snprintf(buf, len, "'%s'", n->text);
  return buf;
}

/* Two plugin references naming different plugins: the later one replaces the
 * earlier with all its arguments, since arguments of one plugin mean nothing
 * to another. */
static bool other_plugin(const dx_ynode *base, const dx_ynode *over) {
  const dx_ynode *a = dx_ynode_get(base, "plugin"), *b = dx_ynode_get(over, "plugin");
  if (!a || !b) return false;
  return a->kind != DX_YNODE_SCALAR || b->kind != DX_YNODE_SCALAR || strcmp(a->text, b->text);
}

static dx_ynode *merge_maps(dx_ynode *base, dx_ynode *over) {
  for (int64_t i = 0; i < over->n; i++) {
    dx_ynode_entry *src = &over->entries[i];
    dx_ynode_entry *dst = dx_ynode_find(base, src->key);
    dx_ynode *v = src->value;
    src->value = NULL;
    if (!dst) {
      if (dx_ynode_put(base, src->key, src->key_pos, v) != DX_OK) goto fail;
      continue;
    }
    dst->key_pos = src->key_pos;
    dst->value = dx_ynode_merge(dst->value, v);
    if (!dst->value) goto fail;
  }
  base->pos = over->pos;
  dx_ynode_free(over);
  return base;
fail:
  dx_ynode_free(base);
  dx_ynode_free(over);
  return NULL;
}

dx_ynode *dx_ynode_merge(dx_ynode *base, dx_ynode *over) {
  if (!base) return over;
  if (!over) return base;
  if (base->kind == DX_YNODE_MAP && over->kind == DX_YNODE_MAP && !other_plugin(base, over))
    return merge_maps(base, over);
  /* `train:` with nothing under it means "nothing to change here". */
  if (base->kind == DX_YNODE_MAP && !dx_ynode_is_plugin(base) && dx_ynode_is_null(over)) {
    dx_ynode_free(over);
    return base;
  }
  dx_ynode_free(base);
  return over;
}
