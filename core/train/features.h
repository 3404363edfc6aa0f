/* The feature network behind ddpmx's sample-quality scores (FID, KID,
 * per-class accuracy): a small CNN classifier trained by ddpmx itself on a
 * dataset's training split, since Inception weights cannot be downloaded
 * here (the fast.ai diffusion lessons do the same for Fashion-MNIST). Its
 * penultimate layer, the global mean of the last convolution's activations,
 * is the feature vector.
 *
 * The network is one safetensors file, <dir>/<dataset>.safetensors, found
 * again by dataset; the SHA-256 of that file names it in every score, so
 * that scores from different networks are never compared by accident. A
 * JSON file beside it (<dataset>.json) says the same for people. */
#ifndef DX_TRAIN_FEATURES_H
#define DX_TRAIN_FEATURES_H

#include <signal.h>
#include <stdint.h>

#include "data/dataset.h"
#include "metrics/metrics.h"

#define DX_FEATURES_FORMAT "ddpmx-features-1"

typedef struct dx_features_info {
  char dataset[32]; /* fashion-mnist, mnist, cifar10 */
  char sha256[65];  /* of the safetensors file */
  int64_t C, H, W;  /* the images it was trained on (data.pad_pow2 off) */
  int64_t width;    /* channels of the first convolution */
  int64_t dim;      /* feature vector size (8 * width) */
  int64_t classes;  /* 10 */
  double accuracy;  /* on the whole test split */
  int64_t seed, epochs, train_images;
  double seconds; /* training time */
  char arch[160]; /* one line */
} dx_features_info;

typedef struct dx_features_progress {
  int64_t step, steps, epoch;
  double loss, train_accuracy; /* means since the last report */
  double images_per_s;
} dx_features_progress;

typedef struct dx_features_train_opts {
  dx_data_kind kind;
  const char *data_path; /* NULL: the kind's default */
  uint64_t seed;
  int64_t epochs;       /* 0: 2 */
  int64_t batch;        /* 0: 128 */
  double lr;            /* 0: 2e-3 (Adam, cosine decay) */
  int64_t width;        /* 0: 16 */
  int64_t train_images; /* 0: the whole training split */
  int threads;          /* 0: the default (DDPMX_THREADS, else every core) */
  volatile sig_atomic_t *stop;
  int64_t report_every; /* steps between progress calls (0: 50) */
  void (*progress)(const dx_features_progress *p, void *user);
  void *user;
} dx_features_train_opts;

/* Trains the network from the seed (same seed, same data, same thread
 * count: the same bytes), measures it on the test split, and writes
 * <dir>/<dataset>.safetensors and <dataset>.json (the folder is made).
 * DX_ERR_INTERRUPTED when *stop was set (nothing written). */
dx_status dx_features_train(const dx_features_train_opts *o, const char *dir,
                            dx_features_info *info, char *err, size_t errlen);

typedef struct dx_features dx_features;

/* Loads <dir>/<dataset>.safetensors; when there is none the message says
 * to run `ddpmx features train --dataset X` first (DX_ERR_IO). */
dx_status dx_features_open(const char *dir, const char *dataset, int threads, dx_features **out,
                           char *err, size_t errlen);
void dx_features_free(dx_features *f);
const dx_features_info *dx_features_info_of(const dx_features *f);
/* "fid_fashion-mnist_1a2b3c4d" style tag: the dataset and the first 8 hex
 * digits of the SHA-256, which metric names carry. */
void dx_features_tag(const dx_features *f, char *out, size_t len);

/* images (n, C, H', W') in [-1, 1], H' >= H and W' >= W (a larger image,
 * e.g. one padded by data.pad_pow2, is centre-cropped) -> feat (n, dim)
 * and, if pred is not NULL, the predicted class of each. */
dx_status dx_features_embed(dx_features *f, const float *images, int64_t n, int64_t C, int64_t H,
                            int64_t W, float *feat, int *pred, char *err, size_t errlen);

/* The first `limit` images of an open dataset (0: all of them) through the
 * network: *feat (n, dim), and if asked *labels (the dataset's) and *pred
 * (the network's), all malloc'ed, *n how many. */
dx_status dx_features_of_dataset(dx_features *f, const dx_dataset *ds, int64_t limit, float **feat,
                                 int **labels, int **pred, int64_t *n, char *err, size_t errlen);

/* FID and KID of n feature vectors against a reference set (the test
 * split's): both in float64 on the penultimate-layer features. */
typedef struct dx_fid_score {
  double fid, kid, kid_spread;
  int64_t n, ref_n;
} dx_fid_score;
dx_status dx_features_score(const dx_features *f, const float *feat, int64_t n, const float *ref,
                            int64_t ref_n, const dx_kid_opts *ko, dx_fid_score *out, char *err,
                            size_t errlen);

/* The store's metric name of a score (fid, kid, kid_spread, acc ...):
 * "<score>/<sampler>-<steps>/n<N>/<dataset>_<sha8>", e.g.
 * "fid/ddim-50/n1000/fashion-mnist_1a2b3c4d": the samples it was computed on
 * and the feature network, so that no two different scores share a name. */
void dx_features_metric(const dx_features *f, const char *score, const char *sampler, int64_t steps,
                        int64_t n, char *out, size_t len);
/* The same for samples of a class-conditional run drawn with classes at
 * guidance weight w: "<score>/<sampler>-<steps>/w<w>/n<N>/<dataset>_<sha8>"
 * (w as %g: w2, w0, w1.5), e.g. "acc/ddim-50/w2/n1000/fashion-mnist_1a2b3c4d". */
void dx_features_metric_guided(const dx_features *f, const char *score, const char *sampler,
                               int64_t steps, double w, int64_t n, char *out, size_t len);

#endif
