/* `ddpmx inpaint RUN --image IMG --mask MASK [--jumps J]`: RePaint
 * (Lugmayr et al. 2022). */
#include <inttypes.h>
#include <stdio.h>

#include "cli/i2i.h"

static int main_inpaint(int argc, char **argv);

const dx_cli_command dx_cli_inpaint = {
    "inpaint", "fill the masked part of an image (RePaint, with resampling jumps)",
    "usage: ddpmx inpaint RUN --image IMG --mask MASK [--jumps J] [--jump-length L]\n"
    "                     [--n N] [options]\n"
    "\n"
    "Samples with the run's sampler and, after every step, puts back the known\n"
    "pixels (white in MASK) noised to that step's level, q(x_t-1 | x0); after the\n"
    "last step they are IMG's own. The black pixels are filled by the model.\n"
    "Every L-th step the state is noised back up L steps and denoised again,\n"
    "J - 1 times (RePaint's resampling: r = J, j = L), so that the filled part\n"
    "has time to agree with the kept one: S + ceil((S - L) / L) (J - 1) L model\n"
    "evaluations for S sampler steps. The grid: IMG, the kept pixels (the rest\n"
    "grey), then the N fillings.\n"
    "\n"
    "  --image IMG       the image\n"
    "  --mask MASK       a PNG of the image's size: white (>= 128) keeps, black fills\n"
    "  --jumps J         times each stretch is denoised, 1 = no resampling (default 5)\n"
    "  --jump-length L   steps per jump (default 10)\n"
    "  --n N             how many fillings (default 4)\n" DX_CLI_I2I_OPTIONS,
    main_inpaint};

static void report(const dx_cli_i2i *a, const dx_i2i_result *res) {
  printf("inpaint: %" PRId64 " model evaluations (jumps %" PRId64 ", jump length %" PRId64 ")\n",
         res->steps, a->o.jumps, a->o.jump_length);
}

static int option(dx_cli_i2i *a, int argc, char **argv, int *i) {
  int r = dx_cli_i2i_image_option(a, argc, argv, i, "--image", &a->o.a, &a->has_a);
  if (r == 0) r = dx_cli_option(a->c, argc, argv, i, "--mask", &a->o.mask);
  if (r == 0) r = dx_cli_count_option(a->c, argc, argv, i, "--jumps", true, &a->o.jumps);
  if (r == 0)
    r = dx_cli_count_option(a->c, argc, argv, i, "--jump-length", true, &a->o.jump_length);
  if (r == 0) r = dx_cli_count_option(a->c, argc, argv, i, "--n", true, &a->o.run.n);
  return r;
}

static int main_inpaint(int argc, char **argv) {
  dx_cli_i2i a;
  dx_cli_i2i_init(&a, &dx_cli_inpaint, DX_I2I_INPAINT);
  a.o.jumps = 5, a.o.jump_length = 10;
  int rc = dx_cli_i2i_parse(&a, argc, argv, option);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  if (!a.has_a || !a.o.mask)
    return dx_cli_usage(a.c, "an image and a mask: --image IMG --mask MASK");
  if (a.o.run.n > 256) return dx_cli_usage(a.c, "--n must be between 1 and 256");
  if (a.o.jumps > 100) return dx_cli_usage(a.c, "--jumps must be between 1 and 100");
  return dx_cli_i2i_run(&a, report);
}
