/*
 * remote_admin.c -- the stream catalogue commands through the server: `meta` and `delete`. (The
 * store-wide commands are written once over the backend: backend_remote.c.)
 */
#include <string.h>

#include "remote.h"

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
