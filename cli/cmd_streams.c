/*
 * cmd_streams.c -- the stream catalogue: `stele streams` (list, paged by name), `stele info`,
 * `stele meta` (get or replace a stream's metadata) and `stele delete` (soft or tombstone). Each
 * is written once over the backend (backend.h): the local store, or the server at --url.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* Print one stream's info line (the reference is stolen). */
static int print_info(void *arg, json_t *info) {
    (void)arg;
    return cli_print_json(info);
}

int cmd_streams(cli_ctx_t *ctx, int argc, char **argv) {
    const char *prefix = NULL, *after = NULL, *limit_text = NULL;
    bool all = false;
    const cli_opt_t opts[] = {
        {"--prefix", &prefix, NULL},
        {"--after", &after, NULL},
        {"--limit", &limit_text, NULL},
        {"--all", NULL, &all},
    };
    const char *pos[1];
    size_t npos = 0;
    int status =
        cli_args_parse(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 0, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    uint64_t limit = 0;
    if (limit_text != NULL && (status = cli_parse_u64(ctx, "--limit", limit_text, &limit)) != 0) {
        return status;
    }
    if (limit > SIZE_MAX) {
        return cli_usage_errorf(ctx, "--limit: '%s' is too large", limit_text);
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    status = b.ops->streams(&b, prefix, after, limit, all, print_info, NULL);
    return cli_backend_close(&b, status);
}

/* Parse the single STREAM positional (plus an optional second one when max_pos is 2). */
static int parse_stream_args(cli_ctx_t *ctx, int argc, char **argv, const cli_opt_t *opts,
                             size_t opt_count, const char **pos, size_t max_pos, size_t *npos) {
    int status = cli_args_parse(ctx, argc, argv, opts, opt_count, pos, max_pos, npos);
    if (status != EXIT_OK) {
        return status;
    }
    if (*npos == 0) {
        return cli_usage_errorf(ctx, "missing STREAM");
    }
    return EXIT_OK;
}

int cmd_info(cli_ctx_t *ctx, int argc, char **argv) {
    const char *pos[1];
    size_t npos = 0;
    int status = parse_stream_args(ctx, argc, argv, NULL, 0, pos, 1, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    json_t *info = NULL;
    if ((status = b.ops->info(&b, pos[0], &info)) == EXIT_OK) {
        status = cli_print_json(info);
    }
    return cli_backend_close(&b, status);
}

int cmd_meta(cli_ctx_t *ctx, int argc, char **argv) {
    const char *expect_text = NULL;
    const cli_opt_t opts[] = {{"--expect", &expect_text, NULL}};
    const char *pos[2];
    size_t npos = 0;
    int status =
        parse_stream_args(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 2, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    bool set = npos == 2;
    /* --expect is checked against the metadata version (`stele info`: metadata_version). */
    int64_t expect = STELE_EXPECT_ANY;
    if (expect_text != NULL && !set) {
        return cli_usage_errorf(ctx, "--expect goes with a new metadata JSON");
    }
    if (expect_text != NULL &&
        (status = cli_parse_expect(ctx, "--expect", expect_text, &expect)) != EXIT_OK) {
        return status;
    }
    if (set && (status = cli_check_json(ctx, "metadata", pos[1], strlen(pos[1]), true)) != 0) {
        return status;
    }
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, set ? CLI_OPEN_WRITE : CLI_OPEN_READ, &b)) != EXIT_OK) {
        return status;
    }
    if (set) {
        int64_t version = -1;
        /* The name is checked before the store is opened, and so created. */
        if ((status = b.ops->check_name(&b, pos[0])) == EXIT_OK &&
            (status = b.ops->meta_set(&b, pos[0], pos[1], expect, &version)) == EXIT_OK) {
            status = cli_print_json(
                json_pack("{s:s, s:I}", "stream", pos[0], "metadata_version", (json_int_t)version));
        }
    } else {
        char *json = NULL;
        if ((status = b.ops->meta_get(&b, pos[0], &json)) == EXIT_OK) {
            cli_write_compact_json(stdout, json, strlen(json));
            fputc('\n', stdout);
            free(json);
        }
    }
    return cli_backend_close(&b, status);
}

int cmd_delete(cli_ctx_t *ctx, int argc, char **argv) {
    const char *expect_text = NULL;
    bool tombstone = false;
    const cli_opt_t opts[] = {
        {"--expect", &expect_text, NULL},
        {"--tombstone", NULL, &tombstone},
    };
    const char *pos[1];
    size_t npos = 0;
    int status =
        parse_stream_args(ctx, argc, argv, opts, sizeof(opts) / sizeof(opts[0]), pos, 1, &npos);
    if (status != EXIT_OK) {
        return status < 0 ? EXIT_OK : status;
    }
    int64_t expect = STELE_EXPECT_ANY;
    if (expect_text != NULL &&
        (status = cli_parse_expect(ctx, "--expect", expect_text, &expect)) != EXIT_OK) {
        return status;
    }
    /* A store that does not exist holds no stream to delete: never create one. */
    cli_backend_t b;
    if ((status = cli_backend_open(ctx, CLI_OPEN_MAINTAIN, &b)) != EXIT_OK) {
        return status;
    }
    if ((status = b.ops->delete_stream(&b, pos[0], expect, tombstone)) == EXIT_OK) {
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "stream", json_string(pos[0]));
            json_object_set_new(o, "state", json_string(tombstone ? "tombstoned" : "deleted"));
        }
        status = cli_print_json(o);
    }
    return cli_backend_close(&b, status);
}
