/*
 * remote_tail.c -- `stele tail` through the server: GET /subscribe, a Server-Sent Events stream.
 *
 * The body is cut into lines as it arrives (LF, CRLF or CR) and lines into events (a blank line
 * ends one): "event: event" carries an event's JSON in its data, printed like `read` prints it;
 * "event: caught-up" marks the end of the history (with --caught-up-exit the transfer ends
 * there); "event: dropped" says the server gave up on us (too slow) and will close. Comment lines
 * (": heartbeat") are skipped.
 *
 * When the connection ends without us asking -- dropped, the server restarted, the network failed
 * -- the subscription is opened again with Last-Event-ID = the last position printed, so the
 * output has no gap and no duplicate, up to MAX_RECONNECTS times in a row (a connection that
 * delivers something resets the count). SIGINT and SIGTERM end it cleanly with status 0.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

#define MAX_RECONNECTS 5
#define RECONNECT_DELAY_MS 250

typedef struct sse {
    const cli_ctx_t *ctx;
    json_out_t line; /* the line being received */
    json_out_t data; /* the data lines of the event being received */
    char event[32];  /* its event name */
    bool cr_seen;    /* the last byte was CR: a following LF belongs to it */
    bool live;       /* caught up */
    bool caught_up_exit;
    bool verbose;
    bool announced;    /* "caught up at" was printed */
    bool done;         /* caught up with --caught-up-exit */
    bool dropped;      /* the server said it dropped us */
    bool progress;     /* this connection delivered something */
    int status;        /* EXIT_OK, or why the stream was ended */
    uint64_t position; /* the last position printed (or the start, minus one) */
} sse_t;

static bool dispatch(sse_t *s) {
    const char *name = s->event[0] != '\0' ? s->event : "message";
    size_t len = s->data.len;
    if (len > 0 && s->data.data[len - 1] == '\n') {
        len--;
    }
    bool keep_going = true;
    if ((strcmp(name, "event") == 0 || strcmp(name, "message") == 0) && len > 0) {
        uint64_t position = 0;
        s->status = remote_print_event(s->ctx, s->data.data, len, &position);
        keep_going = s->status == EXIT_OK;
        s->position = position;
        s->progress = true;
        if (s->live) {
            fflush(stdout);
        }
    } else if (strcmp(name, "caught-up") == 0) {
        /* The server says where its subscription stands (as local mode prints it). */
        json_t *o = len > 0 ? json_loadb(s->data.data, len, 0, NULL) : NULL;
        json_t *p = json_object_get(o, "position");
        if (json_is_integer(p) && json_integer_value(p) >= (json_int_t)s->position) {
            s->position = (uint64_t)json_integer_value(p);
        }
        json_decref(o);
        s->live = true;
        s->progress = true;
        fflush(stdout);
        if (!s->announced && (s->verbose || isatty(STDERR_FILENO) == 1)) {
            fprintf(stderr, "caught up at %llu\n", (unsigned long long)s->position);
            s->announced = true;
        }
        if (s->caught_up_exit) {
            s->done = true;
            keep_going = false;
        }
    } else if (strcmp(name, "dropped") == 0) {
        s->dropped = true;
        if (s->verbose) {
            fprintf(stderr, "stele: tail: the server dropped the subscription%s%.*s\n",
                    len > 0 ? ": " : "", (int)(len < 300 ? len : 300),
                    s->data.data != NULL ? s->data.data : "");
        }
    }
    s->event[0] = '\0';
    s->data.len = 0;
    if (s->data.data != NULL) {
        s->data.data[0] = '\0';
    }
    return keep_going;
}

static bool on_line(sse_t *s, const char *line, size_t len) {
    if (len == 0) {
        return dispatch(s);
    }
    if (line[0] == ':') {
        return true; /* a comment: heartbeat */
    }
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon != NULL ? (size_t)(colon - line) : len;
    const char *value = colon != NULL ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        jout_add(&s->data, value, value_len);
        jout_add(&s->data, "\n", 1);
        if (s->data.failed) {
            cli_errorf(s->ctx, "out of memory");
            s->status = EXIT_ERROR;
            return false;
        }
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        snprintf(s->event, sizeof(s->event), "%.*s", (int)value_len, value);
    }
    /* "id" is the event's position, which the event JSON carries too; "retry" is not used. */
    return true;
}

static bool on_data(void *arg, const char *data, size_t len) {
    sse_t *s = arg;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n' && s->cr_seen) {
            s->cr_seen = false;
            continue;
        }
        s->cr_seen = c == '\r';
        if (c == '\n' || c == '\r') {
            bool go = on_line(s, s->line.data != NULL ? s->line.data : "", s->line.len);
            s->line.len = 0;
            if (!go) {
                return false;
            }
            continue;
        }
        jout_add(&s->line, &data[i], 1);
        if (s->line.failed) {
            cli_errorf(s->ctx, "out of memory");
            s->status = EXIT_ERROR;
            return false;
        }
    }
    return true;
}

static bool should_stop(void *arg) {
    (void)arg;
    return cli_stop_requested();
}

static void pause_ms(long ms) {
    for (long waited = 0; waited < ms && !cli_stop_requested(); waited += 50) {
        struct timespec ts = {0, 50L * 1000L * 1000L};
        nanosleep(&ts, NULL);
    }
}

/* The head position of the server's log (for --end). */
static int head_position(cli_ctx_t *ctx, uint64_t *out) {
    remote_reply_t reply;
    int status = remote_call(ctx, "GET", "/info", NULL, 0, &reply);
    if (status != EXIT_OK) {
        status = remote_report(ctx, &reply);
        remote_reply_free(&reply);
        return status;
    }
    json_t *root =
        reply.body.data != NULL ? json_loadb(reply.body.data, reply.body.len, 0, NULL) : NULL;
    json_t *head = json_object_get(root, "head_position");
    if (!json_is_integer(head) || json_integer_value(head) < 0) {
        cli_errorf(ctx, "the server's /info has no head_position");
        status = EXIT_ERROR;
    } else {
        *out = (uint64_t)json_integer_value(head);
    }
    json_decref(root);
    remote_reply_free(&reply);
    return status;
}

static void subscribe_path(json_out_t *path, const stele_subscribe_options_t *so, uint64_t after) {
    const stele_filter_t *f = &so->filter;
    char since[36], until[36];
    if (f->since_ns != 0) {
        stele_time_format(f->since_ns, since);
    }
    if (f->until_ns != 0) {
        stele_time_format(f->until_ns, until);
    }
    jout_str(path, "/subscribe");
    http_query_add(path, "stream", so->stream);
    if (after > 0) {
        http_query_add_u64(path, "from", after + 1);
    }
    http_query_add(path, "type", f->type);
    http_query_add(path, "type_prefix", f->type_prefix);
    http_query_add(path, "category", f->category);
    http_query_add(path, "prefix", f->stream_prefix);
    http_query_add(path, "since", f->since_ns != 0 ? since : NULL);
    http_query_add(path, "until", f->until_ns != 0 ? until : NULL);
    http_query_add(path, "system", f->include_system ? "true" : NULL);
}

int remote_tail(cli_ctx_t *ctx, const stele_subscribe_options_t *so, bool caught_up_exit,
                bool verbose) {
    http_client_t *c = remote_client(ctx);
    if (c == NULL) {
        return EXIT_ERROR;
    }
    uint64_t start = so->after_position;
    int status = EXIT_OK;
    if (so->from_end && (status = head_position(ctx, &start)) != EXIT_OK) {
        return status;
    }
    cli_stop_on_signals();
    sse_t s;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.caught_up_exit = caught_up_exit;
    s.verbose = verbose;
    s.position = start;
    int failures = 0;
    bool resumed = false;
    while (!cli_stop_requested()) {
        json_out_t path = {0};
        subscribe_path(&path, so, s.position);
        char id[24];
        snprintf(id, sizeof(id), "%llu", (unsigned long long)s.position);
        http_response_t resp;
        s.dropped = s.progress = s.cr_seen = false;
        s.line.len = s.data.len = 0;
        s.event[0] = '\0';
        if (path.failed) {
            cli_errorf(ctx, "out of memory");
            status = EXIT_ERROR;
            break;
        }
        int rc = http_stream(c, path.data, resumed && s.position > 0 ? id : NULL, on_data,
                             should_stop, &s, &resp);
        jout_free(&path);
        fflush(stdout);
        if (s.done || s.status != EXIT_OK || cli_stop_requested()) {
            status = s.status;
            http_response_free(&resp);
            break;
        }
        if (rc == CURLE_OK && resp.status / 100 != 2) {
            /* The server refused the subscription: no point in trying again. */
            remote_reply_t reply;
            memset(&reply, 0, sizeof(reply));
            remote_reply_from(ctx, &resp, &reply);
            status = remote_report(ctx, &reply);
            http_response_free(&resp);
            break;
        }
        bool first_connect_failed = !resumed && rc != CURLE_OK && !s.progress;
        failures = s.progress ? 1 : failures + 1;
        if (first_connect_failed || failures > MAX_RECONNECTS) {
            remote_reply_t reply;
            memset(&reply, 0, sizeof(reply));
            remote_reply_from(ctx, &resp, &reply);
            if (rc == CURLE_OK) {
                snprintf(reply.message, sizeof(reply.message),
                         "the server at %s closed the subscription %d times in a row", ctx->url,
                         failures);
            }
            status = remote_report(ctx, &reply);
            status = status == EXIT_OK ? EXIT_ERROR : status;
            http_response_free(&resp);
            break;
        }
        if (verbose) {
            fprintf(stderr, "stele: tail: reconnecting after position %llu (%s)\n",
                    (unsigned long long)s.position,
                    s.dropped        ? "dropped by the server"
                    : rc == CURLE_OK ? "the server closed the stream"
                                     : resp.error);
        }
        http_response_free(&resp);
        resumed = true;
        pause_ms(RECONNECT_DELAY_MS * failures);
    }
    jout_free(&s.line);
    jout_free(&s.data);
    return status;
}
