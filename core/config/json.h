/* JSON text shared by the JSON writer and the flattened rows. */
#ifndef DX_CONFIG_JSON_H
#define DX_CONFIG_JSON_H

#include "config/strbuf.h"

/* s as a JSON string literal, quotes included. */
void dx_cfg_json_string(dx_strbuf *b, const char *s);

#endif
