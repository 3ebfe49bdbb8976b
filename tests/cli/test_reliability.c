/* Reliability of `catgan train` (issue 7): SIGKILL at random moments always leaves a checkpoint
 * that loads and resumes; a full disk (file-size limit) fails the run with exit 1 and keeps the
 * last good checkpoint; the same seed gives bit-identical weights for 1, 2 and 3 threads. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/model.h"

static char tmpdir[256];

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cg_rel_%ld_XXXXXX", (long)getpid());
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

TestSuite(reliability, .init = setup, .fini = teardown, .timeout = 300);

/* Starts catgan with argv (NULL-terminated) and an optional file-size limit; stdout/stderr to
 * files in tmpdir. */
static pid_t start(long fsize_limit, char *const argv[]) {
    pid_t pid = fork();
    if (pid == 0) {
        char path[400];
        snprintf(path, sizeof path, "%s/err.txt", tmpdir);
        if (!freopen("/dev/null", "w", stdout) || !freopen(path, "w", stderr)) _exit(98);
        if (fsize_limit > 0) {
            struct rlimit rl = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(getenv("CATGAN"), argv);
        _exit(99);
    }
    return pid;
}

static int wait_exit(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The checkpoint loads and tells its iteration, or returns -1. */
static int64_t checkpoint_iter(const char *path) {
    cg_model *m;
    if (cg_model_load(path, 1, &m, NULL, 0) != CG_OK) return -1;
    int64_t it = cg_model_iteration(m);
    cg_model_destroy(m);
    return it;
}

Test(reliability, sigkill_at_20_random_moments_leaves_a_loadable_checkpoint) {
    char dir[400], ck[450];
    snprintf(dir, sizeof dir, "%s/run", tmpdir);
    snprintf(ck, sizeof ck, "%s/checkpoint.cgck", dir);
    char *first[] = {"catgan", "train", "--data", "moons", "--iters", "1000000000", "--log-every",
                     "5", "--threads", "1", "--quiet", "--out", dir, NULL};
    char *again[] = {"catgan", "train", "--resume", dir, "--threads", "1", "--quiet", NULL};
    srand(1234);
    int64_t last = 0;
    for (int k = 0; k < 20; k++) {
        pid_t pid = start(0, k == 0 ? first : again);
        /* wait for the first checkpoint of a fresh run, then kill at a random moment */
        for (int w = 0; k == 0 && w < 200 && !file_exists(ck); w++) sleep_ms(50);
        sleep_ms(30 + rand() % 400);
        kill(pid, SIGKILL);
        cr_assert_eq(wait_exit(pid), 128 + SIGKILL);
        int64_t it = checkpoint_iter(ck);
        cr_assert_geq(it, last, "kill %d: checkpoint does not load or went back (%lld < %lld): %s",
                      k, (long long)it, (long long)last, cg_last_error());
        last = it;
    }
    cr_assert_gt(last, 0, "training never got past its first checkpoint");
    /* and the run can still be finished */
    char target[32];
    snprintf(target, sizeof target, "%lld", (long long)last + 10);
    char *finish[] = {"catgan", "train", "--resume", dir, "--iters", target, "--quiet", NULL};
    cr_assert_eq(wait_exit(start(0, finish)), 0);
    cr_assert_eq(checkpoint_iter(ck), last + 10);
}

Test(reliability, full_disk_fails_with_exit_1_and_keeps_the_last_checkpoint) {
    char dir[400], ck[450];
    snprintf(dir, sizeof dir, "%s/run", tmpdir);
    snprintf(ck, sizeof ck, "%s/checkpoint.cgck", dir);
    char *first[] = {"catgan", "train", "--data", "moons", "--iters", "10", "--log-every", "5",
                     "--quiet", "--out", dir, NULL};
    cr_assert_eq(wait_exit(start(0, first)), 0);
    struct stat sb;
    cr_assert_eq(stat(ck, &sb), 0);
    /* a limit below the checkpoint's size: its next write fails part-way, like ENOSPC */
    char *more[] = {"catgan", "train", "--resume", dir, "--iters", "20", "--quiet", NULL};
    cr_assert_eq(wait_exit(start((long)sb.st_size / 2, more)), 1);
    char errp[400];
    snprintf(errp, sizeof errp, "%s/err.txt", tmpdir);
    FILE *f = fopen(errp, "r");
    char line[1024] = "";
    cr_assert(f && fgets(line, sizeof line, f));
    fclose(f);
    cr_expect(strstr(line, "checkpoint.cgck") != NULL, "names the file: %s", line);
    cr_expect_eq(checkpoint_iter(ck), 10, "the last good checkpoint is untouched");
}

/* Same seed, any thread count: the batch is split into fixed shards, never per thread. */
static void same_weights_for_threads(const char *arch, const char *batch) {
    cg_model *m[3];
    for (int t = 1; t <= 3; t++) {
        char dir[400], ck[450], th[8];
        snprintf(dir, sizeof dir, "%s/%s_t%d", tmpdir, arch, t);
        snprintf(ck, sizeof ck, "%s/checkpoint.cgck", dir);
        snprintf(th, sizeof th, "%d", t);
        char *argv[] = {"catgan", "train", "--data", "glyphs", "--arch", (char *)arch, "--batch",
                        (char *)batch, "--iters", "3", "--labels", "10", "--threads", th,
                        "--quiet", "--out", dir, NULL};
        cr_assert_eq(wait_exit(start(0, argv)), 0, "%s with %d threads", arch, t);
        cr_assert_eq(cg_model_load(ck, 1, &m[t - 1], NULL, 0), CG_OK, "%s", cg_last_error());
    }
    for (int t = 1; t < 3; t++) {
        cr_expect_eq(memcmp(m[0]->pd.w, m[t]->pd.w, m[0]->pd.n * sizeof(float)), 0,
                     "%s: D differs between 1 and %d threads", arch, t + 1);
        cr_expect_eq(memcmp(m[0]->pg.w, m[t]->pg.w, m[0]->pg.n * sizeof(float)), 0,
                     "%s: G differs between 1 and %d threads", arch, t + 1);
        cr_expect_eq(memcmp(m[0]->state_g, m[t]->state_g, m[0]->g.nstate * sizeof(float)), 0);
        if (m[0]->ema_d)
            cr_expect_eq(memcmp(m[0]->ema_d, m[t]->ema_d, m[0]->pd.n * sizeof(float)), 0,
                         "%s: D's average differs between 1 and %d threads", arch, t + 1);
    }
    /* conv evaluates the average of D's weights unless --ema says otherwise; the others not */
    const float ema = strcmp(arch, "conv") == 0 ? 0.999f : 0.0f;
    cr_expect_eq(m[0]->cfg.ema, ema, "%s: --ema defaults to %g", arch, (double)m[0]->cfg.ema);
    cr_expect_eq(m[0]->ema_d != NULL, ema > 0);
    for (int t = 0; t < 3; t++) cg_model_destroy(m[t]);
}

Test(reliability, conv_bit_identical_for_1_2_3_threads) { same_weights_for_threads("conv", "12"); }

Test(reliability, pi_mnist_bit_identical_for_1_2_3_threads) {
    same_weights_for_threads("pi-mnist", "20");
}
