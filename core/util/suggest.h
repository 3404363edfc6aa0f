/* "Did you mean ...?" for misspelt keys, choices and plugin names. */
#ifndef DX_UTIL_SUGGEST_H
#define DX_UTIL_SUGGEST_H

#include <stddef.h>

/* The candidate closest to `word` when it is a plausible misspelling (one
 * edit for words of up to three letters, two for longer ones, counting a
 * swap of neighbours and a change of case as one); NULL otherwise. */
const char *dx_suggest(const char *word, const char *const *cands, size_t n);

#endif
