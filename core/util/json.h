/* JSON: a small reader for file headers we parse (safetensors), which builds
 * a tree in one allocation pass (strings unescaped, numbers kept as double),
 * and the string escaper of every JSON writer (the resolved experiment, its
 * flattened rows, safetensors headers). */
#ifndef DX_UTIL_JSON_H
#define DX_UTIL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

typedef enum dx_json_type {
  DX_JSON_NULL,
  DX_JSON_BOOL,
  DX_JSON_NUMBER,
  DX_JSON_STRING,
  DX_JSON_ARRAY,
  DX_JSON_OBJECT
} dx_json_type;

typedef struct dx_json dx_json;
struct dx_json {
  dx_json_type type;
  char *key;      /* member name when inside an object */
  char *str;      /* DX_JSON_STRING */
  double num;     /* DX_JSON_NUMBER, DX_JSON_BOOL (0/1) */
  dx_json *child; /* first element or member */
  dx_json *next;  /* next sibling */
};

/* Parses text[0..len); NULL on error with the reason and byte offset in err. */
dx_json *dx_json_parse(const char *text, size_t len, char *err, size_t errlen);
void dx_json_free(dx_json *j);
const dx_json *dx_json_get(const dx_json *obj, const char *key);
size_t dx_json_count(const dx_json *arr);

/* s as a JSON string literal, quotes included. */
void dx_json_string(dx_strbuf *b, const char *s);

#endif
