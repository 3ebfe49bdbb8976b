/* catgan train: the training loop of CONTRACT.md, its run directory (summary.json, metrics.csv,
 * checkpoint.cgck, samples.png, curves.png), progress on a terminal or in a log, and signals. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run.h"
#include "core/core.h"
#include "dist/dist.h"
#include "eval/eval.h"
#include "io/dataset.h"

static const char TRAIN_HELP[] =
    "usage: catgan train [options]\n"
    "Train a categorical GAN (Springenberg 2016) and write a run directory.\n\n"
    "  --data SPEC      moons | circles | blobs[:K] | glyphs | mnist:DIR | folder:DIR\n"
    "                   (default glyphs)\n"
    "  --arch NAME      mlp2d | pi-mnist | conv (default: mlp2d for 2-D points, conv for\n"
    "                   images)\n"
    "  --classes K      categories of D (default: the dataset's classes)\n"
    "  --labels N       labelled training examples, N/K per class; 0 = unsupervised (default 0)\n"
    "  --lambda L       weight of the supervised cross-entropy (default 1)\n"
    "  --batch B        minibatch size (default 100)\n"
    "  --iters N        stop after N iterations in total\n"
    "  --epochs E       stop after E epochs of the unlabelled set\n"
    "  --time S         stop after S seconds of this session\n"
    "                   (default budget: about 2 minutes on 2 cores for the default run)\n"
    "  --lr R           Adam step size (default 2e-4; mlp2d 1e-3)\n"
    "  --lr-g R         G's Adam step size (default: --lr; pi-mnist: 2.5 x --lr;\n"
    "                   mlp2d: --lr / 20)\n"
    "  --beta1 B1       Adam beta1 (default 0.5; beta2 is 0.999)\n"
    "  --lr-decay-from F  full step sizes for the first fraction F of the --iters/--epochs\n"
    "                   budget, then linear decay to 0 at its end (default: no decay)\n"
    "  --ema D          evaluate with a moving average of D's weights, decay D in [0,1)\n"
    "                   (default: 0.999 for conv, 0 (off) for the others)\n"
    "  --d-noise S      conv only: Gaussian noise of sigma S on the input of each of D's\n"
    "                   layers during training (default 0: none)\n"
    "  --seed S         seeds every random choice (default 1)\n"
    "  --threads T      OpenMP threads (default: all cores)\n"
    "  --out DIR        run directory (default runs/<timestamp>); must be new or empty\n"
    "  --resume DIR     continue the run in DIR from its checkpoint\n"
    "  --log-every N    evaluate, log and checkpoint every N iterations\n"
    "  --json           print the final summary as one JSON line on stdout\n"
    "  --profile        print time per layer and pass (GFLOP/s, share) at the end\n"
    "  --quiet          no progress output\n"
    "Under mpirun/srun (MPI build): B is the global batch, split over the ranks (B % ranks\n"
    "must be 0); --threads is per rank (default: cores / ranks on the node); rank 0 writes\n"
    "the run directory. See docs/mpi.md.\n"
    "Exit status: 0 done, 1 failed run (NaN, I/O, memory), 2 bad usage or input,\n"
    "130/143 stopped by SIGINT/SIGTERM (after writing a checkpoint and the summary).\n";

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* ---- options ------------------------------------------------------------------------------ */

static int parse_train(int argc, char **argv, struct run_opts *o) {
    const char *cmd = "train";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        double d;
#define VAL() if (!(v = cli_value(cmd, argc, argv, &i))) return -1
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(TRAIN_HELP, stdout);
            exit(0);
        } else if (strcmp(a, "--data") == 0) {
            VAL();
            snprintf(o->data, sizeof o->data, "%s", v);
            o->given.data = 1;
        } else if (strcmp(a, "--arch") == 0) {
            VAL();
            if (strcmp(v, "mlp2d") && strcmp(v, "pi-mnist") && strcmp(v, "conv")) {
                cli_error("train: --arch: '%s' is not one of mlp2d, pi-mnist, conv", v);
                return -1;
            }
            snprintf(o->arch, sizeof o->arch, "%s", v);
            o->given.arch = 1;
        } else if (strcmp(a, "--classes") == 0) {
            VAL();
            if (cli_int(cmd, a, v, 2, 1000, &l)) return -1;
            o->classes = (int)l;
        } else if (strcmp(a, "--labels") == 0) {
            VAL();
            if (cli_int(cmd, a, v, 0, 100000000, &l)) return -1;
            o->labels = (int)l;
            o->given.labels = 1;
        } else if (strcmp(a, "--lambda") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 0, 1e6, &d)) return -1;
            o->lambda = d;
        } else if (strcmp(a, "--batch") == 0) {
            VAL();
            if (cli_int(cmd, a, v, 2, 1000000, &l)) return -1;
            o->batch = (int)l;
        } else if (strcmp(a, "--iters") == 0) {
            VAL();
            if (cli_int(cmd, a, v, 1, 2000000000L, &l)) return -1;
            o->iters = l;
        } else if (strcmp(a, "--epochs") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 1e-9, 1e9, &d)) return -1;
            o->epochs = d;
        } else if (strcmp(a, "--time") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 1e-3, 1e9, &d)) return -1;
            o->time_s = d;
        } else if (strcmp(a, "--lr") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 1e-12, 10, &d)) return -1;
            o->lr = d;
            o->given.lr = 1;
        } else if (strcmp(a, "--lr-g") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 1e-12, 10, &d)) return -1;
            o->lr_g = d;
        } else if (strcmp(a, "--lr-decay-from") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 0, 0.999999, &d)) return -1;
            o->lr_decay_from = d;
        } else if (strcmp(a, "--ema") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 0, 0.999999, &d)) return -1;
            o->ema = d;
            o->given.ema = 1;
        } else if (strcmp(a, "--d-noise") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 0, 10, &d)) return -1;
            o->d_noise = d;
        } else if (strcmp(a, "--beta1") == 0) {
            VAL();
            if (cli_float(cmd, a, v, 0, 0.999999, &d)) return -1;
            o->beta1 = d;
        } else if (strcmp(a, "--seed") == 0) {
            VAL();
            if (cli_u64(cmd, a, v, &o->seed)) return -1;
        } else if (strcmp(a, "--threads") == 0) {
            VAL();
            if (cli_int(cmd, a, v, 1, 1024, &l)) return -1;
            o->threads = (int)l;
        } else if (strcmp(a, "--out") == 0) {
            VAL();
            snprintf(o->out, sizeof o->out, "%s", v);
        } else if (strcmp(a, "--resume") == 0) {
            VAL();
            snprintf(o->resume, sizeof o->resume, "%s", v);
        } else if (strcmp(a, "--log-every") == 0) {
            VAL();
            if (cli_int(cmd, a, v, 1, 2000000000L, &l)) return -1;
            o->log_every = l;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "--profile") == 0) {
            o->profile = 1;
        } else {
            cli_error("train: unknown option '%s' (see catgan train --help)", a);
            return -1;
        }
#undef VAL
    }
    return 0;
}

/* ---- the run directory -------------------------------------------------------------------- */

static int mkdir_p(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int dir_is_empty(const char *path) { return !run_dir_has_entries(path); }

static int prepare_out_dir(struct run_opts *o) {
    if (o->resume[0]) {
        snprintf(o->out, sizeof o->out, "%s", o->resume);
        return 0;
    }
    if (!o->out[0]) {
        char stamp[64];
        time_t t = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
        snprintf(o->out, sizeof o->out, "runs/%s", stamp);
        for (int i = 2; !dir_is_empty(o->out) && i < 1000; i++)
            snprintf(o->out, sizeof o->out, "runs/%s-%d", stamp, i);
    }
    if (!dir_is_empty(o->out)) {
        cli_error("train: --out %s: exists and is not empty (use --resume %s to continue it)",
                  o->out, o->out);
        return -1;
    }
    if (mkdir_p(o->out) != 0) {
        cli_error("train: --out %s: cannot create: %s", o->out, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- progress ----------------------------------------------------------------------------- */

static void fmt_secs(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e7) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void progress(const struct run_state *r, const cg_catgan_terms *t, double eta, int tty,
                     int final_line) {
    char el[32], et[32], score[48] = "";
    fmt_secs(r->seconds, el, sizeof el);
    fmt_secs(eta, et, sizeof et);
    if (r->last.have_eval) {
        const int lab = r->opts.labels > 0;
        const double v = lab ? r->last.test_error : r->last.cluster_accuracy,
                     raw = lab ? r->last.test_error_raw : r->last.cluster_accuracy_raw;
        int len = snprintf(score, sizeof score, " %s %.4f", lab ? "err" : "acc", v);
        if (isfinite(raw)) snprintf(score + len, sizeof score - (size_t)len, " (raw %.4f)", raw);
    }
    char total[32] = "";
    if (r->target_iters > 0) snprintf(total, sizeof total, "/%lld", (long long)r->target_iters);
    /* --json keeps stdout for the one summary line */
    FILE *f = (tty || r->opts.json) ? stderr : stdout;
    fprintf(f, "%sit %lld%s  ep %.2f  %s  eta %s  %.0f img/s  d %.4f  g %.4f  H_X %.4f%s%s",
            tty ? "\r\033[K" : "", (long long)r->iter, total, r->epoch, el, et, r->img_per_s,
            (double)t->d_loss, (double)t->g_loss, (double)t->h_x, score,
            (tty && !final_line) ? "" : "\n");
    fflush(f);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static double eta_of(const struct run_state *r, double t0_session, int64_t it0) {
    double el = cg_seconds() - t0_session;
    int64_t done = r->iter - it0;
    double left = INFINITY;
    if (r->target_iters > 0 && done > 0) left = el / done * (double)(r->target_iters - r->iter);
    if (r->opts.time_s > 0) {
        double tl = r->opts.time_s - el;
        left = tl < left ? tl : left;
    }
    return left;
}

static int finished(const struct run_state *r, double t0_session) {
    if (r->target_iters > 0 && r->iter >= r->target_iters) return 1;
    if (r->opts.time_s > 0 && cg_seconds() - t0_session >= r->opts.time_s) return 1;
    return 0;
}

/* Test hook (tests/dist/test_mpi.c): CATGAN_TEST_KILL_RANK=R kills rank R at iteration 3,
 * the way a crashed node would, to check that the job ends instead of hanging. */
static void maybe_die(const struct run_state *r) {
    static int who = -2;
    if (who == -2) {
        const char *v = getenv("CATGAN_TEST_KILL_RANK");
        who = v && *v ? atoi(v) : -1;
    }
    if (who == cg_dist_rank() && r->iter == 3) {
        fprintf(stderr, "catgan: rank %d: CATGAN_TEST_KILL_RANK: killed at iteration 3\n", who);
        raise(SIGKILL);
    }
}

/* Whether to stop now, agreed by every rank: a signal or a --time budget that one rank sees
 * first must stop all of them at the same iteration, or the others wait for it forever. */
static int should_stop(const struct run_state *r, double t0) {
    int v[2] = {stop_signal, finished(r, t0)};
    if (cg_dist_size() > 1) {
        cg_dist_max_i(v, 2);
        if (v[0] && !stop_signal) stop_signal = v[0];
    }
    return v[0] || v[1];
}

static int train_loop(struct run_state *r) {
    const int tty = isatty(STDERR_FILENO) && !r->opts.quiet;
    const int root = cg_dist_rank() == 0;
    const double t0 = cg_seconds(), sec0 = r->seconds;
    const int64_t it0 = r->iter;
    double step_time = 0, last_draw = 0, data_time = 0;
    if (r->opts.profile && cg_model_profile(r->model, 1) != CG_OK) return CLI_FAILED;
    cg_catgan_terms t = r->last.terms;
    while (!should_stop(r, t0)) {
        maybe_die(r);
        double td = cg_seconds();
        run_fill_batch(r);
        double ts = cg_seconds();
        data_time += ts - td;
        enum cg_status st = cg_model_step(r->model, r->xb, r->opts.labels ? r->xl : NULL,
                                          r->opts.labels ? r->yl : NULL, &t);
        step_time += cg_seconds() - ts;
        if (st != CG_OK) {
            if (tty) fputc('\n', stderr);
            /* every rank sees the same global losses and sums: one of them reports */
            if (root)
                cli_error("train: %s (the checkpoint in %s is the last finite state)",
                          cg_last_error(), r->opts.out);
            return cli_status_exit(st) == CLI_USAGE ? CLI_USAGE : CLI_FAILED;
        }
        r->iter = cg_model_iteration(r->model);
        r->epoch = (double)r->iter * r->opts.batch / r->ds.train.n;
        r->seconds = sec0 + (cg_seconds() - t0);
        r->img_per_s = step_time > 0 ? (double)(r->iter - it0) * r->opts.batch / step_time : 0;
        r->last.terms = t;
        int log_now = r->iter % r->log_every == 0 || finished(r, t0) || stop_signal;
        if (log_now && root) {
            /* the other ranks are already in the next step's sums: end them too */
            if (run_log(r) != 0) cg_dist_abort(CLI_FAILED);
            if (!r->opts.quiet && !tty) progress(r, &t, eta_of(r, t0, it0), 0, 0);
        }
        if (tty && (cg_seconds() - last_draw > 0.1 || log_now)) {
            progress(r, &t, eta_of(r, t0, it0), 1, 0);
            last_draw = cg_seconds();
        }
    }
    if (tty) progress(r, &t, 0, 1, 1);
    if (r->opts.profile && (root || getenv("CATGAN_PROFILE_ALL_RANKS"))) {
        int need = cg_model_profile_report(r->model, data_time, NULL, 0);
        char *buf = malloc((size_t)need + 1);
        if (buf) {
            cg_model_profile_report(r->model, data_time, buf, (size_t)need + 1);
            fputs(buf, stderr);
            free(buf);
        }
    }
    return CLI_OK;
}

/* The worst exit code of any rank, on every rank: a refusal on one ends the job cleanly. */
static int agree(int rc) {
    cg_dist_max_i(&rc, 1);
    return rc;
}

/* Ranks other than 0 would print the same refusal again: their stderr goes quiet while they
 * prepare (they prepare exactly what rank 0 does). Returns the saved descriptor, or -1. */
static int quiet_stderr(void) {
    if (cg_dist_rank() == 0) return -1;
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *null = fopen("/dev/null", "w");
    if (saved >= 0 && null) dup2(fileno(null), STDERR_FILENO);
    if (null) fclose(null);
    return saved;
}

static void restore_stderr(int saved) {
    if (saved < 0) return;
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
}

/* Data parallel set-up: one refusal (B % R), per-rank threads and quiet workers. */
static int dist_setup(struct run_opts *o) {
    const int R = cg_dist_size();
    if (R < 2) return CLI_OK;
    if (!o->resume[0] && o->batch % R != 0) {
        if (cg_dist_rank() == 0)
            cli_error("train: --batch %d: must be a multiple of the %d MPI ranks (each rank "
                      "computes batch/ranks examples)", o->batch, R);
        return CLI_USAGE;
    }
    /* the node's cores are shared by its ranks */
    if (!o->threads) {
        int t = cli_threads_default() / cg_dist_local_size();
        o->threads = t > 0 ? t : 1;
    }
    if (cg_dist_rank() != 0) {
        o->quiet = 1;
        o->json = 0;
    }
    return CLI_OK;
}

int cmd_train(int argc, char **argv) {
    struct run_state r;
    run_state_init(&r);
    if (parse_train(argc, argv, &r.opts) != 0) return CLI_USAGE;
    if (cg_dist_init() != CG_OK) {
        cli_error("train: %s", cg_last_error());
        return CLI_USAGE;
    }
    const int root = cg_dist_rank() == 0;
    int rc = agree(dist_setup(&r.opts));
    if (rc == CLI_OK) {
        cli_init_kernels_or_exit();
        int saved = quiet_stderr();
        rc = run_prepare(&r);   /* data, labelled set, model: everything that can be refused */
        restore_stderr(saved);
        rc = agree(rc);
    }
    if (rc == CLI_OK && root && prepare_out_dir(&r.opts) != 0) rc = CLI_USAGE;
    if (rc == CLI_OK && root) rc = run_open_outputs(&r);
    rc = agree(rc);
    if (rc == CLI_OK) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        char ranks[48] = "";
        if (cg_dist_size() > 1)
            snprintf(ranks, sizeof ranks, "%d MPI ranks x ", cg_dist_size());
        if (!r.opts.quiet)
            fprintf(stderr, "catgan: training %s on %s (K=%d, labels=%d, batch %d, %s%d threads, "
                    "%s) -> %s\n", r.opts.arch, r.opts.data, r.opts.classes, r.opts.labels,
                    r.opts.batch, ranks, r.opts.threads, cg_isa_name(cg_isa_active()),
                    r.opts.out);
        rc = train_loop(&r);
        if (root && (rc == CLI_OK || stop_signal)) {
            if (run_finish(&r) != 0) rc = CLI_FAILED;
        }
        if (rc == CLI_OK && stop_signal) rc = stop_signal == SIGINT ? CLI_SIGINT : CLI_SIGTERM;
    }
    if (rc == CLI_OK && !r.opts.quiet && !r.opts.json)
        printf("done: %lld iterations in %.1f s (%.0f img/s); cluster accuracy %.4f, NMI %.4f%s; "
               "run directory %s\n", (long long)r.iter, r.seconds, r.img_per_s,
               r.last.cluster_accuracy, r.last.nmi,
               r.opts.labels > 0 ? (r.last.test_error_str) : "", r.opts.out);
    if (rc == CLI_OK && r.opts.json) run_print_summary(&r, stdout);
    run_state_free(&r);
    cg_dist_finalize();
    return rc;
}
