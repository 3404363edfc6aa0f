/* Helpers shared by the files of core/config/ and nothing else, in the order
 * a load runs: files, overrides, keys, values, rules; then the way back to a
 * tree for the writers. Each function returns a dx_status and leaves one
 * line `PLACE: message` in err. */
#ifndef DX_CONFIG_INTERNAL_H
#define DX_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/experiment.h"
#include "config/schema.h"
#include "config/ynode.h"

/* --- load.c, paths.c: an experiment file and the files it extends ---------------------- */

/* Reads `path`; if it has `extends: OTHER`, reads OTHER (relative to path's
 * folder) the same way and deep-merges path's tree over it (dx_ynode_merge).
 * A file reached twice in one chain is a cycle. Every file read is added to
 * e->sources. The tree keeps the first file's `extends` key. */
dx_status dx_cfg_load_file(dx_experiment *e, const char *path, dx_ynode **out, char *err,
                           size_t errlen);
/* `rel` taken from the folder holding `file`, joined as text (so messages
 * show what the user wrote); unchanged if absolute. Malloc'ed; NULL when out
 * of memory. */
char *dx_cfg_path_beside(const char *file, const char *rel);
/* The same as an absolute path, the folder resolved by realpath. If
 * `file_is_real` is false (a command-line override), rel is taken from the
 * working directory. Malloc'ed; NULL when out of memory. */
char *dx_cfg_path_absolute(const char *file, const char *rel, bool file_is_real);

/* --- override.c: one command-line override, applied to the merged tree before it is
 * checked, so that its value is typed by the same schema as the file's and its errors
 * are placed at `<command line>:N` ----------------------------------------------------- */

/* text is "key.path=value", index its 1-based place among the overrides.
 * The key must be in the schema or name one parameter of a plugin
 * (diffusion.schedule.s); missing mappings on the way are made. Setting
 * `...plugin` to another plugin drops the old plugin's parameters. */
dx_status dx_cfg_override(dx_ynode *root, const char *text, int index, char *err, size_t errlen);

/* --- keys.c: every key is one the schema knows --------------------------------------- */

/* Every key is one the schema knows, and every section is a mapping. */
dx_status dx_cfg_check_keys(const dx_ynode *root, char *err, size_t errlen);
/* The hint after "unknown key 'KEY'" for a key written in `section` ("" for
 * the top level): "; did you mean 'lr'?", or, when the key belongs to
 * another section, "; did you mean 'train.lr'?", or else the list of valid
 * keys. `full` names sibling keys by their full path too (for overrides). */
void dx_cfg_key_hint(const char *section, const char *key, bool full, char *buf, size_t len);

/* --- fill.c, values.c, pluginref.c, rules.c: the checked tree into a dx_experiment --- */

/* Every value has its key's type and range; fills e in schema order, then
 * applies dx_cfg_rules. Stops at the first error. */
dx_status dx_cfg_fill(const dx_ynode *root, dx_experiment *e, char *err, size_t errlen);
/* n into *at, which has the C type of k->spec.type (an enum for CHOICE, a
 * malloc'ed char * for STRING), read by the parser that reads plugin
 * parameters too (util/value.h); then k->check, if set. `where` names the
 * value in messages: "train.lr", "model.dim_mults[1]". */
dx_status dx_cfg_value(const dx_key_spec *k, const char *where, const dx_ynode *n, void *at,
                       char *err, size_t errlen);
/* YAML `{plugin: NAME, ...params}` to a dx_plugin_ref, which the plugin
 * loader checks against the plugin's own spec later. `where` names the key
 * in messages; `example` shows the expected form. On failure *out is left
 * empty. */
dx_status dx_cfg_plugin_ref(const char *where, const char *example, const dx_ynode *n,
                            dx_plugin_ref *out, char *err, size_t errlen);
dx_status dx_plugin_ref_copy(const dx_plugin_ref *src, dx_plugin_ref *dst);
/* Frees what ref holds and empties it. */
void dx_plugin_ref_clear(dx_plugin_ref *ref);
/* Rules the schema's types cannot say: the name's characters and the
 * device's form (dx_key_check functions), then, once every key has its
 * value, data.path's default or its absence and the parsed device. root is
 * the checked tree, for positions. */
bool dx_check_name(const char *value, char *why, size_t whylen);
bool dx_check_device(const char *value, char *why, size_t whylen);
dx_status dx_cfg_rules(dx_experiment *e, const dx_ynode *root, char *err, size_t errlen);

/* --- resolved.c: the loaded experiment as a tree again, for the writers ---------------- */

/* Every key of the schema but `extends` (already merged in), with the value
 * it ended up with. Strings are quoted scalars, numbers and booleans plain
 * ones, plugin arguments keep the style they were written in. NULL when out
 * of memory. */
dx_ynode *dx_cfg_resolved(const dx_experiment *e);

#endif
