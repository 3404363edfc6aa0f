/* The report's tables: the runs with what differs between them, and the
 * final metrics with the best of each marked and, over a seed axis, the
 * mean ± standard deviation of each variant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report/report_internal.h"

/* Seconds between two of the store's ISO-8601 UTC stamps; < 0 if unknown. */
static double seconds_between(const char *a, const char *b) {
  struct tm ta = {0}, tb = {0};
  double sa = 0, sb = 0;
  if (!a || !b ||
      sscanf(a, "%d-%d-%dT%d:%d:%lf", &ta.tm_year, &ta.tm_mon, &ta.tm_mday, &ta.tm_hour, &ta.tm_min,
             &sa) != 6 ||
      sscanf(b, "%d-%d-%dT%d:%d:%lf", &tb.tm_year, &tb.tm_mon, &tb.tm_mday, &tb.tm_hour, &tb.tm_min,
             &sb) != 6)
    return -1;
  ta.tm_year -= 1900, tb.tm_year -= 1900, ta.tm_mon--, tb.tm_mon--;
  return difftime(timegm(&tb), timegm(&ta)) + sb - sa;
}

static void duration(double s, char *buf, size_t len) {
  if (s < 0)
    snprintf(buf, len, "-");
  else if (s < 60)
    snprintf(buf, len, "%.1f s", s);
  else if (s < 3600)
    snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, len, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

/* The latest checkpoint's size on disk: the model with its optimiser state. */
static void checkpoint_size(rp *r, int64_t id, char *buf, size_t len) {
  dx_store_checkpoint ck;
  bool found = false;
  struct stat sb;
  snprintf(buf, len, "-");
  if (dx_store_latest_checkpoint(r->st, id, &ck, &found) == DX_OK && found &&
      stat(ck.path, &sb) == 0)
    snprintf(buf, len, "%.2f MB", (double)sb.st_size / 1e6);
}

dx_status rp_runs_table(rp *r) {
  dx_strbuf *b = r->b;
  dx_strbuf_puts(
      b, "<h2 id=\"runs\">Runs</h2><table class=\"runs\"><thead><tr><th>run</th><th>name</th>"
         "<th>status</th><th>started (UTC)</th><th>time</th><th>checkpoint</th>");
  for (size_t d = 0; d < r->rs->n_diff; d++) {
    dx_strbuf_puts(b, "<th class=\"param\">");
    dx_html_text(b, r->rs->diff[d]);
    dx_strbuf_puts(b, "</th>");
  }
  dx_strbuf_puts(b, "</tr></thead><tbody>");
  for (size_t i = 0; i < r->rs->n; i++) {
    const dx_rs_run *run = r->runs[i].run;
    char time[32], size[32];
    duration(seconds_between(run->started_at, run->ended_at), time, sizeof time);
    checkpoint_size(r, run->id, size, sizeof size);
    dx_strbuf_printf(b,
                     "<tr data-run=\"%lld\"><td><span class=\"swatch\" "
                     "style=\"background:%s\"></span>%lld</td><td>",
                     (long long)run->id, r->runs[i].color, (long long)run->id);
    dx_html_text(b, run->name);
    dx_strbuf_printf(b, "</td><td class=\"status-%s\"", dx_run_status_str(run->status));
    if (run->error) {
      dx_strbuf_puts(b, " title=\"");
      dx_html_text(b, run->error);
      dx_strbuf_puts(b, "\"");
    }
    dx_strbuf_printf(b, ">%s</td><td>", dx_run_status_str(run->status));
    dx_html_text(b, run->started_at);
    dx_strbuf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>", time, size);
    for (size_t d = 0; d < r->rs->n_diff; d++) {
      dx_strbuf_puts(b, "<td class=\"param\">");
      dx_html_text(b, dx_rs_param(run, r->rs->diff[d]));
      dx_strbuf_puts(b, "</td>");
    }
    dx_strbuf_puts(b, "</tr>");
  }
  dx_strbuf_puts(b, "</tbody></table>");
  if (r->rs->n_diff == 0 && r->rs->n > 1)
    dx_strbuf_puts(b, "<p class=\"note\">The runs have the same parameters.</p>");
  if (r->rs->hidden)
    dx_strbuf_printf(
        b,
        "<p class=\"note\">%zu parameter%s of the plugins that differ are left out (ddpmx show"
        " lists them).</p>",
        r->rs->hidden, r->rs->hidden == 1 ? "" : "s");
  rp_sql(r,
         "SELECT id, name, status, started_at, ended_at FROM runs WHERE id IN (%s);\n"
         "SELECT run_id, key, value FROM params WHERE run_id IN (%s) ORDER BY key, run_id;",
         r->ids, r->ids);
  return b->nomem ? DX_ERR_NOMEM : DX_OK;
}

/* The metrics in reading order: the loss and its quartiles, bits/dim, then
 * the rest by name. */
static const char **ordered_metrics(const dx_runset *rs, size_t *n) {
  static const char *const first[] = {"loss",    "loss_q1", "loss_q2",   "loss_q3",
                                      "loss_q4", "bpd",     "bpd_prior", "bpd_decoder"};
  const char **names = dx_runset_metric_names(rs, n);
  if (!names) return NULL;
  size_t k = 0;
  for (size_t f = 0; f < sizeof first / sizeof first[0]; f++)
    for (size_t i = k; i < *n; i++)
      if (strcmp(names[i], first[f]) == 0) {
        const char *t = names[i];
        memmove(&names[k + 1], &names[k], (i - k) * sizeof *names);
        names[k++] = t;
        break;
      }
  return names;
}

static void cell(dx_strbuf *b, double v, bool best, const char *extra) {
  if (isnan(v)) {
    dx_strbuf_puts(b, "<td class=\"num\">-</td>");
    return;
  }
  dx_strbuf_printf(b, "<td class=\"num%s\">%.5g%s%s</td>", best ? " best" : "", v,
                   extra ? extra : "", best ? " ★" : "");
}

static double value_of(const dx_rs_run *run, const char *m) {
  const dx_rs_metric *x = dx_rs_metric_of(run, m);
  return x ? x->value : NAN;
}

/* Which of v[0..n) is best for metric m; -1 when no direction or value. */
static long best_of(const double *v, size_t n, const char *m) {
  int sense = dx_rs_metric_sense(m);
  long best = -1;
  for (size_t i = 0; sense && i < n; i++)
    if (!isnan(v[i]) && (best < 0 || (sense < 0 ? v[i] < v[best] : v[i] > v[best]))) best = (long)i;
  return best;
}

static void metric_head(dx_strbuf *b, const char *first, const char **names, size_t n) {
  dx_strbuf_printf(b, "<thead><tr><th>%s</th>", first);
  for (size_t k = 0; k < n; k++) {
    dx_strbuf_puts(b, "<th>");
    dx_html_text(b, names[k]);
    dx_strbuf_printf(b, "%s</th>",
                     dx_rs_metric_sense(names[k]) < 0   ? " ↓"
                     : dx_rs_metric_sense(names[k]) > 0 ? " ↑"
                                                        : "");
  }
  dx_strbuf_puts(b, "</tr></thead>");
}

/* The key that groups seeds of one variant: the differing values but the seed. */
static void variant_key(const dx_runset *rs, const dx_rs_run *run, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t d = 0; d < rs->n_diff && used < len; d++)
    if (strcmp(rs->diff[d], "seed") != 0) {
      const char *v = dx_rs_param(run, rs->diff[d]);
      used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", v ? v : "-");
    }
  if (!buf[0]) snprintf(buf, len, "all runs");
}

/* Mean ± sd (n - 1) per variant over its seeds, for every metric. */
static dx_status seed_table(rp *r, const char **names, size_t n) {
  const dx_runset *rs = r->rs;
  dx_strbuf *b = r->b;
  char(*keys)[256] = calloc(rs->n, sizeof *keys);
  size_t *group = calloc(rs->n, sizeof *group), ng = 0;
  double *mean = calloc(rs->n * (n + 1), sizeof *mean), *sd = calloc(rs->n * (n + 1), sizeof *sd);
  int *count = calloc(rs->n, sizeof *count);
  if (!keys || !group || !mean || !sd || !count) {
    free(keys), free(group), free(mean), free(sd), free(count);
    return DX_ERR_NOMEM;
  }
  size_t *rep = calloc(rs->n, sizeof *rep); /* a run of each group, for its label */
  for (size_t i = 0; rep && i < rs->n; i++) {
    char k[256];
    variant_key(rs, &rs->runs[i], k, sizeof k);
    size_t g = 0;
    while (g < ng && strcmp(keys[g], k) != 0)
      g++;
    if (g == ng) snprintf(keys[ng], sizeof keys[ng], "%s", k), rep[ng++] = i;
    group[i] = g;
    count[g]++;
  }
  for (size_t k = 0; k < n; k++)
    for (size_t g = 0; g < ng; g++) {
      double s = 0, s2 = 0;
      int m = 0;
      for (size_t i = 0; i < rs->n; i++) {
        double v = value_of(&rs->runs[i], names[k]);
        if (group[i] != g || isnan(v)) continue;
        s += v, s2 += v * v, m++;
      }
      mean[g * n + k] = m ? s / m : NAN;
      sd[g * n + k] = m > 1 ? sqrt(fmax(0, (s2 - s * s / m) / (m - 1))) : NAN;
    }
  dx_strbuf_puts(b, "<h3>Mean ± standard deviation over seeds</h3><table class=\"seeds\">");
  metric_head(b, "variant (runs)", names, n);
  double *col = calloc(ng + 1, sizeof *col);
  for (size_t g = 0; col && g < ng; g++) {
    dx_strbuf_puts(b, "<tr><td>");
    dx_html_text(b, keys[g]);
    dx_strbuf_printf(b, " (%d)</td>", count[g]);
    for (size_t k = 0; k < n; k++) {
      for (size_t h = 0; h < ng; h++)
        col[h] = mean[h * n + k];
      char extra[48] = "";
      if (!isnan(sd[g * n + k])) snprintf(extra, sizeof extra, " ± %.2g", sd[g * n + k]);
      cell(b, mean[g * n + k], best_of(col, ng, names[k]) == (long)g, extra);
    }
    dx_strbuf_puts(b, "</tr>");
  }
  dx_strbuf_puts(b, "</table>");
  bool ok = col && rep;
  free(col), free(rep), free(keys), free(group), free(mean), free(sd), free(count);
  return ok ? DX_OK : DX_ERR_NOMEM;
}

dx_status rp_metrics_table(rp *r) {
  const dx_runset *rs = r->rs;
  dx_strbuf *b = r->b;
  size_t n = 0;
  const char **names = ordered_metrics(rs, &n);
  double *col = calloc(rs->n + 1, sizeof *col);
  if ((!names && n) || !col) return free(names), free(col), DX_ERR_NOMEM;
  dx_strbuf_puts(
      b,
      "<h2 id=\"metrics\">Final metrics</h2><p class=\"note\">The last value each run logged;"
      " ★ marks the best of a column (↓ lower is better, ↑ higher).</p><table class=\"metrics\">");
  metric_head(b, "run", names, n);
  for (size_t i = 0; i < rs->n; i++) {
    dx_strbuf_printf(
        b, "<tr data-run=\"%lld\"><td><span class=\"swatch\" style=\"background:%s\"></span>",
        (long long)rs->runs[i].id, r->runs[i].color);
    dx_html_text(b, r->runs[i].label);
    dx_strbuf_puts(b, "</td>");
    for (size_t k = 0; k < n; k++) {
      for (size_t j = 0; j < rs->n; j++)
        col[j] = value_of(&rs->runs[j], names[k]);
      cell(b, col[i], best_of(col, rs->n, names[k]) == (long)i, NULL);
    }
    dx_strbuf_puts(b, "</tr>");
  }
  dx_strbuf_puts(b, "</table>");
  dx_status s = rs->has_seed_axis ? seed_table(r, names, n) : DX_OK;
  rp_sql(r,
         "SELECT run_id, metric, step, value FROM last_metrics WHERE run_id IN (%s) ORDER BY "
         "metric, run_id;",
         r->ids);
  free(names), free(col);
  return s == DX_OK && b->nomem ? DX_ERR_NOMEM : s;
}
