/* `ddpmx interpolate RUN --a IMG --b IMG [--t T] [--steps K]`: interpolation
 * through x_t (Ho et al. 2020 sec. 4.3; labml's evaluate.py). */
#include <inttypes.h>
#include <stdio.h>

#include "cli/i2i.h"

static int main_interpolate(int argc, char **argv);

const dx_cli_command dx_cli_interpolate = {
    "interpolate", "blend two images through the noise of step t, then denoise each blend",
    "usage: ddpmx interpolate RUN --a IMG --b IMG [--t T] [--steps K] [options]\n"
    "\n"
    "Noises A and B to step T of the run's schedule, each with its own noise\n"
    "(as labml's evaluate.py and Ho et al. 2020 sec. 4.3 do), mixes them\n"
    "linearly, x_t = (1 - l) x_t(A) + l x_t(B) for K values of l from 0 to 1,\n"
    "and denoises each mix with the run's sampler (its steps scaled by T / the\n"
    "run's T), every mix with the same noise. The grid: A, the K results, B.\n"
    "\n"
    "  --a IMG           the first image\n"
    "  --b IMG           the second image\n"
    "  --t T             noise to this step, 1..T of the run (default: half of it)\n"
    "  --steps K         how many mixes, at least 2 (default 8)\n" DX_CLI_I2I_OPTIONS,
    main_interpolate};

static void report(const dx_cli_i2i *a, const dx_i2i_result *res) {
  printf("interpolate: %" PRId64 " mixes at t = %" PRId64 ", %" PRId64 " steps in all\n",
         a->o.ratios, res->t0, res->steps);
}

static int option(dx_cli_i2i *a, int argc, char **argv, int *i) {
  int r = dx_cli_i2i_image_option(a, argc, argv, i, "--a", &a->o.a, &a->has_a);
  if (r == 0) r = dx_cli_i2i_image_option(a, argc, argv, i, "--b", &a->o.b, &a->has_b);
  if (r == 0) r = dx_cli_count_option(a->c, argc, argv, i, "--t", true, &a->o.t);
  if (r == 0) r = dx_cli_count_option(a->c, argc, argv, i, "--steps", true, &a->o.ratios);
  return r;
}

static int main_interpolate(int argc, char **argv) {
  dx_cli_i2i a;
  dx_cli_i2i_init(&a, &dx_cli_interpolate, DX_I2I_INTERPOLATE);
  a.o.ratios = 8;
  int rc = dx_cli_i2i_parse(&a, argc, argv, option);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  if (!a.has_a || !a.has_b)
    return dx_cli_usage(a.c, "two images: --a IMG --b IMG (a PNG or test:INDEX)");
  if (a.o.ratios < 2 || a.o.ratios > 256)
    return dx_cli_usage(a.c, "--steps must be between 2 and 256");
  return dx_cli_i2i_run(&a, report);
}
