/* Parsing options and reporting usage errors, the same way in every
 * sub-command. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

bool dx_cli_is_help(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int dx_cli_option(const dx_cli_command *c, int argc, char **argv, int *i, const char *name,
                  const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != '\0') return 0;
  if (*i + 1 >= argc) {
    dx_cli_usage(c, "option %s needs a value", name);
    return -1;
  }
  *value = argv[++*i];
  return 1;
}

static void synopsis(const dx_cli_command *c, FILE *f) {
  const char *end = strchr(c->help, '\n');
  fprintf(f, "%.*s\n", end ? (int)(end - c->help) : (int)strlen(c->help), c->help);
}

/* "ddpmx CMD: <message>" on stderr. */
static void report(const dx_cli_command *c, const char *fmt, va_list ap) {
  fprintf(stderr, "ddpmx %s: ", c->name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
}

int dx_cli_usage(const dx_cli_command *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(c, fmt, ap);
  va_end(ap);
  synopsis(c, stderr);
  fprintf(stderr, "Try 'ddpmx %s --help'.\n", c->name);
  return DX_EXIT_USAGE;
}

int dx_cli_help(const dx_cli_command *c) {
  fputs(c->help, stdout);
  return DX_EXIT_OK;
}

int dx_cli_exit_code(dx_status st) {
  switch (st) {
  case DX_OK: return DX_EXIT_OK;
  case DX_ERR_CONFIG:
  case DX_ERR_PARSE: return DX_EXIT_CONFIG;
  case DX_ERR_PLUGIN: return DX_EXIT_PLUGIN;
  case DX_ERR_DB: return DX_EXIT_STORE;
  case DX_ERR_DEVICE: return DX_EXIT_DEVICE;
  case DX_ERR_INTERRUPTED: return DX_EXIT_SIGNAL + SIGINT;
  default: return DX_EXIT_FAILED;
  }
}

int dx_cli_fail(const dx_cli_command *c, dx_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(c, fmt, ap);
  va_end(ap);
  return dx_cli_exit_code(st);
}

bool dx_cli_parse_count(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < 0) return false;
  *out = v;
  return true;
}

int dx_cli_count_option(const dx_cli_command *c, int argc, char **argv, int *i, const char *name,
                        bool positive, int64_t *value) {
  const char *s;
  int r = dx_cli_option(c, argc, argv, i, name, &s);
  if (r <= 0) return r;
  if (dx_cli_parse_count(s, value) && (!positive || *value > 0)) return 1;
  dx_cli_usage(c, "%s needs a %swhole number, not '%s'", name, positive ? "positive " : "", s);
  return -1;
}
