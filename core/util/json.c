/* JSON (RFC 8259): a recursive-descent reader for file headers, depth-bounded, and
 * the string escaper every JSON writer uses. */
#include "util/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

typedef struct parser {
  const char *s;
  size_t i, n;
  int depth;
  char *err;
  size_t errlen;
} parser;

/* Recursion is bounded here, so no header can exhaust the stack. */
#define MAX_DEPTH 64
#define DX_STR2(x) #x
#define DX_STR(x) DX_STR2(x)

static dx_json *fail(parser *p, const char *what) {
  if (p->err && !p->err[0])
    dx_errf(p->err, p->errlen, DX_ERR_PARSE, NULL, "%s at byte %zu", what, p->i);
  return NULL;
}

static void skip_ws(parser *p) {
  while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]))
    p->i++;
}

static dx_json *node(dx_json_type t) {
  dx_json *j = calloc(1, sizeof *j);
  if (j) j->type = t;
  return j;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Appends code point cp as UTF-8. */
static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) return o[0] = (char)cp, 1;
  if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
  if (cp < 0x10000)
    return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 63)),
           o[2] = (char)(0x80 | (cp & 63)), 3;
  return o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 63)),
         o[2] = (char)(0x80 | ((cp >> 6) & 63)), o[3] = (char)(0x80 | (cp & 63)), 4;
}

static int read_hex4(parser *p, unsigned *cp) {
  if (p->i + 4 > p->n) return -1;
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    int h = hexval(p->s[p->i + (size_t)k]);
    if (h < 0) return -1;
    v = v * 16 + (unsigned)h;
  }
  p->i += 4;
  *cp = v;
  return 0;
}

static char *parse_string(parser *p) {
  p->i++; /* opening quote */
  char *out = malloc(p->n - p->i + 1);
  size_t o = 0;
  while (out && p->i < p->n && p->s[p->i] != '"') {
    char c = p->s[p->i++];
    if ((unsigned char)c < 0x20) break;
    if (c != '\\') {
      out[o++] = c;
      continue;
    }
    if (p->i >= p->n) break;
    char e = p->s[p->i++];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *k = strchr(from, e);
    if (k && e) {
      out[o++] = to[k - from];
      continue;
    }
    unsigned cp;
    if (e != 'u' || read_hex4(p, &cp)) break;
    if (cp >= 0xD800 && cp < 0xDC00 && p->i + 1 < p->n && p->s[p->i] == '\\' &&
        p->s[p->i + 1] == 'u') {
      unsigned lo;
      p->i += 2;
      if (read_hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) break;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    o += put_utf8(out + o, cp);
  }
  if (!out || p->i >= p->n || p->s[p->i] != '"') {
    free(out);
    fail(p, "bad string");
    return NULL;
  }
  p->i++;
  out[o] = '\0';
  return out;
}

static dx_json *parse_value(parser *p);

/* Parses elements (arrays) or members (objects) until `close`. */
static dx_json *parse_container(parser *p, dx_json_type t, char close) {
  dx_json *j = node(t), **tail;
  if (!j) return fail(p, "out of memory");
  tail = &j->child;
  if (++p->depth > MAX_DEPTH) {
    dx_json_free(j);
    return fail(p, "nested deeper than " DX_STR(MAX_DEPTH) " levels");
  }
  p->i++;
  skip_ws(p);
  if (p->i < p->n && p->s[p->i] == close) return p->i++, p->depth--, j;
  for (;;) {
    char *key = NULL;
    skip_ws(p);
    if (t == DX_JSON_OBJECT) {
      if (p->i >= p->n || p->s[p->i] != '"' || !(key = parse_string(p))) goto bad;
      skip_ws(p);
      if (p->i >= p->n || p->s[p->i++] != ':') {
        free(key);
        goto bad;
      }
    }
    dx_json *v = parse_value(p);
    if (!v) {
      free(key);
      goto bad;
    }
    v->key = key;
    *tail = v;
    tail = &v->next;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == ',') {
      p->i++;
      continue;
    }
    if (p->i < p->n && p->s[p->i] == close) {
      p->i++;
      break;
    }
    goto bad;
  }
  p->depth--;
  return j;
bad:
  dx_json_free(j);
  return fail(p, t == DX_JSON_OBJECT ? "bad object" : "bad array");
}

static bool digit_at(const parser *p, size_t i) {
  return i < p->n && p->s[i] >= '0' && p->s[i] <= '9';
}

/* RFC 8259's number grammar, scanned within the text: a header is not
 * NUL-terminated, so strtod may only see a bounded copy. */
static dx_json *parse_number(parser *p) {
  size_t i = p->i;
  if (i < p->n && p->s[i] == '-') i++;
  if (!digit_at(p, i)) return fail(p, "bad number");
  if (p->s[i] == '0')
    i++;
  else
    while (digit_at(p, i))
      i++;
  if (i < p->n && p->s[i] == '.') {
    if (!digit_at(p, ++i)) return fail(p, "bad number");
    while (digit_at(p, i))
      i++;
  }
  if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
    i++;
    if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
    if (!digit_at(p, i)) return fail(p, "bad number");
    while (digit_at(p, i))
      i++;
  }
  char text[128];
  if (i - p->i >= sizeof text) return fail(p, "number too long");
  memcpy(text, p->s + p->i, i - p->i);
  text[i - p->i] = '\0';
  p->i = i;
  dx_json *j = node(DX_JSON_NUMBER);
  if (!j) return fail(p, "out of memory");
  j->num = strtod(text, NULL);
  return j;
}

static dx_json *parse_literal(parser *p, const char *word, dx_json_type t, double v) {
  size_t len = strlen(word);
  if (p->i + len > p->n || strncmp(p->s + p->i, word, len)) return fail(p, "bad literal");
  p->i += len;
  dx_json *j = node(t);
  if (j) j->num = v;
  return j;
}

static dx_json *parse_value(parser *p) {
  skip_ws(p);
  if (p->i >= p->n) return fail(p, "unexpected end");
  char c = p->s[p->i];
  if (c == '{') return parse_container(p, DX_JSON_OBJECT, '}');
  if (c == '[') return parse_container(p, DX_JSON_ARRAY, ']');
  if (c == '"') {
    char *s = parse_string(p);
    dx_json *j = s ? node(DX_JSON_STRING) : NULL;
    if (j)
      j->str = s;
    else
      free(s);
    return j;
  }
  if (c == 't') return parse_literal(p, "true", DX_JSON_BOOL, 1);
  if (c == 'f') return parse_literal(p, "false", DX_JSON_BOOL, 0);
  if (c == 'n') return parse_literal(p, "null", DX_JSON_NULL, 0);
  return parse_number(p);
}

dx_json *dx_json_parse(const char *text, size_t len, char *err, size_t errlen) {
  parser p = {text, 0, len, 0, err, errlen};
  if (err && errlen) err[0] = '\0';
  dx_json *j = parse_value(&p);
  skip_ws(&p);
  if (j && p.i != p.n) {
    dx_json_free(j);
    return fail(&p, "trailing characters");
  }
  return j;
}

void dx_json_free(dx_json *j) {
  while (j) {
    dx_json *next = j->next;
    dx_json_free(j->child);
    free(j->key);
    free(j->str);
    free(j);
    j = next;
  }
}

const dx_json *dx_json_get(const dx_json *obj, const char *key) {
  if (!obj || obj->type != DX_JSON_OBJECT) return NULL;
  for (const dx_json *m = obj->child; m; m = m->next)
    if (strcmp(m->key, key) == 0) return m;
  return NULL;
}

size_t dx_json_count(const dx_json *arr) {
  size_t n = 0;
  for (const dx_json *e = arr ? arr->child : NULL; e; e = e->next)
    n++;
  return n;
}

/* --- writing ---------------------------------------------------------------- */

void dx_json_string(dx_strbuf *b, const char *s) {
  dx_strbuf_puts(b, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      dx_strbuf_printf(b, "\\%c", *c);
    else if (*c == '\n')
      dx_strbuf_puts(b, "\\n");
    else if (*c == '\t')
      dx_strbuf_puts(b, "\\t");
    else if (*c < 0x20)
      dx_strbuf_printf(b, "\\u%04x", *c);
    else
      dx_strbuf_add(b, (const char *)c, 1);
  }
  dx_strbuf_puts(b, "\"");
}
