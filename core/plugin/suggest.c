/* "Did you mean ...?" for misspelt parameter and plugin names. */
#include <string.h>

#include "plugin/internal.h"

#define MAX_WORD 64

static size_t min3(size_t a, size_t b, size_t c) {
  size_t m = a < b ? a : b;
  return m < c ? m : c;
}

/* Optimal-string-alignment distance: insertions, deletions, substitutions
 * and swaps of neighbours each cost one, so "shedule" and "scheudle" are both
 * one edit from "schedule". Rows on the stack; longer words get no hint. */
static size_t edit_distance(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na > MAX_WORD || nb > MAX_WORD) return (size_t)-1;
  size_t prev2[MAX_WORD + 1] = {0}, prev[MAX_WORD + 1], cur[MAX_WORD + 1];
  for (size_t j = 0; j <= nb; j++)
    prev[j] = j;
  for (size_t i = 1; i <= na; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          prev2[j - 2] + 1 < cur[j])
        cur[j] = prev2[j - 2] + 1;
    }
    memcpy(prev2, prev, sizeof prev);
    memcpy(prev, cur, sizeof cur);
  }
  return prev[nb];
}

const char *dx_suggest(const char *word, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t best_d = 3, len = strlen(word);
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(word, cands[i]);
    if (d < best_d && d < len) {
      best = cands[i];
      best_d = d;
    }
  }
  return best;
}
