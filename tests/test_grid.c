/* Sample grids: the make_grid layout and the PNG round trip.
 *
 * Every PNG is read back with libpng's own simplified API and its IHDR bytes,
 * and each pixel is compared to a value this file derives from the grid
 * position alone (which cell, which image, padding or not), not from the
 * library's placement code. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dx_test.h"
#include "store/grid.h"

/* A value in [-1.25, 1.25] that differs by image, channel, row and column, so
 * a misplaced image or a swapped channel shows. Some fall outside [-1, 1] to
 * exercise the clamp. */
static float pattern(int64_t k, int64_t ch, int64_t i, int64_t j) {
  return (float)sin(0.37 * (double)k + 1.1 * (double)ch + 0.23 * (double)i + 0.71 * (double)j) *
         1.25f;
}

static float *make_batch(int64_t n, int64_t c, int64_t h, int64_t w) {
  float *x = malloc(sizeof *x * (size_t)(n * c * h * w));
  ck_assert_ptr_nonnull(x);
  for (int64_t k = 0; k < n; k++)
    for (int64_t ch = 0; ch < c; ch++)
      for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++)
          x[((k * c + ch) * h + i) * w + j] = pattern(k, ch, i, j);
  return x;
}

static int expected_byte(float v) {
  long r = lround(((double)v + 1.0) / 2.0 * 255.0);
  return r < 0 ? 0 : r > 255 ? 255 : (int)r;
}

/* What the grid holds at (y, x), channel ch: found by asking which cell the
 * pixel falls in and whether it is inside that cell's image. */
static int expected_pixel(int64_t y, int64_t x, int64_t ch, int64_t n, int64_t c, int64_t h,
                          int64_t w, int64_t ncol) {
  (void)c;
  int64_t cy = (y - 2) / (h + 2), iy = (y - 2) % (h + 2);
  int64_t cx = (x - 2) / (w + 2), ix = (x - 2) % (w + 2);
  if (y < 2 || x < 2 || iy >= h || ix >= w || cx >= ncol) return 0;
  int64_t k = cy * ncol + cx;
  if (k >= n) return 0;
  return expected_byte(pattern(k, ch, iy, ix));
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes with libpng directly and checks the header and every pixel. */
static void check_png(const uint8_t *png, size_t len, int64_t n, int64_t c, int64_t h, int64_t w,
                      int64_t nrow, int64_t want_h, int64_t want_w) {
  ck_assert_uint_ge(len, 33);
  ck_assert_mem_eq(png + 12, "IHDR", 4);
  ck_assert_uint_eq(be32(png + 16), (uint32_t)want_w);
  ck_assert_uint_eq(be32(png + 20), (uint32_t)want_h);
  ck_assert_int_eq(png[24], 8);              /* bit depth */
  ck_assert_int_eq(png[25], c == 1 ? 0 : 2); /* colour type: gray or RGB */

  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  ck_assert_int_ne(png_image_begin_read_from_memory(&im, png, len), 0);
  ck_assert_uint_eq(im.format, c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB);
  uint8_t *px = malloc(PNG_IMAGE_SIZE(im));
  ck_assert_int_ne(png_image_finish_read(&im, NULL, px, 0, NULL), 0);

  int64_t ncol = nrow < n ? nrow : n;
  int64_t bad = 0;
  for (int64_t y = 0; y < want_h; y++)
    for (int64_t x = 0; x < want_w; x++)
      for (int64_t ch = 0; ch < c; ch++) {
        int got = px[(y * want_w + x) * c + ch];
        int want = expected_pixel(y, x, ch, n, c, h, w, ncol);
        if (got != want && bad++ < 5)
          fprintf(stderr, "pixel (%lld, %lld, %lld): got %d, want %d\n", (long long)y, (long long)x,
                  (long long)ch, got, want);
      }
  free(px);
  ck_assert_int_eq(bad, 0);
}

static void round_trip(int64_t n, int64_t c, int64_t h, int64_t w, int64_t nrow, int64_t want_h,
                       int64_t want_w) {
  float *x = make_batch(n, c, h, w);
  char err[DX_ERRMSG_MAX];
  dx_image img;
  ck_assert_int_eq(dx_grid_make(x, n, c, h, w, nrow, &img, err, sizeof err), DX_OK);
  ck_assert_int_eq(img.height, want_h);
  ck_assert_int_eq(img.width, want_w);
  uint8_t *png;
  size_t len;
  ck_assert_int_eq(dx_png_encode(&img, &png, &len, err, sizeof err), DX_OK);
  check_png(png, len, n, c, h, w, nrow, want_h, want_w);
  free(png);
  dx_image_free(&img);
  free(x);
}

/* Sizes torchvision.utils.make_grid(padding=2) gives for these batches. */
START_TEST(gray_full_rows) { round_trip(64, 1, 28, 28, 8, 242, 242); }
END_TEST

START_TEST(gray_partial_last_row) { round_trip(10, 1, 5, 7, 4, 3 * 7 + 2, 4 * 9 + 2); }
END_TEST

START_TEST(rgb_fewer_than_nrow) { round_trip(3, 3, 6, 4, 8, 8 + 2, 3 * 6 + 2); }
END_TEST

START_TEST(rgb_one_column) { round_trip(5, 3, 4, 4, 1, 5 * 6 + 2, 6 + 2); }
END_TEST

START_TEST(single_image_is_padded) { round_trip(1, 1, 3, 3, 8, 7, 7); }
END_TEST

START_TEST(size_formula) {
  struct {
    int64_t n, h, w, nrow, gh, gw;
  } cases[] = {
      {64, 32, 32, 8, 274, 274}, {16, 28, 28, 4, 122, 122}, {17, 28, 28, 4, 152, 122},
      {2, 10, 20, 8, 14, 46},    {7, 1, 1, 3, 11, 11},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t gh, gw;
    dx_grid_size(cases[i].n, cases[i].h, cases[i].w, cases[i].nrow, &gh, &gw);
    ck_assert_int_eq(gh, cases[i].gh);
    ck_assert_int_eq(gw, cases[i].gw);
  }
}
END_TEST

/* round((x + 1) / 2 * 255) clamped, worked out by hand. */
START_TEST(pixel_mapping) {
  const float x[] = {-1.0f, 1.0f, 0.0f, -0.5f, 0.5f, 2.0f, -3.0f, NAN, 1.0f / 255.0f};
  const int want[] = {0, 255, 128, 64, 191, 255, 0, 0, 128};
  int64_t n = sizeof x / sizeof x[0];
  dx_image img;
  char err[DX_ERRMSG_MAX];
  ck_assert_int_eq(dx_grid_make(x, 1, 1, 1, n, 1, &img, err, sizeof err), DX_OK);
  for (int64_t j = 0; j < n; j++)
    ck_assert_int_eq(img.pixels[2 * img.width + 2 + j], want[j]);
  dx_image_free(&img);
}
END_TEST

START_TEST(file_round_trip) {
  float *x = make_batch(6, 3, 5, 5);
  char err[DX_ERRMSG_MAX], dir[] = "/tmp/dxgrid-XXXXXX", path[64];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/g.png", dir);
  dx_image img, back;
  ck_assert_int_eq(dx_grid_make(x, 6, 3, 5, 5, 4, &img, err, sizeof err), DX_OK);
  ck_assert_int_eq(dx_png_write_file(&img, path, err, sizeof err), DX_OK);

  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t buf[8192];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  check_png(buf, len, 6, 3, 5, 5, 4, 2 * 7 + 2, 4 * 7 + 2);

  ck_assert_int_eq(dx_png_read_file(path, &back, err, sizeof err), DX_OK);
  ck_assert_int_eq(back.width, img.width);
  ck_assert_int_eq(back.height, img.height);
  ck_assert_int_eq(back.channels, 3);
  ck_assert_mem_eq(back.pixels, img.pixels, (size_t)(img.width * img.height * 3));
  dx_image_free(&back);
  dx_image_free(&img);
  unlink(path);
  rmdir(dir);
  free(x);
}
END_TEST

/* A PNG written by libpng itself (gray with alpha) decodes to the
 * 8-bit gray the store uses. */
START_TEST(decode_foreign_png) {
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = 3;
  im.height = 2;
  im.format = PNG_FORMAT_GA;
  const uint8_t ga[] = {0, 255, 10, 255, 20, 255, 30, 128, 40, 0, 255, 255};
  png_alloc_size_t len = 0;
  ck_assert_int_ne(png_image_write_to_memory(&im, NULL, &len, 0, ga, 0, NULL), 0);
  uint8_t *png = malloc(len);
  ck_assert_int_ne(png_image_write_to_memory(&im, png, &len, 0, ga, 0, NULL), 0);
  dx_image out;
  char err[DX_ERRMSG_MAX];
  ck_assert_int_eq(dx_png_decode(png, len, &out, err, sizeof err), DX_OK);
  ck_assert_int_eq(out.channels, 1);
  ck_assert_int_eq(out.width, 3);
  ck_assert_int_eq(out.height, 2);
  const uint8_t want[] = {0, 10, 20, 30, 40, 255};
  ck_assert_mem_eq(out.pixels, want, 6);
  dx_image_free(&out);
  free(png);
}
END_TEST

START_TEST(bad_input) {
  char err[DX_ERRMSG_MAX];
  float x[12] = {0};
  dx_image img;
  ck_assert_int_eq(dx_grid_make(x, 1, 2, 2, 3, 1, &img, err, sizeof err), DX_ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(err, "c 1 or 3"));
  ck_assert_int_eq(dx_grid_make(x, 0, 1, 2, 3, 1, &img, err, sizeof err), DX_ERR_INVALID);
  ck_assert_int_eq(dx_grid_make(x, 1, 1, 2, 3, 0, &img, err, sizeof err), DX_ERR_INVALID);

  const uint8_t junk[] = "this is not a PNG at all";
  ck_assert_int_eq(dx_png_decode(junk, sizeof junk, &img, err, sizeof err), DX_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "not a PNG"));

  ck_assert_int_eq(dx_grid_make(x, 2, 1, 2, 3, 2, &img, err, sizeof err), DX_OK);
  uint8_t *png;
  size_t len;
  ck_assert_int_eq(dx_png_encode(&img, &png, &len, err, sizeof err), DX_OK);
  dx_image_free(&img);
  ck_assert_int_eq(dx_png_decode(png, len / 2, &img, err, sizeof err), DX_ERR_PARSE);
  ck_assert_ptr_nonnull(strstr(err, "cannot decode PNG"));
  ck_assert_ptr_null(img.pixels);
  free(png);
  ck_assert_int_eq(dx_png_read_file("/nonexistent/g.png", &img, err, sizeof err), DX_ERR_IO);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/g.png"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("grid");
  TCase *tc = tcase_create("grid");
  DXT_ADD(tc, gray_full_rows);
  DXT_ADD(tc, gray_partial_last_row);
  DXT_ADD(tc, rgb_fewer_than_nrow);
  DXT_ADD(tc, rgb_one_column);
  DXT_ADD(tc, single_image_is_padded);
  DXT_ADD(tc, size_formula);
  DXT_ADD(tc, pixel_mapping);
  DXT_ADD(tc, file_round_trip);
  DXT_ADD(tc, decode_foreign_png);
  DXT_ADD(tc, bad_input);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
