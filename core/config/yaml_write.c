/* The resolved experiment as YAML (for `ddpmx run --dry-run`), written with
 * libyaml's emitter so that quoting is always right. Sections are block
 * mappings; plugins and lists are flow collections, as people write them. */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config/internal.h"
#include "util/strbuf.h"

static int write_out(void *data, unsigned char *buffer, size_t size) {
  dx_strbuf *b = data;
  dx_strbuf_add(b, (const char *)buffer, size);
  return !b->nomem;
}

/* A string that, written plain, a YAML reader would take for a number, a
 * boolean or null (YAML 1.1 readers included, hence yes/no/on/off). */
static bool looks_typed(const char *s) {
  static const char *const words[] = {"",   "~",  "null", "true", "false", "yes",
                                      "no", "on", "off",  "y",    "n"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcasecmp(s, words[i]) == 0) return true;
  return isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.';
}

static bool scalar(yaml_emitter_t *em, const dx_ynode *n) {
  yaml_event_t ev;
  bool null = dx_ynode_is_null(n);
  const char *text = null ? "null" : n->text;
  /* quoted_implicit lets the emitter quote a plain scalar that cannot be
   * written plain in a flow collection (a comma in it) without adding a tag. */
  int plain_ok = n->style == DX_SCALAR_PLAIN || !looks_typed(text);
  yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), plain_ok, 1,
                               YAML_ANY_SCALAR_STYLE);
  return yaml_emitter_emit(em, &ev);
}

static bool node(yaml_emitter_t *em, const dx_ynode *n, bool flow);

static bool map(yaml_emitter_t *em, const dx_ynode *n, bool flow) {
  yaml_event_t ev;
  flow = flow || dx_ynode_is_plugin(n);
  yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                      flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
  bool ok = yaml_emitter_emit(em, &ev);
  for (int64_t i = 0; ok && i < n->n; i++) {
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->entries[i].key,
                                 (int)strlen(n->entries[i].key), 1, 1, YAML_ANY_SCALAR_STYLE);
    ok = yaml_emitter_emit(em, &ev) && node(em, n->entries[i].value, flow);
  }
  yaml_mapping_end_event_initialize(&ev);
  return ok && yaml_emitter_emit(em, &ev);
}

static bool seq(yaml_emitter_t *em, const dx_ynode *n) {
  yaml_event_t ev;
  yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_SEQUENCE_STYLE);
  bool ok = yaml_emitter_emit(em, &ev);
  for (int64_t i = 0; ok && i < n->n; i++)
    ok = node(em, n->items[i], true);
  yaml_sequence_end_event_initialize(&ev);
  return ok && yaml_emitter_emit(em, &ev);
}

static bool node(yaml_emitter_t *em, const dx_ynode *n, bool flow) {
  if (n->kind == DX_YNODE_SCALAR) return scalar(em, n);
  if (n->kind == DX_YNODE_SEQ) return seq(em, n);
  return map(em, n, flow);
}

static bool document(yaml_emitter_t *em, const dx_ynode *root) {
  yaml_event_t ev;
  yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
  if (!yaml_emitter_emit(em, &ev)) return false;
  yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
  if (!yaml_emitter_emit(em, &ev) || !node(em, root, false)) return false;
  yaml_document_end_event_initialize(&ev, 1);
  if (!yaml_emitter_emit(em, &ev)) return false;
  yaml_stream_end_event_initialize(&ev);
  return yaml_emitter_emit(em, &ev);
}

char *dx_experiment_to_yaml(const dx_experiment *e) {
  dx_ynode *tree = dx_cfg_resolved(e);
  if (!tree) return NULL;
  dx_strbuf b = {0};
  yaml_emitter_t em;
  bool ok = yaml_emitter_initialize(&em);
  if (ok) {
    yaml_emitter_set_output(&em, write_out, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_indent(&em, 2);
    yaml_emitter_set_width(&em, -1); /* one line per plugin, however long */
    ok = document(&em, tree);
    yaml_emitter_delete(&em);
  }
  dx_ynode_free(tree);
  char *s = dx_strbuf_take(&b);
  if (ok) return s;
  free(s);
  return NULL;
}
