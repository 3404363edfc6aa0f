/* The resolved experiment as JSON, for the run store and `ddpmx show`. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "config/internal.h"
#include "util/json.h"
#include "util/strbuf.h"

static const char *digits(const char *s) {
  while (isdigit((unsigned char)*s))
    s++;
  return s;
}

/* RFC 8259's number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s) {
  if (*s == '-') s++;
  if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1]))) return false;
  s = digits(s);
  if (*s == '.') {
    const char *f = s + 1;
    s = digits(f);
    if (s == f) return false;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    const char *x = s;
    s = digits(x);
    if (s == x) return false;
  }
  return *s == '\0';
}

/* A plain scalar stays a JSON literal where JSON reads it the same; YAML
 * spellings JSON lacks (.5, 1e3 is fine, .inf, True) become strings. */
static void scalar(dx_strbuf *b, const dx_ynode *n) {
  if (dx_ynode_is_null(n))
    dx_strbuf_puts(b, "null");
  else if (n->style == DX_SCALAR_PLAIN &&
           (json_number(n->text) || !strcmp(n->text, "true") || !strcmp(n->text, "false")))
    dx_strbuf_puts(b, n->text);
  else
    dx_json_string(b, n->text);
}

static void value(dx_strbuf *b, const dx_ynode *n, int indent) {
  if (n->kind == DX_YNODE_SCALAR) {
    scalar(b, n);
    return;
  }
  bool map = n->kind == DX_YNODE_MAP;
  bool inline_list = !map && dx_ynode_all_scalars(n); /* [1, 2, 4] on one line */
  dx_strbuf_puts(b, map ? "{" : "[");
  for (int64_t i = 0; i < n->n; i++) {
    if (inline_list)
      dx_strbuf_puts(b, i ? ", " : "");
    else
      dx_strbuf_printf(b, "%s\n%*s", i ? "," : "", indent + 2, "");
    if (map) {
      dx_json_string(b, n->entries[i].key);
      dx_strbuf_puts(b, ": ");
    }
    value(b, map ? n->entries[i].value : n->items[i], indent + 2);
  }
  if (n->n && !inline_list) dx_strbuf_printf(b, "\n%*s", indent, "");
  dx_strbuf_puts(b, map ? "}" : "]");
}

char *dx_experiment_to_json(const dx_experiment *e) {
  dx_ynode *tree = dx_cfg_resolved(e);
  if (!tree) return NULL;
  dx_strbuf b = {0};
  value(&b, tree, 0);
  dx_strbuf_puts(&b, "\n");
  dx_ynode_free(tree);
  return dx_strbuf_take(&b);
}
