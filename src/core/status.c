/* Thread-local last-error message and the optional log hook (STYLE.md section 8). */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

static _Thread_local char last_error[512];
static cg_log_fn log_fn;
static void *log_user;

enum cg_status cg_fail_at(enum cg_status st, const char *func, const char *fmt, ...) {
    int off = snprintf(last_error, sizeof last_error, "%s: ", func);
    if (off < 0 || (size_t)off >= sizeof last_error) off = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + off, sizeof last_error - (size_t)off, fmt, ap);
    va_end(ap);
    return st;
}

const char *cg_last_error(void) { return last_error; }

void cg_log_set(cg_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void cg_log(int level, const char *fmt, ...) {
    if (!log_fn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}

const char *cg_status_str(enum cg_status st) {
    switch (st) {
    case CG_OK: return "ok";
    case CG_ERR_INVALID_ARG: return "invalid argument";
    case CG_ERR_OUT_OF_MEMORY: return "out of memory";
    case CG_ERR_UNSUPPORTED_CPU: return "unsupported CPU";
    case CG_ERR_IO: return "I/O error";
    case CG_ERR_NUMERIC: return "non-finite value";
    case CG_ERR_FORMAT: return "malformed file";
    }
    return "unknown status";
}

const char *cg_version(void) { return CG_VERSION; }
