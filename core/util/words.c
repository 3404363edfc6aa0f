/* Word lists: the words of a choice, "eps|x0|v". */
#include <stdio.h>
#include <string.h>

#include "util/suggest.h"
#include "util/value.h"

/* The i-th word: its start and length; NULL if there is none. */
static const char *word_at(const char *words, int i, size_t *len) {
  const char *p = words;
  for (; p && i > 0; i--) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p || i < 0) return NULL;
  *len = strcspn(p, "|");
  return p;
}

int dx_words_find(const char *words, const char *word) {
  size_t n = strlen(word), len;
  const char *w;
  for (int i = 0; (w = word_at(words, i, &len)) != NULL; i++)
    if (len == n && strncmp(w, word, n) == 0) return i;
  return -1;
}

const char *dx_words_at(const char *words, int i, char *buf, size_t len) {
  size_t n;
  const char *w = word_at(words, i, &n);
  if (!w) return NULL;
  snprintf(buf, len, "%.*s", (int)n, w);
  return buf;
}

size_t dx_words_split(const char *words, char *buf, size_t len, const char **out, size_t max) {
  snprintf(buf, len, "%s", words ? words : "");
  size_t n = 0;
  for (char *w = buf; w; n++) {
    if (n < max) out[n] = w;
    w = strchr(w, '|');
    if (w) *w++ = '\0';
  }
  return n;
}

const char *dx_words_list(const char *words, char *buf, size_t len) {
  size_t n, used = 0;
  const char *w;
  buf[0] = '\0';
  for (int i = 0; (w = word_at(words, i, &n)) != NULL && used < len; i++) {
    int k = snprintf(buf + used, len - used, "%s%.*s", i ? ", " : "", (int)n, w);
    used += k > 0 ? (size_t)k : 0;
  }
  return buf;
}

#define MAX_WORDS 64

const char *dx_words_suggest(const char *words, const char *word, char *buf, size_t len) {
  char copy[512];
  const char *list[MAX_WORDS];
  size_t n = dx_words_split(words, copy, sizeof copy, list, MAX_WORDS);
  const char *near = dx_suggest(word, list, n < MAX_WORDS ? n : MAX_WORDS);
  if (!near) return NULL;
  snprintf(buf, len, "%s", near);
  return buf;
}
