/* The catgan command (CONTRACT.md): train | eval | classify | sample. The only code that exits. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static const char HELP[] =
    "usage: catgan <command> [options]\n"
    "Categorical GANs (Springenberg, ICLR 2016) for clustering and semi-supervised\n"
    "classification of images, on CPUs.\n\n"
    "commands:\n"
    "  train     train a CatGAN; writes a run directory (catgan train --help)\n"
    "  eval      --model FILE --data SPEC [--json]: test error, cluster accuracy, NMI\n"
    "  classify  --model FILE IMAGE... [--json]: the class of each PNG image\n"
    "  sample    --model FILE [--n 64] [--seed S] --out FILE.png: images from G\n\n"
    "  catgan --version          the version\n"
    "  catgan CMD --help         the options of a command\n"
    "environment: CG_ISA=ref|avx2|avx512 caps the instruction set; OMP_WAIT_POLICY is\n"
    "'passive' unless set (busy-waiting threads collapse on shared cores).\n";

int main(int argc, char **argv) {
    /* Passive waiting: with another process on one of two cores, spinning OpenMP barriers
     * make each parallel region hundreds of times slower (STACK.md section 4; measured 16x on
     * pi-mnist). libgomp reads the variable when it loads, before main, so setting it needs
     * a re-exec; a user's own setting is kept. */
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv);   /* returns only on failure: go on spinning */
    if (argc < 2) {
        fputs(HELP, stderr);
        return CLI_USAGE;
    }
    /* Past a file-size limit a write must fail with EFBIG (reported, exit 1, the previous
     * checkpoint kept), not kill the process half-way through a run directory. */
    signal(SIGXFSZ, SIG_IGN);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(HELP, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("catgan %s\n", cg_version());
        return CLI_OK;
    }
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "classify") == 0) return cmd_classify(argc - 2, argv + 2);
    if (strcmp(cmd, "sample") == 0) return cmd_sample(argc - 2, argv + 2);
    cli_error("unknown command '%s' (see catgan --help)", cmd);
    return CLI_USAGE;
}
