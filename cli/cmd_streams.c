/*
 * cmd_streams.c -- the stream catalogue: `stele streams` (list, paged by name), `stele info`,
 * `stele meta` (get or replace a stream's metadata) and `stele delete` (soft or tombstone).
 */
#include <string.h>

#include "cli.h"
#include "remote.h"

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
    if (ctx->url != NULL) {
        return remote_streams(ctx, prefix, after, limit, all);
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    stele_stream_list_t *list = NULL;
    int rc = stele_stream_list(store, prefix, after, (size_t)limit, all, &list);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        size_t count = stele_stream_list_count(list);
        for (size_t i = 0; i < count && status == EXIT_OK; i++) {
            status = cli_print_json(info_json(stele_stream_list_get(list, i)));
        }
        stele_stream_list_free(list);
    }
    return cli_store_close(ctx, store, status);
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
    if (ctx->url != NULL) {
        return remote_info(ctx, pos[0]);
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    stele_stream_info_t info = {.struct_size = sizeof info};
    int rc = stele_stream_info(store, pos[0], &info);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        info.name = pos[0];
        status = cli_print_json(info_json(&info));
    }
    return cli_store_close(ctx, store, status);
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
    if (ctx->url != NULL) {
        return remote_meta(ctx, pos[0], set ? pos[1] : NULL, expect);
    }
    int rc = set ? stele_stream_name_check(pos[0]) : 0;
    if (rc != 0) {
        return cli_fail(ctx, rc); /* before the store is opened, and so created */
    }
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, set, &store)) != EXIT_OK) {
        return status;
    }
    if (set) {
        int64_t version = -1;
        rc = stele_stream_metadata_set_expect(store, pos[0], pos[1], expect, &version);
        if (rc != 0) {
            status = cli_fail(ctx, rc);
        } else {
            status = cli_print_json(
                json_pack("{s:s, s:I}", "stream", pos[0], "metadata_version", (json_int_t)version));
        }
    } else {
        char *json = NULL;
        rc = stele_stream_metadata_get(store, pos[0], &json);
        if (rc != 0) {
            status = cli_fail(ctx, rc);
        } else {
            cli_write_compact_json(stdout, json, strlen(json));
            fputc('\n', stdout);
            stele_free(json);
        }
    }
    return cli_store_close(ctx, store, status);
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
    if (ctx->url != NULL) {
        return remote_delete(ctx, pos[0], expect, tombstone);
    }
    /* A store that does not exist holds no stream to delete: never create one. */
    stele_store_t *store = NULL;
    if ((status = cli_store_open(ctx, false, &store)) != EXIT_OK) {
        return status;
    }
    int rc = stele_stream_delete(store, pos[0], expect, tombstone);
    if (rc != 0) {
        status = cli_fail(ctx, rc);
    } else {
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "stream", json_string(pos[0]));
            json_object_set_new(o, "state", json_string(tombstone ? "tombstoned" : "deleted"));
        }
        status = cli_print_json(o);
    }
    return cli_store_close(ctx, store, status);
}
