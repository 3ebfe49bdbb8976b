/* Helpers shared by the libFuzzer harnesses: a private temporary folder per fuzzing process
 * (removed at exit) and whole-file writes, for loaders that only read from paths. */
#ifndef CG_FUZZ_UTIL_H
#define CG_FUZZ_UTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fz_dir[256];

/* Removes fz_dir and everything under it, down to DIR/a/b/file (the folder dataset). */
static inline void fz_rm_tree(const char *path, int depth) {
    DIR *d = depth < 4 ? opendir(path) : NULL;
    if (d) {
        struct dirent *e;
        char sub[1024];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            fz_rm_tree(sub, depth + 1);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void fz_cleanup(void) {
    if (fz_dir[0]) fz_rm_tree(fz_dir, 0);
}

/* Creates $TMPDIR/cg_fuzz_<name>.XXXXXX once; aborts (a harness bug, not a finding) if it
 * cannot. */
static inline const char *fz_tmpdir(const char *name) {
    if (fz_dir[0]) return fz_dir;
    const char *t = getenv("TMPDIR");
    snprintf(fz_dir, sizeof fz_dir, "%s/cg_fuzz_%s.XXXXXX", t && *t ? t : "/tmp", name);
    if (!mkdtemp(fz_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(fz_cleanup);
    return fz_dir;
}

static inline void fz_mkdir(const char *path) {
    if (mkdir(path, 0700) != 0 && access(path, F_OK) != 0) {
        perror(path);
        abort();
    }
}

static inline void fz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static inline uint32_t fz_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void fz_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
