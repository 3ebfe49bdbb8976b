/* "folder:DIR": PNG images under DIR/{train,test}/<class>/ and DIR/train/unlabelled/, read as
 * grey (io/image.c). Names are sorted bytewise (strcmp, not the locale) so loads are repeatable. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/dataset.h"
#include "io/image.h"

#define UNLABELLED "unlabelled"
#define PATH_CAP 4096

struct names { char **v; int n, cap; };

static void names_free(struct names *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int names_push(struct names *s, const char *name) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    size_t len = strlen(name) + 1;
    char *copy = malloc(len);
    if (!copy) return -1;
    memcpy(copy, name, len);
    s->v[s->n++] = copy;
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *name) {
    size_t len = strlen(name);
    if (len < 5) return 0;
    const char *e = name + len - 4;
    return e[0] == '.' && (e[1] | 32) == 'p' && (e[2] | 32) == 'n' && (e[3] | 32) == 'g';
}

static int join(char *out, const char *a, const char *b) {
    int len = snprintf(out, PATH_CAP, "%s/%s", a, b);
    return len >= 0 && len < PATH_CAP;
}

/* Sorted names in PATH: subfolders (dirs = 1) or regular *.png files (dirs = 0); dot names are
 * skipped. */
static enum cg_status list_dir(const char *path, int dirs, struct names *out) {
    DIR *d = opendir(path);
    if (!d) return cg_fail_at(CG_ERR_IO, path, "cannot open folder: %s", strerror(errno));
    char full[PATH_CAP];
    struct dirent *e;
    enum cg_status st = CG_OK;
    while (st == CG_OK && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (e->d_name[0] == '.') continue;
        if (!dirs && !is_png_name(e->d_name)) continue;
        if (!join(full, path, e->d_name)) {
            st = cg_fail_at(CG_ERR_IO, path, "path of '%s' is too long", e->d_name);
            break;
        }
        if (stat(full, &sb) != 0) {
            st = cg_fail_at(CG_ERR_IO, full, "cannot stat: %s", strerror(errno));
            break;
        }
        if (dirs ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) continue;
        if (names_push(out, e->d_name) != 0)
            st = cg_fail_at(CG_ERR_OUT_OF_MEMORY, path, "out of memory listing the folder");
    }
    closedir(d);
    if (st == CG_OK && out->n > 1) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_names);
    return st;
}

/* A folder of images with one label (-1: unlabelled). */
struct group { char path[PATH_CAP]; int label; struct names files; };

struct plan {
    struct group g[2 * CG_DATASET_MAX_CLASSES + 1];
    int ng;
    int n_train, n_test;   /* images in the train groups [0, split) and test groups */
    int split;             /* first test group */
};

static enum cg_status add_group(struct plan *p, const char *parent, const char *name, int label,
                                int must_have_images) {
    struct group *g = &p->g[p->ng++];
    g->label = label;
    if (!join(g->path, parent, name))
        return cg_fail_at(CG_ERR_IO, parent, "path of '%s' is too long", name);
    enum cg_status st = list_dir(g->path, 0, &g->files);
    if (st != CG_OK) return st;
    if (must_have_images && g->files.n == 0)
        return cg_fail_at(CG_ERR_FORMAT, g->path, "class folder holds no PNG images");
    return CG_OK;
}

/* Lists the class folders of DIR/train and DIR/test (same set) and every group's files. */
static enum cg_status make_plan(const char *dir, struct plan *p, struct cg_dataset *ds) {
    char train[PATH_CAP], test[PATH_CAP];
    if (!join(train, dir, "train") || !join(test, dir, "test"))
        return CG_FAIL(CG_ERR_INVALID_ARG, "folder:%s: path too long", dir);
    struct names cls = {0}, tcls = {0};
    enum cg_status st = list_dir(train, 1, &cls);
    if (st == CG_OK) st = list_dir(test, 1, &tcls);
    int has_unl = 0, k = 0;
    for (int i = 0; st == CG_OK && i < cls.n; i++) {
        if (!strcmp(cls.v[i], UNLABELLED)) {
            has_unl = 1;
        } else if (k == CG_DATASET_MAX_CLASSES) {
            st = cg_fail_at(CG_ERR_FORMAT, train, "more than %d class folders",
                            CG_DATASET_MAX_CLASSES);
        } else if (strlen(cls.v[i]) >= sizeof ds->class_names[0]) {
            st = cg_fail_at(CG_ERR_FORMAT, train, "class folder name '%s' is longer than %zu "
                            "characters", cls.v[i], sizeof ds->class_names[0] - 1);
        } else {
            memcpy(ds->class_names[k++], cls.v[i], strlen(cls.v[i]) + 1);
        }
    }
    if (st == CG_OK && k == 0)
        st = cg_fail_at(CG_ERR_FORMAT, train, "no class folders (only '%s/' or nothing)",
                        UNLABELLED);
    /* test/ must hold exactly the train classes (an unlabelled/ there is ignored) */
    for (int c = 0; st == CG_OK && c < k; c++) {
        int found = 0;
        for (int i = 0; i < tcls.n; i++) found |= !strcmp(tcls.v[i], ds->class_names[c]);
        if (!found)
            st = cg_fail_at(CG_ERR_FORMAT, test, "class folder '%s' of %s is missing here",
                            ds->class_names[c], train);
    }
    for (int i = 0; st == CG_OK && i < tcls.n; i++) {
        int found = !strcmp(tcls.v[i], UNLABELLED);
        for (int c = 0; c < k; c++) found |= !strcmp(tcls.v[i], ds->class_names[c]);
        if (!found)
            st = cg_fail_at(CG_ERR_FORMAT, test, "class folder '%s' is not a class of %s",
                            tcls.v[i], train);
    }
    names_free(&cls);
    names_free(&tcls);
    if (st != CG_OK) return st;
    ds->num_classes = k;
    for (int c = 0; c < k && st == CG_OK; c++) st = add_group(p, train, ds->class_names[c], c, 1);
    if (st == CG_OK && has_unl) st = add_group(p, train, UNLABELLED, -1, 0);
    p->split = p->ng;
    for (int c = 0; c < k && st == CG_OK; c++) st = add_group(p, test, ds->class_names[c], c, 1);
    if (st != CG_OK) return st;
    for (int i = 0; i < p->ng; i++) {
        int *n = i < p->split ? &p->n_train : &p->n_test;
        if (p->g[i].files.n > (1 << 30) - *n)
            return cg_fail_at(CG_ERR_FORMAT, p->g[i].path, "too many images");
        *n += p->g[i].files.n;
    }
    return CG_OK;
}

static enum cg_status read_groups(struct plan *p, int g0, int g1, struct cg_split *s, int h,
                                  int w) {
    char full[PATH_CAP];
    int row = 0;
    for (int gi = g0; gi < g1; gi++) {
        struct group *g = &p->g[gi];
        for (int i = 0; i < g->files.n; i++, row++) {
            if (!join(full, g->path, g->files.v[i]))
                return cg_fail_at(CG_ERR_IO, g->path, "path of '%s' is too long", g->files.v[i]);
            enum cg_status st = cg_png_read_grey_into(full, h, w, s->x + (size_t)row * h * w);
            if (st != CG_OK) return st;
            s->y[row] = g->label;
        }
    }
    return CG_OK;
}

enum cg_status cg_pngdir_load(const char *dir, struct cg_dataset *ds) {
    memcpy(ds->name, "folder", sizeof "folder");
    ds->c = 1;
    struct plan *p = calloc(1, sizeof *p);
    if (!p) return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "folder:%s: out of memory", dir);
    enum cg_status st = make_plan(dir, p, ds);
    int h = 0, w = 0;
    char first[PATH_CAP];
    /* the first train image decides the size for all */
    if (st == CG_OK) {
        if (!join(first, p->g[0].path, p->g[0].files.v[0]))
            st = cg_fail_at(CG_ERR_IO, p->g[0].path, "path too long");
        else
            st = cg_png_size(first, &h, &w);
    }
    if (st == CG_OK) st = cg_split_alloc(&ds->train, p->n_train, (size_t)h * w, dir);
    if (st == CG_OK) st = cg_split_alloc(&ds->test, p->n_test, (size_t)h * w, dir);
    if (st == CG_OK) st = read_groups(p, 0, p->split, &ds->train, h, w);
    if (st == CG_OK) st = read_groups(p, p->split, p->ng, &ds->test, h, w);
    ds->h = h;
    ds->w = w;
    for (int i = 0; i < p->ng; i++) names_free(&p->g[i].files);
    free(p);
    return st;
}
