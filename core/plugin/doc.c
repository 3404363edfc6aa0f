/* `ddpmx plugins NAME`: a plugin's descriptor laid out like a man page. The
 * text is built here, printed by the CLI. */
#include <stdio.h>
#include <stdlib.h>

#include "plugin/internal.h"
#include "plugin/loader.h"

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

static void section(FILE *f, const char *title, const char *body) {
  fprintf(f, "%s\n    %s\n\n", title, or_dash(body));
}

static void param(FILE *f, const dx_param_spec *s) {
  fprintf(f, "    %s\n        %s", s->name, dx_param_type_name(s->type));
  if (s->default_value)
    fprintf(f, ", default %s", s->default_value);
  else
    fprintf(f, ", required");
  if (s->range) fprintf(f, ", %s %s", s->type == DX_PARAM_CHOICE ? "one of" : "range", s->range);
  if (s->unit) fprintf(f, ", unit: %s", s->unit);
  fprintf(f, "\n        %s\n", or_dash(s->help));
}

/* What an experiment writes to use the plugin, with every default spelt
 * out so that the reader sees the knobs. */
static void usage(FILE *f, const dx_plugin_desc *d) {
  fprintf(f, "USAGE\n    {plugin: %s", d->name);
  for (size_t i = 0; i < d->n_params; i++) {
    const dx_param_spec *s = &d->params[i];
    if (s->default_value)
      fprintf(f, ", %s: %s", s->name, s->default_value);
    else
      fprintf(f, ", %s: <%s>", s->name, dx_param_type_name(s->type));
  }
  fprintf(f, "}\n");
}

char *dx_plugin_doc(const dx_plugin *p) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  const dx_plugin_desc *d = p->desc;
  fprintf(f, "NAME\n    %s - %s\n\n", d->name, or_dash(d->summary));
  section(f, "KIND", dx_plugin_kind_name(d->kind));
  section(f, "VERSION", d->version);
  fprintf(f, "FILE\n    %s\n", p->path);
  if (p->sha256[0]) fprintf(f, "    sha256 %s\n", p->sha256);
  fprintf(f, "\n");
  section(f, "FORMULA", d->formula);
  fprintf(f, "PARAMETERS\n");
  if (d->n_params == 0) fprintf(f, "    none\n");
  for (size_t i = 0; i < d->n_params; i++)
    param(f, &d->params[i]);
  fprintf(f, "\n");
  usage(f, d);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
