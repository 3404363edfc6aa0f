#include "config/rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

bool dx_check_name(const char *value, char *why, size_t whylen) {
  /* The name ends up in file names and SQL rows: keep it to a safe alphabet. */
  bool ok = *value != '\0';
  for (const char *c = value; *c && ok; c++)
    ok = isalnum((unsigned char)*c) || *c == '_' || *c == '.' || *c == '-';
  if (!ok) snprintf(why, whylen, "may only use letters, digits, '_', '.' and '-'");
  return ok;
}

/* "cuda:N" with N a non-negative decimal; index into *index. */
static bool cuda_index(const char *value, int *index) {
  if (strncmp(value, "cuda:", 5) != 0) return false;
  const char *d = value + 5;
  if (!*d || strlen(d) > 4 || strspn(d, "0123456789") != strlen(d)) return false;
  *index = atoi(d);
  return true;
}

bool dx_check_device(const char *value, char *why, size_t whylen) {
  int index;
  if (!strcmp(value, "cpu") || !strcmp(value, "cuda") || !strcmp(value, "auto") ||
      cuda_index(value, &index))
    return true;
  snprintf(why, whylen, "is not a device; use cpu, cuda, cuda:N or auto");
  return false;
}

static void parse_device(dx_experiment *e) {
  int index = 0;
  e->device_auto = strcmp(e->device, "auto") == 0;
  bool cuda = strcmp(e->device, "cuda") == 0 || cuda_index(e->device, &index);
  e->device_v = (dx_device){cuda ? DX_DEVICE_CUDA : DX_DEVICE_CPU, cuda ? index : 0};
}

static dx_status data_path(dx_experiment *e, const dx_ynode *root, char *err, size_t errlen) {
  if (e->data.path) return DX_OK;
  if (e->data.dataset == DX_DATA_FASHION_MNIST) {
    e->data.path = strdup(DX_FASHION_MNIST_PATH);
    return e->data.path ? DX_OK : DX_ERR_NOMEM;
  }
  const dx_ynode *data = dx_ynode_get(root, "data");
  const dx_ynode *dataset = dx_ynode_get(data, "dataset");
  return dx_errf(err, errlen, DX_ERR_CONFIG, &dataset->pos,
                 "data.path is required for the dataset '%s'; add the folder that holds it "
                 "under data",
                 dataset->text);
}

dx_status dx_cfg_rules(dx_experiment *e, const dx_ynode *root, char *err, size_t errlen) {
  parse_device(e);
  return data_path(e, root, err, errlen);
}
