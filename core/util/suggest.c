#include "util/suggest.h"

#include <ctype.h>
#include <string.h>

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

const char *dx_suggest(const char *word, const char *const *cands, size_t n) {
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
