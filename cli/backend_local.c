/*
 * backend_local.c -- the `stele` tool's backend on a local store (-d DIR): each operation is the
 * libstele call, and a failure is printed with its error name and detail (cli_fail). See
 * backend.h.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

/* Open the store at the first operation that needs it, so that a command can have its input
 * checked first (a rejected write must not create a store). */
static int need_store(cli_backend_t *b) {
    if (b->store != NULL) {
        return EXIT_OK;
    }
    switch (b->how) {
    case CLI_OPEN_WRITE: return cli_store_open(b->ctx, true, &b->store);
    case CLI_OPEN_VERIFY:
        /* A damaged store is opened all the same, so that verify can say where it is damaged. */
        return cli_store_open_flags(b->ctx, STELE_OPEN_VERIFY, &b->store);
    case CLI_OPEN_READ:
    case CLI_OPEN_MAINTAIN: break;
    }
    return cli_store_open(b->ctx, false, &b->store);
}

static int local_ready(cli_backend_t *b) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    if (b->ctx->verbose) {
        fprintf(stderr, "stele: store ready at %s\n", b->ctx->dir);
    }
    return EXIT_OK;
}

static int local_stats(cli_backend_t *b, json_t **out) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_stats_t s = {.struct_size = sizeof s};
    int rc = stele_stats(b->store, &s);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    *out = stats_json(&s);
    return EXIT_OK;
}

static int local_digest(cli_backend_t *b, uint64_t *position, char hash_hex[65]) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    uint8_t hash[32];
    int rc = stele_head_digest(b->store, position, hash);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    for (size_t i = 0; i < sizeof(hash); i++) {
        snprintf(hash_hex + 2 * i, 3, "%02x", hash[i]);
    }
    return EXIT_OK;
}

static int local_verify(cli_backend_t *b, json_t **report) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_verify_report_t r = {.struct_size = sizeof r};
    cli_progress_t progress;
    cli_progress_init(&progress, "verify", NULL);
    int rc = stele_verify(b->store, cli_progress_update, &progress, &r);
    cli_progress_finish(&progress);
    if (rc != 0 && rc != STELE_ECORRUPT) {
        cli_fail(b->ctx, rc);
        return EXIT_ERROR;
    }
    *report = verify_json(rc, &r);
    return EXIT_OK;
}

static int local_reindex(cli_backend_t *b) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    cli_progress_t progress;
    cli_progress_init(&progress, "reindex", NULL);
    int rc = stele_reindex(b->store, cli_progress_update, &progress);
    cli_progress_finish(&progress);
    if (rc != 0) {
        cli_fail(b->ctx, rc);
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

static int local_check_name(cli_backend_t *b, const char *stream) {
    int rc = stele_stream_name_check(stream);
    return rc != 0 ? cli_fail(b->ctx, rc) : EXIT_OK;
}

static int local_info(cli_backend_t *b, const char *stream, json_t **out) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_stream_info_t info = {.struct_size = sizeof info};
    int rc = stele_stream_info(b->store, stream, &info);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    info.name = stream;
    *out = info_json(&info);
    return EXIT_OK;
}

static int local_streams(cli_backend_t *b, const char *prefix, const char *after, uint64_t limit,
                         bool all, int (*each)(void *arg, json_t *info), void *arg) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_stream_list_t *list = NULL;
    int rc = stele_stream_list(b->store, prefix, after, (size_t)limit, all, &list);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    size_t count = stele_stream_list_count(list);
    for (size_t i = 0; i < count && status == EXIT_OK; i++) {
        status = each(arg, info_json(stele_stream_list_get(list, i)));
    }
    stele_stream_list_free(list);
    return status;
}

static int local_meta_get(cli_backend_t *b, const char *stream, char **out) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    char *json = NULL;
    int rc = stele_stream_metadata_get(b->store, stream, &json);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    *out = strdup(json);
    stele_free(json);
    if (*out == NULL) {
        cli_errorf(b->ctx, "out of memory");
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

static int local_meta_set(cli_backend_t *b, const char *stream, const char *json, int64_t expect,
                          int64_t *version) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    int rc = stele_stream_metadata_set_expect(b->store, stream, json, expect, version);
    return rc != 0 ? cli_fail(b->ctx, rc) : EXIT_OK;
}

static int local_delete(cli_backend_t *b, const char *stream, int64_t expect, bool tombstone) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    int rc = stele_stream_delete(b->store, stream, expect, tombstone);
    return rc != 0 ? cli_fail(b->ctx, rc) : EXIT_OK;
}

/* Print every event of the reader that opened (rc) and close it. */
static int print_reader(cli_backend_t *b, int rc, stele_reader_t *reader) {
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    int status = cli_print_reader(b->ctx, reader);
    stele_reader_close(reader);
    return status;
}

static int local_read_stream(cli_backend_t *b, const char *stream, int64_t from_version,
                             bool backward, uint64_t limit) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_reader_t *reader = NULL;
    int rc = stele_read_stream(b->store, stream, from_version,
                               backward ? STELE_BACKWARD : STELE_FORWARD, limit, &reader);
    return print_reader(b, rc, reader);
}

static int local_read_all(cli_backend_t *b, const stele_read_options_t *ro) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_reader_t *reader = NULL;
    int rc = stele_read_all(b->store, ro, &reader);
    return print_reader(b, rc, reader);
}

static int local_event(cli_backend_t *b, const stele_uuid_t *id, const char *id_text) {
    (void)id_text;
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_reader_t *reader = NULL;
    int rc = stele_event_by_id(b->store, id, &reader);
    return print_reader(b, rc, reader);
}

/* ---- writing ------------------------------------------------------------------------------- */

static int local_append(cli_backend_t *b, const char *stream, int64_t expect,
                        const stele_event_in_t *events, size_t count, json_t **out) {
    int rc = stele_append_check(stream, events, count);
    if (rc != 0) {
        return cli_fail(b->ctx, rc); /* before the store is opened, and so created */
    }
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_append_result_t r;
    memset(&r, 0, sizeof(r));
    rc = stele_append(b->store, stream, expect, events, count, &r);
    if (rc == STELE_ECONFLICT) {
        /* the library's detail names the expected and the actual version */
        cli_errorf(b->ctx, "%s: %s", stele_strerror(rc), stele_errdetail());
        return EXIT_CONFLICT;
    }
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "stream", json_string(stream));
        json_object_set_new(o, "first_version", json_integer((json_int_t)r.first_version));
        json_object_set_new(o, "last_version", json_integer((json_int_t)r.last_version));
        json_object_set_new(o, "first_position", json_integer((json_int_t)r.first_position));
        json_object_set_new(o, "last_position", json_integer((json_int_t)r.last_position));
        json_object_set_new(o, "idempotent", json_boolean(r.idempotent));
    }
    *out = o;
    return EXIT_OK;
}

static int local_import_run(cli_backend_t *b, const char *source, const char *stream,
                            int64_t expect, const stele_event_in_t *events, size_t count,
                            uint64_t first_line, uint64_t last_line, bool *idempotent,
                            uint64_t *last_position) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    stele_append_result_t result;
    memset(&result, 0, sizeof(result));
    int rc = stele_append(b->store, stream, expect, events, count, &result);
    if (rc == STELE_ECONFLICT && expect != STELE_EXPECT_ANY) {
        /* The target stream has another history: append at its end. */
        memset(&result, 0, sizeof(result));
        rc = stele_append(b->store, stream, STELE_EXPECT_ANY, events, count, &result);
    }
    if (rc != 0) {
        const char *detail = stele_errdetail();
        cli_errorf(b->ctx, "%s lines %llu-%llu (stream %s): %s%s%s", source,
                   (unsigned long long)first_line, (unsigned long long)last_line, stream,
                   stele_strerror(rc), detail[0] != '\0' ? ": " : "", detail);
        return cli_exit_for(rc);
    }
    *idempotent = result.idempotent;
    *last_position = result.idempotent ? 0 : result.last_position;
    return EXIT_OK;
}

/* True when the metadata of stream already equals json (so a re-import writes nothing). */
static bool metadata_equal(cli_backend_t *b, const char *stream, const char *json, size_t len) {
    char *current = NULL;
    if (stele_stream_metadata_get(b->store, stream, &current) != 0) {
        return false;
    }
    json_t *x = json_loads(current, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
    json_t *y = json_loadb(json, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
    bool equal = x != NULL && y != NULL && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    stele_free(current);
    return equal;
}

static int local_import_system(cli_backend_t *b, const char *source, uint64_t line,
                               const char *name, const char *target, bool is_meta,
                               bool is_tombstone, const char *data, size_t data_len) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    int rc = 0;
    if (is_meta) {
        if (!metadata_equal(b, target, data, data_len)) {
            rc = stele_stream_metadata_set(b->store, target, data);
        }
    } else {
        rc = stele_stream_delete(b->store, target, STELE_EXPECT_ANY, is_tombstone);
        /* Imported a second time: the stream is already deleted. */
        if (rc == STELE_EDELETED || rc == STELE_ETOMBSTONED ||
            (rc == STELE_ENOTFOUND && !is_tombstone)) {
            rc = 0;
        }
    }
    if (rc != 0) {
        const char *detail = stele_errdetail();
        cli_errorf(b->ctx, "%s line %llu (stream %s): %s%s%s", source, (unsigned long long)line,
                   name, stele_strerror(rc), detail[0] != '\0' ? ": " : "", detail);
        return cli_exit_for(rc);
    }
    return EXIT_OK;
}

/* ---- tail ---------------------------------------------------------------------------------- */

/* The signal handler only sets a flag; the loop waits for events in short slices and checks it,
 * so the store is always closed cleanly. Live events are flushed one by one so that a pipe
 * reader sees each as it happens. */
#define WAIT_SLICE_MS 200

static int follow(const cli_ctx_t *ctx, stele_subscription_t *sub, bool caught_up_exit,
                  bool verbose) {
    bool live = false;
    stele_event_t ev;
    while (!cli_stop_requested()) {
        int rc = stele_subscription_next(sub, &ev, WAIT_SLICE_MS);
        if (rc == STELE_SUB_EVENT) {
            if (cli_print_event(&ev) != EXIT_OK) {
                cli_errorf(ctx, "writing the output failed");
                return EXIT_ERROR;
            }
            if (live) {
                fflush(stdout);
            }
        } else if (rc == STELE_SUB_CAUGHT_UP) {
            live = true;
            fflush(stdout);
            if (verbose || isatty(STDERR_FILENO) == 1) {
                fprintf(stderr, "caught up at %llu\n",
                        (unsigned long long)stele_subscription_position(sub));
            }
            if (caught_up_exit) {
                return EXIT_OK;
            }
        } else if (rc == STELE_SUB_TIMEOUT) {
            fflush(stdout);
        } else if (rc == STELE_ECLOSED && cli_stop_requested()) {
            break;
        } else {
            return cli_fail(ctx, rc < 0 ? rc : STELE_EINVAL);
        }
    }
    return EXIT_OK;
}

static int local_tail(cli_backend_t *b, const stele_subscribe_options_t *so, bool caught_up_exit,
                      bool verbose) {
    int status = need_store(b);
    if (status != EXIT_OK) {
        return status;
    }
    cli_stop_on_signals();
    stele_subscription_t *sub = NULL;
    int rc = stele_subscribe(b->store, so, &sub);
    if (rc != 0) {
        return cli_fail(b->ctx, rc);
    }
    status = follow(b->ctx, sub, caught_up_exit, verbose);
    stele_subscription_close(sub);
    return status;
}

static const cli_backend_ops_t local_ops = {
    .ready = local_ready,
    .stats = local_stats,
    .digest = local_digest,
    .verify = local_verify,
    .reindex = local_reindex,
    .check_name = local_check_name,
    .info = local_info,
    .streams = local_streams,
    .meta_get = local_meta_get,
    .meta_set = local_meta_set,
    .delete_stream = local_delete,
    .read_stream = local_read_stream,
    .read_all = local_read_all,
    .event = local_event,
    .append = local_append,
    .import_run = local_import_run,
    .import_system = local_import_system,
    .tail = local_tail,
};

int cli_backend_local_open(cli_ctx_t *ctx, cli_open_t how, cli_backend_t *b) {
    b->ops = &local_ops;
    b->ctx = ctx;
    b->how = how;
    b->store = NULL;
    return EXIT_OK;
}
