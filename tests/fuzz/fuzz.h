/* Fuzz harnesses: one file per reader of outside bytes. Each defines
 *
 *   dx_status dxf_NAME(const uint8_t *data, size_t size, char *err, size_t errlen);
 *
 * which hands the bytes to the library's real reader (through a file when the
 * reader takes a path) and returns the reader's status, its message in err.
 * Harnesses stay thin: a finding is fixed in the reader, not here.
 *
 * With -DDDPMX_FUZZ=ON (clang) each harness becomes a libFuzzer binary under
 * ASan + UBSan (fuzz_main.c). In every build, test_fuzz_regressions replays
 * the inputs kept in tests/fuzz/regressions/NAME/ through the same function
 * and asserts a clean refusal (replay.c). */
#ifndef DXF_FUZZ_H
#define DXF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "ddpmx/status.h"

dx_status dxf_yaml(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_idx(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_cifar(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_png_folder(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_png(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_safetensors(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_json(const uint8_t *data, size_t size, char *err, size_t errlen);
dx_status dxf_store(const uint8_t *data, size_t size, char *err, size_t errlen);

/* Reads every image (up to 64) of an open dataset as one batch. */
typedef struct dx_dataset dx_dataset;
dx_status dxf_read_all(const dx_dataset *ds, char *err, size_t errlen);

/* A folder of this process's own, made on first use and removed at exit;
 * files written there are removed again by dxf_clear. */
const char *dxf_dir(void);
/* dxf_dir()/name holding data[0..size); returns the path (static buffer). */
const char *dxf_write(const char *name, const void *data, size_t size);
/* Empties dxf_dir() (subfolders included) for the next input. */
void dxf_clear(void);

#endif
