/*
 * backend_remote.c -- the `stele` tool's backend on a server (--url URL): each operation is one
 * HTTP call (remote.c), whose error is printed as local mode words it, with the exit status the
 * one error table gives the server's error code. See backend.h.
 */
#include <string.h>

#include "backend.h"
#include "remote.h"

/* The members keys[0..n) of the JSON object text, present ones only, in that order, as a new
 * object in *out. Returns EXIT_OK, or EXIT_ERROR after printing why. */
static int pick_object(cli_ctx_t *ctx, const char *text, size_t len, const char *const *keys,
                       size_t n, json_t **out) {
    json_t *root = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        cli_errorf(ctx, "the server's answer is not a JSON object");
        json_decref(root);
        return EXIT_ERROR;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < n && o != NULL; i++) {
        json_t *v = json_object_get(root, keys[i]);
        if (v != NULL) {
            json_object_set(o, keys[i], v);
        }
    }
    json_decref(root);
    *out = o;
    return EXIT_OK;
}

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
        status = pick_object(b->ctx, reply.body.data, reply.body.len, keys,
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
        status = pick_object(b->ctx, reply.body.data, reply.body.len, keys,
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

static const cli_backend_ops_t remote_ops = {
    .ready = remote_ready,
    .stats = remote_stats,
    .digest = remote_digest,
    .verify = remote_verify,
    .reindex = remote_reindex,
};

int cli_backend_remote_open(cli_ctx_t *ctx, cli_backend_t *b) {
    b->ops = &remote_ops;
    b->ctx = ctx;
    b->store = NULL;
    return EXIT_OK;
}
