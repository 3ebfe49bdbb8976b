/* Data-parallel training over MPI (docs/mpi.md): the process-wide world of ranks and the few
 * collectives the model needs. Built without MPI (-Dmpi=disabled), or in a process that no MPI
 * launcher started, the world is rank 0 of 1 and every collective returns at once. */
#ifndef CG_DIST_DIST_H
#define CG_DIST_DIST_H

#include <stddef.h>

#include "core/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build has MPI (-Dmpi=enabled, or auto with Open MPI found). */
int cg_dist_built(void);
/* Joins the MPI job when an MPI launcher started this process (mpirun, srun: OMPI_COMM_WORLD_
 * SIZE, PMIX_RANK or PMI_RANK in the environment), or when CATGAN_MPI=1; CATGAN_MPI=0 never
 * joins. MPI_THREAD_FUNNELED: only the thread that calls this makes MPI calls. Errors are
 * fatal for the job (MPI_ERRORS_ARE_FATAL): a dead rank ends every rank instead of leaving
 * them blocked. Returns CG_ERR_INVALID_ARG when CATGAN_MPI=1 and the build has no MPI. */
enum cg_status cg_dist_init(void);
/* Leaves the job (MPI_Finalize) if cg_dist_init joined one; safe to call when it did not. */
void cg_dist_finalize(void);
/* Ends every rank of the job with status code (MPI_Abort); a plain exit without MPI. */
_Noreturn void cg_dist_abort(int code);
int cg_dist_rank(void);          /* 0 when not distributed */
int cg_dist_size(void);          /* 1 when not distributed */
int cg_dist_local_size(void);    /* ranks on this node (1 when not distributed) */

/* Blocking element-wise sums / maxima over the ranks, in place (n >= 0). */
void cg_dist_sum_d(double *x, int n);
void cg_dist_max_d(double *x, int n);
void cg_dist_max_i(int *x, int n);
/* Seconds spent inside the blocking collectives and cg_dist_wait since the process started:
 * the time ranks wait for each other and for the network. */
double cg_dist_seconds(void);

/* Non-blocking gradient sums: up to cap in flight at once, started in order, all completed by
 * cg_dist_wait. Created once (no allocation per step). */
struct cg_dist_reqs;
struct cg_dist_reqs *cg_dist_reqs_create(int cap);   /* NULL when out of memory */
void cg_dist_reqs_destroy(struct cg_dist_reqs *r);
/* Starts x[0..n) += the other ranks' x (MPI_Iallreduce in place). x must not be touched until
 * cg_dist_wait returns. With one rank it does nothing. */
void cg_dist_isum_f(struct cg_dist_reqs *r, float *x, size_t n);
/* Lets the started sums progress (Open MPI moves non-blocking collectives inside MPI calls). */
void cg_dist_poke(struct cg_dist_reqs *r);
/* Completes every started sum; returns the seconds it waited. */
double cg_dist_wait(struct cg_dist_reqs *r);

#ifdef __cplusplus
}
#endif
#endif
