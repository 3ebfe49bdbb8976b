/* libFuzzer harness for the command-line parsing of src/cli: the option parsers of train
 * (parse_train) and of eval/classify/sample (parse), both static and reached by including
 * their files, the value parsers
 * cli_int/cli_u64/cli_float and the checkpoint-metadata readers json_get_str/json_get_num.
 * Input: words separated by '\n' (argv for parse_train and the value parsers); the whole input
 * is also the JSON text. Nothing here runs a command: the parsers only fill their structs. */
#include "../src/cli/commands.c"
#include "../src/cli/train.c"

#define MAX_WORDS 64

static char text[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= sizeof text) return 0;
    memcpy(text, data, size);
    text[size] = 0;

    /* the metadata readers see the text up to its first NUL, as they do a checkpoint's */
    static const char *const keys[] = {"data", "arch", "classes", "labels", "batch", "seed",
                                       "lambda", "lr", "lr_g", "beta1", "seconds", "", "\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char out[16];
        double v;
        if (json_get_str(text, keys[i], out, sizeof out) == 0 && !memchr(out, 0, sizeof out))
            abort();
        json_get_str(text, keys[i], out, 1);
        json_get_num(text, keys[i], &v);
    }

    /* argv: words at '\n' (a NUL inside a word just ends it, as it would in a real argv) */
    char copy[sizeof text];
    memcpy(copy, data, size);
    copy[size] = 0;
    char *argv[MAX_WORDS + 1];
    int argc = 0;
    for (char *p = copy; argc < MAX_WORDS;) {
        char *nl = memchr(p, '\n', (size_t)(copy + size - p));
        if (nl) *nl = 0;
        /* --help prints the usage and exits by design: not a parser input */
        if (strcmp(p, "--help") != 0 && strcmp(p, "-h") != 0) argv[argc++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    argv[argc] = NULL;

    struct run_state r;
    run_state_init(&r);
    if (parse_train(argc, argv, &r.opts) == 0) {
        /* what the parser promises about accepted options (ranges of train.c) */
        const struct run_opts *o = &r.opts;
        if (!memchr(o->data, 0, sizeof o->data) || !memchr(o->out, 0, sizeof o->out) ||
            !memchr(o->resume, 0, sizeof o->resume) || !memchr(o->arch, 0, sizeof o->arch))
            abort();
        if (o->batch && o->batch < 2) abort();
        if (o->threads < 0 || o->threads > 1024 || !(o->lr >= 0) || !(o->beta1 < 1.0)) abort();
    }
    run_state_free(&r);

    static const char *const cmds[] = {"eval", "classify", "sample"};
    static const char *const helps[] = {EVAL_HELP, CLASSIFY_HELP, SAMPLE_HELP};
    for (int k = 0; k < 3; k++) {
        struct common c = {0};
        const char *pos[MAX_WORDS + 1];
        int npos = 0;
        if (parse(cmds[k], helps[k], argc, argv, &c, k == 1 ? pos : NULL, &npos) == 0) {
            if (!c.model || npos > argc || c.threads < 0 || c.threads > 1024 || c.n < 0 ||
                c.n > 4096 || (k == 1 ? 0 : npos != 0))
                abort();
        }
    }

    for (int i = 0; i < argc; i++) {
        long l;
        uint64_t u;
        double d;
        if (cli_int("fuzz", "--n", argv[i], -5, 7, &l) == 0 && (l < -5 || l > 7)) abort();
        if (cli_float("fuzz", "--x", argv[i], 0, 1, &d) == 0 && !(d >= 0 && d <= 1)) abort();
        cli_u64("fuzz", "--u", argv[i], &u);
    }
    return 0;
}
