/*
 * remote_admin.c -- the stream catalogue and store-wide commands through the server: `meta`,
 * `delete`, `init` (checks that the server answers: its store always exists), `stats`, `digest`
 * (from GET /info), `verify` and `reindex` (POST /admin/...).
 */
#include <string.h>

#include "remote.h"

int remote_init(cli_ctx_t *ctx) {
    remote_reply_t reply;
    int status = remote_call(ctx, "GET", "/health", NULL, 0, &reply);
    status = remote_report(ctx, &reply);
    remote_reply_free(&reply);
    return status;
}

int remote_meta(cli_ctx_t *ctx, const char *stream, const char *set_json, int64_t expect) {
    json_out_t path = {0};
    remote_stream_path(&path, stream, "/metadata");
    remote_reply_t reply;
    int status;
    if (set_json != NULL) {
        json_out_t expect_text = {0};
        remote_expect_text(&expect_text, expect, false);
        http_query_add(&path, "expected_version", expect_text.data);
        jout_free(&expect_text);
        status = remote_call_path(ctx, "PUT", &path, set_json, strlen(set_json), &reply);
    } else {
        status = remote_call_path(ctx, "GET", &path, NULL, 0, &reply);
    }
    if (status != EXIT_OK) {
        status = remote_report(ctx, &reply);
    } else if (set_json != NULL) {
        json_t *answer =
            reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
        json_t *version = json_object_get(answer, "metadata_version");
        json_t *o = json_integer_value(version) >= 0 && json_is_integer(version)
                        ? json_pack("{s:s, s:O}", "stream", stream, "metadata_version", version)
                        : NULL;
        json_decref(answer);
        if (o == NULL) {
            cli_errorf(ctx, "the server's answer holds no metadata_version");
            status = EXIT_ERROR;
        } else {
            status = cli_print_json(o);
        }
    } else {
        json_t *check = reply.body.data != NULL
                            ? json_loadb(reply.body.data, reply.body.len,
                                         JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL)
                            : NULL;
        if (!json_is_object(check)) {
            cli_errorf(ctx, "the server's metadata is not a JSON object");
            status = EXIT_ERROR;
        } else {
            cli_write_compact_json(stdout, reply.body.data, reply.body.len);
            fputc('\n', stdout);
        }
        json_decref(check);
    }
    remote_reply_free(&reply);
    return status;
}

int remote_delete(cli_ctx_t *ctx, const char *stream, int64_t expect, bool tombstone) {
    json_out_t path = {0}, expect_text = {0};
    remote_stream_path(&path, stream, "");
    remote_expect_text(&expect_text, expect, false);
    http_query_add(&path, "expected_version", expect_text.data);
    if (tombstone) {
        http_query_add(&path, "tombstone", "true");
    }
    jout_free(&expect_text);
    remote_reply_t reply;
    int status = remote_call_path(ctx, "DELETE", &path, NULL, 0, &reply);
    if (status != EXIT_OK) {
        status = remote_report(ctx, &reply);
    } else {
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "stream", json_string(stream));
            json_object_set_new(o, "state", json_string(tombstone ? "tombstoned" : "deleted"));
        }
        status = cli_print_json(o);
    }
    remote_reply_free(&reply);
    return status;
}

/* GET or POST path and print the keys of the object it answers. */
static int print_answer(cli_ctx_t *ctx, const char *method, const char *path,
                        const char *const *keys, size_t n) {
    remote_reply_t reply;
    int status = remote_call(ctx, method, path, NULL, 0, &reply);
    if (status == EXIT_OK) {
        status = remote_print_object(ctx, reply.body.data, reply.body.len, keys, n);
    } else {
        status = remote_report(ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}

int remote_stats(cli_ctx_t *ctx) {
    static const char *const keys[] = {
        "head_position", "streams", "segments", "log_bytes", "index_entries", "index_tables",
        "appends",       "syncs",   "commits",  "poisoned",  "durability",
    };
    return print_answer(ctx, "GET", "/stats", keys, sizeof(keys) / sizeof(keys[0]));
}

int remote_digest(cli_ctx_t *ctx) {
    remote_reply_t reply;
    int status = remote_call(ctx, "GET", "/info", NULL, 0, &reply);
    if (status != EXIT_OK) {
        status = remote_report(ctx, &reply);
        remote_reply_free(&reply);
        return status;
    }
    json_t *root =
        reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
    remote_reply_free(&reply);
    json_t *position = json_object_get(root, "head_position");
    json_t *hash = json_object_get(root, "head_hash");
    if (!json_is_integer(position) || !json_is_string(hash)) {
        cli_errorf(ctx, "the server's /info has no head_position and head_hash");
        json_decref(root);
        return EXIT_ERROR;
    }
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set(o, "position", position);
        json_object_set(o, "hash", hash);
    }
    json_decref(root);
    return cli_print_json(o);
}

int remote_verify(cli_ctx_t *ctx) {
    static const char *const keys[] = {
        "ok",    "events",       "commits",     "segments",   "bytes",
        "error", "bad_position", "bad_segment", "bad_offset", "message",
    };
    remote_reply_t reply;
    int status = remote_call(ctx, "POST", "/admin/verify", NULL, 0, &reply);
    json_t *root =
        reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
    json_t *ok = json_object_get(root, "ok");
    if (json_is_boolean(ok)) {
        /* A report, whatever the status: print it; a corrupt store exits 4 as in local mode. */
        status = remote_print_object(ctx, reply.body.data, reply.body.len, keys,
                                     sizeof(keys) / sizeof(keys[0]));
        if (json_is_false(ok)) {
            const char *error = json_string_value(json_object_get(root, "error"));
            const char *message = json_string_value(json_object_get(root, "message"));
            cli_errorf(ctx, "%s: %s", error != NULL ? error : "corrupt data",
                       message != NULL ? message : "");
            status = EXIT_ERROR;
        }
    } else if (status != EXIT_OK) {
        remote_report(ctx, &reply);
        status = EXIT_ERROR;
    } else {
        cli_errorf(ctx, "the server's verify report has no \"ok\"");
        status = EXIT_ERROR;
    }
    json_decref(root);
    remote_reply_free(&reply);
    return status;
}

int remote_reindex(cli_ctx_t *ctx) {
    remote_reply_t reply;
    int status = remote_call(ctx, "POST", "/admin/reindex", NULL, 0, &reply);
    if (status != EXIT_OK) {
        remote_report(ctx, &reply);
        status = EXIT_ERROR;
    }
    remote_reply_free(&reply);
    return status;
}
