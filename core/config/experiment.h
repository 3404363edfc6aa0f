/* An experiment: the YAML file of docs/experiment.md, loaded, merged with the
 * files it extends, the schema defaults and the command-line overrides, and
 * checked key by key into a typed struct.
 *
 * Private to ddpmx (the CLI, the store and the training code use it). The
 * library never prints: a failed load returns a dx_status and leaves one line
 * `FILE:LINE:COL: what is wrong, what to do` in err. Command-line overrides
 * are placed as `<command line>:N` (N counts overrides from 1); schema
 * defaults as `<default>`. */
#ifndef DX_CONFIG_EXPERIMENT_H
#define DX_CONFIG_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "ddpmx/ctx.h"
#include "ddpmx/diffusion_types.h"
#include "ddpmx/export.h"
#include "ddpmx/plugin.h"
#include "ddpmx/status.h"
#include "util/plugin_ref.h"

#define DX_EXP_MAX_LEVELS 6    /* the most entries model.dim_mults takes */
#define DX_EXP_MAX_CLASSES 256 /* the most entries sample.classes takes */

/* The choices of the experiment, each with its words (DX_..._WORDS) beside
 * it in the order of its values: data.dataset is a dx_data_kind
 * (data/dataset.h), diffusion.predict a dx_predict and diffusion.timesteps a
 * dx_timestep_kind (ddpmx/diffusion_types.h). */
typedef enum dx_optimizer { DX_OPTIMIZER_ADAM, DX_OPTIMIZER_ADAMW } dx_optimizer;
#define DX_OPTIMIZER_WORDS "adam|adamw"
typedef enum dx_exp_lr_schedule { DX_EXP_LR_CONSTANT, DX_EXP_LR_COSINE } dx_exp_lr_schedule;
#define DX_EXP_LR_WORDS "constant|cosine"

typedef struct dx_exp_data {
  dx_data_kind dataset;
  char *path; /* as written (not made relative to the file) */
  bool flip, pad_pow2;
} dx_exp_data;

typedef struct dx_exp_model {
  int64_t dim;
  int64_t dim_mults[DX_EXP_MAX_LEVELS];
  int64_t n_levels; /* entries of dim_mults */
  dx_plugin_ref block;
  /* One per level (n_levels used); plugin == NULL: no attention there. A
   * single mapping in YAML is copied to every level. */
  dx_plugin_ref attention[DX_EXP_MAX_LEVELS];
  bool attention_per_level; /* written as a list: kept so output looks alike */
  dx_plugin_ref mid_attention;
  double dropout;
  int64_t classes;     /* > 0: class-conditional, with classes + 1 embeddings */
  bool self_condition; /* Chen et al. 2022 */
} dx_exp_model;

typedef struct dx_exp_diffusion {
  int64_t T;
  dx_predict predict;
  dx_plugin_ref schedule, loss, sampler;
  dx_timestep_kind timesteps;
  double offset_noise; /* s: eps + s N(0, 1) per (image, channel) */
} dx_exp_diffusion;

typedef struct dx_exp_ema {
  double decay;
  int64_t every, start;
} dx_exp_ema;

typedef struct dx_exp_train {
  int64_t steps, batch;
  int64_t accumulate; /* forward passes of `batch` images per optimiser step */
  bool recompute;     /* recompute each U-Net level's activations in backward */
  dx_optimizer optimizer;
  double lr, betas[2], weight_decay;
  int64_t warmup;
  dx_exp_lr_schedule lr_schedule;
  double clip_grad; /* 0: off */
  dx_exp_ema ema;
  int64_t threads;  /* 0: every core */
  double cond_drop; /* probability of training a sample with no class */
} dx_exp_train;

typedef struct dx_exp_log {
  int64_t every;
} dx_exp_log;
typedef struct dx_exp_sample {
  int64_t every, count, nrow, steps; /* every 0: never; steps 0: all T */
  /* A conditional model's grid: row r shows classes[r mod n_classes]
   * (n_classes 0: every class in turn), guided with weight guidance. */
  int64_t classes[DX_EXP_MAX_CLASSES];
  int64_t n_classes;
  double guidance;
} dx_exp_sample;
typedef struct dx_exp_eval {
  int64_t every, images, batch; /* every 0: never */
  struct {
    int64_t every, samples; /* every 0: never */
    char *features;         /* the feature networks' folder */
  } fid;
} dx_exp_eval;
typedef struct dx_exp_checkpoint {
  int64_t every; /* 0: never */
  char *dir;
} dx_exp_checkpoint;

/* Settings of the CUDA backend; the CPU ignores them. */
typedef struct dx_exp_cuda {
  bool deterministic; /* cuDNN: only algorithms that give the same bits every run */
  bool tf32;          /* TF32 tensor cores in matrix products and convolutions */
  int64_t pool_mb;    /* device memory reserved up front; 0: automatic */
} dx_exp_cuda;

/* A file read while loading: the experiment itself first, then the files it
 * extends, nearest first. Source positions point at these paths. */
typedef struct dx_exp_source {
  char *path; /* as given, or joined to the extending file's folder */
  char *text; /* the file as written */
} dx_exp_source;

typedef struct dx_experiment {
  char *name;
  char *extends;     /* as written in the experiment file; NULL if none */
  char *description; /* NULL if none */
  int64_t seed;
  char *device;       /* as written: cpu, cuda, cuda:N or auto */
  dx_device device_v; /* device parsed; cuda alone is cuda:0 */
  bool device_auto;   /* auto: CUDA if the build and machine have it, else cpu */
  char **plugin_path; /* absolute; relative entries joined to their file's folder */
  int64_t n_plugin_path;

  dx_exp_data data;
  dx_exp_model model;
  dx_exp_diffusion diffusion;
  dx_exp_train train;
  dx_exp_log log;
  dx_exp_sample sample;
  dx_exp_eval eval;
  dx_exp_checkpoint checkpoint;
  dx_exp_cuda cuda;

  const char *path;   /* sources[0].path: the file given to dx_experiment_load */
  const char *source; /* sources[0].text: that file as written */
  dx_exp_source *sources;
  int64_t n_sources;
  char **overrides; /* as given, in order */
  int64_t n_overrides;
} dx_experiment;

/* Loads `path`, the files it extends, then applies `overrides` (each
 * "key.path=value", value in YAML flow syntax) in order and checks it all.
 * On failure *out is NULL and err holds the one-line reason: DX_ERR_IO (a
 * file cannot be read), DX_ERR_PARSE (YAML syntax), DX_ERR_CONFIG (keys and
 * values, overrides, extends cycles) or DX_ERR_NOMEM. */
DX_API dx_status dx_experiment_load(const char *path, const char *const *overrides, int n_overrides,
                                    dx_experiment **out, char *err, size_t errlen);
DX_API void dx_experiment_free(dx_experiment *e);

/* The resolved experiment (every key, defaults included, plugin arguments as
 * written; no `extends`, which is already merged in), as pretty-printed JSON
 * or as YAML that loads back to the same experiment. Malloc'ed (caller
 * frees); NULL when out of memory. */
DX_API char *dx_experiment_to_json(const dx_experiment *e);
DX_API char *dx_experiment_to_yaml(const dx_experiment *e);

/* Calls fn with every (dotted key, value text) row of the resolved
 * experiment, in schema order: `train.lr` = `0.0002`, a plugin as
 * `diffusion.schedule.plugin` = `cosine` and `diffusion.schedule.s` =
 * `0.008`, a list of numbers or strings as one row `model.dim_mults` =
 * `[1, 2, 4]`, a per-level attention list by index (`model.attention.1.plugin`,
 * `model.attention.0` = `null`). A non-zero return from fn stops the walk and
 * is returned; otherwise DX_OK or DX_ERR_NOMEM. */
typedef dx_status (*dx_flat_fn)(void *user, const char *key, const char *value);
DX_API dx_status dx_experiment_flatten(const dx_experiment *e, dx_flat_fn fn, void *user);

/* Every plugin the experiment names, for the plugin loader: the key it sits
 * under, the kind it must be, and the reference itself. */
typedef struct dx_exp_plugin_slot {
  const char *role; /* "diffusion.schedule", "model.attention", ... */
  int level;        /* model.attention: the level; -1 elsewhere */
  dx_plugin_kind kind;
  dx_plugin_ref *ref; /* points into the experiment */
} dx_exp_plugin_slot;
#define DX_EXP_MAX_PLUGIN_SLOTS (6 + DX_EXP_MAX_LEVELS)

/* Fills out[] (room for DX_EXP_MAX_PLUGIN_SLOTS) and returns how many; the
 * levels without attention are left out. */
DX_API int dx_experiment_plugin_slots(dx_experiment *e, dx_exp_plugin_slot *out);

/* Adds `key: value` to ref unless it already has that key: the plugin loader
 * calls this with the plugin's declared defaults so that the resolved
 * experiment (JSON, YAML, flattened rows) shows them too. The argument is
 * placed at `<default>`. */
DX_API dx_status dx_plugin_ref_add_default(dx_plugin_ref *ref, const char *key, const char *value,
                                           dx_scalar_style style);

#endif
