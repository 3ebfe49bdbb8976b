/* CPU feature detection. __builtin_cpu_supports also checks that the OS saves the wide
 * registers (XCR0) on GCC >= 7.4. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

bool cg_cpu_has(enum cg_isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (isa) {
    case CG_ISA_REF: return true;
    case CG_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CG_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return false;
#else
    return isa == CG_ISA_REF;
#endif
}

enum cg_isa cg_cpu_best(void) {
    if (cg_cpu_has(CG_ISA_AVX512)) return CG_ISA_AVX512;
    if (cg_cpu_has(CG_ISA_AVX2)) return CG_ISA_AVX2;
    return CG_ISA_REF;
}

const char *cg_cpu_model(void) {
    static char model[128];
    if (model[0]) return model;
    snprintf(model, sizeof model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return model;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ') p++;
                snprintf(model, sizeof model, "%s", p);
                model[strcspn(model, "\n")] = 0;
            }
            break;
        }
    }
    fclose(f);
    return model;
}

double cg_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
