/* Column-aligned text tables for `ddpmx runs` and `ddpmx plugins`. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void dx_table_init(dx_table *t, size_t ncols) { *t = (dx_table){.ncols = ncols}; }

bool dx_table_add(dx_table *t, const char *const *row) {
  char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *cells);
  if (!cells) return false;
  t->cells = cells;
  char **r = cells + t->nrows * t->ncols;
  bool ok = true;
  for (size_t j = 0; j < t->ncols; j++) {
    r[j] = strdup(row[j] ? row[j] : "-");
    ok = ok && r[j];
  }
  t->nrows++;
  return ok;
}

void dx_table_print(const dx_table *t, FILE *f) {
  size_t width[16] = {0};
  size_t ncols = t->ncols < 16 ? t->ncols : 16;
  for (size_t i = 0; i < t->nrows; i++)
    for (size_t j = 0; j < ncols; j++) {
      const char *c = t->cells[i * t->ncols + j];
      size_t n = c ? strlen(c) : 0;
      if (n > width[j]) width[j] = n;
    }
  for (size_t i = 0; i < t->nrows; i++) {
    for (size_t j = 0; j < ncols; j++) {
      const char *c = t->cells[i * t->ncols + j];
      if (j + 1 < ncols)
        fprintf(f, "%-*s  ", (int)width[j], c ? c : "");
      else
        fprintf(f, "%s\n", c ? c : "");
    }
  }
}

void dx_table_free(dx_table *t) {
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  *t = (dx_table){0};
}
