/* Image to image from a trained run's checkpoint (EMA weights): the inputs
 * read and checked, the algorithms of diffusion/i2i.h run, and the grid to
 * show laid out. docs/generation.md. */
#ifndef DX_TRAIN_I2I_H
#define DX_TRAIN_I2I_H

#include "train/trainer.h"

typedef enum dx_i2i_kind {
  DX_I2I_INTERPOLATE,
  DX_I2I_INPAINT,
  DX_I2I_EDIT,
  DX_I2I_INVERT
} dx_i2i_kind;

/* An input image: a PNG file of the run's size and channel count, or
 * image `test_index` of the run's test split (path NULL). */
typedef struct dx_i2i_image {
  const char *path;
  int64_t test_index;
} dx_i2i_image;

typedef struct dx_i2i_opts {
  dx_infer_opts run; /* checkpoint, sampler, steps, threshold, n (outputs), seed */
  dx_i2i_kind kind;
  dx_i2i_image a, b;          /* the image; b: interpolation's second one */
  const char *mask;           /* inpaint: a PNG, white (>= 128) keeps, black is filled */
  int64_t t;                  /* interpolate: noise to this step in 1..T; 0: T / 2 */
  int64_t ratios;             /* interpolate: how many lambdas, 0..1 evenly (>= 2) */
  double strength;            /* edit: noise to t0 = strength T, rounded, in (0, 1] */
  int64_t jump_length, jumps; /* inpaint: RePaint's j and r */
} dx_i2i_opts;

typedef struct dx_i2i_result {
  float *images; /* the grid's images (n, C, H, W) in [-1, 1], malloc'ed */
  int64_t shape[4];
  int64_t nrow;         /* images per row of the grid */
  int64_t t0;           /* edit, interpolate: the step noised to, in 1..T */
  int64_t steps;        /* reverse steps taken (model evaluations, for inpaint) */
  double rmse, max_abs; /* invert: the round trip's error in [-1, 1] units */
} dx_i2i_result;

/* Runs o->kind on run e from o->run.checkpoint. A wrong size or channel
 * count of an input is DX_ERR_INVALID with one line naming the file. */
dx_status dx_infer_i2i(dx_experiment *e, const dx_run_plugins *rp, const dx_i2i_opts *o,
                       dx_i2i_result *res, char *err, size_t errlen);

#endif
