/* What sample and the image-to-image commands do with their images: the
 * grid stored with the run, and with -o written as a PNG. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/stored_run.h"
#include "store/grid.h"

int dx_cli_save_grid(const dx_cli_command *c, dx_store *st, const dx_stored_run *r, const char *tag,
                     const float *x, const int64_t *shape, int64_t nrow, const char *out) {
  char err[DX_ERRMSG_MAX];
  if (dx_store_add_grid(st, r->id, r->checkpoint.step, tag, x, shape[0], shape[1], shape[2],
                        shape[3], nrow))
    return dx_cli_fail(c, DX_ERR_DB, "%s", dx_store_errmsg(st));
  printf("stored grid '%s' of run %" PRId64 " at step %" PRId64 "\n", tag, r->id,
         r->checkpoint.step);
  if (!out) return DX_EXIT_OK;
  dx_image img;
  dx_status s =
      dx_grid_make(x, shape[0], shape[1], shape[2], shape[3], nrow, &img, err, sizeof err);
  if (s == DX_OK) s = dx_png_write_file(&img, out, err, sizeof err);
  if (s == DX_OK) dx_image_free(&img);
  if (s != DX_OK) return dx_cli_fail(c, s, "%s", err);
  printf("wrote %s: %" PRId64 " images\n", out, shape[0]);
  return DX_EXIT_OK;
}
