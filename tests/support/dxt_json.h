/* Reference values from JSON files for the tests, reached by a dotted path:
 * "schedules.linear.tables.beta.0", where a segment names an object member
 * or, for an array, an index. Built on the library's reader (util/json.h).
 * Any failure fails the test. */
#ifndef DXT_JSON_H
#define DXT_JSON_H

#include <stdint.h>

#include "util/json.h"

dx_json *dxt_json_load(const char *path);
/* The value at path below j ("" for j itself). */
const dx_json *dxt_json_at(const dx_json *j, const char *path);
double dxt_json_num(const dx_json *j, const char *path);
int64_t dxt_json_len(const dx_json *j, const char *path);
/* An array of numbers as a malloc'ed float64 array (caller frees). */
double *dxt_json_nums(const dx_json *j, const char *path, int64_t *n);

#endif
