/* "Did you mean ...?" for misspelt keys and choices. */
#ifndef DX_CONFIG_SUGGEST_H
#define DX_CONFIG_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* The candidate closest to `word` when it is a plausible misspelling (one
 * edit for words of up to three letters, two for longer ones, counting a
 * swap of neighbours and a change of case as one); NULL otherwise. */
const char *dx_cfg_suggest(const char *word, const char *const *cands, size_t n);

/* The hint after "unknown key 'KEY'" for a key written in `section` ("" for
 * the top level): "; did you mean 'lr'?", or, when the key belongs to
 * another section, "; did you mean 'train.lr'?", or else the list of valid
 * keys. `full` names sibling keys by their full path too (for overrides). */
void dx_cfg_key_hint(const char *section, const char *key, bool full, char *buf, size_t len);

#endif
