/* Built against the SDK of plugin ABI 1, where dx_numel was a function that
 * libddpmx exported (ABI 2 made it inline): dlopen fails on the missing
 * symbol before the ABI version can be read, and the loader must still say
 * that the plugin needs rebuilding. */
#include <stdint.h>

#include "test_plugin.h"

/* What a call to ABI 1's dx_numel left in a plugin: a reference to the symbol. */
int64_t old_sdk_numel(const void *t) __asm__("dx_numel");
int64_t old_sdk_count(const void *t);
int64_t old_sdk_count(const void *t) { return old_sdk_numel(t); }

TEST_PLUGIN(1u, DX_KIND_LOSS, "old_sdk", NULL, 0, &test_ops)
