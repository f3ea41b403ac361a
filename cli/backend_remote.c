/*
 * backend_remote.c -- the `stele` tool's backend on a server (--url URL): each operation is one
 * HTTP call (remote.c), whose error is printed as local mode words it, with the exit status the
 * one error table gives the server's error code. See backend.h.
 */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "remote.h"

static int remote_ready(cli_backend_t *b) {
    remote_reply_t reply;
    remote_call(b->ctx, "GET", "/health", NULL, 0, &reply);
    int status = remote_report(b->ctx, &reply);
    remote_reply_free(&reply);
    return status;
}

static int remote_stats(cli_backend_t *b, json_t **out) {
    static const char *const keys[] = {
        "head_position", "streams", "segments", "log_bytes", "index_entries", "index_tables",
        "appends",       "syncs",   "commits",  "poisoned",  "durability",
    };
    remote_reply_t reply;
    int status = remote_call(b->ctx, "GET", "/stats", NULL, 0, &reply);
    if (status == EXIT_OK) {
        status = remote_pick_object(b->ctx, reply.body.data, reply.body.len, keys,
                                    sizeof(keys) / sizeof(keys[0]), out);
    } else {
        status = remote_report(b->ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}

static int remote_digest(cli_backend_t *b, uint64_t *position, char hash_hex[65]) {
    remote_reply_t reply;
    int status = remote_call(b->ctx, "GET", "/info", NULL, 0, &reply);
    if (status != EXIT_OK) {
        status = remote_report(b->ctx, &reply);
        remote_reply_free(&reply);
        return status;
    }
    json_t *root =
        reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
    remote_reply_free(&reply);
    json_t *head = json_object_get(root, "head_position");
    json_t *hash = json_object_get(root, "head_hash");
    if (!json_is_integer(head) || json_integer_value(head) < 0 || !json_is_string(hash) ||
        json_string_length(hash) != 64) {
        cli_errorf(b->ctx, "the server's /info has no head_position and head_hash");
        json_decref(root);
        return EXIT_ERROR;
    }
    *position = (uint64_t)json_integer_value(head);
    memcpy(hash_hex, json_string_value(hash), 65);
    json_decref(root);
    return EXIT_OK;
}

static int remote_verify(cli_backend_t *b, json_t **report) {
    static const char *const keys[] = {
        "ok",    "events",       "commits",     "segments",   "bytes",
        "error", "bad_position", "bad_segment", "bad_offset", "message",
    };
    remote_reply_t reply;
    int status = remote_call(b->ctx, "POST", "/admin/verify", NULL, 0, &reply);
    json_t *root =
        reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
    if (json_is_boolean(json_object_get(root, "ok"))) {
        /* A report, whatever the status (a corrupt store is answered with an error status). */
        status = remote_pick_object(b->ctx, reply.body.data, reply.body.len, keys,
                                    sizeof(keys) / sizeof(keys[0]), report);
    } else if (status != EXIT_OK) {
        remote_report(b->ctx, &reply);
        status = EXIT_ERROR;
    } else {
        cli_errorf(b->ctx, "the server's verify report has no \"ok\"");
        status = EXIT_ERROR;
    }
    json_decref(root);
    remote_reply_free(&reply);
    return status;
}

static int remote_reindex(cli_backend_t *b) {
    remote_reply_t reply;
    int status = remote_call(b->ctx, "POST", "/admin/reindex", NULL, 0, &reply);
    if (status != EXIT_OK) {
        remote_report(b->ctx, &reply);
        status = EXIT_ERROR;
    }
    remote_reply_free(&reply);
    return status;
}

static int remote_check_name(cli_backend_t *b, const char *stream) {
    (void)b;
    (void)stream;
    return EXIT_OK;
}

static const char *const info_keys[] = {
    "name",          "state",   "first_version", "last_version",     "event_count",
    "last_position", "created", "updated",       "metadata_version",
};
#define INFO_KEY_COUNT (sizeof(info_keys) / sizeof(info_keys[0]))

static int remote_info(cli_backend_t *b, const char *stream, json_t **out) {
    json_out_t path = {0};
    remote_stream_path(&path, stream, "/info");
    remote_reply_t reply;
    int status = remote_call_path(b->ctx, "GET", &path, NULL, 0, &reply);
    if (status == EXIT_OK) {
        status = remote_pick_object(b->ctx, reply.body.data, reply.body.len, info_keys,
                                    INFO_KEY_COUNT, out);
    } else {
        status = remote_report(b->ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}

/* The size of the next page: REMOTE_PAGE, or what is left of the limit. */
static uint64_t page_size(uint64_t limit, uint64_t done) {
    if (limit == 0 || limit - done > REMOTE_PAGE) {
        return REMOTE_PAGE;
    }
    return limit - done;
}

static int remote_streams(cli_backend_t *b, const char *prefix, const char *after, uint64_t limit,
                          bool all, int (*each)(void *arg, json_t *info), void *arg) {
    uint64_t done = 0;
    char *next_after = after != NULL ? strdup(after) : NULL;
    int status = EXIT_OK;
    for (;;) {
        uint64_t want = page_size(limit, done);
        json_out_t path = {0};
        jout_str(&path, "/streams");
        http_query_add(&path, "prefix", prefix);
        http_query_add(&path, "after", next_after);
        http_query_add_u64(&path, "limit", want);
        http_query_add(&path, "all", all ? "true" : NULL);
        remote_reply_t reply;
        status = remote_call_path(b->ctx, "GET", &path, NULL, 0, &reply);
        if (status != EXIT_OK) {
            status = remote_report(b->ctx, &reply);
            remote_reply_free(&reply);
            break;
        }
        json_t *root =
            reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
        remote_reply_free(&reply);
        json_t *list = json_object_get(root, "streams");
        if (!json_is_array(list)) {
            cli_errorf(b->ctx, "the server's answer has no \"streams\" array");
            json_decref(root);
            status = EXIT_ERROR;
            break;
        }
        size_t count = json_array_size(list);
        for (size_t i = 0; i < count && status == EXIT_OK; i++) {
            json_t *info = json_array_get(list, i);
            json_t *o = json_object();
            for (size_t k = 0; k < INFO_KEY_COUNT && o != NULL; k++) {
                json_t *v = json_object_get(info, info_keys[k]);
                if (v != NULL) {
                    json_object_set(o, info_keys[k], v);
                }
            }
            status = each(arg, o);
        }
        const char *last =
            count > 0 ? json_string_value(json_object_get(json_array_get(list, count - 1), "name"))
                      : NULL;
        free(next_after);
        next_after = last != NULL ? strdup(last) : NULL;
        json_decref(root);
        done += count;
        if (status != EXIT_OK || count < want || (limit != 0 && done >= limit) ||
            next_after == NULL) {
            break;
        }
    }
    free(next_after);
    return status;
}

static int remote_meta_get(cli_backend_t *b, const char *stream, char **out) {
    json_out_t path = {0};
    remote_stream_path(&path, stream, "/metadata");
    remote_reply_t reply;
    int status = remote_call_path(b->ctx, "GET", &path, NULL, 0, &reply);
    if (status != EXIT_OK) {
        status = remote_report(b->ctx, &reply);
        remote_reply_free(&reply);
        return status;
    }
    json_t *check = reply.body.data != NULL
                        ? json_loadb(reply.body.data, reply.body.len,
                                     JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL)
                        : NULL;
    if (!json_is_object(check)) {
        cli_errorf(b->ctx, "the server's metadata is not a JSON object");
        status = EXIT_ERROR;
    } else if ((*out = strndup(reply.body.data, reply.body.len)) == NULL) {
        cli_errorf(b->ctx, "out of memory");
        status = EXIT_ERROR;
    }
    json_decref(check);
    remote_reply_free(&reply);
    return status;
}

static int remote_meta_set(cli_backend_t *b, const char *stream, const char *json, int64_t expect,
                           int64_t *version) {
    json_out_t path = {0}, expect_text = {0};
    remote_stream_path(&path, stream, "/metadata");
    remote_expect_text(&expect_text, expect, false);
    http_query_add(&path, "expected_version", expect_text.data);
    jout_free(&expect_text);
    remote_reply_t reply;
    int status = remote_call_path(b->ctx, "PUT", &path, json, strlen(json), &reply);
    if (status != EXIT_OK) {
        status = remote_report(b->ctx, &reply);
        remote_reply_free(&reply);
        return status;
    }
    json_t *answer =
        reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
    remote_reply_free(&reply);
    json_t *v = json_object_get(answer, "metadata_version");
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        cli_errorf(b->ctx, "the server's answer holds no metadata_version");
        status = EXIT_ERROR;
    } else {
        *version = (int64_t)json_integer_value(v);
    }
    json_decref(answer);
    return status;
}

static int remote_delete(cli_backend_t *b, const char *stream, int64_t expect, bool tombstone) {
    json_out_t path = {0}, expect_text = {0};
    remote_stream_path(&path, stream, "");
    remote_expect_text(&expect_text, expect, false);
    http_query_add(&path, "expected_version", expect_text.data);
    if (tombstone) {
        http_query_add(&path, "tombstone", "true");
    }
    jout_free(&expect_text);
    remote_reply_t reply;
    int status = remote_call_path(b->ctx, "DELETE", &path, NULL, 0, &reply);
    if (status != EXIT_OK) {
        status = remote_report(b->ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}

/* Reading (remote_read.c: paged GETs printed as they come). */

static int remote_read_stream_op(cli_backend_t *b, const char *stream, int64_t from_version,
                                 bool backward, uint64_t limit) {
    return remote_read(b->ctx, stream, from_version, backward, limit);
}

static int remote_read_all_op(cli_backend_t *b, const stele_read_options_t *ro) {
    return remote_read_all(b->ctx, ro);
}

static int remote_event_op(cli_backend_t *b, const stele_uuid_t *id, const char *id_text) {
    (void)id;
    return remote_event(b->ctx, id_text);
}

/* Writing (remote_append.c). */

static int remote_append_op(cli_backend_t *b, const char *stream, int64_t expect,
                            const stele_event_in_t *events, size_t count, json_t **result) {
    return remote_append(b->ctx, stream, expect, events, count, result);
}

static int remote_import_run_op(cli_backend_t *b, const char *source, const char *stream,
                                int64_t expect, const stele_event_in_t *events, size_t count,
                                uint64_t first_line, uint64_t last_line, bool *idempotent,
                                uint64_t *last_position) {
    *last_position = 0; /* the server's answer is not read for it */
    return remote_import_run(b->ctx, source, stream, expect, events, count, first_line, last_line,
                             idempotent);
}

static int remote_import_system_op(cli_backend_t *b, const char *source, uint64_t line,
                                   const char *name, const char *target, bool is_meta,
                                   bool is_tombstone, const char *data, size_t data_len) {
    return remote_import_system(b->ctx, source, line, name, target, is_meta, is_tombstone, data,
                                data_len);
}

/* tail (remote_tail.c: GET /subscribe, Server-Sent Events, resumed with Last-Event-ID). */
static int remote_tail_op(cli_backend_t *b, const stele_subscribe_options_t *so,
                          bool caught_up_exit, bool verbose) {
    return remote_tail(b->ctx, so, caught_up_exit, verbose);
}

static const cli_backend_ops_t remote_ops = {
    .ready = remote_ready,
    .stats = remote_stats,
    .digest = remote_digest,
    .verify = remote_verify,
    .reindex = remote_reindex,
    .check_name = remote_check_name,
    .info = remote_info,
    .streams = remote_streams,
    .meta_get = remote_meta_get,
    .meta_set = remote_meta_set,
    .delete_stream = remote_delete,
    .read_stream = remote_read_stream_op,
    .read_all = remote_read_all_op,
    .event = remote_event_op,
    .append = remote_append_op,
    .import_run = remote_import_run_op,
    .import_system = remote_import_system_op,
    .tail = remote_tail_op,
};

int cli_backend_remote_open(cli_ctx_t *ctx, cli_backend_t *b) {
    b->ops = &remote_ops;
    b->ctx = ctx;
    b->store = NULL;
    return EXIT_OK;
}
