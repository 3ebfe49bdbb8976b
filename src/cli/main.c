/* The catgan command (CONTRACT.md). Placeholder until the trainer lands. */
#include <stdio.h>
#include <string.h>

#include "catgan.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("catgan %s\n", cg_version());
        return 0;
    }
    fprintf(stderr, "catgan: no command yet\n");
    return 2;
}
