/* The descriptor of a deliberately broken test plugin in one line, so that
 * each file shows only what is wrong with it. */
#ifndef DX_TEST_PLUGIN_H
#define DX_TEST_PLUGIN_H

#include <ddpmx/plugin.h>

/* The loader never calls a table; it only insists that there is one. */
static const struct { int unused; } test_ops __attribute__((unused)) = {0};

#define TEST_PLUGIN(abi, kind, name, params, n_params, ops)                                        \
  static const dx_plugin_desc desc = {(abi), (kind),   (name),     "0.0.1", "broken on purpose",   \
                                      NULL,  (params), (n_params), (ops)};                         \
  DX_PLUGIN_DEFINE(desc)

#endif
