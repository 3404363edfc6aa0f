/* What the image-to-image commands (interpolate, inpaint, edit, invert)
 * share: their common options, inputs named as files or test:INDEX, and
 * the run from database to stored grid. */
#ifndef DX_CLI_I2I_H
#define DX_CLI_I2I_H

#include "cli/cli.h"
#include "train/i2i.h"

#define DX_CLI_I2I_OPTIONS                                                                         \
  "  --seed S          the noise's seed (default 0): same seed, same images\n"                     \
  "  --sampler S       another sampler: NAME, or NAME:KEY=VALUE,... (e.g. ddim:eta=1)\n"           \
  "  --sample-steps N  respace the sampler to N steps (default: the sampler's)\n"                  \
  "  --threshold P     dynamic thresholding of x0 at quantile P (0 < P <= 1)\n"                    \
  "  -o FILE.png       also write the grid here\n"                                                 \
  "  --tag T           the stored grid's tag (default: the command's name)\n"                      \
  "  --db PATH         results database (default " DX_CLI_DEFAULT_DB ")\n"                         \
  "An image is a PNG of the run's size and channels, or test:INDEX, image INDEX\n"                 \
  "of the run's test split.\n"

typedef struct dx_cli_i2i {
  const dx_cli_command *c;
  const char *db, *ref, *out, *tag, *sampler;
  int64_t seed;
  bool has_a, has_b; /* --image or --a, --b given */
  dx_i2i_opts o;
} dx_cli_i2i;

void dx_cli_i2i_init(dx_cli_i2i *a, const dx_cli_command *c, dx_i2i_kind kind);
/* The common options at argv[*i]: returns as dx_cli_option does (-1 after
 * a message). */
int dx_cli_i2i_option(dx_cli_i2i *a, int argc, char **argv, int *i);
/* `flag VALUE` at argv[*i] where VALUE is an image: test:INDEX or a path. */
int dx_cli_i2i_image_option(dx_cli_i2i *a, int argc, char **argv, int *i, const char *flag,
                            dx_i2i_image *im, bool *given);
/* `flag VALUE` at argv[*i] where VALUE is a number in [lo, hi]. */
int dx_cli_i2i_number_option(dx_cli_i2i *a, int argc, char **argv, int *i, const char *flag,
                             double lo, double hi, double *v);
/* Reads argv: --help, the command's own options (`own`, returning as
 * dx_cli_option does), the common ones and the run. Returns DX_EXIT_OK, -1
 * after printing the help, or an exit code after a message. */
int dx_cli_i2i_parse(dx_cli_i2i *a, int argc, char **argv,
                     int (*own)(dx_cli_i2i *a, int argc, char **argv, int *i));
/* Opens the database and the run, runs, stores the grid under the tag
 * (default: the command's name), then report(res) for the command's own
 * lines. Returns the exit code. */
int dx_cli_i2i_run(dx_cli_i2i *a, void (*report)(const dx_cli_i2i *a, const dx_i2i_result *res));

#endif
