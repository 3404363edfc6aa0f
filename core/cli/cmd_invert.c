/* `ddpmx invert RUN --image IMG`: DDIM inversion to x_T and back, with the
 * round trip's error. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/i2i.h"

static int main_invert(int argc, char **argv);

const dx_cli_command dx_cli_invert = {
    "invert", "DDIM inversion: an image to its x_T and back, with the round trip's error",
    "usage: ddpmx invert RUN --image IMG [--t T] [--sample-steps N] [options]\n"
    "\n"
    "Runs the deterministic DDIM update (eta 0, no clipping) upwards from IMG to\n"
    "x_T (or x_t) on N respaced steps, asking the model at the step being reached,\n"
    "then samples it back with DDIM and prints how far the result is from IMG (root\n"
    "mean square and largest error, in [-1, 1] units and in 8-bit levels). The\n"
    "grid: IMG, x_T (clipped to [-1, 1] for display), the reconstruction. Always\n"
    "the ddim sampler (default 50 steps, scaled by t / T); no thresholding.\n"
    "\n"
    "  --image IMG       the image\n"
    "  --t T             invert up to step T of the run (default: its last)\n" DX_CLI_I2I_OPTIONS,
    main_invert};

static void report(const dx_cli_i2i *a, const dx_i2i_result *res) {
  (void)a;
  printf("invert: round trip to t = %" PRId64 " over %" PRId64 " DDIM steps: rms error %.4g, "
         "max %.4g (%.2f and %.2f of 255 levels)\n",
         res->t0, res->steps, res->rmse, res->max_abs, res->rmse * 127.5, res->max_abs * 127.5);
}

static int option(dx_cli_i2i *a, int argc, char **argv, int *i) {
  int r = dx_cli_i2i_image_option(a, argc, argv, i, "--image", &a->o.a, &a->has_a);
  if (r == 0) r = dx_cli_count_option(a->c, argc, argv, i, "--t", true, &a->o.t);
  return r;
}

static int main_invert(int argc, char **argv) {
  dx_cli_i2i a;
  dx_cli_i2i_init(&a, &dx_cli_invert, DX_I2I_INVERT);
  int rc = dx_cli_i2i_parse(&a, argc, argv, option);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  if (!a.has_a) return dx_cli_usage(a.c, "which image? (--image IMG or --image test:INDEX)");
  if (a.sampler && strcmp(a.sampler, "ddim") != 0)
    return dx_cli_usage(a.c, "inversion is DDIM's: --sampler can only be ddim");
  if (a.o.run.threshold > 0)
    return dx_cli_usage(a.c, "inversion runs without thresholding: drop --threshold");
  a.sampler = "ddim";
  return dx_cli_i2i_run(&a, report);
}
