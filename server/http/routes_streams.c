/*
 * routes_streams.c -- the stream endpoints: append (POST /streams/{s}), atomic multi-stream
 * commits (POST /commits), stream reads, info, metadata, delete, and the stream list.
 *
 * Appends never block the loop: the parsed request (its events point into a copy of the body it
 * owns) is handed to the core's append operation (core/append.c), which finishes on the loop by
 * calling back here to answer. The memory lives until then, even when the client has gone away.
 * Metadata and delete calls wait for a sync inside the library, so they run as worker jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "json_scan.h"
#include "access.h"
#include "../core/append.h"
#include "../core/wakeup.h"
#include "json_io.h"
#include "body_fast.h"
#include "routes.h"

#define DEFAULT_READ_LIMIT 1000u
#define MAX_READ_LIMIT 10000u

/* ---- appends and commits -------------------------------------------------------------------- */

typedef struct append_op {
    srv_append_t a; /* first: the core's append is the op */
    bool is_commit;
    json_t *body;
    char *raw;
    size_t raw_len;
    char *stream;         /* the single append's stream (decoded from the path) */
    srv_events_t *events; /* per part */
    int64_t *expected;    /* per part, as requested */
} append_op_t;

static void op_free(append_op_t *op) {
    for (size_t i = 0; op->events != NULL && i < op->a.nparts; i++) {
        srv_events_free(&op->events[i]);
    }
    free(op->events);
    free(op->a.parts);
    free(op->expected);
    free(op->stream);
    free(op->raw);
    json_decref(op->body);
    free(op);
}

static void reply_failure(srv_t *srv, srv_req_t *req, append_op_t *op, int status,
                          const char *detail, size_t failed_part) {
    json_t *extra = json_object();
    if (op->is_commit && failed_part < op->a.nparts) {
        json_object_set_new(extra, "part", json_integer((json_int_t)failed_part));
    }
    if (status == STELE_ECONFLICT && failed_part < op->a.nparts) {
        json_object_set_new(extra, "expected", srv_expected_to_json(op->expected[failed_part]));
        json_object_set_new(
            extra, "actual",
            json_integer((json_int_t)op->a.parts[failed_part].result.actual_version));
    }
    srv_reply_stele_error(srv, req, status, detail, extra);
}

/* On the loop: answer a completed append (req NULL: the client left). */
static void op_finish(srv_t *srv, srv_append_t *a, void *arg) {
    append_op_t *op = (append_op_t *)a;
    srv_req_t *req = arg;
    if (op->a.status != 0) {
        reply_failure(srv, req, op, op->a.status, op->a.detail, op->a.failed_part);
    } else {
        /* {append result} or {"parts": [{append result}, ...]} */
        struct evbuffer *out = evbuffer_new();
        if (out == NULL) {
            srv_reply_error(srv, req, "internal", NULL, "out of memory");
        } else {
            if (op->is_commit) {
                evbuffer_add(out, "{\"parts\":[", 10);
            }
            for (size_t i = 0; i < op->a.nparts; i++) {
                if (i > 0) {
                    evbuffer_add(out, ",", 1);
                }
                srv_append_result_write(out, op->a.parts[i].stream, &op->a.parts[i].result);
            }
            evbuffer_add(out, op->is_commit ? "]}\n" : "\n", op->is_commit ? 3 : 1);
            srv_reply_buffer(srv, req, 201, out, "application/json");
            evbuffer_free(out);
        }
    }
    op_free(op);
}

static void part_ready(append_op_t *op, size_t i);

/* Parse part i (object obj at raw[obj_start]) into op. Returns 0 or -1 after replying. */
static int parse_part(srv_t *srv, srv_req_t *req, append_op_t *op, size_t i, const json_t *obj,
                      size_t obj_start, bool have_span) {
    char msg[512];
    const char *err = NULL;
    if (srv_part_read(obj, op->raw, op->raw_len, obj_start, have_span, op->is_commit,
                      &op->expected[i], &op->events[i], &err, msg, sizeof(msg)) != 0) {
        srv_reply_error(srv, req, err,
                        op->is_commit ? json_pack("{s:I}", "part", (json_int_t)i) : NULL, "%s",
                        msg);
        return -1;
    }
    part_ready(op, i);
    return 0;
}

/* Reserved names are refused here with their own message; every other name rule is checked by
 * the library, whose errors name the part at fault (stele_commit_async's failed_part). No I/O:
 * this runs for every append on the loop thread. */
static int check_name(srv_t *srv, srv_req_t *req, const char *stream, json_t *extra) {
    if (stream[0] == '$') {
        srv_reply_error(srv, req, "reserved_name", extra,
                        "stream names starting with '$' are reserved for the store");
        return -1;
    }
    json_decref(extra);
    return 0;
}

static void submit(srv_t *srv, srv_req_t *req, append_op_t *op) {
    if (op->a.event_count > srv->cfg->max_events_per_append) {
        srv_reply_error(srv, req, "payload_too_large", NULL,
                        "%zu events in one request; the limit is %llu", op->a.event_count,
                        (unsigned long long)srv->cfg->max_events_per_append);
        op_free(op);
        return;
    }
    op->a.done = op_finish;
    size_t failed_part = op->a.nparts;
    int rc = srv_append_submit(srv, &op->a, req->conn, req, &failed_part);
    if (rc != 0) {
        reply_failure(srv, req, op, rc, NULL, failed_part);
        op_free(op);
    }
}

static append_op_t *op_new(size_t nparts) {
    append_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return NULL;
    }
    op->a.nparts = nparts;
    op->a.parts = calloc(nparts, sizeof(*op->a.parts));
    op->events = calloc(nparts, sizeof(*op->events));
    op->expected = calloc(nparts, sizeof(*op->expected));
    if (op->a.parts == NULL || op->events == NULL || op->expected == NULL) {
        op_free(op);
        return NULL;
    }
    return op;
}

/* The part's totals once its events are parsed. */
static void part_ready(append_op_t *op, size_t i) {
    stele_append_part_t *p = &op->a.parts[i];
    p->expected_version = op->expected[i];
    p->events = op->events[i].events;
    p->count = op->events[i].count;
    op->a.event_count += p->count;
    for (size_t k = 0; k < p->count; k++) {
        op->a.bytes += p->events[k].data_len + p->events[k].metadata_len;
    }
}

void srv_route_stream_append(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *stream = a->stream;
    if (!srv_access_stream(srv, req, SRV_ROLE_WRITE, stream)) {
        return;
    }
    if (check_name(srv, req, stream, NULL) != 0) {
        return;
    }
    char *raw = NULL;
    size_t raw_len = 0;
    if (srv_body_text(srv, req, &raw, &raw_len) != 0) {
        return;
    }
    append_op_t *op = op_new(1);
    if (op == NULL) {
        free(raw);
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    op->raw = raw;
    op->raw_len = raw_len;
    op->stream = strdup(stream);
    op->a.parts[0].stream = op->stream;
    if (op->stream == NULL) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        op_free(op);
        return;
    }
    if (srv_fast_append(raw, raw_len, (size_t)srv->cfg->max_events_per_append, &op->expected[0],
                        &op->events[0]) == SRV_FAST_OK) {
        part_ready(op, 0);
        submit(srv, req, op);
        return;
    }
    char msg[512];
    const char *err = NULL;
    op->body = srv_append_body_read(raw, raw_len, &op->expected[0], &op->events[0], &err, msg,
                                    sizeof(msg));
    if (op->body == NULL) {
        srv_reply_error(srv, req, err, NULL, "%s", msg);
        op_free(op);
        return;
    }
    part_ready(op, 0);
    submit(srv, req, op);
}

void srv_route_commits(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    (void)a;
    /* The role before reading the body; each part's stream is checked as it is read. */
    if (!srv_access_check(srv, req, SRV_ROLE_WRITE, NULL)) {
        return;
    }
    char *raw = NULL;
    size_t raw_len = 0;
    json_t *body = srv_body_json(srv, req, &raw, &raw_len);
    if (body == NULL) {
        return;
    }
    const json_t *parts = json_object_get(body, "parts");
    if (json_is_object(body) &&
        jscan_member_count(raw, raw_len, 0, NULL) != json_object_size(body)) {
        srv_reply_error(srv, req, "invalid_json", NULL, "duplicate key \"%s\"",
                        srv_json_duplicate(body, raw, raw_len, 0));
        free(raw);
        json_decref(body);
        return;
    }
    if (!json_is_object(body) || !json_is_array(parts) || json_object_size(body) != 1) {
        free(raw);
        json_decref(body);
        srv_reply_error(srv, req, "bad_request", NULL,
                        "the body must be {\"parts\": [{\"stream\", \"expected_version\", "
                        "\"events\"}, ...]}");
        return;
    }
    size_t n = json_array_size(parts);
    if (n == 0) {
        free(raw);
        json_decref(body);
        srv_reply_error(srv, req, "empty_append", NULL, "\"parts\" is empty");
        return;
    }
    if (n > STELE_MAX_COMMIT_STREAMS) {
        free(raw);
        json_decref(body);
        srv_reply_error(srv, req, "payload_too_large", NULL,
                        "%zu streams in one commit; the limit is %u", n, STELE_MAX_COMMIT_STREAMS);
        return;
    }
    append_op_t *op = op_new(n);
    if (op == NULL) {
        free(raw);
        json_decref(body);
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    op->is_commit = true;
    op->body = body;
    op->raw = raw;
    op->raw_len = raw_len;
    size_t arr_start = 0, arr_end = 0;
    bool have_arr = jscan_member(raw, raw_len, 0, "parts", &arr_start, &arr_end);
    size_t walk = arr_start;
    for (size_t i = 0; i < n; i++) {
        const json_t *part = json_array_get(parts, i);
        json_t *extra = json_pack("{s:I}", "part", (json_int_t)i);
        const json_t *stream = json_object_get(part, "stream");
        if (!json_is_object(part) || !json_is_string(stream)) {
            srv_reply_error(srv, req, "bad_request", extra,
                            "each part must be an object with a \"stream\" string");
            op_free(op);
            return;
        }
        const char *name = json_string_value(stream);
        if (strlen(name) != json_string_length(stream)) {
            srv_reply_error(srv, req, "invalid_name", extra, "the stream name holds a NUL");
            op_free(op);
            return;
        }
        if (!srv_access_stream(srv, req, SRV_ROLE_WRITE, name)) {
            json_decref(extra);
            op_free(op);
            return;
        }
        if (check_name(srv, req, name, extra) != 0) {
            op_free(op);
            return;
        }
        op->a.parts[i].stream = name;
        size_t start = 0, end = 0;
        bool have = have_arr && srv_json_element_next(raw, raw_len, &walk, &start, &end);
        if (parse_part(srv, req, op, i, part, start, have) != 0) {
            op_free(op);
            return;
        }
    }
    submit(srv, req, op);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int srv_read_limit(srv_t *srv, srv_req_t *req, const srv_query_t *q, uint64_t *limit) {
    if (srv_query_u64(srv, req, q, "limit", DEFAULT_READ_LIMIT, limit) != 0) {
        return -1;
    }
    if (*limit == 0 || *limit > MAX_READ_LIMIT) {
        srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", "limit"),
                        "limit must be 1..%u", MAX_READ_LIMIT);
        return -1;
    }
    return 0;
}

int srv_read_direction(srv_t *srv, srv_req_t *req, const srv_query_t *q, stele_direction_t *dir) {
    const char *d = srv_query_get(q, "direction");
    if (d == NULL || strcmp(d, "forward") == 0) {
        *dir = STELE_FORWARD;
    } else if (strcmp(d, "backward") == 0) {
        *dir = STELE_BACKWARD;
    } else {
        srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", "direction"),
                        "direction must be forward or backward");
        return -1;
    }
    return 0;
}

/* One read answer holds events up to this many bytes (and always the first one, however large):
 * a page of `limit` events of up to 4 MiB each would otherwise be built whole in memory. The
 * answer then says "more":true, and the client asks again from the last event it got. */
#define ANSWER_MAX_BYTES ((size_t)8 << 20)

void srv_reply_events(srv_t *srv, srv_req_t *req, stele_reader_t *reader) {
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        stele_reader_close(reader);
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    evbuffer_add(buf, "{\"events\":[", 11);
    stele_event_t ev;
    int rc = 0;
    bool first = true, more = false;
    while (!(more = !first && evbuffer_get_length(buf) >= ANSWER_MAX_BYTES) &&
           (rc = stele_reader_next(reader, &ev)) == 1) {
        if (!first) {
            evbuffer_add(buf, ",", 1);
        }
        first = false;
        if (srv_event_json(buf, &ev) != 0) {
            rc = STELE_ENOMEM;
            break;
        }
    }
    /* Full: "more" only when another event is there (the limit may have been reached too). */
    if (more && (rc = stele_reader_next(reader, &ev)) != 1) {
        more = false;
    }
    stele_reader_close(reader);
    if (rc < 0) {
        evbuffer_free(buf);
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    static const char end_more[] = "],\"more\":true}\n", end[] = "]}\n";
    if (more) {
        evbuffer_add(buf, end_more, sizeof end_more - 1);
    } else {
        evbuffer_add(buf, end, sizeof end - 1);
    }
    srv_reply_buffer(srv, req, 200, buf, "application/json");
    evbuffer_free(buf);
}

void srv_route_stream_read(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *stream = a->stream;
    const srv_query_t *q = a->q;
    if (!srv_access_stream(srv, req, SRV_ROLE_READ, stream)) {
        return;
    }
    stele_direction_t dir;
    uint64_t limit = 0, from = 0;
    if (srv_read_direction(srv, req, q, &dir) != 0 || srv_read_limit(srv, req, q, &limit) != 0 ||
        srv_query_u64(srv, req, q, "from", 0, &from) != 0) {
        return;
    }
    int64_t from_version = (int64_t)from;
    if (dir == STELE_BACKWARD && srv_query_get(q, "from") == NULL) {
        from_version = -1;
    }
    stele_reader_t *reader = NULL;
    int rc = stele_read_stream(srv->store, stream, from_version, dir, limit, &reader);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    srv_reply_events(srv, req, reader);
}

void srv_route_stream_info(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *stream = a->stream;
    if (!srv_access_stream(srv, req, SRV_ROLE_READ, stream)) {
        return;
    }
    stele_stream_info_t info = {.struct_size = sizeof info};
    int rc = stele_stream_info(srv->store, stream, &info);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    srv_reply_json(srv, req, 200, srv_stream_info_json(&info));
}

void srv_route_metadata_get(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *stream = a->stream;
    if (!srv_access_stream(srv, req, SRV_ROLE_READ, stream)) {
        return;
    }
    char *json = NULL;
    int rc = stele_stream_metadata_get(srv->store, stream, &json);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf != NULL) {
        evbuffer_add(buf, json, strlen(json));
        evbuffer_add(buf, "\n", 1);
        srv_reply_buffer(srv, req, 200, buf, "application/json");
        evbuffer_free(buf);
    } else {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
    }
    stele_free(json);
}

/* ---- metadata set and delete: worker jobs --------------------------------------------------- */

typedef struct stream_job {
    char *stream;
    char *json; /* metadata text, or NULL for a delete */
    int64_t expected;
    int64_t version; /* metadata: the new version, or the actual one after a conflict */
    bool tombstone;
} stream_job_t;

static int metadata_work(srv_t *srv, srv_job_t *job) {
    stream_job_t *sj = job->arg;
    return stele_stream_metadata_set_expect(srv->store, sj->stream, sj->json, sj->expected,
                                            &sj->version);
}

static int delete_work(srv_t *srv, srv_job_t *job) {
    stream_job_t *sj = job->arg;
    return stele_stream_delete(srv->store, sj->stream, sj->expected, sj->tombstone);
}

static void stream_job_done(srv_t *srv, srv_job_t *job, void *arg) {
    srv_req_t *req = arg;
    stream_job_t *sj = job->arg;
    if (job->status == 0 && sj->json != NULL) {
        srv_reply_json(srv, req, 200,
                       json_pack("{s:I}", "metadata_version", (json_int_t)sj->version));
    } else if (job->status == 0) {
        srv_reply_empty(srv, req, 204);
    } else {
        json_t *extra = NULL;
        if (job->status == STELE_ECONFLICT && sj->json != NULL) {
            extra = json_pack("{s:o, s:I}", "expected", srv_expected_to_json(sj->expected),
                              "actual", (json_int_t)sj->version);
        } else if (job->status == STELE_ECONFLICT) {
            stele_stream_info_t info = {.struct_size = sizeof info};
            int64_t actual = -1;
            if (stele_stream_info(srv->store, sj->stream, &info) == 0) {
                actual = info.last_version;
            }
            extra = json_pack("{s:o, s:I}", "expected", srv_expected_to_json(sj->expected),
                              "actual", (json_int_t)actual);
        }
        srv_reply_stele_error(srv, req, job->status, job->detail, extra);
    }
    free(sj->stream);
    free(sj->json);
    free(sj);
}

static void start_stream_job(srv_t *srv, srv_req_t *req, stream_job_t *sj,
                             int (*work)(srv_t *, srv_job_t *)) {
    srv_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL || sj->stream == NULL) {
        free(job);
        free(sj->stream);
        free(sj->json);
        free(sj);
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    job->work = work;
    job->done = stream_job_done;
    job->arg = sj;
    srv_job_start(srv, req->conn, req, job);
}

void srv_route_metadata_put(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *stream = a->stream;
    if (!srv_access_stream(srv, req, SRV_ROLE_WRITE, stream)) {
        return;
    }
    /* Checked against the metadata version (stream info's metadata_version). */
    int64_t expected = STELE_EXPECT_ANY;
    const char *ev = srv_query_get(a->q, "expected_version");
    if (ev != NULL && srv_expected_from_text(ev, &expected) != 0) {
        srv_reply_error(srv, req, "invalid_argument",
                        json_pack("{s:s}", "parameter", "expected_version"),
                        "expected_version must be any, no_stream, stream_exists or a version");
        return;
    }
    if (check_name(srv, req, stream, NULL) != 0) {
        return;
    }
    char *raw = NULL;
    size_t raw_len = 0;
    json_t *body = srv_body_json(srv, req, &raw, &raw_len);
    if (body == NULL) {
        return;
    }
    bool is_object = json_is_object(body);
    json_decref(body);
    if (!is_object) {
        free(raw);
        srv_reply_error(srv, req, "invalid_json", NULL, "stream metadata must be a JSON object");
        return;
    }
    stream_job_t *sj = calloc(1, sizeof(*sj));
    if (sj == NULL) {
        free(raw);
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    sj->stream = strdup(stream);
    sj->json = raw;
    sj->expected = expected;
    start_stream_job(srv, req, sj, metadata_work);
}

void srv_route_stream_delete(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *stream = a->stream;
    if (!srv_access_stream(srv, req, SRV_ROLE_WRITE, stream)) {
        return;
    }
    bool tombstone = false;
    int64_t expected = STELE_EXPECT_ANY;
    const char *ev = srv_query_get(a->q, "expected_version");
    if (srv_query_bool(srv, req, a->q, "tombstone", &tombstone) != 0) {
        return;
    }
    if (ev != NULL && srv_expected_from_text(ev, &expected) != 0) {
        srv_reply_error(srv, req, "invalid_argument",
                        json_pack("{s:s}", "parameter", "expected_version"),
                        "expected_version must be any, no_stream, stream_exists or a version");
        return;
    }
    if (check_name(srv, req, stream, NULL) != 0) {
        return;
    }
    stream_job_t *sj = calloc(1, sizeof(*sj));
    if (sj == NULL) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    sj->stream = strdup(stream);
    sj->expected = expected;
    sj->tombstone = tombstone;
    start_stream_job(srv, req, sj, delete_work);
}

/* ---- the stream list ------------------------------------------------------------------------ */

void srv_route_stream_list(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const srv_query_t *q = a->q;
    stele_filter_t names; /* the names listed: those starting with prefix */
    memset(&names, 0, sizeof(names));
    names.stream_prefix = srv_query_get(q, "prefix");
    uint64_t limit = 0;
    bool all = false;
    if (srv_read_limit(srv, req, q, &limit) != 0 || srv_query_bool(srv, req, q, "all", &all) != 0 ||
        !srv_access_check(srv, req, SRV_ROLE_READ, &names)) {
        return;
    }
    stele_stream_list_t *list = NULL;
    int rc = stele_stream_list(srv->store, names.stream_prefix, srv_query_get(q, "after"),
                               (size_t)limit, all, &list);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    json_t *arr = json_array();
    size_t n = stele_stream_list_count(list);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, srv_stream_info_json(stele_stream_list_get(list, i)));
    }
    stele_stream_list_free(list);
    srv_reply_json(srv, req, 200, json_pack("{s:o}", "streams", arr));
}
