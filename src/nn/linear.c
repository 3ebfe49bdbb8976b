/* Fully connected layer on the threaded GEMM; bias loops are plain C until the SIMD bias
 * kernels land. Backward formulas as in llm.c's matmul_backward. */
#include "nn/linear.h"

#include "simd/gemm.h"

enum cg_status cg_linear_init(struct cg_linear *p, int in, int out, int nt) {
    size_t nw;
    if (!p) return CG_FAIL(CG_ERR_INVALID_ARG, "p=NULL must point to a descriptor");
    if (in <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "in=%d must be > 0", in);
    if (out <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "out=%d must be > 0", out);
    if (nt <= 0) return CG_FAIL(CG_ERR_INVALID_ARG, "nt=%d must be > 0", nt);
    if (!cg_mul_ok((size_t)in, (size_t)out, &nw) || !cg_mul_ok(nw, sizeof(float), &nw))
        return CG_FAIL(CG_ERR_INVALID_ARG, "in=%d x out=%d weights overflow size_t", in, out);
    /* cg_sgemm_mt uses at most the reserved thread count: reserve all nt */
    enum cg_status st = cg_gemm_reserve(nt);
    if (st != CG_OK) return st;
    *p = (struct cg_linear){.in = in, .out = out, .nt = nt};
    return CG_OK;
}

void cg_linear_forward(const struct cg_linear *p, int n, const float *x, const float *w,
                       const float *b, float *y) {
    const int in = p->in, out = p->out;
    if (n <= 0) return;
    cg_sgemm_mt(p->nt, CG_NO_TRANS, CG_TRANS, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (!b) return;
#pragma omp parallel for schedule(static) num_threads(p->nt) if ((size_t)n * out >= CG_PAR_MIN)
    for (int i = 0; i < n; i++) {
        float *yi = y + (size_t)i * out;
        for (int j = 0; j < out; j++) yi[j] += b[j];
    }
}

/* db(out) += sum_i dy(i, :). Blocks of columns so each thread streams dy rows; the sum per
 * column runs over i in order (double, then one rounding), whatever the thread count. */
#define DB_BLOCK 64
static void bias_grad(int nt, int n, int out, const float *dy, float *db) {
    const int nblk = (out + DB_BLOCK - 1) / DB_BLOCK;
#pragma omp parallel for schedule(static) num_threads(nt) if (nblk > 1)
    for (int bk = 0; bk < nblk; bk++) {
        const int j0 = bk * DB_BLOCK, nj = out - j0 < DB_BLOCK ? out - j0 : DB_BLOCK;
        double acc[DB_BLOCK] = {0};
        for (int i = 0; i < n; i++) {
            const float *row = dy + (size_t)i * out + j0;
            for (int j = 0; j < nj; j++) acc[j] += row[j];
        }
        for (int j = 0; j < nj; j++) db[j0 + j] += (float)acc[j];
    }
}

void cg_linear_backward(const struct cg_linear *p, int n, const float *dy, const float *x,
                        const float *w, float *dx, float *dw, float *db) {
    const int in = p->in, out = p->out;
    if (n <= 0) return;
    /* dx(n,in) += dy(n,out) w(out,in) */
    if (dx) cg_sgemm_mt(p->nt, CG_NO_TRANS, CG_NO_TRANS, n, in, out, 1.0f, dy, out, w, in,
                        1.0f, dx, in);
    /* dw(out,in) += dy^T(out,n) x(n,in) */
    if (dw) cg_sgemm_mt(p->nt, CG_TRANS, CG_NO_TRANS, out, in, n, 1.0f, dy, out, x, in,
                        1.0f, dw, in);
    if (db) bias_grad(p->nt, n, out, dy, db);
}
