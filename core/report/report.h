/* `ddpmx report`: one self-contained HTML page comparing runs — a runs
 * table with the parameters that differ, the curves as inline SVG, the final
 * metrics with the best marked, and the sample grids as embedded PNGs. No
 * script, no network, no file beside it. */
#ifndef DX_REPORT_REPORT_H
#define DX_REPORT_REPORT_H

#include <stddef.h>

#include "ddpmx/export.h"
#include "ddpmx/status.h"
#include "report/runset.h"
#include "store/store.h"
#include "util/strbuf.h"

typedef struct dx_report_opts {
  const char *title;   /* the page's heading */
  const char *db_path; /* named on the page */
} dx_report_opts;

/* The page for the runs of rs (loaded), malloc'ed into *html. Errors leave
 * one line in err. */
DX_API dx_status dx_report_html(dx_store *st, const dx_runset *rs, const dx_report_opts *o,
                                char **html, char *err, size_t errlen);

/* p[0..n) in base64 (base64.c). */
void dx_base64(dx_strbuf *b, const unsigned char *p, size_t n);

#endif
