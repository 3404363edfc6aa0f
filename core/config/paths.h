/* File names relative to the file that wrote them. */
#ifndef DX_CONFIG_PATHS_H
#define DX_CONFIG_PATHS_H

#include <stdbool.h>

/* `rel` taken from the folder holding `file`, joined as text (so messages
 * show what the user wrote); unchanged if absolute. Malloc'ed; NULL when out
 * of memory. */
char *dx_cfg_path_beside(const char *file, const char *rel);
/* The same as an absolute path, the folder resolved by realpath. If
 * `file_is_real` is false (a command-line override), rel is taken from the
 * working directory. Malloc'ed; NULL when out of memory. */
char *dx_cfg_path_absolute(const char *file, const char *rel, bool file_is_real);

#endif
