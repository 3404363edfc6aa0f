/* `ddpmx plugins [NAME]`: every plugin on the search path, or one plugin's
 * documentation. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "plugin/loader.h"

static int main_plugins(int argc, char **argv);

const dx_cli_command dx_cli_plugins = {
    "plugins", "list the plugins on the search path, or document one",
    "usage: ddpmx plugins [NAME]\n"
    "\n"
    "Without NAME, lists every plugin found on the search path (kind, name,\n"
    "version, file, summary), then every file that was refused and why.\n"
    "With NAME (a plugin name, or a path to a .so file), prints the plugin's\n"
    "documentation: summary, formula and parameters with their types,\n"
    "defaults and ranges.\n"
    "\n"
    "The search path: the build tree's plugins, the installed plugins, then\n"
    "each folder of $DDPMX_PLUGIN_PATH (colon-separated). Experiments add\n"
    "their plugin_path folders after these.\n",
    main_plugins};

static void print_path(const dx_plugin_path *sp, FILE *f) {
  for (size_t i = 0; i < dx_plugin_path_count(sp); i++)
    fprintf(f, "  %s\n", dx_plugin_path_dir(sp, i));
}

static bool print_usable(const dx_plugin_list *l) {
  dx_table t;
  dx_table_init(&t, 5);
  const char *head[] = {"KIND", "NAME", "VERSION", "FILE", "SUMMARY"};
  bool ok = dx_table_add(&t, head);
  for (size_t i = 0; ok && i < l->n; i++) {
    const dx_plugin *p = l->items[i].plugin;
    if (!p || l->items[i].error) continue;
    const char *row[] = {dx_plugin_kind_name(p->desc->kind), p->desc->name, p->desc->version,
                         p->path, p->desc->summary};
    ok = dx_table_add(&t, row);
  }
  if (ok && t.nrows > 1) dx_table_print(&t, stdout);
  dx_table_free(&t);
  return ok;
}

/* Shadowed files load fine but are never used; broken ones never load. */
static void print_problems(const dx_plugin_list *l, bool shadowed, const char *title) {
  bool first = true;
  for (size_t i = 0; i < l->n; i++) {
    const dx_plugin_found *f = &l->items[i];
    if (!f->error || (f->plugin != NULL) != shadowed) continue;
    if (first) printf("\n%s\n", title);
    first = false;
    if (shadowed)
      printf("  %s: %s\n", f->path, f->error);
    else
      printf("  %s\n", f->error);
  }
}

static int list_all(const dx_plugin_path *sp) {
  char err[DX_ERRMSG_MAX];
  dx_plugin_list l;
  dx_status st = dx_plugin_scan(sp, &l, err, sizeof err);
  if (st != DX_OK) return dx_cli_fail(&dx_cli_plugins, st, "%s", err);
  if (l.n == 0) {
    printf("no plugins found; searched:\n");
    print_path(sp, stdout);
  } else if (!print_usable(&l)) {
    dx_plugin_list_free(&l);
    return dx_cli_fail(&dx_cli_plugins, DX_ERR_NOMEM, "out of memory");
  }
  print_problems(&l, true, "shadowed (an earlier file of the same name is used):");
  print_problems(&l, false, "broken (refused by the loader):");
  dx_plugin_list_free(&l);
  return DX_EXIT_OK;
}

static int document(const dx_plugin_path *sp, const char *name) {
  char err[DX_ERRMSG_MAX];
  dx_plugin *p;
  dx_status st = dx_plugin_load(sp, name, 0, NULL, &p, err, sizeof err);
  if (st != DX_OK) return dx_cli_fail(&dx_cli_plugins, st, "%s", err);
  char *doc = dx_plugin_doc(p);
  dx_plugin_close(p);
  if (!doc) return dx_cli_fail(&dx_cli_plugins, DX_ERR_NOMEM, "out of memory");
  fputs(doc, stdout);
  free(doc);
  return DX_EXIT_OK;
}

static int main_plugins(int argc, char **argv) {
  const char *name = NULL;
  for (int i = 1; i < argc; i++) {
    if (dx_cli_is_help(argv[i])) return dx_cli_help(&dx_cli_plugins);
    if (argv[i][0] == '-') return dx_cli_usage(&dx_cli_plugins, "unknown option '%s'", argv[i]);
    if (name) return dx_cli_usage(&dx_cli_plugins, "one plugin at a time ('%s')", argv[i]);
    name = argv[i];
  }
  dx_plugin_path *sp = dx_plugin_path_create(NULL, 0);
  if (!sp) return dx_cli_fail(&dx_cli_plugins, DX_ERR_NOMEM, "out of memory");
  int rc = name ? document(sp, name) : list_all(sp);
  dx_plugin_path_free(sp);
  return rc;
}
