/* The catgan command: shared helpers of its subcommands (argument parsing, errors, JSON). */
#ifndef CG_CLI_H
#define CG_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "catgan.h"

/* Exit codes of CONTRACT.md. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_SIGINT = 130, CLI_SIGTERM = 143 };

/* Prints "catgan: <message>" as one line on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit code for a library status: bad input 2, a failed run 1. */
int cli_status_exit(enum cg_status st);

/* Option values: each returns 0, or prints "catgan CMD: --opt: ..." and returns -1. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
              double *out);
/* argv[*i] is an option that takes a value: returns it and advances *i, or NULL (error
 * printed) when it is missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* Flat JSON written by us: look up a string or a number by key (0 on success). */
int json_get_str(const char *json, const char *key, char *out, size_t cap);
int json_get_num(const char *json, const char *key, double *out);
/* An unsigned 64-bit integer (seeds): exact, where a double would round. */
int json_get_u64(const char *json, const char *key, uint64_t *out);
/* An int in [lo, hi]; -1 when absent, not a number or out of range. */
int json_get_int(const char *json, const char *key, int lo, int hi, int *out);
/* Writes s as a JSON string literal. */
void json_put_str(FILE *f, const char *s);
/* Writes v with 9 significant digits, or null when it is not finite. */
void json_num(FILE *f, double v);

int cli_threads_default(void);
void cli_init_kernels_or_exit(void);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_sample(int argc, char **argv);

#endif
