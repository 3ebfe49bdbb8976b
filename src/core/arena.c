/* Bump arena (ggml/llm.c style): measure once, allocate one block, hand out aligned views. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void *cg_malloc(size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = CG_ALIGN;
    if (posix_memalign(&p, CG_ALIGN, cg_align_up(bytes)) != 0) return NULL;
    return p;
}

void cg_free(void *p) { free(p); }

enum cg_status cg_arena_create(struct cg_arena *a, size_t cap) {
    a->used = 0;
    a->cap = cg_align_up(cap);
    a->base = cg_malloc(a->cap);
    if (!a->base) {
        a->cap = 0;
        return CG_FAIL(CG_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", cap);
    }
    memset(a->base, 0, a->cap);
    return CG_OK;
}

void *cg_arena_alloc(struct cg_arena *a, size_t bytes) {
    size_t need = cg_align_up(bytes);
    if (need < bytes || need > a->cap - a->used) {
        CG_FAIL(CG_ERR_OUT_OF_MEMORY, "arena of %zu bytes has %zu left, %zu requested", a->cap,
                a->cap - a->used, bytes);
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += need;
    return p;
}

float *cg_arena_floats(struct cg_arena *a, size_t count) {
    size_t bytes;
    if (!cg_mul_ok(count, sizeof(float), &bytes)) {
        CG_FAIL(CG_ERR_OUT_OF_MEMORY, "%zu floats overflow size_t", count);
        return NULL;
    }
    return cg_arena_alloc(a, bytes);
}

void cg_arena_destroy(struct cg_arena *a) {
    cg_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}
