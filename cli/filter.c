/*
 * filter.c -- the options that filter the global log ($all), shared by `read-all` and `tail`:
 * --type, --type-prefix, --category, --prefix, --stream, --since, --until and --system. They map
 * one to one onto stele_filter_t, whose conditions the store applies (all must hold).
 */
#include <string.h>

#include "cli.h"

void cli_filter_opts(cli_filter_args_t *fa, cli_opt_t *opts) {
    memset(fa, 0, sizeof(*fa));
    const cli_opt_t list[CLI_FILTER_OPT_COUNT] = {
        {"--type", &fa->type, NULL},         {"--type-prefix", &fa->type_prefix, NULL},
        {"--category", &fa->category, NULL}, {"--prefix", &fa->prefix, NULL},
        {"--stream", &fa->stream, NULL},     {"--since", &fa->since, NULL},
        {"--until", &fa->until, NULL},       {"--system", NULL, &fa->system},
    };
    memcpy(opts, list, sizeof(list));
}

bool cli_filter_given(const cli_filter_args_t *fa) {
    return fa->type != NULL || fa->type_prefix != NULL || fa->category != NULL ||
           fa->prefix != NULL || fa->stream != NULL || fa->since != NULL || fa->until != NULL ||
           fa->system;
}

int cli_filter_build(const cli_ctx_t *ctx, const cli_filter_args_t *fa, stele_filter_t *out) {
    memset(out, 0, sizeof(*out));
    out->type = fa->type;
    out->type_prefix = fa->type_prefix;
    out->category = fa->category;
    out->stream_prefix = fa->prefix;
    out->stream = fa->stream;
    out->include_system = fa->system;
    int status = EXIT_OK;
    if (fa->since != NULL &&
        (status = cli_parse_time(ctx, "--since", fa->since, &out->since_ns)) != EXIT_OK) {
        return status;
    }
    if (fa->until != NULL &&
        (status = cli_parse_time(ctx, "--until", fa->until, &out->until_ns)) != EXIT_OK) {
        return status;
    }
    return EXIT_OK;
}
