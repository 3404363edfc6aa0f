/* The resolved experiment as (dotted key, value) rows for the store's params
 * table, so that runs can be compared with plain SQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "util/json.h"

typedef struct walk {
  dx_flat_fn fn;
  void *user;
} walk;

/* [1, 2, 4] or ["/a", "/b"]: one row for a list of plain values. */
static dx_status list_row(const walk *w, const dx_ynode *seq, const char *key) {
  dx_strbuf b = {0};
  dx_strbuf_puts(&b, "[");
  for (int64_t i = 0; i < seq->n; i++) {
    const dx_ynode *item = seq->items[i];
    if (i) dx_strbuf_puts(&b, ", ");
    if (item->style == DX_SCALAR_QUOTED)
      dx_json_string(&b, item->text);
    else
      dx_strbuf_puts(&b, dx_ynode_is_null(item) ? "null" : item->text);
  }
  dx_strbuf_puts(&b, "]");
  char *text = dx_strbuf_take(&b);
  if (!text) return DX_ERR_NOMEM;
  dx_status st = w->fn(w->user, key, text);
  free(text);
  return st;
}

static dx_status rows(const walk *w, const dx_ynode *n, const char *key) {
  if (n->kind == DX_YNODE_SCALAR)
    return w->fn(w->user, key, dx_ynode_is_null(n) ? "null" : n->text);
  if (n->kind == DX_YNODE_SEQ && dx_ynode_all_scalars(n)) return list_row(w, n, key);
  dx_status st = DX_OK;
  for (int64_t i = 0; i < n->n && st == DX_OK; i++) {
    char sub[256];
    if (n->kind == DX_YNODE_SEQ)
      snprintf(sub, sizeof sub, "%s.%lld", key, (long long)i);
    else
      snprintf(sub, sizeof sub, "%s%s%s", key, *key ? "." : "", n->entries[i].key);
    st = rows(w, n->kind == DX_YNODE_SEQ ? n->items[i] : n->entries[i].value, sub);
  }
  return st;
}

dx_status dx_experiment_flatten(const dx_experiment *e, dx_flat_fn fn, void *user) {
  dx_ynode *tree = dx_cfg_resolved(e);
  if (!tree) return DX_ERR_NOMEM;
  walk w = {fn, user};
  dx_status st = rows(&w, tree, "");
  dx_ynode_free(tree);
  return st;
}
