/*
 * remote_read.c -- reading through the server: `read` (GET /streams/{stream}), `read-all` and
 * `export` (GET /all) and `event` (GET /events/{id}).
 *
 * The server caps the events of one answer, so reads are paged: each request asks
 * for at most REMOTE_PAGE items and the next one continues after the last item seen, until the
 * --limit is reached or a page comes back short without "more" (the server also ends a page at
 * its answer's size limit). The output is the same as one local read.
 */
#include <stdlib.h>
#include <string.h>

#include "remote.h"

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
