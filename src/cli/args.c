/* Argument and JSON helpers of the catgan command. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "cli/cli.h"

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("catgan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_status_exit(enum cg_status st) {
    switch (st) {
    case CG_OK: return CLI_OK;
    case CG_ERR_INVALID_ARG:
    case CG_ERR_FORMAT:
    case CG_ERR_UNSUPPORTED_CPU: return CLI_USAGE;
    case CG_ERR_IO:
    case CG_ERR_OUT_OF_MEMORY:
    case CG_ERR_NUMERIC: return CLI_FAILED;
    }
    return CLI_FAILED;
}

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        cli_error("%s: %s: '%s' is not an integer", cmd, opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s: %s: %ld is out of range [%ld, %ld]", cmd, opt, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') {
        cli_error("%s: %s: '%s' is not a non-negative integer", cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
              double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        cli_error("%s: %s: '%s' is not a number", cmd, opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_error("%s: %s: %g is out of range [%g, %g]", cmd, opt, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error("%s: %s needs a value (see catgan %s --help)", cmd, argv[*i], cmd);
        return NULL;
    }
    return argv[++*i];
}

/* Finds "key": in a flat object and returns a pointer to the value. */
static const char *json_find(const char *json, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = strchr(json, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, kl) == 0 && p[kl + 1] == '"') {
            const char *q = p + kl + 2;
            while (*q == ' ') q++;
            if (*q != ':') continue;
            q++;
            while (*q == ' ') q++;
            return q;
        }
    }
    return NULL;
}

int json_get_str(const char *json, const char *key, char *out, size_t cap) {
    const char *v = json_find(json, key);
    if (!v || *v != '"' || cap == 0) return -1;
    size_t n = 0;
    for (v++; *v && *v != '"' && n + 1 < cap; v++) {
        if (*v == '\\' && v[1]) v++;
        out[n++] = *v;
    }
    out[n] = 0;
    return 0;
}

int json_get_num(const char *json, const char *key, double *out) {
    const char *v = json_find(json, key);
    if (!v) return -1;
    char *end;
    double d = strtod(v, &end);
    if (end == v) return -1;
    *out = d;
    return 0;
}

int json_get_u64(const char *json, const char *key, uint64_t *out) {
    const char *v = json_find(json, key);
    if (!v || *v < '0' || *v > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (errno || end == v) return -1;
    *out = u;
    return 0;
}

int json_get_int(const char *json, const char *key, int lo, int hi, int *out) {
    double d;
    if (json_get_num(json, key, &d) != 0 || !(d >= lo && d <= hi)) return -1;
    *out = (int)d;
    return 0;
}

void json_put_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

int cli_threads_default(void) { return omp_get_num_procs(); }

void cli_init_kernels_or_exit(void) {
    enum cg_status st = cg_init(NULL);
    if (st != CG_OK) {
        cli_error("%s", cg_last_error());
        exit(cli_status_exit(st));
    }
}
