/* The report's sample grids: one column per run, one row per (step, tag),
 * each PNG embedded as a data: URL so that the page stands alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_internal.h"

typedef struct slot {
  int64_t step;
  char tag[64];
} slot;

typedef struct slots {
  slot *s;
  size_t n;
} slots;

static int add_slot(const dx_sample_row *row, void *user) {
  slots *l = user;
  for (size_t i = 0; i < l->n; i++)
    if (l->s[i].step == row->step && strcmp(l->s[i].tag, row->tag) == 0) return 0;
  slot *s = realloc(l->s, (l->n + 1) * sizeof *s);
  if (!s) return 1;
  l->s = s;
  s[l->n].step = row->step;
  snprintf(s[l->n++].tag, sizeof s->tag, "%s", row->tag);
  return 0;
}

static int by_step_tag(const void *a, const void *b) {
  const slot *x = a, *y = b;
  if (x->step != y->step) return x->step < y->step ? -1 : 1;
  return strcmp(x->tag, y->tag);
}

static dx_status grid_cell(rp *r, int64_t id, const slot *sl) {
  dx_store_sample smp = {0};
  dx_status s = dx_store_get_sample(r->st, id, sl->step, sl->tag, &smp);
  if (s == DX_ERR_INVALID) { /* this run has no grid there */
    dx_strbuf_puts(r->b, "<td class=\"note\">-</td>");
    return DX_OK;
  }
  if (s != DX_OK) return snprintf(r->err, r->errlen, "%s", dx_store_errmsg(r->st)), s;
  dx_strbuf_printf(
      r->b, "<td><img alt=\"run %lld, step %lld\" width=\"196\" src=\"data:image/png;base64,",
      (long long)id, (long long)sl->step);
  dx_base64(r->b, smp.png, smp.len);
  dx_strbuf_puts(r->b, "\"></td>");
  dx_store_sample_clear(&smp);
  return DX_OK;
}

dx_status rp_grids(rp *r) {
  slots l = {0};
  dx_run_visitor v = {.sample = add_slot};
  dx_status s = DX_OK;
  for (size_t i = 0; s == DX_OK && i < r->rs->n; i++)
    s = dx_store_show_run(r->st, r->runs[i].run->id, &v, &l);
  if (s != DX_OK) return free(l.s), snprintf(r->err, r->errlen, "%s", dx_store_errmsg(r->st)), s;
  if (l.n) qsort(l.s, l.n, sizeof *l.s, by_step_tag);
  dx_strbuf *b = r->b;
  dx_strbuf_puts(b, "<h2 id=\"grids\">Sample grids</h2>");
  if (l.n == 0)
    dx_strbuf_puts(b, "<p class=\"note\">No run stored a sample grid (set sample.every).</p>");
  else {
    dx_strbuf_puts(b, "<table class=\"grids\"><thead><tr><th>step</th>");
    for (size_t i = 0; i < r->rs->n; i++) {
      dx_strbuf_printf(b, "<th><span class=\"swatch\" style=\"background:%s\"></span>",
                       r->runs[i].color);
      dx_html_text(b, r->runs[i].label);
      dx_strbuf_puts(b, "</th>");
    }
    dx_strbuf_puts(b, "</tr></thead><tbody>");
  }
  for (size_t k = 0; s == DX_OK && k < l.n; k++) {
    dx_strbuf_printf(b, "<tr><th>%lld<br><span class=\"note\">", (long long)l.s[k].step);
    dx_html_text(b, l.s[k].tag);
    dx_strbuf_puts(b, "</span></th>");
    for (size_t i = 0; s == DX_OK && i < r->rs->n; i++)
      s = grid_cell(r, r->runs[i].run->id, &l.s[k]);
    dx_strbuf_puts(b, "</tr>");
  }
  if (l.n) dx_strbuf_puts(b, "</tbody></table>");
  rp_sql(
      r,
      "SELECT run_id, step, tag, png FROM samples WHERE run_id IN (%s) ORDER BY step, tag, run_id;",
      r->ids);
  free(l.s);
  return s == DX_OK && b->nomem ? DX_ERR_NOMEM : s;
}
