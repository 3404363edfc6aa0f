/* ddpmx: the host binary. Everything but argument handling and printing
 * lives in libddpmx; this file picks the sub-command. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef DDPMX_VERSION
#define DDPMX_VERSION "unknown"
#endif

static const dx_cli_command *const commands[] = {
    &dx_cli_run,    &dx_cli_resume,  &dx_cli_sample, &dx_cli_eval,    &dx_cli_runs,  &dx_cli_show,
    &dx_cli_export, &dx_cli_plugins, &dx_cli_sweep,  &dx_cli_compare, &dx_cli_report};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fprintf(f, "usage: ddpmx COMMAND [ARGS...]\n"
             "       ddpmx COMMAND --help\n"
             "       ddpmx --version\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-8s  %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f, "\nExit codes and examples: docs/cli.md\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return DX_EXIT_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("ddpmx %s\n", DDPMX_VERSION);
    return DX_EXIT_OK;
  }
  if (dx_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return DX_EXIT_OK;
  }
  dx_cli_ignore_file_size_signal();
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i]->name) == 0) return commands[i]->main(argc - 1, argv + 1);
  fprintf(stderr, "ddpmx: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return DX_EXIT_USAGE;
}
