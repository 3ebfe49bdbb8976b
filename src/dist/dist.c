/* The MPI world of a data-parallel run (MPI 3.1 standard: MPI_Allreduce, MPI_Iallreduce), or
 * its one-rank stub when built without MPI or started without a launcher (docs/mpi.md). The
 * world is process state, as MPI itself is: one job per process. */
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"

#ifdef CG_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_local = 1;
static double g_seconds = 0.0;

int cg_dist_built(void) {
#ifdef CG_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int cg_dist_rank(void) { return g_rank; }
int cg_dist_size(void) { return g_size; }
int cg_dist_local_size(void) { return g_local; }
double cg_dist_seconds(void) { return g_seconds; }

/* Whether a launcher started us: Open MPI's mpirun, PMIx (srun --mpi=pmix, Open MPI 4's own
 * launcher) or PMI-1/2 (srun --mpi=pmi2, MPICH's hydra). */
static int launched(void) {
    const char *force = getenv("CATGAN_MPI");
    if (force && force[0]) return strcmp(force, "0") != 0;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

#ifdef CG_HAVE_MPI

/* Blocking collectives and gradient sums on separate communicators, so neither kind's order
 * has to be reasoned about against the other's. */
static MPI_Comm g_comm = MPI_COMM_NULL, g_grad_comm = MPI_COMM_NULL;
static int g_joined = 0;

enum cg_status cg_dist_init(void) {
    if (g_joined || !launched()) return CG_OK;
    int have = 0;
    MPI_Initialized(&have);
    if (!have) {
        int provided;
        /* FUNNELED: OpenMP threads compute, only the main thread talks to MPI */
        MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    }
    /* the default already, but a dead rank must end the job, never leave it waiting */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_grad_comm);
    MPI_Comm_rank(g_comm, &g_rank);
    MPI_Comm_size(g_comm, &g_size);
    MPI_Comm node;
    MPI_Comm_split_type(g_comm, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g_local);
    MPI_Comm_free(&node);
    g_joined = 1;
    return CG_OK;
}

void cg_dist_finalize(void) {
    if (!g_joined) return;
    MPI_Comm_free(&g_grad_comm);
    MPI_Comm_free(&g_comm);
    MPI_Finalize();
    g_joined = 0;
    g_rank = 0;
    g_size = g_local = 1;
}

_Noreturn void cg_dist_abort(int code) {
    if (g_joined) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static void allreduce(void *x, int n, MPI_Datatype t, MPI_Op op) {
    if (g_size < 2 || n < 1) return;
    double t0 = cg_seconds();
    MPI_Allreduce(MPI_IN_PLACE, x, n, t, op, g_comm);
    g_seconds += cg_seconds() - t0;
}

void cg_dist_sum_d(double *x, int n) { allreduce(x, n, MPI_DOUBLE, MPI_SUM); }
void cg_dist_max_d(double *x, int n) { allreduce(x, n, MPI_DOUBLE, MPI_MAX); }
void cg_dist_max_i(int *x, int n) { allreduce(x, n, MPI_INT, MPI_MAX); }

struct cg_dist_reqs { int cap, used; MPI_Request req[]; };

/* MPI counts are int: longer blocks go out in pieces of this many floats. */
#define PIECE ((size_t)1 << 30)

struct cg_dist_reqs *cg_dist_reqs_create(int cap) {
    if (cap < 1) cap = 1;
    struct cg_dist_reqs *r = malloc(sizeof *r + (size_t)cap * sizeof(MPI_Request));
    if (!r) return NULL;
    r->cap = cap;
    r->used = 0;
    for (int i = 0; i < cap; i++) r->req[i] = MPI_REQUEST_NULL;
    return r;
}

void cg_dist_reqs_destroy(struct cg_dist_reqs *r) { free(r); }

void cg_dist_isum_f(struct cg_dist_reqs *r, float *x, size_t n) {
    if (g_size < 2) return;
    for (size_t off = 0; off < n; off += PIECE) {
        size_t len = n - off < PIECE ? n - off : PIECE;
        if (r->used == r->cap) {
            /* more pieces than planned: finish the earlier ones first (still correct) */
            cg_dist_wait(r);
        }
        MPI_Iallreduce(MPI_IN_PLACE, x + off, (int)len, MPI_FLOAT, MPI_SUM, g_grad_comm,
                       &r->req[r->used++]);
    }
}

void cg_dist_poke(struct cg_dist_reqs *r) {
    if (g_size < 2 || r->used == 0) return;
    int done;
    MPI_Testall(r->used, r->req, &done, MPI_STATUSES_IGNORE);
}

double cg_dist_wait(struct cg_dist_reqs *r) {
    if (g_size < 2 || r->used == 0) return 0.0;
    double t0 = cg_seconds();
    MPI_Waitall(r->used, r->req, MPI_STATUSES_IGNORE);
    r->used = 0;
    double t = cg_seconds() - t0;
    g_seconds += t;
    return t;
}

#else /* no MPI in this build: rank 0 of 1 */

/* Ranks the launcher announced: a job of several ranks must not run as copies of one. */
static long announced_ranks(void) {
    const char *v[] = {getenv("OMPI_COMM_WORLD_SIZE"), getenv("PMI_SIZE"), getenv("SLURM_NTASKS")};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] && v[i][0]) return strtol(v[i], NULL, 10);
    return 1;
}

enum cg_status cg_dist_init(void) {
    const char *force = getenv("CATGAN_MPI");
    if ((force && strcmp(force, "1") == 0) || (launched() && announced_ranks() > 1))
        return CG_FAIL(CG_ERR_INVALID_ARG, "started as an MPI job (or CATGAN_MPI=1), but this "
                       "catgan was built without MPI (meson setup -Dmpi=enabled)");
    return CG_OK;
}

void cg_dist_finalize(void) {}
_Noreturn void cg_dist_abort(int code) { exit(code); }
void cg_dist_sum_d(double *x, int n) { (void)x; (void)n; }
void cg_dist_max_d(double *x, int n) { (void)x; (void)n; }
void cg_dist_max_i(int *x, int n) { (void)x; (void)n; }

struct cg_dist_reqs { int cap; };

struct cg_dist_reqs *cg_dist_reqs_create(int cap) {
    struct cg_dist_reqs *r = malloc(sizeof *r);
    if (r) r->cap = cap;
    return r;
}

void cg_dist_reqs_destroy(struct cg_dist_reqs *r) { free(r); }
void cg_dist_isum_f(struct cg_dist_reqs *r, float *x, size_t n) { (void)r; (void)x; (void)n; }
void cg_dist_poke(struct cg_dist_reqs *r) { (void)r; }
double cg_dist_wait(struct cg_dist_reqs *r) { (void)r; return 0.0; }

#endif
