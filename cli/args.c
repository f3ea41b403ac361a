/*
 * args.c -- option parsing for the commands of the `stele` tool.
 *
 * Every command declares a small table of the options it accepts; this file walks argv against
 * it (options in any order, "--name VALUE" or "--name=VALUE", "--" ends options) and turns option
 * values into numbers, expected versions, UUIDs and times. All of it runs before the store is
 * opened, so a bad argument never touches the store and always exits with status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_opt_t *find_opt(const cli_opt_t *opts, size_t opt_count, const char *name,
                                 size_t name_len) {
    for (size_t i = 0; i < opt_count; i++) {
        if (strlen(opts[i].name) == name_len && memcmp(opts[i].name, name, name_len) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

int cli_args_parse(const cli_ctx_t *ctx, int argc, char **argv, const cli_opt_t *opts,
                   size_t opt_count, const char **pos, size_t max_pos, size_t *npos) {
    bool options_done = false;
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        bool is_option = !options_done && arg[0] == '-' && arg[1] != '\0';
        if (!is_option) {
            if (*npos >= max_pos) {
                return cli_usage_errorf(ctx, "unexpected argument '%s'", arg);
            }
            pos[(*npos)++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cli_print_usage(stdout, ctx->command);
            return -1;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const cli_opt_t *opt = find_opt(opts, opt_count, arg, name_len);
        if (opt == NULL) {
            return cli_usage_errorf(ctx, "unknown option '%.*s'", (int)name_len, arg);
        }
        if (opt->flag != NULL) {
            if (eq != NULL) {
                return cli_usage_errorf(ctx, "option '%s' takes no value", opt->name);
            }
            *opt->flag = true;
            continue;
        }
        if (eq != NULL) {
            *opt->value = eq + 1;
        } else if (i + 1 < argc) {
            *opt->value = argv[++i];
        } else {
            return cli_usage_errorf(ctx, "option '%s' needs a value", opt->name);
        }
    }
    return EXIT_OK;
}

int cli_parse_u64(const cli_ctx_t *ctx, const char *flag, const char *text, uint64_t *out) {
    if (text[0] < '0' || text[0] > '9') {
        return cli_usage_errorf(ctx, "%s: '%s' is not a non-negative integer", flag, text);
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return cli_usage_errorf(ctx, "%s: '%s' is not a non-negative integer", flag, text);
    }
    *out = (uint64_t)v;
    return EXIT_OK;
}

int cli_parse_i64(const cli_ctx_t *ctx, const char *flag, const char *text, int64_t *out) {
    const char *digits = text[0] == '-' ? text + 1 : text;
    if (digits[0] < '0' || digits[0] > '9') {
        return cli_usage_errorf(ctx, "%s: '%s' is not an integer", flag, text);
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0') {
        return cli_usage_errorf(ctx, "%s: '%s' is not an integer", flag, text);
    }
    *out = (int64_t)v;
    return EXIT_OK;
}

int cli_parse_expect(const cli_ctx_t *ctx, const char *flag, const char *text, int64_t *out) {
    if (strcmp(text, "any") == 0) {
        *out = STELE_EXPECT_ANY;
        return EXIT_OK;
    }
    if (strcmp(text, "no-stream") == 0 || strcmp(text, "no_stream") == 0) {
        *out = STELE_EXPECT_NO_STREAM;
        return EXIT_OK;
    }
    if (strcmp(text, "exists") == 0 || strcmp(text, "stream-exists") == 0) {
        *out = STELE_EXPECT_STREAM_EXISTS;
        return EXIT_OK;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || v > (unsigned long long)INT64_MAX) {
        return cli_usage_errorf(ctx, "%s: '%s' is not any, no-stream, exists or a version", flag,
                                text);
    }
    *out = (int64_t)v;
    return EXIT_OK;
}

int cli_parse_uuid(const cli_ctx_t *ctx, const char *flag, const char *text, stele_uuid_t *out) {
    if (stele_uuid_parse(text, out) != 0) {
        return cli_usage_errorf(
            ctx, "%s: '%s' is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", flag, text);
    }
    return EXIT_OK;
}

int cli_parse_time(const cli_ctx_t *ctx, const char *flag, const char *text, int64_t *out) {
    if (stele_time_parse(text, out) != 0) {
        return cli_usage_errorf(ctx, "%s: '%s' is not an RFC 3339 time or a date", flag, text);
    }
    return EXIT_OK;
}

int cli_read_file(const cli_ctx_t *ctx, const char *path, char **buf, size_t *len) {
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        cli_errorf(ctx, "%s: %s", path, strerror(errno));
        return EXIT_ERROR;
    }
    size_t cap = 64 * 1024, used = 0;
    char *data = malloc(cap);
    int status = EXIT_OK;
    while (data != NULL) {
        if (used + 1 >= cap) {
            char *bigger = realloc(data, cap * 2);
            if (bigger == NULL) {
                break;
            }
            data = bigger;
            cap *= 2;
        }
        size_t n = fread(data + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0) {
            break;
        }
    }
    if (data == NULL || used + 1 >= cap) {
        cli_errorf(ctx, "%s: out of memory", path);
        status = EXIT_ERROR;
    } else if (ferror(f)) {
        cli_errorf(ctx, "%s: read error", path);
        status = EXIT_ERROR;
    }
    if (!is_stdin) {
        fclose(f);
    }
    if (status != EXIT_OK) {
        free(data);
        return status;
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    return EXIT_OK;
}
