/* Scaffolding shared by the tests that run the catgan binary (see cli_util.h). */
#include "cli/cli_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char cli_tmpdir[256], cli_out[300], cli_err[300];

void cli_tmp_make(const char *tag) {
    snprintf(cli_tmpdir, sizeof cli_tmpdir, "/tmp/cg_%s_%ld_XXXXXX", tag, (long)getpid());
    cr_assert_not_null(mkdtemp(cli_tmpdir), "mkdtemp %s", cli_tmpdir);
    snprintf(cli_out, sizeof cli_out, "%s/stdout.txt", cli_tmpdir);
    snprintf(cli_err, sizeof cli_err, "%s/stderr.txt", cli_tmpdir);
}

void cli_tmp_remove(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cli_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cli_tmpdir);
}

char *cli_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    fclose(f);
    return s;
}

int cli_run(const char *pre, const char *args, const char *post) {
    const char *bin = getenv("CATGAN");
    cr_assert_not_null(bin, "CATGAN must name the catgan binary");
    size_t cap = strlen(pre) + strlen(bin) + strlen(args) + strlen(post) + 700;
    char *cmd = malloc(cap);
    cr_assert_not_null(cmd);
    snprintf(cmd, cap, "%s'%s' %s%s >'%s' 2>'%s' </dev/null", pre, bin, args, post, cli_out,
             cli_err);
    int st = system(cmd);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double cli_json_num(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p || strncmp(p + strlen(pat), "null", 4) == 0) return NAN;
    return strtod(p + strlen(pat), NULL);
}
