/* `ddpmx edit RUN --image IMG [--strength S]`: SDEdit (Meng et al. 2021). */
#include <inttypes.h>
#include <stdio.h>

#include "cli/i2i.h"

static int main_edit(int argc, char **argv);

const dx_cli_command dx_cli_edit = {
    "edit", "SDEdit: noise an image part of the way, then denoise it",
    "usage: ddpmx edit RUN --image IMG [--strength S] [--n N] [options]\n"
    "\n"
    "Noises IMG to step t0 = S T of the run's schedule, q(x_t0 | x0), and denoises\n"
    "it with the run's sampler from there, its steps scaled by t0 / T; N times,\n"
    "each with its own noise (Meng et al. 2021). A rough sketch becomes an image\n"
    "of the data; the smaller S, the closer to the input. The grid: the input,\n"
    "then the N edits.\n"
    "\n"
    "  --image IMG       the image to edit\n"
    "  --strength S      0 < S <= 1 (default 0.5); 1 starts from pure noise\n"
    "  --n N             how many edits (default 4)\n" DX_CLI_I2I_OPTIONS,
    main_edit};

static void report(const dx_cli_i2i *a, const dx_i2i_result *res) {
  (void)a;
  printf("edit: noised to t0 = %" PRId64 ", denoised in %" PRId64 " steps\n", res->t0, res->steps);
}

static int option(dx_cli_i2i *a, int argc, char **argv, int *i) {
  int r = dx_cli_i2i_image_option(a, argc, argv, i, "--image", &a->o.a, &a->has_a);
  if (r == 0) r = dx_cli_i2i_number_option(a, argc, argv, i, "--strength", 1e-9, 1, &a->o.strength);
  if (r == 0) r = dx_cli_count_option(a->c, argc, argv, i, "--n", true, &a->o.run.n);
  return r;
}

static int main_edit(int argc, char **argv) {
  dx_cli_i2i a;
  dx_cli_i2i_init(&a, &dx_cli_edit, DX_I2I_EDIT);
  a.o.strength = 0.5;
  int rc = dx_cli_i2i_parse(&a, argc, argv, option);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  if (!a.has_a) return dx_cli_usage(a.c, "which image? (--image IMG or --image test:INDEX)");
  if (a.o.run.n > 256) return dx_cli_usage(a.c, "--n must be between 1 and 256");
  return dx_cli_i2i_run(&a, report);
}
