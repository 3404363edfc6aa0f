#include "config/yaml_read.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/err.h"

/* Nested aliases can expand exponentially (the "billion laughs" document);
 * no experiment comes near this many nodes. */
#define MAX_NODES 1000000
/* Every walk over the tree recurses, so nesting is bounded: no experiment
 * needs more than a handful of levels. */
#define MAX_DEPTH 64

typedef struct anchor {
  char *name;
  dx_ynode *node; /* a private copy: the original may be consumed by a merge */
  int depth;      /* levels in node: an alias adds them where it stands */
} anchor;

typedef struct reader {
  yaml_parser_t parser;
  const char *text;
  const char *file;
  const dx_srcpos *fixed;
  anchor *anchors;
  int64_t n_anchors, cap_anchors;
  int64_t n_nodes;
  int depth; /* of the collection being read */
  char *err;
  size_t errlen;
} reader;

static dx_status parse_node(reader *r, yaml_event_t *ev, dx_ynode **out);

static dx_srcpos at(const reader *r, size_t line, size_t column) {
  if (r->fixed) return *r->fixed;
  return (dx_srcpos){r->file, (int)line + 1, (int)column + 1};
}

static dx_srcpos mark_pos(const reader *r, yaml_mark_t m) { return at(r, m.line, m.column); }

/* libyaml's reader errors (bad UTF-8, control characters) carry a byte
 * offset instead of a mark. */
static dx_srcpos offset_pos(const reader *r, size_t offset) {
  size_t line = 0, col = 0;
  for (size_t i = 0; i < offset && r->text[i]; i++) {
    if (r->text[i] == '\n') {
      line++;
      col = 0;
    } else if (((unsigned char)r->text[i] & 0xC0) != 0x80) {
      col++;
    }
  }
  return at(r, line, col);
}

static dx_status syntax_error(reader *r) {
  const yaml_parser_t *p = &r->parser;
  if (p->error == YAML_MEMORY_ERROR)
    return dx_errf(r->err, r->errlen, DX_ERR_NOMEM, NULL, "out of memory reading YAML");
  dx_srcpos pos = p->error == YAML_READER_ERROR ? offset_pos(r, p->problem_offset)
                                                : mark_pos(r, p->problem_mark);
  const char *problem = p->problem ? p->problem : "malformed YAML";
  /* Tabs are the classic cause, and libyaml's words do not say so. */
  bool tab = p->error == YAML_SCANNER_ERROR && r->text[p->problem_mark.index] == '\t';
  const char *hint = tab ? "; indent with spaces, not tabs" : "";
  if (p->context && p->context_mark.line != p->problem_mark.line && !r->fixed)
    return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos,
                   "YAML syntax error: %s %s started at line %d%s", problem, p->context,
                   (int)p->context_mark.line + 1, hint);
  if (p->context)
    return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos, "YAML syntax error: %s %s%s", problem,
                   p->context, hint);
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos, "YAML syntax error: %s%s", problem, hint);
}

static dx_status next(reader *r, yaml_event_t *ev) {
  if (!yaml_parser_parse(&r->parser, ev)) return syntax_error(r);
  return DX_OK;
}

static dx_status nomem(reader *r) {
  return dx_errf(r->err, r->errlen, DX_ERR_NOMEM, NULL, "out of memory reading YAML");
}

static dx_status count_nodes(reader *r, int64_t n, const dx_srcpos *pos) {
  r->n_nodes += n;
  if (r->n_nodes <= MAX_NODES) return DX_OK;
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, pos,
                 "aliases expand to more than %d nodes; use fewer nested aliases", MAX_NODES);
}

/* Levels of collections in n: 0 for a scalar. The tree is bounded by
 * MAX_DEPTH, so the recursion is too. */
static int depth_of(const dx_ynode *n) {
  int most = 0;
  for (int64_t i = 0; n->kind != DX_YNODE_SCALAR && i < n->n; i++) {
    const dx_ynode *c = n->kind == DX_YNODE_SEQ ? n->items[i] : n->entries[i].value;
    int d = c ? depth_of(c) : 0;
    most = d > most ? d : most;
  }
  return n->kind == DX_YNODE_SCALAR ? 0 : most + 1;
}

static dx_status too_deep(reader *r, const dx_srcpos *pos) {
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, pos,
                 "nested deeper than %d levels (aliases included); an experiment needs a few",
                 MAX_DEPTH);
}

static dx_status add_anchor(reader *r, const char *name, const dx_ynode *node) {
  if (r->n_anchors == r->cap_anchors) {
    int64_t cap = r->cap_anchors ? 2 * r->cap_anchors : 8;
    anchor *a = realloc(r->anchors, (size_t)cap * sizeof *a);
    if (!a) return nomem(r);
    r->anchors = a;
    r->cap_anchors = cap;
  }
  anchor a = {strdup(name), dx_ynode_copy(node), depth_of(node)};
  if (!a.name || !a.node) {
    free(a.name);
    dx_ynode_free(a.node);
    return nomem(r);
  }
  r->anchors[r->n_anchors++] = a;
  return DX_OK;
}

static dx_status resolve_alias(reader *r, const char *name, dx_srcpos pos, dx_ynode **out) {
  /* The latest definition wins: YAML lets an anchor name be reused. */
  for (int64_t i = r->n_anchors - 1; i >= 0; i--) {
    if (strcmp(r->anchors[i].name, name) != 0) continue;
    if (r->depth + r->anchors[i].depth > MAX_DEPTH) return too_deep(r, &pos);
    dx_status st = count_nodes(r, dx_ynode_count(r->anchors[i].node), &pos);
    if (st != DX_OK) return st;
    *out = dx_ynode_copy(r->anchors[i].node);
    return *out ? DX_OK : nomem(r);
  }
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos,
                 "unknown alias '*%s'; define the anchor '&%s' earlier in the file", name, name);
}

static dx_status check_tag(reader *r, const yaml_char_t *tag, dx_srcpos pos) {
  if (!tag) return DX_OK;
  const char *t = (const char *)tag;
  size_t core = strlen(YAML_DEFAULT_SCALAR_TAG) - 3; /* "tag:yaml.org,2002:" */
  bool short_form = strncmp(t, YAML_DEFAULT_SCALAR_TAG, core) == 0;
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos,
                 "unsupported YAML tag '%s%s'; the only tag allowed is !!str",
                 short_form ? "!!" : "", short_form ? t + core : t);
}

static dx_status make_scalar(reader *r, const yaml_event_t *ev, dx_srcpos pos, dx_ynode **out) {
  const char *tag = (const char *)ev->data.scalar.tag;
  dx_scalar_style style =
      ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? DX_SCALAR_PLAIN : DX_SCALAR_QUOTED;
  if (tag && strcmp(tag, YAML_STR_TAG) == 0) {
    style = DX_SCALAR_QUOTED; /* !!str 1.0 is the string "1.0" */
  } else {
    dx_status st = check_tag(r, ev->data.scalar.tag, pos);
    if (st != DX_OK) return st;
  }
  char *text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
  *out = text ? dx_ynode_scalar(text, style, pos) : NULL;
  free(text);
  return *out ? DX_OK : nomem(r);
}

static dx_status parse_seq(reader *r, dx_ynode *seq) {
  for (;;) {
    yaml_event_t ev;
    dx_status st = next(r, &ev);
    if (st != DX_OK) return st;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      return DX_OK;
    }
    dx_ynode *item;
    st = parse_node(r, &ev, &item);
    if (st == DX_OK) st = dx_ynode_push(seq, item) == DX_OK ? DX_OK : nomem(r);
    if (st != DX_OK) return st;
  }
}

static bool all_maps(const dx_ynode *seq) {
  for (int64_t i = 0; i < seq->n; i++)
    if (seq->items[i]->kind != DX_YNODE_MAP) return false;
  return seq->n > 0;
}

/* `<<: *a` or `<<: [*a, *b]`: collects the mappings to merge in `sources`. */
static dx_status add_merge(reader *r, dx_ynode *sources, dx_ynode *value) {
  if (value->kind == DX_YNODE_MAP) return dx_ynode_push(sources, value) == DX_OK ? DX_OK : nomem(r);
  if (value->kind != DX_YNODE_SEQ || !all_maps(value)) {
    dx_srcpos pos = value->pos;
    dx_ynode_free(value);
    return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos,
                   "the merge key << takes a mapping or a list of mappings, such as *base "
                   "or [*a, *b]");
  }
  dx_status st = DX_OK;
  for (int64_t i = 0; i < value->n && st == DX_OK; i++) {
    dx_ynode *item = value->items[i];
    value->items[i] = NULL;
    st = dx_ynode_push(sources, item) == DX_OK ? DX_OK : nomem(r);
  }
  dx_ynode_free(value);
  return st;
}

/* Keys written in the mapping win; among the sources, the first wins. */
static dx_status apply_merges(reader *r, dx_ynode *map, dx_ynode *sources) {
  for (int64_t s = 0; s < sources->n; s++) {
    dx_ynode *src = sources->items[s];
    for (int64_t i = 0; i < src->n; i++) {
      dx_ynode_entry *en = &src->entries[i];
      if (dx_ynode_find(map, en->key)) continue;
      dx_ynode *v = en->value;
      en->value = NULL;
      if (dx_ynode_put(map, en->key, en->key_pos, v) != DX_OK) return nomem(r);
    }
  }
  return DX_OK;
}

static dx_status duplicate_key(reader *r, const dx_ynode_entry *first, const char *key,
                               dx_srcpos pos) {
  if (first->key_pos.line > 0)
    return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos,
                   "duplicate key '%s' (first at line %d); remove one of them", key,
                   first->key_pos.line);
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos, "duplicate key '%s'; remove one of them",
                 key);
}

/* Reads one key and its value into map (or into the merge sources). Sets
 * *end when the mapping is over instead. */
static dx_status parse_entry(reader *r, dx_ynode *map, dx_ynode *sources, bool *end) {
  yaml_event_t ev;
  dx_status st = next(r, &ev);
  if (st != DX_OK) return st;
  *end = ev.type == YAML_MAPPING_END_EVENT;
  dx_srcpos key_pos = mark_pos(r, ev.start_mark);
  if (*end || ev.type != YAML_SCALAR_EVENT) {
    yaml_event_delete(&ev);
    if (*end) return DX_OK;
    return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &key_pos,
                   "a key must be a plain word, not a list, mapping or alias");
  }
  bool merge = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
               strcmp((const char *)ev.data.scalar.value, "<<") == 0;
  char *key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
  yaml_event_delete(&ev);
  if (!key) return nomem(r);
  dx_ynode *value = NULL;
  st = next(r, &ev);
  if (st == DX_OK) st = parse_node(r, &ev, &value);
  if (st == DX_OK && merge) {
    st = add_merge(r, sources, value);
  } else if (st == DX_OK && dx_ynode_find(map, key)) {
    st = duplicate_key(r, dx_ynode_find(map, key), key, key_pos);
    dx_ynode_free(value);
  } else if (st == DX_OK) {
    st = dx_ynode_put(map, key, key_pos, value) == DX_OK ? DX_OK : nomem(r);
  }
  free(key);
  return st;
}

static dx_status parse_map(reader *r, dx_ynode *map) {
  dx_ynode *sources = dx_ynode_new(DX_YNODE_SEQ, map->pos);
  if (!sources) return nomem(r);
  dx_status st = DX_OK;
  for (bool end = false; st == DX_OK && !end;)
    st = parse_entry(r, map, sources, &end);
  if (st == DX_OK) st = apply_merges(r, map, sources);
  dx_ynode_free(sources);
  return st;
}

/* Builds the node that starts with ev, consuming ev and the node's events. */
static dx_status build(reader *r, yaml_event_t *ev, dx_ynode **out) {
  dx_srcpos pos = mark_pos(r, ev->start_mark);
  dx_status st = count_nodes(r, 1, &pos);
  if (st == DX_OK && ev->type == YAML_ALIAS_EVENT)
    st = resolve_alias(r, (const char *)ev->data.alias.anchor, pos, out);
  else if (st == DX_OK && ev->type == YAML_SCALAR_EVENT)
    st = make_scalar(r, ev, pos, out);
  else if (st == DX_OK && ev->type == YAML_SEQUENCE_START_EVENT)
    st = check_tag(r, ev->data.sequence_start.tag, pos);
  else if (st == DX_OK && ev->type == YAML_MAPPING_START_EVENT)
    st = check_tag(r, ev->data.mapping_start.tag, pos);
  yaml_event_type_t type = ev->type;
  yaml_event_delete(ev);
  if (st != DX_OK || (type != YAML_SEQUENCE_START_EVENT && type != YAML_MAPPING_START_EVENT))
    return st;
  if (r->depth >= MAX_DEPTH) return too_deep(r, &pos);
  bool seq = type == YAML_SEQUENCE_START_EVENT;
  *out = dx_ynode_new(seq ? DX_YNODE_SEQ : DX_YNODE_MAP, pos);
  if (!*out) return nomem(r);
  r->depth++;
  st = seq ? parse_seq(r, *out) : parse_map(r, *out);
  r->depth--;
  return st;
}

static const yaml_char_t *event_anchor(const yaml_event_t *ev) {
  switch (ev->type) {
  case YAML_SCALAR_EVENT: return ev->data.scalar.anchor;
  case YAML_SEQUENCE_START_EVENT: return ev->data.sequence_start.anchor;
  case YAML_MAPPING_START_EVENT: return ev->data.mapping_start.anchor;
  default: return NULL;
  }
}

static dx_status parse_node(reader *r, yaml_event_t *ev, dx_ynode **out) {
  *out = NULL;
  const yaml_char_t *a = event_anchor(ev);
  char *name = a ? strdup((const char *)a) : NULL;
  if (a && !name) {
    yaml_event_delete(ev);
    return nomem(r);
  }
  /* Registered once complete, so a node cannot contain an alias to itself. */
  dx_status st = build(r, ev, out);
  if (st == DX_OK && name) st = add_anchor(r, name, *out);
  free(name);
  if (st != DX_OK) {
    dx_ynode_free(*out);
    *out = NULL;
  }
  return st;
}

/* Expects an event of `type` (stream or document boundaries). */
static dx_status expect(reader *r, yaml_event_type_t type, yaml_event_type_t *got) {
  yaml_event_t ev;
  dx_status st = next(r, &ev);
  if (st != DX_OK) return st;
  *got = ev.type;
  dx_srcpos pos = mark_pos(r, ev.start_mark);
  yaml_event_delete(&ev);
  if (*got == type || *got == YAML_STREAM_END_EVENT) return DX_OK;
  return dx_errf(r->err, r->errlen, DX_ERR_PARSE, &pos,
                 "a second YAML document starts here; an experiment holds one document");
}

static dx_status parse_stream(reader *r, dx_ynode **out) {
  yaml_event_type_t got;
  yaml_event_t ev;
  dx_status st = next(r, &ev);
  if (st != DX_OK) return st;
  yaml_event_delete(&ev); /* STREAM-START */
  st = expect(r, YAML_DOCUMENT_START_EVENT, &got);
  if (st != DX_OK || got == YAML_STREAM_END_EVENT) return st;
  st = next(r, &ev);
  if (st == DX_OK) st = parse_node(r, &ev, out);
  if (st == DX_OK) st = expect(r, YAML_DOCUMENT_END_EVENT, &got);
  if (st == DX_OK) st = expect(r, YAML_STREAM_END_EVENT, &got);
  return st;
}

dx_status dx_yaml_parse(const char *text, size_t len, const char *file, const dx_srcpos *fixed,
                        dx_ynode **out, char *err, size_t errlen) {
  reader r = {.text = text, .file = file, .fixed = fixed, .err = err, .errlen = errlen};
  *out = NULL;
  if (!yaml_parser_initialize(&r.parser)) return nomem(&r);
  yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
  dx_status st = parse_stream(&r, out);
  if (st != DX_OK) {
    dx_ynode_free(*out);
    *out = NULL;
  }
  for (int64_t i = 0; i < r.n_anchors; i++) {
    free(r.anchors[i].name);
    dx_ynode_free(r.anchors[i].node);
  }
  free(r.anchors);
  yaml_parser_delete(&r.parser);
  return st;
}
