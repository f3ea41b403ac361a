/*
 * remote_append.c -- writing through the server: `append` (one event or a file, one request so
 * that all are written or none) and the two writes of `import` (a run of one stream's events,
 * and the replay of a system event: metadata or a deletion).
 */
#include <stdlib.h>
#include <string.h>

#include "remote.h"

static const char *const append_keys[] = {
    "stream", "first_version", "last_version", "first_position", "last_position", "idempotent",
};

/* POST the events; the reply is the caller's to free. */
static int post_events(cli_ctx_t *ctx, const char *stream, int64_t expect,
                       const stele_event_in_t *events, size_t count, remote_reply_t *reply) {
    json_out_t body = {0}, path = {0};
    remote_append_body(&body, expect, events, count);
    remote_stream_path(&path, stream, "");
    int status;
    if (body.failed || path.failed) {
        memset(reply, 0, sizeof(*reply));
        reply->exit_status = status = EXIT_ERROR;
        snprintf(reply->message, sizeof(reply->message), "out of memory");
    } else {
        status = remote_call(ctx, "POST", path.data, body.data, body.len, reply);
    }
    jout_free(&body);
    jout_free(&path);
    return status;
}

int remote_append(cli_ctx_t *ctx, const char *stream, int64_t expect,
                  const stele_event_in_t *events, size_t count, json_t **result) {
    remote_reply_t reply;
    int status = post_events(ctx, stream, expect, events, count, &reply);
    if (status == EXIT_OK) {
        status = remote_pick_object(ctx, reply.body.data, reply.body.len, append_keys,
                                    sizeof(append_keys) / sizeof(append_keys[0]), result);
    } else {
        status = remote_report(ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}

int remote_import_run(cli_ctx_t *ctx, const char *source, const char *stream, int64_t expect,
                      const stele_event_in_t *events, size_t count, uint64_t first_line,
                      uint64_t last_line, bool *idempotent) {
    remote_reply_t reply;
    int status = post_events(ctx, stream, expect, events, count, &reply);
    if (status == EXIT_CONFLICT && expect != STELE_EXPECT_ANY) {
        /* The target stream has another history: append at its end. */
        remote_reply_free(&reply);
        status = post_events(ctx, stream, STELE_EXPECT_ANY, events, count, &reply);
    }
    if (status != EXIT_OK) {
        cli_errorf(ctx, "%s lines %llu-%llu (stream %s): %s", source,
                   (unsigned long long)first_line, (unsigned long long)last_line, stream,
                   reply.message);
    } else {
        json_t *root =
            reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
        *idempotent = json_is_true(json_object_get(root, "idempotent"));
        json_decref(root);
    }
    remote_reply_free(&reply);
    return status;
}

/* True when the metadata of stream already equals json (so a re-import writes nothing). */
static bool metadata_equal(cli_ctx_t *ctx, const char *stream, const char *json, size_t len) {
    json_out_t path = {0};
    remote_stream_path(&path, stream, "/metadata");
    remote_reply_t reply;
    memset(&reply, 0, sizeof(reply));
    bool equal = false;
    if (!path.failed && remote_call(ctx, "GET", path.data, NULL, 0, &reply) == EXIT_OK) {
        json_t *a = reply.body.data != NULL
                        ? json_loadb(reply.body.data, reply.body.len,
                                     JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL)
                        : NULL;
        json_t *b = json_loadb(json, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
        equal = a != NULL && b != NULL && json_equal(a, b);
        json_decref(a);
        json_decref(b);
    }
    remote_reply_free(&reply);
    jout_free(&path);
    return equal;
}

int remote_import_system(cli_ctx_t *ctx, const char *source, uint64_t line, const char *name,
                         const char *target, bool is_meta, bool is_tombstone, const char *data,
                         size_t data_len) {
    if (is_meta && metadata_equal(ctx, target, data, data_len)) {
        return EXIT_OK;
    }
    json_out_t path = {0};
    remote_reply_t reply;
    memset(&reply, 0, sizeof(reply));
    int status;
    if (is_meta) {
        remote_stream_path(&path, target, "/metadata");
        status = remote_call_path(ctx, "PUT", &path, data, data_len, &reply);
    } else {
        remote_stream_path(&path, target, "");
        http_query_add(&path, "expected_version", "any");
        if (is_tombstone) {
            http_query_add(&path, "tombstone", "true");
        }
        status = remote_call_path(ctx, "DELETE", &path, NULL, 0, &reply);
        /* Imported a second time: the stream is already deleted. */
        if (status == EXIT_NOTFOUND && (strcmp(reply.code, "stream_deleted") == 0 ||
                                        strcmp(reply.code, "stream_tombstoned") == 0 ||
                                        (strcmp(reply.code, "not_found") == 0 && !is_tombstone))) {
            status = EXIT_OK;
        }
    }
    if (status != EXIT_OK) {
        cli_errorf(ctx, "%s line %llu (stream %s): %s", source, (unsigned long long)line, name,
                   reply.message);
    }
    remote_reply_free(&reply);
    jout_free(&path);
    return status;
}
