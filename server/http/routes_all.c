/*
 * routes_all.c -- the store-wide endpoints: GET /all (the global log with filters), /events/{id}
 * (one event by its id), /health, /info (version and the tamper-evident head), /stats, and the
 * admin calls /admin/verify and /admin/reindex (which run on worker threads: they read the whole
 * log).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "info_json.h"
#include "access.h"
#include "../core/log.h"
#include "../core/wakeup.h"
#include "json_io.h"
#include "routes.h"

int srv_filter_from_query(srv_t *srv, srv_req_t *req, const srv_query_t *q, stele_filter_t *f) {
    memset(f, 0, sizeof(*f));
    f->type = srv_query_get(q, "type");
    f->type_prefix = srv_query_get(q, "type_prefix");
    f->category = srv_query_get(q, "category");
    f->stream_prefix = srv_query_get(q, "prefix");
    f->stream = srv_query_get(q, "stream");
    const char *names[2] = {"since", "until"};
    int64_t *values[2] = {&f->since_ns, &f->until_ns};
    for (int i = 0; i < 2; i++) {
        const char *text = srv_query_get(q, names[i]);
        if (text != NULL && stele_time_parse(text, values[i]) != 0) {
            /* The library's detail names the problem, and a '+' that arrived as a space. */
            srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", names[i]),
                            "%s must be an RFC 3339 time or a date: %s", names[i],
                            stele_errdetail());
            return -1;
        }
    }
    return srv_query_bool(srv, req, q, "system", &f->include_system);
}

void srv_route_all(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const srv_query_t *q = a->q;
    stele_read_options_t opts;
    stele_read_options_init(&opts);
    if (srv_read_direction(srv, req, q, &opts.direction) != 0 ||
        srv_read_limit(srv, req, q, &opts.limit) != 0 ||
        srv_query_u64(srv, req, q, "from", 0, &opts.from_position) != 0 ||
        srv_filter_from_query(srv, req, q, &opts.filter) != 0 ||
        !srv_access_check(srv, req, SRV_ROLE_READ, &opts.filter)) {
        return;
    }
    stele_reader_t *reader = NULL;
    int rc = stele_read_all(srv->store, &opts, &reader);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    srv_reply_events(srv, req, reader);
}

void srv_route_health(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    (void)a;
    stele_stats_t s = {.struct_size = sizeof s};
    int rc = stele_stats(srv->store, &s);
    if (rc != 0 || s.poisoned) {
        srv_reply_json(srv, req, 503, json_pack("{s:s}", "status", rc != 0 ? "error" : "poisoned"));
        return;
    }
    srv_reply_json(srv, req, 200, json_pack("{s:s}", "status", "ok"));
}

void srv_route_info(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    (void)a;
    if (!srv_access_check(srv, req, SRV_ROLE_READ, NULL)) {
        return;
    }
    uint64_t position = 0;
    uint8_t hash[32];
    int rc = stele_head_digest(srv->store, &position, hash);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    char hex[65];
    for (size_t i = 0; i < sizeof(hash); i++) {
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    }
    srv_reply_json(srv, req, 200,
                   json_pack("{s:s, s:I, s:s, s:s}", "version", STELE_VERSION_STRING,
                             "head_position", (json_int_t)position, "head_hash", hex, "durability",
                             durability_name(srv->cfg->durability)));
}

void srv_route_stats(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    (void)a;
    if (!srv_access_check(srv, req, SRV_ROLE_READ, NULL)) {
        return;
    }
    stele_stats_t s = {.struct_size = sizeof s};
    int rc = stele_stats(srv->store, &s);
    if (rc != 0) {
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    json_t *o = stats_json(&s);
    srv_reply_json(srv, req, 200, o);
}

/* ---- admin ---------------------------------------------------------------------------------- */

static int verify_work(srv_t *srv, srv_job_t *job) {
    stele_verify_report_t *r = job->arg;
    r->struct_size = sizeof *r;
    return stele_verify(srv->store, NULL, NULL, r);
}

static int reindex_work(srv_t *srv, srv_job_t *job) {
    (void)job;
    return stele_reindex(srv->store, NULL, NULL);
}

static void verify_done(srv_t *srv, srv_job_t *job, void *arg) {
    srv_req_t *req = arg;
    stele_verify_report_t *r = job->arg;
    if (job->status != 0 && job->status != STELE_ECORRUPT) {
        srv_reply_stele_error(srv, req, job->status, job->detail, NULL);
    } else {
        json_t *o = verify_json(job->status, r);
        srv_reply_json(srv, req, 200, o);
    }
    free(r);
}

static void reindex_done(srv_t *srv, srv_job_t *job, void *arg) {
    srv_req_t *req = arg;
    if (job->status != 0) {
        srv_reply_stele_error(srv, req, job->status, job->detail, NULL);
    } else {
        srv_reply_json(srv, req, 200, json_object());
    }
}

void srv_route_admin(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *what = a->last;
    stele_filter_t every; /* verify and reindex read every stream */
    memset(&every, 0, sizeof(every));
    if (!srv_access_check(srv, req, SRV_ROLE_ADMIN, &every)) {
        return;
    }
    srv_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    if (strcmp(what, "verify") == 0) {
        job->arg = calloc(1, sizeof(stele_verify_report_t));
        if (job->arg == NULL) {
            free(job);
            srv_reply_error(srv, req, "internal", NULL, "out of memory");
            return;
        }
        job->work = verify_work;
        job->done = verify_done;
    } else {
        job->work = reindex_work;
        job->done = reindex_done;
    }
    srv_log(SRV_LOG_INFO, "admin call", json_pack("{s:s}", "what", what));
    srv_job_start(srv, req->conn, req, job);
}

void srv_route_event(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    const char *id_text = a->last;
    stele_uuid_t id;
    if (stele_uuid_parse(id_text, &id) != 0) {
        srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", "id"),
                        "the event id must be a UUID (8-4-4-4-12 hex digits)");
        return;
    }
    stele_reader_t *reader = NULL;
    stele_event_t ev;
    int rc = stele_event_by_id(srv->store, &id, &reader);
    if (rc == 0) {
        rc = stele_reader_next(reader, &ev);
        if (rc == 0) {
            rc = STELE_ENOTFOUND; /* not visible to this reader: cannot happen */
        }
    }
    /* Access is decided by the event's stream. An id that names no event is a request without a
     * name condition: it needs `*`, so a prefix-limited token cannot probe ids outside its
     * prefixes (it gets 403 whether or not the id exists there). */
    if (!srv_access_stream(srv, req, SRV_ROLE_READ, rc == 1 ? ev.stream : NULL)) {
        stele_reader_close(reader);
        return;
    }
    if (rc != 1) {
        stele_reader_close(reader);
        srv_reply_stele_error(srv, req, rc, NULL, NULL);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL || srv_event_json(buf, &ev) != 0) {
        stele_reader_close(reader);
        if (buf != NULL) {
            evbuffer_free(buf);
        }
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    stele_reader_close(reader);
    evbuffer_add(buf, "\n", 1);
    srv_reply_buffer(srv, req, 200, buf, "application/json");
    evbuffer_free(buf);
}
