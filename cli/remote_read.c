/*
 * remote_read.c -- reading through the server: `read` (GET /streams/{stream}), `read-all` and
 * `export` (GET /all), `event` (GET /events/{id}) and `streams` (GET /streams).
 *
 * The server caps the events (or streams) of one answer, so reads are paged: each request asks
 * for at most REMOTE_PAGE items and the next one continues after the last item seen, until the
 * --limit is reached or a page comes back short without "more" (the server also ends a page at
 * its answer's size limit). The output is the same as one local read.
 */
#include <stdlib.h>
#include <string.h>

#include "remote.h"

#define REMOTE_PAGE 1000u

/* Print the events of one page ({"events":[...]}): *count, the last event's position and version,
 * and *more: the server stopped early at its answer's size limit ("more":true), so a short page
 * is not the end. */
static int print_page(cli_ctx_t *ctx, const remote_reply_t *reply, uint64_t *count,
                      uint64_t *last_position, int64_t *last_version, bool *more) {
    const char *s = reply->body.data;
    size_t len = reply->body.len;
    json_error_t jerr;
    json_t *check =
        s != NULL ? json_loadb(s, len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr) : NULL;
    bool valid = json_is_array(json_object_get(check, "events"));
    *more = json_is_true(json_object_get(check, "more"));
    json_decref(check);
    size_t off = 0, vlen = 0;
    if (!valid || !remote_json_member(s, len, "events", &off, &vlen)) {
        cli_errorf(ctx, "the server's answer has no \"events\" array");
        return EXIT_ERROR;
    }
    const char *arr = s + off;
    size_t cursor = 0, e_off = 0, e_len = 0;
    *count = 0;
    while (remote_json_array_next(arr, vlen, &cursor, &e_off, &e_len)) {
        int status = remote_print_event(ctx, arr + e_off, e_len, last_position);
        if (status != EXIT_OK) {
            return status;
        }
        size_t v_off = 0, v_len = 0;
        if (remote_json_member(arr + e_off, e_len, "version", &v_off, &v_len)) {
            *last_version = strtoll(arr + e_off + v_off, NULL, 10);
        }
        (*count)++;
    }
    return EXIT_OK;
}

/* The size of the next page: REMOTE_PAGE, or what is left of the limit. */
static uint64_t page_size(uint64_t limit, uint64_t done) {
    if (limit == 0 || limit - done > REMOTE_PAGE) {
        return REMOTE_PAGE;
    }
    return limit - done;
}

int remote_read(cli_ctx_t *ctx, const char *stream, int64_t from_version, bool backward,
                uint64_t limit) {
    uint64_t done = 0;
    int64_t from = from_version;
    int status = EXIT_OK;
    for (;;) {
        uint64_t want = page_size(limit, done);
        json_out_t path = {0};
        remote_stream_path(&path, stream, "");
        if (from >= 0) {
            http_query_add_u64(&path, "from", (uint64_t)from);
        }
        http_query_add(&path, "direction", backward ? "backward" : "forward");
        http_query_add_u64(&path, "limit", want);
        remote_reply_t reply;
        status = remote_call_path(ctx, "GET", &path, NULL, 0, &reply);
        if (status != EXIT_OK) {
            status = remote_report(ctx, &reply);
            remote_reply_free(&reply);
            return status;
        }
        uint64_t count = 0, last_position = 0;
        int64_t last_version = -1;
        bool more = false;
        status = print_page(ctx, &reply, &count, &last_position, &last_version, &more);
        remote_reply_free(&reply);
        done += count;
        if (status != EXIT_OK || (count < want && !more) || (limit != 0 && done >= limit) ||
            last_version < 0 || (backward && last_version == 0)) {
            break;
        }
        from = backward ? last_version - 1 : last_version + 1;
    }
    return status;
}

int remote_read_all(cli_ctx_t *ctx, const stele_read_options_t *ro) {
    const stele_filter_t *f = &ro->filter;
    bool backward = ro->direction == STELE_BACKWARD;
    char since[36], until[36];
    if (f->since_ns != 0) {
        stele_time_format(f->since_ns, since);
    }
    if (f->until_ns != 0) {
        stele_time_format(f->until_ns, until);
    }
    uint64_t done = 0, from = ro->from_position;
    int status = EXIT_OK;
    for (;;) {
        uint64_t want = page_size(ro->limit, done);
        json_out_t path = {0};
        jout_str(&path, "/all");
        if (from > 0) {
            http_query_add_u64(&path, "from", from);
        }
        http_query_add(&path, "direction", backward ? "backward" : "forward");
        http_query_add_u64(&path, "limit", want);
        http_query_add(&path, "type", f->type);
        http_query_add(&path, "type_prefix", f->type_prefix);
        http_query_add(&path, "category", f->category);
        http_query_add(&path, "prefix", f->stream_prefix);
        http_query_add(&path, "stream", f->stream);
        http_query_add(&path, "since", f->since_ns != 0 ? since : NULL);
        http_query_add(&path, "until", f->until_ns != 0 ? until : NULL);
        http_query_add(&path, "system", f->include_system ? "true" : NULL);
        remote_reply_t reply;
        status = remote_call_path(ctx, "GET", &path, NULL, 0, &reply);
        if (status != EXIT_OK) {
            status = remote_report(ctx, &reply);
            remote_reply_free(&reply);
            return status;
        }
        uint64_t count = 0, last_position = 0;
        int64_t last_version = -1;
        bool more = false;
        status = print_page(ctx, &reply, &count, &last_position, &last_version, &more);
        remote_reply_free(&reply);
        done += count;
        if (status != EXIT_OK || (count < want && !more) || (ro->limit != 0 && done >= ro->limit) ||
            last_position == 0 || (backward && last_position <= 1)) {
            break;
        }
        from = backward ? last_position - 1 : last_position + 1;
    }
    if (status == EXIT_OK) {
        fflush(stdout);
    }
    return status;
}

static const char *const info_keys[] = {
    "name",          "state",   "first_version", "last_version",     "event_count",
    "last_position", "created", "updated",       "metadata_version",
};
#define INFO_KEY_COUNT (sizeof(info_keys) / sizeof(info_keys[0]))

int remote_streams(cli_ctx_t *ctx, const char *prefix, const char *after, uint64_t limit,
                   bool all) {
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
        status = remote_call_path(ctx, "GET", &path, NULL, 0, &reply);
        if (status != EXIT_OK) {
            status = remote_report(ctx, &reply);
            remote_reply_free(&reply);
            break;
        }
        json_t *root =
            reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
        remote_reply_free(&reply);
        json_t *list = json_object_get(root, "streams");
        if (!json_is_array(list)) {
            cli_errorf(ctx, "the server's answer has no \"streams\" array");
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
            status = cli_print_json(o);
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

int remote_info(cli_ctx_t *ctx, const char *stream) {
    json_out_t path = {0};
    remote_stream_path(&path, stream, "/info");
    remote_reply_t reply;
    int status = remote_call_path(ctx, "GET", &path, NULL, 0, &reply);
    if (status == EXIT_OK) {
        status =
            remote_print_object(ctx, reply.body.data, reply.body.len, info_keys, INFO_KEY_COUNT);
    } else {
        status = remote_report(ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}

int remote_event(cli_ctx_t *ctx, const char *id) {
    json_out_t path = {0};
    jout_str(&path, "/events/");
    http_escape_into(&path, id);
    remote_reply_t reply;
    int status = remote_call_path(ctx, "GET", &path, NULL, 0, &reply);
    if (status == EXIT_OK) {
        status = remote_print_event(ctx, reply.body.data, reply.body.len, NULL);
    } else {
        status = remote_report(ctx, &reply);
    }
    remote_reply_free(&reply);
    return status;
}
