#include "config/suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config/schema.h"

#define MAX_WORD 64

/* Optimal string alignment distance (Levenshtein plus adjacent swaps),
 * ignoring case; words longer than MAX_WORD count as far from everything. */
static int distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > MAX_WORD || m > MAX_WORD) return 1 << 20;
  int d[MAX_WORD + 1][MAX_WORD + 1];
  for (size_t i = 0; i <= n; i++)
    d[i][0] = (int)i;
  for (size_t j = 0; j <= m; j++)
    d[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
      int best = d[i - 1][j - 1] + (ca != cb);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

const char *dx_cfg_suggest(const char *word, const char *const *cands, size_t n) {
  int limit = strlen(word) <= 3 ? 1 : 2, best = limit + 1;
  const char *pick = NULL;
  for (size_t i = 0; i < n; i++) {
    int d = distance(word, cands[i]);
    /* Same letters in another case: a misspelling all the same. */
    if (d == 0 && strcmp(word, cands[i]) != 0) d = 1;
    if (d > 0 && d < best) {
      best = d;
      pick = cands[i];
    }
  }
  return pick;
}

#define MAX_KEYS 64

void dx_cfg_key_hint(const char *section, const char *key, bool full, char *buf, size_t len) {
  const dx_key_spec *kids[MAX_KEYS];
  size_t n = dx_schema_children(section, kids, MAX_KEYS);
  const char *names[MAX_KEYS];
  for (size_t i = 0; i < n; i++)
    names[i] = dx_schema_leaf(kids[i]);
  const char *near = dx_cfg_suggest(key, names, n);
  if (near) {
    snprintf(buf, len, "; did you mean '%s%s%s'?", full ? section : "", full && *section ? "." : "",
             near);
    return;
  }
  size_t all;
  const dx_key_spec *keys = dx_schema_keys(&all);
  for (size_t i = 0; i < all; i++) {
    if (keys[i].type != DX_KEY_SECTION && strcmp(dx_schema_leaf(&keys[i]), key) == 0) {
      snprintf(buf, len, "; did you mean '%s'?", keys[i].path);
      return;
    }
  }
  int w = snprintf(buf, len, "; valid keys here: ");
  for (size_t i = 0; i < n && w >= 0 && (size_t)w < len; i++)
    w += snprintf(buf + w, len - (size_t)w, "%s%s", i ? ", " : "", names[i]);
}
