/* The YAML experiment loader: the input is an experiment file, loaded with
 * everything a run checks before it starts (extends, schema, values). */
#include <stdlib.h>

#include "config/experiment.h"
#include "fuzz.h"

dx_status dxf_yaml(const uint8_t *data, size_t size, char *err, size_t errlen) {
  dx_experiment *e = NULL;
  dx_status s = dx_experiment_load(dxf_write("exp.yaml", data, size), NULL, 0, &e, err, errlen);
  if (s == DX_OK) {
    /* What `ddpmx run` does next with a loaded experiment. */
    free(dx_experiment_to_json(e));
    free(dx_experiment_to_yaml(e));
  }
  dx_experiment_free(e);
  dxf_clear();
  return s;
}
