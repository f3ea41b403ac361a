/*
 * server.h -- what the files of `steled`, the Stele HTTP server, share.
 *
 * steled is one libevent loop over one store. It uses only the public API (stele.h), libevent (the
 * event loop, buffers, the listener), jansson and OpenSSL; HTTP/1.1 itself is read and written
 * here (request.c, conn.c). Everything that touches HTTP
 * requests, connections or subscribers runs on the loop thread; the store's writer thread (append
 * completions, the commit hook) and admin worker threads only push completions onto a
 * mutex-protected list and wake the loop (wakeup.c), which answers every completed request at once.
 *
 * Files, one concept each:
 *   main.c           flags, startup, signals, shutdown, structured log lines
 *   config.c         settings from defaults, config file, environment and flags
 *   conn.c           connections: accept, non-blocking I/O (plain or TLS), keep-alive, timeouts
 *   request.c        one HTTP/1.1 request read from a connection's input, within the limits
 *   http.c           replies and error codes, query strings, bodies, the routing table, CORS
 *   wakeup.c         completions from other threads handed to the loop; worker jobs
 *   json_io.c        request bodies (events, expected versions) and event JSON
 *   routes_streams.c /streams..., /commits
 *   routes_all.c     /all, /health, /info, /stats, /admin/...
 *   sse.c            /subscribe: Server-Sent Events fed by subscription cursors
 *   auth.c           bearer tokens with roles and stream-name prefixes; the access rule;
 *                    subscription tickets
 *   metrics.c        counters, histograms, GET /metrics (Prometheus text)
 *   tls.c            the OpenSSL context and each connection's TLS session
 */
#ifndef STELE_SERVER_H
#define STELE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "stele.h"

/* ---- config.c ------------------------------------------------------------------------------- */

typedef struct srv_config {
    char *data_dir; /* --data (./data) */
    char *listen;   /* --listen ADDR:PORT (127.0.0.1:2113); port 0 = any free port */
    stele_durability_t durability;
    uint64_t segment_size_bytes;      /* maximum log segment size (64 MiB) */
    char *tls_cert, *tls_key;         /* PEM files; both or neither */
    char *token_file;                 /* bearer tokens; NULL = no authentication */
    bool insecure;                    /* allow a non-loopback listen without tokens */
    uint64_t max_body_bytes;          /* request body (16 MiB) */
    uint64_t max_header_bytes;        /* request line + headers (64 KiB) */
    uint64_t max_connections;         /* open HTTP connections (1024) */
    uint64_t max_subscribers;         /* open SSE streams (1024) */
    uint64_t request_timeout_ms;      /* read/write inactivity on a connection (30000) */
    uint64_t max_events_per_append;   /* all parts of one append or commit (10000) */
    uint64_t heartbeat_ms;            /* SSE comment line interval (15000) */
    uint64_t slow_subscriber_ms;      /* SSE output above the bound this long: dropped (10000) */
    uint64_t subscriber_buffer_bytes; /* SSE output bound (1 MiB) */
    uint64_t output_buffer_bytes; /* unsent output that pauses a connection's requests (1 MiB) */
    uint64_t max_jobs;            /* admin/metadata/delete worker threads at once (8) */
    int log_level;                /* 0 debug, 1 info, 2 warn, 3 error */
    char **cors_origins;          /* --cors-origin (repeatable): origins served CORS, or "*" */
    size_t cors_origin_count;
    int cors_source; /* the source that set them (a later source replaces the list) */
} srv_config_t;

void srv_config_defaults(srv_config_t *cfg);
void srv_config_free(srv_config_t *cfg);
/* Apply the config file (--config or STELE_CONFIG), the environment, then argv. Returns 0, 1 after
 * printing a usage error, or -1 when --help/--version was printed (exit 0). */
int srv_config_load(srv_config_t *cfg, int argc, char **argv);
/* Split cfg->listen into host (malloc'ed, no brackets) and port. Returns 0 or -1. */
int srv_config_listen_split(const char *listen, char **host, uint16_t *port);
bool srv_host_is_loopback(const char *host);

/* ---- main.c: structured logs ---------------------------------------------------------------- */

enum { SRV_LOG_DEBUG = 0, SRV_LOG_INFO = 1, SRV_LOG_WARN = 2, SRV_LOG_ERROR = 3 };
/* One JSON object per line on stderr: {"time","level","msg", fields...}. fields (may be NULL) is
 * a JSON object whose reference is stolen. */
void srv_log(int level, const char *msg, json_t *fields);
void srv_log_set_level(int level);

/* ---- the server ----------------------------------------------------------------------------- */

typedef struct srv srv_t;
typedef struct srv_conn srv_conn_t;
typedef struct srv_sub srv_sub_t;
typedef struct srv_req srv_req_t;

/* A request waiting for another thread (an append, a worker job). The connection may close before
 * the answer: then req and conn are cleared (conn.c) and the answer is dropped. */
typedef struct srv_pending {
    srv_req_t *req;
    srv_conn_t *conn;
    uint64_t start_ns; /* monotonic, for the latency histogram */
} srv_pending_t;

/* ---- request.c: one HTTP/1.1 request ------------------------------------------------------- */

typedef enum srv_method {
    SRV_UNKNOWN = 0, /* a token that is no HTTP method: 405 */
    SRV_GET,
    SRV_HEAD,
    SRV_POST,
    SRV_PUT,
    SRV_DELETE,
    SRV_OTHER, /* a method no route serves: 405 */
} srv_method_t;

typedef struct srv_header {
    const char *name;
    const char *value;
} srv_header_t;

struct srv_req {
    srv_conn_t *conn; /* NULL when the connection is gone */
    srv_method_t method;
    const char *method_name;
    int minor;         /* HTTP/1.minor */
    char *head;        /* request line and headers, split in place (owned) */
    char *path;        /* percent-encoded, without the query */
    const char *query; /* after '?', or NULL */
    srv_header_t *headers;
    size_t nheaders;
    char *body; /* NUL-terminated (owned); NULL when empty */
    size_t body_len, body_cap;
    uint64_t content_length, chunk_left;
    size_t trailer_bytes;
    size_t head_scanned; /* bytes already searched for the end of the head */
    uint64_t
        start_ns; /* its first bytes arrived (monotonic): it must be whole within the timeout */
    int body_state;
    bool chunked, keep_alive, want_continue, continue_sent, head_done;
    bool dispatched;              /* handed to a route: it answers */
    bool streaming;               /* an SSE response in progress */
    struct evbuffer *out_headers; /* response headers added by the route */
    const char *ticket; /* GET /subscribe?ticket=: the identity instead of a token (auth.c) */
};

/* Why a request cannot be read: the status and error code to answer with. */
typedef struct srv_req_error {
    int status;
    const char *code;
    char message[256];
} srv_req_error_t;

enum { SRV_REQ_ERROR = -1, SRV_REQ_OK = 0, SRV_REQ_INCOMPLETE = 1 };

srv_req_t *srv_req_new(srv_conn_t *conn);
void srv_req_free(srv_req_t *req);
/* Take the request's bytes from `in` as they arrive: SRV_REQ_OK when it is complete (head and
 * body), SRV_REQ_INCOMPLETE when more is needed, SRV_REQ_ERROR with *e filled. */
int srv_req_feed(srv_req_t *req, struct evbuffer *in, const struct srv_config *cfg,
                 srv_req_error_t *e);
srv_method_t srv_req_method(const srv_req_t *req);
/* The first header of that name (case-insensitive), or NULL. */
const char *srv_req_header(const srv_req_t *req, const char *name);
/* Add a header to the response (no-op when req is NULL). */
void srv_req_add_header(srv_req_t *req, const char *name, const char *value);

/* ---- conn.c: connections -------------------------------------------------------------------- */

/* Results of a non-blocking read or write besides a byte count (0 = end of stream). */
#define SRV_IO_AGAIN (-2)
#define SRV_IO_ERROR (-1)

struct srv_conn {
    srv_conn_t *prev, *next; /* every open connection */
    srv_t *srv;
    int fd;
    void *tls; /* the TLS session, NULL for plain HTTP */
    struct event *rev, *wev;
    struct evbuffer *in, *out;
    srv_req_t *req;         /* the request being read or answered */
    srv_pending_t *pending; /* its wait for another thread, if any */
    srv_sub_t *sub;         /* the SSE stream this connection carries, or NULL */
    uint64_t last_active_ns;
    bool eof, broken, close_after_write, write_armed, read_paused, busy;
    bool output_paused; /* unsent output over --output-buffer-bytes: no new request is read */
    bool over_limit;    /* beyond --max-connections: its first request gets 429 (conn.c) */
    uint64_t accepted_ns;
    bool tls_read_wants_write, tls_write_wants_read;
};

int srv_conn_listen(srv_t *srv, const struct sockaddr *sa, int salen);
int srv_conn_listen_fd(const srv_t *srv);
void srv_conn_stop_accepting(srv_t *srv);
/* Close every connection (shutdown), writing what each has pending first, best effort. */
void srv_conn_close_all(srv_t *srv);
/* Write the response to req (freed) on its connection; closes after it when it must. */
void srv_conn_respond(srv_t *srv, srv_req_t *req, int status, const char *reason,
                      const char *content_type, struct evbuffer *body);
/* A streamed 200 response (SSE): headers now, then chunks, then the end (the connection closes
 * after it). req stays with its connection until the end. */
int srv_conn_stream_start(srv_t *srv, srv_req_t *req, const char *content_type);
void srv_conn_stream_write(srv_req_t *req, struct evbuffer *chunk);
void srv_conn_stream_end(srv_req_t *req);
size_t srv_conn_output_length(const srv_conn_t *c);
/* No connection has output waiting for its socket (shutdown). */
bool srv_conn_all_flushed(const srv_t *srv);

/* The memory the open connections hold for their clients, summed over all and the largest one
 * (for /metrics): unsent output, and input (read but not yet handled, plus request bodies). */
typedef struct srv_conn_memory {
    uint64_t output_bytes, output_max_bytes;
    uint64_t input_bytes, input_max_bytes;
    uint64_t output_paused; /* connections whose requests wait for their output to drain */
} srv_conn_memory_t;
void srv_conn_memory(const srv_t *srv, srv_conn_memory_t *m);

/* A completion handed from another thread to the loop (wakeup.c). */
typedef struct srv_completion {
    struct srv_completion *next;
    void (*run)(srv_t *srv, struct srv_completion *c); /* on the loop thread */
} srv_completion_t;

typedef struct srv_metrics srv_metrics_t;
typedef struct srv_auth srv_auth_t;

struct srv {
    srv_config_t *cfg;
    stele_store_t *store;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *sweep_ev; /* idle and stuck connections */
    void *ssl_ctx;          /* SSL_CTX *, NULL without TLS */
    srv_auth_t *auth;
    struct srv_tickets *tickets; /* subscription tickets (auth.c), made on first use */
    srv_metrics_t *metrics;
    bool closing; /* shutdown started: no new work */

    /* open connections (conn.c) */
    srv_conn_t *conns;
    uint64_t conn_count;
    /* accepting (conn.c): a descriptor kept in reserve to refuse connections with when the
     * process has none left, and the timer that resumes accepting after a pause */
    int reserve_fd;
    struct event *accept_timer;
    bool accept_paused;
    uint64_t over_limit_count;    /* open connections beyond --max-connections, being refused */
    uint64_t refused_limit;       /* connections refused over --max-connections */
    uint64_t refused_descriptors; /* connections refused for want of descriptors */

    /* completions (wakeup.c) */
    pthread_mutex_t done_mu;
    srv_completion_t *done_head; /* newest first; guarded by done_mu */
    int done_fd, commit_fd;      /* eventfds written by other threads (-1 = none) */
    struct event *done_ev;       /* reads done_fd */
    struct event *commit_ev;     /* reads commit_fd: the store's commit hook ran */
    uint64_t in_flight;          /* appends + jobs not yet completed (loop thread) */
    uint64_t jobs_running;

    /* subscribers (sse.c) */
    srv_sub_t *subs;
    uint64_t sub_count;
    uint64_t sub_catching_up; /* subscribers still reading their history */
    struct event *sse_timer;
    srv_sub_t *sse_work_head, *sse_work_tail; /* subscribers to pull from, in turn */
    struct event *sse_work_ev;                /* serves one turn of that queue */
};

/* ---- http.c --------------------------------------------------------------------------------- */

int srv_http_start(srv_t *srv, const char *host, uint16_t port, uint16_t *bound_port);
/* Stop accepting connections (shutdown). */
void srv_http_stop_accepting(srv_t *srv);
void srv_http_free(srv_t *srv);
uint64_t srv_now_ns(void);

/* A complete request read by conn.c: route it. Every route answers exactly once. */
void srv_http_dispatch(srv_t *srv, srv_req_t *req);

/* Attach a pending operation to the request's connection (see srv_pending_t). */
void srv_pending_attach(srv_t *srv, srv_pending_t *p, srv_req_t *req);
/* Detach it when its answer is ready; returns the request to answer, or NULL if the client left. */
srv_req_t *srv_pending_detach(srv_pending_t *p);

/* Replies. Each counts the request in the metrics. body is stolen. */
void srv_reply_json(srv_t *srv, srv_req_t *req, int status, json_t *body);
void srv_reply_buffer(srv_t *srv, srv_req_t *req, int status, struct evbuffer *body,
                      const char *content_type);
void srv_reply_empty(srv_t *srv, srv_req_t *req, int status);
/* {"error": code, "message": ...} with the status of the code. extra (may be NULL, stolen) adds
 * keys. */
void srv_reply_error(srv_t *srv, srv_req_t *req, const char *code, json_t *extra, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
/* The error for a libstele code; detail names the problem (NULL = stele_errdetail()). */
void srv_reply_stele_error(srv_t *srv, srv_req_t *req, int rc, const char *detail, json_t *extra);
const char *srv_error_code(int rc);
/* The stable error codes, in a fixed order (for the metrics). */
size_t srv_error_code_count(void);
const char *srv_error_code_name(size_t i);

/* Request helpers. */
typedef struct srv_query {
    struct evkeyvalq kv;
} srv_query_t;
/* Parse the query string; only the names in allowed (NULL-terminated) may appear, each at most
 * once. Returns 0, or -1 after replying 400 naming the parameter. The dispatcher calls it with
 * the route's parameters from the routing table (http.c). */
int srv_query_parse(srv_t *srv, srv_req_t *req, const char *const *allowed, srv_query_t *q);
void srv_query_free(srv_query_t *q);
const char *srv_query_get(const srv_query_t *q, const char *name);
/* A non-negative decimal number; 0 or -1 after replying 400 naming the parameter. */
int srv_query_u64(srv_t *srv, srv_req_t *req, const srv_query_t *q, const char *name,
                  uint64_t deflt, uint64_t *out);
/* "true"/"false"/"1"/"0" (absent = false). */
int srv_query_bool(srv_t *srv, srv_req_t *req, const srv_query_t *q, const char *name, bool *out);
/* The request body as JSON (checks Content-Type). Returns the value or NULL after replying. The
 * body bytes are copied to *raw (malloc'ed, NUL-terminated) when raw is not NULL. */
json_t *srv_body_json(srv_t *srv, srv_req_t *req, char **raw, size_t *raw_len);
/* The parts of srv_body_json(): the body text (Content-Type checked, no raw NUL; malloc'ed and
 * NUL-terminated, taken from req) or -1 after replying; and its parse, NULL after replying. */
int srv_body_text(srv_t *srv, srv_req_t *req, char **text, size_t *len);
json_t *srv_body_parse(srv_t *srv, srv_req_t *req, const char *text, size_t len);

/* ---- wakeup.c ------------------------------------------------------------------------------- */

int srv_wakeup_init(srv_t *srv);
void srv_wakeup_free(srv_t *srv);
/* Install the store's commit hook (before any append). */
void srv_wakeup_hook(srv_t *srv);
/* From any thread: queue c and wake the loop. */
void srv_complete(srv_t *srv, srv_completion_t *c);

/* A blocking store call run on a worker thread; done() answers on the loop. */
typedef struct srv_job srv_job_t;
struct srv_job {
    srv_completion_t c;
    srv_pending_t pending;
    int (*work)(srv_t *srv, srv_job_t *job); /* worker thread; returns 0 or a stele code */
    void (*done)(srv_t *srv, srv_job_t *job, srv_req_t *req); /* loop; req may be NULL */
    srv_t *srv;
    int status;
    char detail[256];
    void *arg; /* the route's state, freed by done() */
};
/* Start job (heap-allocated; freed after done()). Replies 429 itself when too many run. */
void srv_job_start(srv_t *srv, srv_req_t *req, srv_job_t *job);

/* ---- json_io.c ------------------------------------------------------------------------------ */

/* "any" | "no_stream" | "stream_exists" | N as a JSON value or query text. Returns 0 or -1. */
int srv_expected_from_json(const json_t *v, int64_t *out);
int srv_expected_from_text(const char *text, int64_t *out);
json_t *srv_expected_to_json(int64_t expected);

/* The events of one append, parsed from a request body, with the memory they point into. */
typedef struct srv_events {
    stele_event_in_t *events;
    size_t count;
    void **owned; /* decoded binary data and re-encoded JSON */
    size_t owned_count;
} srv_events_t;

/* Parse the JSON array `events` (a member of obj, located in raw text raw/obj_span for exact data
 * bytes) into out. On failure returns -1 with an error code name and message in err/msg. */
int srv_events_parse(const json_t *events, const char *raw, size_t raw_len, size_t obj_start,
                     srv_events_t *out, const char **err, char *msg, size_t msg_len);
void srv_events_free(srv_events_t *ev);

/* jansson's reading of a request body (JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, duplicate keys
 * allowed: see json_io.c), or NULL with "the body is not valid JSON: ..." in msg. */
json_t *srv_json_parse(const char *text, size_t len, char *msg, size_t msg_len);
/* A key that object obj (its text at raw[at]) holds more than once in the raw text ("?" if none).
 */
const char *srv_json_duplicate(const json_t *obj, const char *raw, size_t raw_len, size_t at);
/* One append (the body of POST /streams/{s}, or a part of a commit when is_commit) from the object
 * obj, whose text starts at raw[obj_start] when have_span: its keys (no unknown or repeated one),
 * expected version and events. Returns 0, or -1 with an error code name and message. */
int srv_part_read(const json_t *obj, const char *raw, size_t raw_len, size_t obj_start,
                  bool have_span, bool is_commit, int64_t *expected, srv_events_t *out,
                  const char **err, char *msg, size_t msg_len);
/* The general reader of the body of POST /streams/{s}: the parsed body (which the events' types
 * point into: release it with json_decref after srv_events_free), or NULL with an error code name
 * and message. */
json_t *srv_append_body_read(const char *raw, size_t len, int64_t *expected, srv_events_t *out,
                             const char **err, char *msg, size_t msg_len);

/* The next element of an array walked in order: *pos starts at the array's '[' (text[arr]) and is
 * moved past each element found, so a walk over n elements costs one pass, not n. */
bool srv_json_element_next(const char *text, size_t len, size_t *pos, size_t *start, size_t *end);

/* Append one event as the CLI's JSON line (no newline) to out. Returns 0 or -1 (no memory). */
int srv_event_json(struct evbuffer *out, const stele_event_t *ev);
/* Append a JSON string literal. */
void srv_json_string(struct evbuffer *out, const char *s, size_t len);
/* {"stream", "first_version", "last_version", "first_position", "last_position", "idempotent"} */
void srv_append_result_write(struct evbuffer *out, const char *stream,
                             const stele_append_result_t *r);
json_t *srv_stream_info_json(const stele_stream_info_t *info);

/* ---- body_fast.c ---------------------------------------------------------------------------- */

enum { SRV_FAST_OK = 0, SRV_FAST_NO = 1 };
/* The body of POST /streams/{s} in its common shape (see body_fast.c): SRV_FAST_OK with the
 * expected version and the events (pointing into raw), or SRV_FAST_NO: read it with the general
 * path, which accepts or refuses it. */
int srv_fast_append(const char *raw, size_t len, size_t max_events, int64_t *expected,
                    srv_events_t *out);

/* ---- routes --------------------------------------------------------------------------------- */

/* segs: the decoded path segments (segs[0] is "streams"). */
/* Shared by the read routes: direction=forward|backward; limit=1..10000 (default 1000); send
 * {"events":[...]} from reader (which is closed). Each returns 0 or -1 after replying. */
int srv_read_direction(srv_t *srv, srv_req_t *req, const srv_query_t *q, stele_direction_t *dir);
int srv_read_limit(srv_t *srv, srv_req_t *req, const srv_query_t *q, uint64_t *limit);
void srv_reply_events(srv_t *srv, srv_req_t *req, stele_reader_t *reader);
/* The $all filter from type, type_prefix, category, prefix, stream, since, until, system. The
 * strings point into q. Returns 0 or -1 after replying. */
int srv_filter_from_query(srv_t *srv, srv_req_t *req, const srv_query_t *q, stele_filter_t *f);

/* What the dispatcher (http.c) hands a route: the parsed query, holding only the parameters the
 * route declares in the routing table, each at most once (anything else was answered 400 before
 * the handler ran), and the decoded path segments. Borrowed until the handler returns. */
typedef struct srv_args {
    const srv_query_t *q;
    const char *stream; /* the {s} segment of /streams/{s}..., never empty; NULL elsewhere */
    const char *last;   /* the last path segment (admin: "verify" or "reindex") */
} srv_args_t;

/* The handlers of the routing table (http.c). GET handlers also answer HEAD. */
void srv_route_stream_list(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_read(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_append(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_delete(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stream_info(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_metadata_get(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_metadata_put(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_commits(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_all(srv_t *srv, srv_req_t *req, const srv_args_t *a);
/* GET /events/{id}: one event by its id (a->last). */
void srv_route_event(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_health(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_info(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_stats(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_route_admin(srv_t *srv, srv_req_t *req, const srv_args_t *a);

/* ---- sse.c ---------------------------------------------------------------------------------- */

int srv_sse_init(srv_t *srv);
void srv_route_subscribe(srv_t *srv, srv_req_t *req, const srv_args_t *a);
/* The store's commit hook woke the loop: feed every subscriber. */
void srv_sse_pump_all(srv_t *srv);
/* The connection of sub closed. */
void srv_sse_conn_closed(srv_t *srv, srv_sub_t *sub);
/* The connection of sub wrote out all its output: pull more. */
void srv_sse_drained(srv_t *srv, srv_sub_t *sub);
/* End every stream (shutdown) and free the subscribers. */
void srv_sse_close_all(srv_t *srv);

/* ---- auth.c --------------------------------------------------------------------------------- */

typedef enum srv_role {
    SRV_ROLE_NONE = 0,
    SRV_ROLE_READ,
    SRV_ROLE_WRITE,
    SRV_ROLE_ADMIN
} srv_role_t;

/* Load the token file. Returns 0 or -1 after logging why. */
int srv_auth_load(const char *path, srv_auth_t **out);
void srv_auth_free(srv_auth_t *auth);
/* The access rule, asked by every route once it knows what it will return or change: does the
 * request's bearer token (scheme case-insensitive) have `role` on every stream whose events, name
 * or metadata that can be? names gives those streams by the name conditions the route passes to
 * the library (stream, stream_prefix, category of a stele_filter_t; the other fields are ignored;
 * NULL or "" is no condition): a filter without any means every stream, and needs a token with
 * prefix `*`. names NULL: the route returns no stream's events, names or metadata (/info,
 * /stats, /metrics), the role decides. Returns true, or false after replying 401 or 403. Without
 * a token file every request passes. */
bool srv_access_check(srv_t *srv, srv_req_t *req, srv_role_t role, const stele_filter_t *names);
/* srv_access_check() for exactly one stream. */
bool srv_access_stream(srv_t *srv, srv_req_t *req, srv_role_t role, const char *stream);
/* POST /subscribe/ticket: a single-use ticket, valid SRV_TICKET_MS, carrying the identity (role
 * and prefixes) of the request's token, that GET /subscribe takes as ?ticket= (req->ticket) in
 * place of a token: EventSource cannot send headers, and a long-lived token must never be put in
 * a URL. At most SRV_MAX_TICKETS are outstanding (SRV_TICKETS_PER_TOKEN per token). */
#define SRV_TICKET_MS 30000u
#define SRV_MAX_TICKETS 1024u
#define SRV_TICKETS_PER_TOKEN 64u
void srv_route_ticket(srv_t *srv, srv_req_t *req, const srv_args_t *a);
void srv_tickets_free(srv_t *srv);

/* ---- metrics.c ------------------------------------------------------------------------------ */

int srv_metrics_init(srv_t *srv);
void srv_metrics_free(srv_t *srv);
void srv_metrics_request(srv_t *srv, int status);
void srv_metrics_error(srv_t *srv, const char *code);
void srv_metrics_append(srv_t *srv, size_t events, uint64_t bytes, uint64_t latency_ns, bool ok);
void srv_metrics_completion_batch(srv_t *srv, size_t count);
void srv_route_metrics(srv_t *srv, srv_req_t *req);

/* ---- tls.c ---------------------------------------------------------------------------------- */

/* Load cert and key; sets srv->ssl_ctx. 0 or -1. */
int srv_tls_init(srv_t *srv);
void srv_tls_free(srv_t *srv);
/* The TLS session of an accepted socket (server side), or NULL. */
void *srv_tls_session_new(srv_t *srv, int fd);
/* Like recv/send: a byte count, 0 at the end of the stream (read), SRV_IO_ERROR, or SRV_IO_AGAIN
 * with *want = EV_READ or EV_WRITE: what the session waits for. */
ssize_t srv_tls_read(void *session, void *buf, size_t cap, int *want);
ssize_t srv_tls_write(void *session, const void *buf, size_t len, int *want);
/* clean: send close_notify first. NULL is ignored. */
void srv_tls_session_free(void *session, bool clean);

#endif /* STELE_SERVER_H */
