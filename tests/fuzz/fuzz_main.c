/* libFuzzer's entry for one harness (DXF_ENTRY, set by CMake). A refusal must
 * be one clear line: a reader that fails without a message, or with several
 * lines, is a finding like a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("OMP_NUM_THREADS", "1", 1); /* one input at a time, no thread pool to wait on */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[1024] = "";
  dx_status s = DXF_ENTRY(data, size, err, sizeof err);
  if (s != DX_OK && (err[0] == '\0' || strchr(err, '\n'))) {
    fprintf(stderr, "refused (status %d) without one clear line: '%s'\n", (int)s, err);
    abort();
  }
  return 0;
}
