/* The JSON reader behind safetensors headers, on the bare bytes (not
 * NUL-terminated, as a header in a file is not). */
#include "fuzz.h"
#include "util/json.h"

dx_status dxf_json(const uint8_t *data, size_t size, char *err, size_t errlen) {
  dx_json *j = dx_json_parse((const char *)data, size, err, errlen);
  dx_json_free(j);
  return j ? DX_OK : DX_ERR_PARSE;
}
