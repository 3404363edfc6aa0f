/* The command line: one file per sub-command, and the few helpers they
 * share. core/cli/ is the only code in ddpmx that prints. */
#ifndef DX_CLI_H
#define DX_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ddpmx/status.h"

/* Exit codes, documented in docs/cli.md. */
enum {
  DX_EXIT_OK = 0,
  DX_EXIT_FAILED = 1,  /* the run failed, or another command could not finish */
  DX_EXIT_USAGE = 2,   /* bad command line */
  DX_EXIT_CONFIG = 3,  /* the experiment or a plugin parameter is wrong */
  DX_EXIT_PLUGIN = 4,  /* a plugin is missing, broken or of the wrong kind */
  DX_EXIT_STORE = 5,   /* the results database cannot be opened or read */
  DX_EXIT_DEVICE = 6,  /* the device asked for is missing, cannot be loaded, or failed */
  DX_EXIT_SIGNAL = 128 /* + the signal's number: 130 for SIGINT, 143 for SIGTERM */
};

#define DX_CLI_DEFAULT_DB "results/ddpmx.db"

typedef struct dx_cli_command {
  const char *name;
  const char *summary;                /* one line for `ddpmx --help` */
  const char *help;                   /* `ddpmx NAME --help`; its first line is the synopsis */
  int (*main)(int argc, char **argv); /* argv[0] is the command's name */
} dx_cli_command;

extern const dx_cli_command dx_cli_run, dx_cli_resume, dx_cli_sample, dx_cli_eval, dx_cli_runs,
    dx_cli_show, dx_cli_export, dx_cli_plugins, dx_cli_sweep, dx_cli_compare, dx_cli_report,
    dx_cli_features;
/* Image to image (cli/i2i.h). */
extern const dx_cli_command dx_cli_interpolate, dx_cli_inpaint, dx_cli_edit, dx_cli_invert;

/* --- arguments (args.c) --------------------------------------------------------- */

bool dx_cli_is_help(const char *arg);
/* Matches `name VALUE` or `name=VALUE` at argv[*i]: 1 and *value set (and
 * *i advanced past VALUE), 0 if argv[*i] is another argument, -1 (after a
 * message) if the value is missing. */
int dx_cli_option(const dx_cli_command *c, int argc, char **argv, int *i, const char *name,
                  const char **value);
/* A non-negative whole number in decimal; false for anything else. */
bool dx_cli_parse_count(const char *s, int64_t *out);
/* dx_cli_option for a whole number (positive: above 0, else from 0), with
 * the same returns; a value that is not one is a usage error. */
int dx_cli_count_option(const dx_cli_command *c, int argc, char **argv, int *i, const char *name,
                        bool positive, int64_t *value);
/* Prints "ddpmx CMD: <message>" and the synopsis; returns DX_EXIT_USAGE. */
int dx_cli_usage(const dx_cli_command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the command's help to stdout; returns DX_EXIT_OK. */
int dx_cli_help(const dx_cli_command *c);
/* Prints "ddpmx CMD: <message>"; returns the exit code for st. */
int dx_cli_fail(const dx_cli_command *c, dx_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dx_cli_exit_code(dx_status st);

/* --- the results database (db.c) --------------------------------------------------- */

struct dx_store;
/* Opens the database for reading: refuses a file that does not exist rather
 * than create an empty one. Returns an exit code (0 when open). */
int dx_cli_open_existing(const dx_cli_command *c, const char *path, struct dx_store **out);
/* Opens or creates it for a run; the default's folder results/ is made. */
int dx_cli_open_for_run(const dx_cli_command *c, const char *path, struct dx_store **out);
/* Closes, reporting a failed final flush; returns exit_code or the flush's. */
int dx_cli_close(const dx_cli_command *c, struct dx_store *st, int exit_code);

/* --- signals (signals.c) ---------------------------------------------------------------- */

/* SIGINT and SIGTERM set the flag to the signal's number; a second one
 * kills the process at once. launched (a rank of several under mpirun): a
 * SIGCONT that does not end a Ctrl-Z sets it too (SIGCONT's number), as
 * that is how mpirun begins to stop its ranks. */
volatile sig_atomic_t *dx_cli_catch_signals(bool launched);
/* A write past the file-size limit (ulimit -f) then fails with EFBIG, which
 * ends the run FAILED with the reason, instead of killing the process. */
void dx_cli_ignore_file_size_signal(void);

/* --- sparklines (sparkline.c) ------------------------------------------------------------ */

/* v[0..n) as at most `width` block characters (UTF-8, 3 bytes each) into
 * out; NaNs are skipped, a bucket of NaNs only is a space. */
bool dx_cli_sparkline(const double *v, size_t n, size_t width, char *out, size_t len);

/* --- tables (table.c) -------------------------------------------------------------------- */

typedef struct dx_table {
  size_t ncols, nrows;
  char **cells; /* nrows * ncols copies */
} dx_table;

void dx_table_init(dx_table *t, size_t ncols);
/* Copies ncols strings (NULL prints as "-"); false when out of memory. */
bool dx_table_add(dx_table *t, const char *const *row);
/* Columns padded to their widest cell and two spaces apart. */
void dx_table_print(const dx_table *t, FILE *f);
void dx_table_free(dx_table *t);

#endif
