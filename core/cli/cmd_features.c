/* `ddpmx features train|show|fid`: the feature network behind the FID and
 * KID scores (core/train/features.h), trained by ddpmx on a dataset's
 * training split and found again by dataset. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fid.h"

static int main_features(int argc, char **argv);

const dx_cli_command dx_cli_features = {
    "features", "train or inspect the feature network behind FID and KID",
    "usage: ddpmx features train --dataset NAME [--data-path DIR] [--seed S] [--epochs N]\n"
    "                            [--width N] [--batch N] [--lr LR] [--train-images N] [--dir DIR]\n"
    "       ddpmx features show [--dataset NAME] [--dir DIR]\n"
    "       ddpmx features fid --dataset NAME (--real N [--split train|test] | --noise N)\n"
    "                          [--seed S] [--data-path DIR] [--dir DIR]\n"
    "\n"
    "train: trains the small CNN classifier whose penultimate layer gives the\n"
    "features of ddpmx's FID and KID, on the dataset's training split, with\n"
    "ddpmx's own tensor core, from the seed (same seed and thread count, same\n"
    "file). Prints its test accuracy and writes DIR/NAME.safetensors and\n"
    "DIR/NAME.json (SHA-256, accuracy, architecture). Scores name the network\n"
    "by its dataset and the first 8 digits of that SHA-256.\n"
    "show: what is stored for NAME (or for every dataset).\n"
    "fid: the scores of reference inputs against the test split: N real images\n"
    "(--real, chosen by the seed) from the training split, or with --split test\n"
    "from the test split itself (part of the reference), or N images of\n"
    "Gaussian noise N(0, 1) clipped to [-1, 1] (--noise). Not comparable with\n"
    "Inception FID.\n"
    "\n"
    "  --dataset NAME     fashion-mnist, mnist or cifar10\n"
    "  --data-path DIR    where its files are (default: the kind's default)\n"
    "  --seed S           initialisation and batch order (default 0)\n"
    "  --epochs N         passes over the training images (default 2)\n"
    "  --width N          channels of the first convolution (default 16)\n"
    "  --batch N          images per step (default 128)\n"
    "  --lr LR            Adam's peak learning rate, cosine decay (default 0.002)\n"
    "  --train-images N   use the first N training images only (default all)\n"
    "  --split S          fid --real: train (default) or test\n"
    "  --dir DIR          where networks are kept (default " DX_CLI_DEFAULT_FEATURES ")\n",
    main_features};

typedef struct feat_args {
  const char *action, *dataset, *data_path, *dir, *lr, *split;
  int64_t seed, epochs, width, batch, train_images, real, noise;
} feat_args;

static int option(int argc, char **argv, int *i, feat_args *a) {
  const dx_cli_command *c = &dx_cli_features;
  int r;
  if ((r = dx_cli_option(c, argc, argv, i, "--dataset", &a->dataset)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--data-path", &a->data_path)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--dir", &a->dir)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--lr", &a->lr)) != 0) return r;
  if ((r = dx_cli_option(c, argc, argv, i, "--split", &a->split)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--seed", false, &a->seed)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--epochs", true, &a->epochs)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--width", true, &a->width)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--batch", true, &a->batch)) != 0) return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--train-images", true, &a->train_images)) != 0)
    return r;
  if ((r = dx_cli_count_option(c, argc, argv, i, "--real", true, &a->real)) != 0) return r;
  return dx_cli_count_option(c, argc, argv, i, "--noise", true, &a->noise);
}

static int parse(int argc, char **argv, feat_args *a) {
  const dx_cli_command *c = &dx_cli_features;
  *a = (feat_args){.dir = DX_CLI_DEFAULT_FEATURES};
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(c), -1;
    int r = option(argc, argv, &i, a);
    if (r < 0) return DX_EXIT_USAGE;
    if (r > 0) continue;
    if (argv[i][0] == '-' || a->action) return dx_cli_usage(c, "unexpected argument '%s'", argv[i]);
    a->action = argv[i];
  }
  if (!a->action) return dx_cli_usage(c, "what to do? (train, show or fid)");
  if (strcmp(a->action, "train") && strcmp(a->action, "show") && strcmp(a->action, "fid"))
    return dx_cli_usage(c, "unknown action '%s' (train, show or fid)", a->action);
  if (strcmp(a->action, "show") && !a->dataset)
    return dx_cli_usage(c, "which dataset? (--dataset fashion-mnist, mnist or cifar10)");
  if (!strcmp(a->action, "fid") && (a->real > 0) == (a->noise > 0))
    return dx_cli_usage(c, "score what? (--real N or --noise N)");
  if (a->split && (strcmp(a->action, "fid") || !a->real))
    return dx_cli_usage(c, "--split chooses where --real takes its images; it goes with --real");
  if (a->split && strcmp(a->split, "train") && strcmp(a->split, "test"))
    return dx_cli_usage(c, "--split %s: train or test", a->split);
  return DX_EXIT_OK;
}

static void on_progress(const dx_features_progress *p, void *user) {
  (void)user;
  fprintf(stderr,
          "step %" PRId64 "/%" PRId64 "  epoch %" PRId64
          "  loss %.4f  train acc %.1f%%  %.0f img/s\n",
          p->step, p->steps, p->epoch, p->loss, 100 * p->train_accuracy, p->images_per_s);
}

static int train(const feat_args *a) {
  const dx_cli_command *c = &dx_cli_features;
  dx_features_train_opts o = {.data_path = a->data_path,
                              .seed = (uint64_t)a->seed,
                              .epochs = a->epochs,
                              .batch = a->batch,
                              .width = a->width,
                              .train_images = a->train_images,
                              .stop = dx_cli_catch_signals(false),
                              .progress = on_progress};
  if (dx_cli_feature_dataset(c, a->dataset, &o.kind) < 0) return DX_EXIT_USAGE;
  if (a->lr) {
    char *end;
    o.lr = strtod(a->lr, &end);
    if (*end || !(o.lr > 0) || !isfinite(o.lr))
      return dx_cli_usage(c, "--lr must be a positive number, not '%s'", a->lr);
  }
  char err[DX_ERRMSG_MAX];
  dx_features_info in;
  fprintf(stderr, "ddpmx features: training the feature network for %s (seed %" PRId64 ")\n",
          a->dataset, a->seed);
  dx_status st = dx_features_train(&o, a->dir, &in, err, sizeof err);
  if (st != DX_OK) return dx_cli_fail(c, st, "%s", err);
  printf("feature network %s_%.8s: test accuracy %.2f%%, trained in %.0f s\n", in.dataset,
         in.sha256, 100 * in.accuracy, in.seconds);
  printf("wrote %s/%s.safetensors (sha256 %s) and %s/%s.json\n", a->dir, in.dataset, in.sha256,
         a->dir, in.dataset);
  return DX_EXIT_OK;
}

static int show_one(const feat_args *a, const char *dataset, bool quiet_if_missing) {
  char err[DX_ERRMSG_MAX];
  dx_features *f;
  dx_status st = dx_features_open(a->dir, dataset, 1, &f, err, sizeof err);
  if (st != DX_OK) {
    if (quiet_if_missing && st == DX_ERR_IO) return DX_EXIT_OK;
    return dx_cli_fail(&dx_cli_features, st, "%s", err);
  }
  const dx_features_info *in = dx_features_info_of(f);
  printf("%s: sha256 %s\n  test accuracy %.2f%%, input %" PRId64 "x%" PRId64 "x%" PRId64
         ", %" PRId64 " features, seed %" PRId64 ", %" PRId64 " epochs over %" PRId64
         " images\n  %s\n",
         in->dataset, in->sha256, 100 * in->accuracy, in->C, in->H, in->W, in->dim, in->seed,
         in->epochs, in->train_images, in->arch);
  dx_features_free(f);
  return DX_EXIT_OK;
}

static int show(const feat_args *a) {
  if (a->dataset) return show_one(a, a->dataset, false);
  static const char *const all[] = {"fashion-mnist", "mnist", "cifar10"};
  for (int k = 0; k < 3; k++) {
    int rc = show_one(a, all[k], true);
    if (rc != DX_EXIT_OK) return rc;
  }
  return DX_EXIT_OK;
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static bool test_split(const feat_args *a) { return a->split && !strcmp(a->split, "test"); }

/* n real images of the split (the seed's first epoch order) or n noise images. */
static int reference_images(const feat_args *a, dx_data_kind kind, const dx_features_info *in,
                            float **x, int64_t shape[4]) {
  const dx_cli_command *c = &dx_cli_features;
  int64_t n = a->real > 0 ? a->real : a->noise, D = in->C * in->H * in->W;
  shape[0] = n, shape[1] = in->C, shape[2] = in->H, shape[3] = in->W;
  *x = malloc((size_t)(n * D) * sizeof **x);
  if (!*x) return dx_cli_fail(c, DX_ERR_NOMEM, "out of memory for %" PRId64 " images", n);
  if (a->noise > 0) { /* Box-Muller on a splitmix64 stream */
    uint64_t s = (uint64_t)a->seed;
    for (int64_t i = 0; i < n * D; i++) {
      double u1 = ((double)(splitmix(&s) >> 11) + 1) / 9007199254740993.0;
      double u2 = (double)(splitmix(&s) >> 11) / 9007199254740992.0;
      double g = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
      (*x)[i] = (float)(g < -1 ? -1 : g > 1 ? 1 : g);
    }
    return DX_EXIT_OK;
  }
  char err[DX_ERRMSG_MAX];
  dx_dataset *ds = NULL;
  int64_t *perm = NULL;
  dx_status st = dx_dataset_open(kind, a->data_path, test_split(a) ? DX_SPLIT_TEST : DX_SPLIT_TRAIN,
                                 err, sizeof err, &ds);
  if (st == DX_OK && n > dx_dataset_count(ds))
    st = DX_ERR_INVALID,
    snprintf(err, sizeof err, "--real %" PRId64 ": the %s split has %" PRId64 " images", n,
             test_split(a) ? "test" : "training", dx_dataset_count(ds));
  if (st == DX_OK && !(perm = malloc((size_t)dx_dataset_count(ds) * sizeof *perm)))
    st = DX_ERR_NOMEM, snprintf(err, sizeof err, "out of memory");
  if (st == DX_OK) {
    dx_epoch_permutation(dx_dataset_count(ds), (uint64_t)a->seed, 0, perm);
    st = dx_dataset_batch(ds, perm, n, NULL, *x, err, sizeof err);
  }
  free(perm);
  dx_dataset_free(ds);
  if (st == DX_OK) return DX_EXIT_OK;
  free(*x), *x = NULL;
  return dx_cli_fail(c, st, "%s", err);
}

static int fid(const feat_args *a) {
  const dx_cli_command *c = &dx_cli_features;
  dx_data_kind kind;
  if (dx_cli_feature_dataset(c, a->dataset, &kind) < 0) return DX_EXIT_USAGE;
  dx_cli_fid x;
  int rc = dx_cli_fid_open(c, a->dir, kind, a->data_path, &x);
  if (rc != DX_EXIT_OK) return rc;
  float *images = NULL;
  int64_t shape[4];
  rc = reference_images(a, kind, dx_features_info_of(x.f), &images, shape);
  dx_fid_score s;
  if (rc == DX_EXIT_OK) rc = dx_cli_fid_score(c, &x, images, shape[0], shape, NULL, &s);
  if (rc == DX_EXIT_OK)
    dx_cli_fid_print(&x,
                     a->real == 0    ? "Gaussian noise"
                     : test_split(a) ? "real test images (part of the reference)"
                                     : "real training images",
                     &s);
  free(images);
  dx_cli_fid_close(&x);
  return rc;
}

static int main_features(int argc, char **argv) {
  feat_args a;
  int rc = parse(argc, argv, &a);
  if (rc != DX_EXIT_OK) return rc < 0 ? DX_EXIT_OK : rc;
  if (!strcmp(a.action, "train")) return train(&a);
  if (!strcmp(a.action, "show")) return show(&a);
  return fid(&a);
}
