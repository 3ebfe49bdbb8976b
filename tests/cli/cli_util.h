/* Scaffolding shared by the tests that run the catgan binary ($CATGAN): a temporary directory
 * per test with files that capture the child's stdout and stderr, whole-file reads, running a
 * command line, and numbers out of summary.json. */
#ifndef CG_TESTS_CLI_UTIL_H
#define CG_TESTS_CLI_UTIL_H

extern char cli_tmpdir[256], cli_out[300], cli_err[300];

/* mkdtemp /tmp/cg_<tag>_<pid>_XXXXXX (asserts) and the capture paths inside it. */
void cli_tmp_make(const char *tag);
/* rm -rf the directory (a message on stderr if that fails). */
void cli_tmp_remove(void);
/* The whole file, NUL-terminated ("" when unreadable); free() it. */
char *cli_slurp(const char *path);
/* Runs "<pre>'$CATGAN' <args><post>" through the shell with stdin from /dev/null and stdout,
 * stderr into cli_out, cli_err; the exit status, 128 + the signal when killed. */
int cli_run(const char *pre, const char *args, const char *post);
/* The number after "key": in a JSON text, NaN when absent or null. */
double cli_json_num(const char *json, const char *key);

#endif
