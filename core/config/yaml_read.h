/* YAML text to a dx_ynode tree with libyaml, expanding aliases and applying
 * merge keys (`<<: *base`, `<<: [*a, *b]`) as the YAML 1.1 merge type says:
 * keys written in the mapping win over merged ones, and an earlier source
 * wins over a later one. Duplicate keys are an error. */
#ifndef DX_CONFIG_YAML_READ_H
#define DX_CONFIG_YAML_READ_H

#include <stddef.h>

#include "config/ynode.h"

/* Parses the one document in text[0..len). `file` names every position. If
 * `fixed` is not NULL, every node and message is placed there instead (a
 * command-line override's value). *out is NULL if the text holds no
 * document. DX_ERR_PARSE for malformed YAML. */
dx_status dx_yaml_parse(const char *text, size_t len, const char *file, const dx_srcpos *fixed,
                        dx_ynode **out, char *err, size_t errlen);

#endif
