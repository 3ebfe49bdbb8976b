/* Lane masks shared by the AVX2 kernels (files compiled with -mavx2 only). */
#ifndef CG_SIMD_AVX2_LANES_H
#define CG_SIMD_AVX2_LANES_H

#include <immintrin.h>

/* All ones in lanes i < n, zeros above (n <= 0: none; n >= 8: all), for the maskload and
 * maskstore of a tail. */
static inline __m256i tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#endif
