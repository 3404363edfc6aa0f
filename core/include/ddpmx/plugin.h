/* The plugin ABI: what every ddpmx plugin exports.
 *
 * A plugin is one shared object with one exported function, dx_plugin_entry,
 * returning a pointer to a `const` descriptor. The descriptor is data (as in
 * LADSPA): the host lists, documents and validates a plugin without running
 * any of its code. Its first field is the ABI version, which the host checks
 * before it reads anything else (as SQLite checks an extension's API version);
 * a plugin built against another ABI is refused with both versions named.
 *
 * Minimal plugin (see docs/writing-plugins.md and plugins/losses/mse.c):
 *
 *   static const dx_param_spec params[] = {
 *     {"delta", DX_PARAM_FLOAT, "1.0", "(0, inf)", NULL, "transition point"},
 *   };
 *   static const dx_loss_ops ops = {...};
 *   static const dx_plugin_desc desc = {
 *     DX_PLUGIN_ABI_VERSION, DX_KIND_LOSS, "huber", "1.0.0", "smooth L1 on eps",
 *     "L = mean(...)", params, DX_COUNT(params), &ops};
 *   DX_PLUGIN_DEFINE(desc)
 */
#ifndef DDPMX_PLUGIN_H
#define DDPMX_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx.h"
#include "export.h"
#include "param.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a descriptor or a kind's function table changes layout,
 * or a function a plugin may call leaves libddpmx. 2: dx_numel and
 * dx_dtype_size became static inline (ddpmx/tensor.h), no longer exported. */
#define DX_PLUGIN_ABI_VERSION 2u
#define DX_PLUGIN_ENTRY_SYMBOL "dx_plugin_entry"

typedef enum dx_plugin_kind {
  DX_KIND_SCHEDULE = 1, /* noise schedule: fills beta_1..beta_T (schedule.h) */
  DX_KIND_BLOCK = 2,    /* U-Net building block or attention (block.h) */
  DX_KIND_LOSS = 3,     /* training objective (loss.h) */
  DX_KIND_SAMPLER = 4   /* reverse-process variance and step (sampler.h) */
} dx_plugin_kind;

/* "schedule", "block", "loss", "sampler"; NULL for a value that names no kind. */
DX_API const char *dx_plugin_kind_name(dx_plugin_kind kind);

/* Resolved, validated values of a plugin's parameters. The host has checked
 * every value against the spec before the plugin sees it, so the accessors
 * cannot fail for a name the spec declares. */
typedef struct dx_params dx_params;
DX_API int64_t dx_params_int(const dx_params *p, const char *name);
DX_API double dx_params_float(const dx_params *p, const char *name);
DX_API bool dx_params_bool(const dx_params *p, const char *name);
DX_API const char *dx_params_string(const dx_params *p, const char *name); /* also CHOICE */

typedef struct dx_plugin_desc {
  uint32_t abi_version; /* DX_PLUGIN_ABI_VERSION; must stay the first field */
  dx_plugin_kind kind;
  const char *name;            /* [a-z][a-z0-9_]*: what experiments write after plugin: */
  const char *version;         /* the plugin's own version, e.g. "1.0.0" */
  const char *summary;         /* one line */
  const char *formula;         /* the method in one line, for `ddpmx plugins NAME` */
  const dx_param_spec *params; /* n_params entries */
  size_t n_params;
  const void *ops; /* the kind's table: dx_schedule_ops, dx_block_ops, ... */
} dx_plugin_desc;

typedef const dx_plugin_desc *(*dx_plugin_entry_fn)(void);

#define DX_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Defines the entry point returning the given descriptor. */
#define DX_PLUGIN_DEFINE(desc)                                                                     \
  DX_PLUGIN_EXPORT const dx_plugin_desc *dx_plugin_entry(void);                                    \
  DX_PLUGIN_EXPORT const dx_plugin_desc *dx_plugin_entry(void) { return &(desc); }

#ifdef __cplusplus
}
#endif
#endif
