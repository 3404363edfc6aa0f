/* A YAML document as a tree of scalars, sequences and mappings, each node
 * with the place it was written. Aliases are already expanded and merge keys
 * applied, so the rest of core/config/ never sees anchors. */
#ifndef DX_CONFIG_YNODE_H
#define DX_CONFIG_YNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/status.h"
#include "util/plugin_ref.h"

typedef enum dx_ynode_kind { DX_YNODE_SCALAR, DX_YNODE_SEQ, DX_YNODE_MAP } dx_ynode_kind;

typedef struct dx_ynode dx_ynode;

typedef struct dx_ynode_entry {
  char *key;
  dx_srcpos key_pos;
  dx_ynode *value;
} dx_ynode_entry;

struct dx_ynode {
  dx_ynode_kind kind;
  dx_srcpos pos;
  char *text;              /* SCALAR */
  dx_scalar_style style;   /* SCALAR */
  dx_ynode **items;        /* SEQ */
  dx_ynode_entry *entries; /* MAP, in the order written */
  int64_t n, cap;          /* items or entries */
};

/* NULL when out of memory. */
dx_ynode *dx_ynode_new(dx_ynode_kind kind, dx_srcpos pos);
dx_ynode *dx_ynode_scalar(const char *text, dx_scalar_style style, dx_srcpos pos);
void dx_ynode_free(dx_ynode *n);
dx_ynode *dx_ynode_copy(const dx_ynode *n);
/* Nodes in the tree under n, n included. */
int64_t dx_ynode_count(const dx_ynode *n);

/* Both take ownership of item/value, also on failure. */
dx_status dx_ynode_push(dx_ynode *seq, dx_ynode *item);
dx_status dx_ynode_put(dx_ynode *map, const char *key, dx_srcpos key_pos, dx_ynode *value);

dx_ynode_entry *dx_ynode_find(const dx_ynode *map, const char *key);
dx_ynode *dx_ynode_get(const dx_ynode *map, const char *key); /* NULL if absent */
void dx_ynode_remove(dx_ynode *map, const char *key);
/* The node at a dotted path ("train.ema.decay") below root, or NULL. */
dx_ynode *dx_ynode_at(const dx_ynode *root, const char *path);
/* The mapping that holds the node at path: root for a top-level key. */
dx_ynode *dx_ynode_parent(const dx_ynode *root, const char *path);

/* An unquoted empty, ~ or null scalar. */
bool dx_ynode_is_null(const dx_ynode *n);
/* A list holding scalars only (or nothing). */
bool dx_ynode_all_scalars(const dx_ynode *seq);
/* A mapping with a `plugin:` key: a plugin reference. */
bool dx_ynode_is_plugin(const dx_ynode *n);
/* "a mapping", "a list", "'text'", "nothing" for messages. */
const char *dx_ynode_describe(const dx_ynode *n, char *buf, size_t len);

/* Deep merge for `extends:` and the schema defaults; consumes both. Maps
 * merge key by key, a null over a section keeps the section, and anything
 * else (scalars, lists, a plugin reference naming another plugin) replaces.
 * Returns the merged tree or NULL when out of memory. */
dx_ynode *dx_ynode_merge(dx_ynode *base, dx_ynode *over);

#endif
