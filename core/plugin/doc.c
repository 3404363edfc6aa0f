/* `ddpmx plugins NAME`: a plugin's descriptor laid out like a man page. The
 * text is built here, printed by the CLI. */

#include "plugin/internal.h"
#include "plugin/loader.h"
#include "util/strbuf.h"

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void section(dx_strbuf *b, const char *title, const char *body) {
  dx_strbuf_printf(b, "%s\n    %s\n\n", title, or_dash(body));
}

static void param(dx_strbuf *b, const dx_param_spec *s) {
  dx_strbuf_printf(b, "    %s\n        %s", s->name, dx_param_type_name(s->type));
  if (s->default_value)
    dx_strbuf_printf(b, ", default %s", s->default_value);
  else
    dx_strbuf_printf(b, ", required");
  if (s->range)
    dx_strbuf_printf(b, ", %s %s", s->type == DX_PARAM_CHOICE ? "one of" : "range", s->range);
  if (s->unit) dx_strbuf_printf(b, ", unit: %s", s->unit);
  dx_strbuf_printf(b, "\n        %s\n", or_dash(s->help));
}

/* What an experiment writes to use the plugin, with every default spelt
 * out so that the reader sees the knobs. */
static void usage(dx_strbuf *b, const dx_plugin_desc *d) {
  dx_strbuf_printf(b, "USAGE\n    {plugin: %s", d->name);
  for (size_t i = 0; i < d->n_params; i++) {
    const dx_param_spec *s = &d->params[i];
    if (s->default_value)
      dx_strbuf_printf(b, ", %s: %s", s->name, s->default_value);
    else
      dx_strbuf_printf(b, ", %s: <%s>", s->name, dx_param_type_name(s->type));
  }
  dx_strbuf_printf(b, "}\n");
}

char *dx_plugin_doc(const dx_plugin *p) {
  dx_strbuf text = {0}, *b = &text;
  const dx_plugin_desc *d = p->desc;
  dx_strbuf_printf(b, "NAME\n    %s - %s\n\n", d->name, or_dash(d->summary));
  section(b, "KIND", dx_plugin_kind_name(d->kind));
  section(b, "VERSION", d->version);
  dx_strbuf_printf(b, "FILE\n    %s\n", p->path);
  if (p->sha256[0]) dx_strbuf_printf(b, "    sha256 %s\n", p->sha256);
  dx_strbuf_printf(b, "\n");
  section(b, "FORMULA", d->formula);
  dx_strbuf_printf(b, "PARAMETERS\n");
  if (d->n_params == 0) dx_strbuf_printf(b, "    none\n");
  for (size_t i = 0; i < d->n_params; i++)
    param(b, &d->params[i]);
  dx_strbuf_printf(b, "\n");
  usage(b, d);
  return dx_strbuf_take(b);
}
