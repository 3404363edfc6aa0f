/* ddpmx: the host binary. Everything but argument handling and printing
 * lives in libddpmx; this file picks the sub-command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#ifndef DDPMX_VERSION
#define DDPMX_VERSION "unknown"
#endif

static const dx_cli_command *const commands[] = {
    &dx_cli_run,     &dx_cli_resume,  &dx_cli_sample, &dx_cli_eval,
    &dx_cli_runs,    &dx_cli_show,    &dx_cli_export, &dx_cli_plugins,
    &dx_cli_sweep,   &dx_cli_compare, &dx_cli_report, &dx_cli_interpolate,
    &dx_cli_inpaint, &dx_cli_edit,    &dx_cli_invert, &dx_cli_features};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fprintf(f, "usage: ddpmx COMMAND [ARGS...]\n"
             "       ddpmx COMMAND --help\n"
             "       ddpmx --version\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-8s  %s\n", commands[i]->name, commands[i]->summary);
  fprintf(f, "\nExit codes and examples: docs/cli.md\n");
}

/* A waiting OpenMP thread (at a barrier, or for the next parallel region)
 * spins before it sleeps: by default up to 300000 pause instructions,
 * milliseconds on recent x86 cores, after every one of the ~550 parallel
 * regions of a quickstart training step.
 * Alone on the machine that is time no one else wanted; beside another run
 * or a build it takes the cores their threads were waiting for (a 10-step
 * quickstart run at load average 20 used 42 CPU-s, and 7 passive:
 * bench/README.md). libgomp reads its settings once, when it is loaded,
 * before main; so a command that computes sets OMP_WAIT_POLICY=passive and
 * starts itself again, once, unless the user chose a policy or a spin
 * count. If the exec fails the command runs on with the runtime's default. */
static void passive_openmp(const char *command, char **argv) {
  static const char *const computing[] = {"run", "resume", "sample", "eval", "sweep"};
  bool computes = false;
  for (size_t i = 0; i < sizeof computing / sizeof computing[0]; i++)
    computes |= strcmp(command, computing[i]) == 0;
  if (!computes || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) == 0) execv("/proc/self/exe", argv);
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
  passive_openmp(argv[1], argv);
  dx_cli_ignore_file_size_signal();
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i]->name) == 0) return commands[i]->main(argc - 1, argv + 1);
  fprintf(stderr, "ddpmx: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return DX_EXIT_USAGE;
}
