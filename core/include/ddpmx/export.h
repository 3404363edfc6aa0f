/* Symbol visibility for libddpmx and plugins. */
#ifndef DDPMX_EXPORT_H
#define DDPMX_EXPORT_H

#if defined(DX_BUILDING_LIB)
#define DX_API __attribute__((visibility("default")))
#else
#define DX_API
#endif

/* A plugin's entry point must be visible even when the plugin is built with
 * -fvisibility=hidden. */
#define DX_PLUGIN_EXPORT __attribute__((visibility("default")))

#endif
