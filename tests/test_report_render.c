/* The report as a browser shows it: headless Chromium loads the page, a
 * probe script (added to a copy, the report itself has none) says where
 * each chart and grid landed and whether every image decoded, and a
 * screenshot is checked at those places: each run's colour in each chart,
 * grey sample pixels with contrast in each grid. Skipped, with one line,
 * where Chromium is not installed (exit 77, which ctest reports as skipped). */
#include <limits.h>
#include <png.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dx_test.h"
#include "dxt_cli.h"
#include "dxt_files.h"

#define SKIPPED 77

static char fixtures[PATH_MAX], workdir[64], chromium[PATH_MAX];

static bool find_chromium(void) {
  const char *env = getenv("DDPMX_CHROMIUM");
  const char *paths[] = {env, "/usr/bin/chromium", "/usr/bin/chromium-browser",
                         "/usr/bin/google-chrome"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    if (paths[i] && access(paths[i], X_OK) == 0) {
      snprintf(chromium, sizeof chromium, "%s", paths[i]);
      return true;
    }
  return false;
}

static void setup(void) {
  dxt_ddpmx();
  ck_assert_ptr_nonnull(realpath("data/cli", fixtures));
  snprintf(workdir, sizeof workdir, "/tmp/dx_render_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(workdir));
  ck_assert_int_eq(chdir(workdir), 0);
  unsetenv("DDPMX_PLUGIN_PATH");
}

static void teardown(void) { dxt_rmtree(workdir); }

/* Runs a shell command line; fails the test if it fails. */
static void sh(const char *cmd) {
  int rc = system(cmd);
  ck_assert_msg(rc == 0, "failed (%d): %s", rc, cmd);
}

/* Reports where each image and chart is, after the page has loaded. */
static const char probe[] =
    "<script>addEventListener('load',()=>{const o=[];"
    "for(const i of document.images){const r=i.getBoundingClientRect();"
    "o.push(['img',i.naturalWidth,Math.round(r.x+scrollX),Math.round(r.y+scrollY),"
    "Math.round(r.width),Math.round(r.height)].concat(i.alt.match(/[0-9]+/g)).join(' '))}"
    "for(const s of document.querySelectorAll('svg.chart')){const r=s.getBoundingClientRect();"
    "o.push(['chart',s.id,Math.round(r.x+scrollX),Math.round(r.y+scrollY),"
    "Math.round(r.width),Math.round(r.height)].join(' '))}"
    "o.push('height '+document.documentElement.scrollHeight);"
    "const p=document.createElement('pre');p.id='probe';p.textContent=o.join('\\n');"
    "document.body.appendChild(p)})</script>";

typedef struct box {
  char what[64];
  long v, x, y, w, h; /* v: an image's natural width */
  long run, step;     /* an image's, from its alt text */
} box;

static int read_probe(const char *dom, box *boxes, int max, long *height) {
  const char *p = strstr(dom, "<pre id=\"probe\">");
  ck_assert_msg(p != NULL, "the probe did not run:\n%.2000s", dom);
  p += strlen("<pre id=\"probe\">");
  int n = 0;
  *height = 0;
  while (*p && *p != '<') {
    box b = {0};
    if (sscanf(p, "img %ld %ld %ld %ld %ld %ld %ld", &b.v, &b.x, &b.y, &b.w, &b.h, &b.run,
               &b.step) == 7)
      strcpy(b.what, "img");
    else if (sscanf(p, "chart %63s %ld %ld %ld %ld", b.what, &b.x, &b.y, &b.w, &b.h) == 5)
      b.v = 0;
    else
      sscanf(p, "height %ld", height);
    if (b.what[0] && n < max) boxes[n++] = b;
    p += strcspn(p, "\n<");
    if (*p == '\n') p++;
  }
  return n;
}

typedef struct shot {
  png_image im;
  unsigned char *px; /* RGB */
} shot;

static void load_shot(const char *path, shot *s) {
  memset(&s->im, 0, sizeof s->im);
  s->im.version = PNG_IMAGE_VERSION;
  ck_assert_msg(png_image_begin_read_from_file(&s->im, path), "%s: %s", path, s->im.message);
  s->im.format = PNG_FORMAT_RGB;
  s->px = malloc(PNG_IMAGE_SIZE(s->im));
  ck_assert_ptr_nonnull(s->px);
  ck_assert(png_image_finish_read(&s->im, NULL, s->px, 0, NULL));
}

/* Pixels within the box that are within 10 of the colour in each channel. */
static long colour_count(const shot *s, const box *b, int r, int g, int bl) {
  long n = 0;
  for (long y = b->y; y < b->y + b->h && y < (long)s->im.height; y++)
    for (long x = b->x; x < b->x + b->w && x < (long)s->im.width; x++) {
      const unsigned char *p = s->px + 3 * (y * (long)s->im.width + x);
      n += abs(p[0] - r) <= 10 && abs(p[1] - g) <= 10 && abs(p[2] - bl) <= 10;
    }
  return n;
}

/* The grid the store holds for (run, step), grey levels (caller frees). */
static unsigned char *stored_grid(long run, long step, png_image *im) {
  sqlite3 *db;
  ck_assert_int_eq(sqlite3_open_v2("r.db", &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *q;
  ck_assert_int_eq(
      sqlite3_prepare_v2(db, "SELECT png FROM samples WHERE run_id = ? AND step = ?", -1, &q, NULL),
      SQLITE_OK);
  sqlite3_bind_int64(q, 1, run);
  sqlite3_bind_int64(q, 2, step);
  ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
  memset(im, 0, sizeof *im);
  im->version = PNG_IMAGE_VERSION;
  ck_assert(png_image_begin_read_from_memory(im, sqlite3_column_blob(q, 0),
                                             (size_t)sqlite3_column_bytes(q, 0)));
  im->format = PNG_FORMAT_GRAY;
  unsigned char *px = malloc(PNG_IMAGE_SIZE(*im));
  ck_assert(px && png_image_finish_read(im, NULL, px, 0, NULL));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return px;
}

/* The grid as drawn matches the stored one, scaled up pixel for pixel
 * (image-rendering: pixelated): each screen pixel is grey and equals the
 * stored pixel under it or one beside it (edges may round either way). */
static void check_grid(const shot *s, const box *b) {
  png_image im;
  unsigned char *g = stored_grid(b->run, b->step, &im);
  long W = (long)im.width, H = (long)im.height, total = 0, bad = 0;
  for (long y = b->y; y < b->y + b->h; y++)
    for (long x = b->x; x < b->x + b->w; x++) {
      const unsigned char *p = s->px + 3 * (y * (long)s->im.width + x);
      long sx = (x - b->x) * W / b->w, sy = (y - b->y) * H / b->h;
      bool near = false;
      for (long dy = -1; dy <= 1 && !near; dy++)
        for (long dx = -1; dx <= 1 && !near; dx++) {
          long u = sx + dx, v = sy + dy;
          near = u >= 0 && v >= 0 && u < W && v < H && abs(p[0] - g[v * W + u]) <= 3 &&
                 abs(p[0] - p[1]) <= 2 && abs(p[1] - p[2]) <= 2;
        }
      total++;
      bad += !near;
    }
  ck_assert_msg(total > 1000 && bad * 100 < total,
                "the grid of run %ld at step %ld: %ld of %ld pixels differ", b->run, b->step, bad,
                total);
  free(g);
  png_image_free(&im);
}

START_TEST(report_renders_in_chromium) {
  char data[PATH_MAX + 32], tiny[PATH_MAX + 16], cmd[4 * PATH_MAX];
  snprintf(data, sizeof data, "data.path=%s/images", fixtures);
  snprintf(tiny, sizeof tiny, "%s/tiny.yaml", fixtures);
  const char *sweep[] = {"sweep",
                         tiny,
                         data,
                         "diffusion.schedule.plugin=linear,cosine",
                         "diffusion.loss.plugin=mse,huber",
                         "train.steps=12",
                         "--jobs",
                         "2",
                         "--db",
                         "r.db",
                         NULL};
  dxt_out o = dxt_cli(sweep);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);
  const char *report[] = {"report", "--db", "r.db", "-o", "r.html", NULL};
  o = dxt_cli(report);
  ck_assert_msg(o.code == 0, "%s", o.err);
  dxt_out_free(&o);

  char *html = dxt_slurp("r.html"), *end = strstr(html, "</body>");
  ck_assert_ptr_nonnull(end);
  FILE *f = fopen("probe.html", "w");
  fprintf(f, "%.*s%s%s", (int)(end - html), html, probe, end);
  fclose(f);
  free(html);

  const char *flags =
      "--headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1"
      " --user-data-dir=profile --virtual-time-budget=10000";
  snprintf(cmd, sizeof cmd,
           "'%s' %s --window-size=1400,1000 --dump-dom file://%s/probe.html >dom.html 2>probe.log",
           chromium, flags, workdir);
  sh(cmd);
  char *dom = dxt_slurp("dom.html");
  box boxes[64];
  long height;
  int n = read_probe(dom, boxes, 64, &height);
  free(dom);
  ck_assert_int_gt(height, 500);

  snprintf(
      cmd, sizeof cmd,
      "'%s' %s --window-size=1400,%ld --screenshot=%s/shot.png file://%s/r.html >shot.log 2>&1",
      chromium, flags, height, workdir, workdir);
  sh(cmd);
  char *log = dxt_slurp("shot.log");
  ck_assert_msg(!strstr(log, "Failed to load") && !strstr(log, "net::ERR"), "%s", log);
  free(log);
  shot s;
  load_shot("shot.png", &s);
  ck_assert_int_eq((long)s.im.height, height);

  /* The first four colours of the report's palette, one per run. */
  static const int colours[4][3] = {
      {0x4e, 0x79, 0xa7}, {0xf2, 0x8e, 0x2b}, {0xe1, 0x57, 0x59}, {0x76, 0xb7, 0xb2}};
  int charts = 0, images = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(boxes[i].what, "img") == 0) {
      ck_assert_msg(boxes[i].v > 0, "an image at (%ld, %ld) did not load", boxes[i].x, boxes[i].y);
      check_grid(&s, &boxes[i]);
      images++;
      continue;
    }
    charts++;
    for (int c = 0; c < 4; c++) {
      long k = colour_count(&s, &boxes[i], colours[c][0], colours[c][1], colours[c][2]);
      ck_assert_msg(k >= 20, "%s: run %d's colour in %ld pixels", boxes[i].what, c + 1, k);
    }
  }
  ck_assert_int_eq(images, 12); /* 4 runs x steps 4, 8, 12 */
  ck_assert_int_eq(charts, 7);  /* loss, grad norm, lr, four quartiles */
  free(s.px);
  png_image_free(&s.im);
}
END_TEST

int main(void) {
  if (!find_chromium()) {
    printf("SKIP test_report_render: chromium is not installed (apt-get install chromium);"
           " the report's rendering is not checked\n");
    return SKIPPED;
  }
  Suite *s = suite_create("report_render");
  TCase *tc = tcase_create("report_render");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, report_renders_in_chromium);
  suite_add_tcase(s, tc);
  return dxt_run(s);
}
