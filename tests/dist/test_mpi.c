/* Data-parallel training over MPI (docs/mpi.md), end to end: `mpirun -np 2 catgan train` must
 * compute what one process computes with the same seed and global batch (losses and every
 * weight, for mlp2d, pi-mnist with BN and noise in D plus labels, conv with BN in G), refuse a
 * batch that does not split and a resume with another rank count, and end when a rank dies.
 * $CATGAN names the binary and $MPIRUN the launcher (tests/meson.build). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "common.h"
#include "nn/model.h"

static void setup(void) {
    cli_tmp_make("mpi");
    /* Open MPI's own allocations are reported as leaks under ASan (STACK.md 5); the catgan
     * children inherit this, the test process keeps its own leak check */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    cr_assert_eq(cg_init(NULL), CG_OK);
}

static void teardown(void) { cli_tmp_remove(); }

TestSuite(mpi, .init = setup, .fini = teardown, .timeout = 240);

/* Runs "catgan train ARGS" on np ranks (np = 0: plain, no launcher) under a 90 s timeout,
 * stdout/stderr captured; returns the exit status (124: timed out). */
static int train(int np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int train(int np, const char *fmt, ...) {
    const char *mpirun = getenv("MPIRUN");
    cr_assert_not_null(mpirun, "MPIRUN must name mpirun");
    char args[2048] = "train ", pre[700] = "timeout -k 5 90 ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args + strlen(args), sizeof args - strlen(args), fmt, ap);
    va_end(ap);
    /* plm isolated: launch on this node without an rsh agent; the default plm refuses to
     * start at all where no ssh/rsh is installed (minimal CI images), even for local ranks */
    if (np > 0)
        snprintf(pre + strlen(pre), sizeof pre - strlen(pre),
                 "'%s' --allow-run-as-root --oversubscribe --mca btl self,vader"
                 " --mca plm isolated -np %d ", mpirun, np);
    return cli_run(pre, args, "");
}

/* rc == want, else fail with the captured stderr */
static void expect_rc(int rc, int want, const char *what) {
    if (rc == want) return;
    char *e = cli_slurp(cli_err);
    cr_expect_eq(rc, want, "%s: exit %d: %s", what, rc, e);
    free(e);
}

static void expect_stderr_has(const char *want) {
    char *e = cli_slurp(cli_err);
    cr_expect(strstr(e, want) != NULL, "stderr '%s' lacks '%s'", e, want);
    free(e);
}

/* ---- a small image set: mnist:DIR with 12x12 images, so conv and pi-mnist steps are quick */

static void put_be32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

/* Class c: a bar at row/column c, plus noise (the content only has to be fixed). */
static void write_idx(const char *dir, const char *split, int n, uint32_t seed) {
    char p[600];
    enum { S = 12 };
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, split);
    FILE *fi = fopen(p, "wb");
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, split);
    FILE *fl = fopen(p, "wb");
    cr_assert(fi && fl);
    put_be32(fi, 0x803); put_be32(fi, (uint32_t)n); put_be32(fi, S); put_be32(fi, S);
    put_be32(fl, 0x801); put_be32(fl, (uint32_t)n);
    uint32_t x = seed;
    for (int i = 0; i < n; i++) {
        int c = i % 10;
        unsigned char img[S * S];
        for (int j = 0; j < S * S; j++) {
            x = x * 1664525u + 1013904223u;
            int bar = c < 5 ? j / S == 2 * c + 1 : j % S == 2 * (c - 5) + 1;
            img[j] = (unsigned char)((bar ? 200 : 0) + (x >> 27));
        }
        fwrite(img, 1, sizeof img, fi);
        unsigned char y = (unsigned char)c;
        fwrite(&y, 1, 1, fl);
    }
    fclose(fi);
    fclose(fl);
}

static const char *small_images(void) {
    static char dir[400];
    snprintf(dir, sizeof dir, "%s/img", cli_tmpdir);
    mkdir(dir, 0777);
    write_idx(dir, "train", 200, 7);
    write_idx(dir, "t10k", 40, 8);
    return dir;
}

/* ---- comparing two runs ------------------------------------------------------------------- */

/* metrics.csv rows (one per LOG_EVERY iterations): columns d_loss..h_g (3..8). Not every
 * iteration: each row also writes a checkpoint (20 MB for pi-mnist), which would dominate. */
#define LOG_EVERY 5
enum { NTERM = 6, MAXIT = 64 };
static const char *TERM[NTERM] = {"d_loss", "g_loss", "h_x", "h_real", "h_fake", "h_g"};

static int read_terms(const char *dir, double v[MAXIT][NTERM]) {
    char p[600];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    char *s = cli_slurp(p), *line = strchr(s, '\n');
    int n = 0;
    while (line && line[1] && n < MAXIT) {
        char *q = line + 1;
        for (int c = 0; c < 3; c++) q = strchr(q, ',') + 1;   /* iter, epoch, seconds */
        for (int t = 0; t < NTERM; t++) {
            v[n][t] = strtod(q, &q);
            q++;
        }
        n++;
        line = strchr(line + 1, '\n');
    }
    free(s);
    return n;
}

/* max |a - b| over n floats, in units of `step` (the Adam step size times the iterations:
 * about the most a weight can move in the run) */
static double moved_diff(const float *a, const float *b, size_t n, double step) {
    return t_max_abs_diff(a, b, n) / step;
}

/* The single-process run in dir1 and the 2-rank run in dir2 agree: every iteration's loss
 * terms, then the final weights and batch-norm running statistics. */
static void expect_same_run(const char *dir1, const char *dir2, int iters, const char *what) {
    static double v1[MAXIT][NTERM], v2[MAXIT][NTERM];
    int n1 = read_terms(dir1, v1), n2 = read_terms(dir2, v2);
    cr_assert_eq(n1, iters / LOG_EVERY, "%s: %d rows in %s/metrics.csv", what, n1, dir1);
    cr_assert_eq(n2, iters / LOG_EVERY, "%s: %d rows in %s/metrics.csv", what, n2, dir2);
    for (int row = 0; row < n1; row++) {
        int it = (row + 1) * LOG_EVERY;
        /* Measured (tests on mlp2d, pi-mnist, conv): <= 4e-7 relative over iterations 1-10,
         * float rounding of sums taken in another order. It then grows chaotically (GAN
         * dynamics, Adam's normalised steps), to 5e-4 at iteration 20 for the batch-8 conv.
         * Deliberate bugs (rank 1 drawing rank 0's z or noise, unsynchronised batch norm, a
         * per-rank H_X) gave >= 1.4e-3 at iterations 5 and 10 and >= 1.6e-2 at 20. */
        double tol = it <= 10 ? 1e-5 : 5e-3;
        for (int t = 0; t < NTERM; t++) {
            double a = v1[row][t], b = v2[row][t];
            cr_expect_leq(fabs(a - b), tol * (1 + fabs(a)),
                          "%s: iteration %d %s: %.9g (1 process) vs %.9g (2 ranks)", what, it,
                          TERM[t], a, b);
        }
    }
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/checkpoint.cgck", dir1);
    snprintf(p2, sizeof p2, "%s/checkpoint.cgck", dir2);
    cg_model *a = NULL, *b = NULL;
    cr_assert_eq(cg_model_load(p1, 1, &a, NULL, 0), CG_OK, "%s", cg_last_error());
    cr_assert_eq(cg_model_load(p2, 1, &b, NULL, 0), CG_OK, "%s", cg_last_error());
    cr_assert_eq(cg_model_iteration(a), iters);
    cr_assert_eq(cg_model_iteration(b), iters);
    double dd = moved_diff(a->pd.w, b->pd.w, a->pd.n, (double)a->cfg.lr * iters);
    double dg = moved_diff(a->pg.w, b->pg.w, a->pg.n, (double)a->cfg.lr_g * iters);
    /* After one iteration the weights agree to ~1e-7 except the biases of layers that feed a
     * batch norm: BN cancels them, their gradient is rounding noise, and Adam turns that
     * noise into ~0.1 of a step of either sign. Over 20 iterations the chaotic growth above
     * reaches 0.31 of the largest possible move (conv). 0.6: every weight stays well inside
     * half of the run's movement of the single-process weights. */
    cr_expect_lt(dd, 0.6, "%s: D weights differ by %.3g of the most they can move", what, dd);
    cr_expect_lt(dg, 0.6, "%s: G weights differ by %.3g of the most they can move", what, dg);
    /* running statistics follow those biases (running mean) and the batch statistics;
     * measured <= 0.14 relative with a 1e-2 floor (pi-mnist D, 20 iterations) */
    double ds = t_max_rel_diff(a->state_g, b->state_g, a->g.nstate, 1e-2);
    double dsd = t_max_rel_diff(a->state_d, b->state_d, a->d.nstate, 1e-2);
    cr_expect_lt(ds, 0.3, "%s: G's batch-norm running stats differ by %.3g", what, ds);
    cr_expect_lt(dsd, 0.3, "%s: D's batch-norm running stats differ by %.3g", what, dsd);
    fprintf(stderr, "%s: weights D %.3g G %.3g of the max move, BN stats G %.3g D %.3g\n",
            what, dd, dg, ds, dsd);
    cg_model_destroy(a);
    cg_model_destroy(b);
}

/* max |a - b| in units of step over a net's parameters, in two groups: the weights of layers
 * whose output goes straight into a batch norm (*pre), and all the others (*plain). Left out:
 * those layers' biases, which BN cancels: their exact gradient is 0, the computed one is
 * rounding noise, and Adam scales it up to steps of either sign. BN also makes each pre-BN
 * weight row's scale irrelevant, so their gradients are small and noisier too. */
static void moved_diffs(const struct cg_net *net, const float *a, const float *b, double step,
                        double *plain, double *pre) {
    *plain = *pre = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const struct cg_layer *l = &net->L[i];
        const int pre_bn = i + 1 < net->nlayers && net->L[i + 1].kind == CG_LAYER_BN;
        const double dw = t_max_abs_diff(a + l->w_off, b + l->w_off, l->nw) / step;
        if (pre_bn) {
            *pre = fmax(*pre, dw);
            continue;
        }
        *plain = fmax(*plain, fmax(dw, t_max_abs_diff(a + l->b_off, b + l->b_off, l->nb) / step));
    }
}

/* Over the first iterations, before GAN dynamics amplify rounding, every weight that the
 * function depends on must agree tightly between 1 process and 2 ranks. */
static void same_weights_early(const char *what, const char *args) {
    char d1[400], d2[400], p1[600], p2[600];
    snprintf(d1, sizeof d1, "%s/%s_1", cli_tmpdir, what);
    snprintf(d2, sizeof d2, "%s/%s_2", cli_tmpdir, what);
    expect_rc(train(0, "%s --iters %d --log-every %d --threads 1 --quiet --out %s", args,
                    LOG_EVERY, LOG_EVERY, d1), 0, "one process");
    expect_rc(train(2, "%s --iters %d --log-every %d --threads 1 --quiet --out %s", args,
                    LOG_EVERY, LOG_EVERY, d2), 0, "2 ranks");
    snprintf(p1, sizeof p1, "%s/checkpoint.cgck", d1);
    snprintf(p2, sizeof p2, "%s/checkpoint.cgck", d2);
    cg_model *a = NULL, *b = NULL;
    cr_assert_eq(cg_model_load(p1, 1, &a, NULL, 0), CG_OK, "%s", cg_last_error());
    cr_assert_eq(cg_model_load(p2, 1, &b, NULL, 0), CG_OK, "%s", cg_last_error());
    double dp, dq, gp, gq;
    moved_diffs(&a->d, a->pd.w, b->pd.w, (double)a->cfg.lr * LOG_EVERY, &dp, &dq);
    moved_diffs(&a->g, a->pg.w, b->pg.w, (double)a->cfg.lr_g * LOG_EVERY, &gp, &gq);
    fprintf(stderr, "%s after %d iterations, of the max move: D %.3g (pre-BN weights %.3g), "
            "G %.3g (pre-BN weights %.3g)\n", what, LOG_EVERY, dp, dq, gp, gq);
    /* Measured (pi-mnist, conv, mlp2d): plain parameters <= 1e-3 of the largest possible
     * move (pi-mnist G's output layer; 2e-4 or less elsewhere), pre-BN weights <= 0.027
     * (pi-mnist G). Bounds 5x and 4x those. */
    cr_expect_lt(dp, 5e-3, "%s: D's parameters differ by %.3g of the max move", what, dp);
    cr_expect_lt(gp, 5e-3, "%s: G's parameters differ by %.3g of the max move", what, gp);
    cr_expect_lt(dq, 0.1, "%s: D's pre-BN weights differ by %.3g of the max move", what, dq);
    cr_expect_lt(gq, 0.1, "%s: G's pre-BN weights differ by %.3g of the max move", what, gq);
    cg_model_destroy(a);
    cg_model_destroy(b);
}

static void same_as_one_process(const char *what, const char *args, int iters) {
    char d1[400], d2[400];
    snprintf(d1, sizeof d1, "%s/r1", cli_tmpdir);
    snprintf(d2, sizeof d2, "%s/r2", cli_tmpdir);
    int rc = train(0, "%s --iters %d --log-every %d --threads 1 --quiet --out %s", args, iters,
                   LOG_EVERY, d1);
    expect_rc(rc, 0, "one process");
    rc = train(2, "%s --iters %d --log-every %d --threads 1 --quiet --out %s", args, iters,
               LOG_EVERY, d2);
    expect_rc(rc, 0, "2 ranks");
    if (rc == 0) expect_same_run(d1, d2, iters, what);
}

Test(mpi, mlp2d_two_ranks_equal_one_process) {
    same_as_one_process("mlp2d", "--data moons --batch 64 --seed 3", 20);
}

Test(mpi, pi_mnist_bn_noise_labels_two_ranks_equal_one_process) {
    char args[600];
    snprintf(args, sizeof args, "--data mnist:%s --arch pi-mnist --labels 20 --batch 16 --seed 2",
             small_images());
    same_as_one_process("pi-mnist", args, 20);
}

Test(mpi, conv_bn_in_g_two_ranks_equal_one_process) {
    char args[600];
    snprintf(args, sizeof args, "--data mnist:%s --arch conv --batch 8 --seed 4", small_images());
    same_as_one_process("conv", args, 20);
}

Test(mpi, batch_not_divisible_is_refused) {
    char d[400];
    snprintf(d, sizeof d, "%s/odd", cli_tmpdir);
    int rc = train(2, "--data moons --batch 63 --iters 2 --out %s", d);
    cr_expect_eq(rc, 2, "exit %d", rc);
    expect_stderr_has("--batch 63: must be a multiple of the 2 MPI ranks");
    struct stat sb;
    cr_expect_neq(stat(d, &sb), 0, "nothing may be created");
}

Test(mpi, resume_with_other_rank_count_is_refused) {
    char d[400];
    snprintf(d, sizeof d, "%s/res", cli_tmpdir);
    int rc = train(0, "--data moons --batch 64 --iters 4 --quiet --out %s", d);
    expect_rc(rc, 0, "first run");
    rc = train(2, "--resume %s --iters 8", d);
    cr_expect_eq(rc, 2, "exit %d", rc);
    expect_stderr_has("checkpoint.cgck was written by 1 MPI rank(s), this job has 2");
    char *e = cli_slurp(cli_err);
    int lines = 0;
    for (const char *c = strstr(e, "catgan:"); c; c = strstr(c + 1, "catgan:")) lines++;
    /* rank 1 refuses too, silently: one line of ours (mpirun adds its own notice) */
    cr_expect_eq(lines, 1, "one catgan line expected: %s", e);
    free(e);
    /* the same count resumes */
    rc = train(0, "--resume %s --iters 8 --quiet", d);
    expect_rc(rc, 0, "resume with 1 rank");
}

Test(mpi, dead_rank_ends_the_job) {
    char d[400];
    snprintf(d, sizeof d, "%s/dead", cli_tmpdir);
    setenv("CATGAN_TEST_KILL_RANK", "1", 1);
    int rc = train(2, "--data moons --batch 64 --iters 100000 --log-every 1000 --out %s", d);
    unsetenv("CATGAN_TEST_KILL_RANK");
    cr_expect_neq(rc, 0, "the job must fail");
    cr_expect_neq(rc, 124, "the job hung until the timeout");
    expect_stderr_has("rank 1: CATGAN_TEST_KILL_RANK: killed at iteration 3");
}

Test(mpi, weights_equal_after_five_iterations) {
    char args[600];
    /* G at D's step: with pi-mnist's default 2.5x G moves D's inputs faster and the rank
     * split's rounding reaches 0.031 of the max move of D's plain parameters in 5 iterations;
     * at 1x the bounds below stay tight enough to catch a wrong reduction */
    snprintf(args, sizeof args,
             "--data mnist:%s --arch pi-mnist --labels 20 --batch 16 --seed 2 --lr-g 2e-4",
             small_images());
    same_weights_early("pi-mnist", args);
    snprintf(args, sizeof args, "--data mnist:%s --arch conv --batch 8 --seed 4", small_images());
    same_weights_early("conv", args);
    same_weights_early("mlp2d", "--data moons --batch 64 --seed 3");
}
