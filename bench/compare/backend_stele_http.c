/*
 * backend_stele_http.c -- stele-compare's "stele-http" system: the steled server on loopback,
 * driven the way an application would drive it, over keep-alive HTTP/1.1 with JSON bodies and a
 * Server-Sent Events subscription. Set beside the in-process "stele" figures, it shows what the
 * HTTP layer costs.
 *
 * The server is the steled next to the running program (else the one on PATH), started on a fresh
 * store <dir>/data with --durability sync on a free 127.0.0.1 port; its log is <dir>/steled.log.
 * Its connection and subscriber limits are raised above what the workloads open, and its
 * inactivity timeout above any pause between a client's requests, so neither is what gets
 * measured. It is stopped with SIGTERM (and gets SIGKILL should the benchmark die first).
 *
 * Operations (see docs/http-api.md):
 *   append       POST /streams/{stream} {"expected_version":N|"any"|"no_stream","events":[...]}
 *                201: last_version of the answer; 409 wrong_expected_version: BACKEND_CONFLICT
 *   commit       POST /commits {"parts":[{"stream","expected_version","events"},...]}
 *   read_all     GET /all?from=P&limit=10000, paged until a short page
 *   read_stream  GET /streams/{stream}?from=V&limit=10000, paged the same way (404: 0 events)
 *   subscribe    GET /subscribe?from=end on a connection of its own, read by a thread; returns once
 *                the server's `caught-up` event has arrived, so every event appended after that
 *                is delivered, and nothing from before.
 *
 * Each event's data goes into the request verbatim (it is JSON) and comes back verbatim (steled
 * writes the appended JSON value back as it was given, compacted), so counts and data bytes are
 * those of the JSON value of each event's "data" key.
 */

#include "backend.h"
#include "http_conn.h"
#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVER_HOST "127.0.0.1"
#define START_ATTEMPTS 3       /* a free port can be taken before steled binds it */
#define START_TIMEOUT_MS 10000 /* until steled accepts connections */
#define STOP_TIMEOUT_MS 15000  /* from SIGTERM until SIGKILL */
#define IO_TIMEOUT_MS 60000    /* the longest wait for an answer to one request */
#define CAUGHT_UP_TIMEOUT_MS 10000
#define PAGE_EVENTS 10000u     /* events per read request: the server's maximum */
#define BODY_EXCERPT_BYTES 120 /* of an unexpected answer, in error reasons */

struct benv {
    pid_t pid;
    uint16_t port;
    char log_path[PATH_MAX];
    char steled[PATH_MAX]; /* the program */
    char data[PATH_MAX];   /* its --data directory */
};

struct bconn {
    http_conn_t http;
    http_buf_t target; /* the request target being built */
    http_buf_t body;   /* the request body being built */
};

struct bsub {
    http_conn_t http;
    pthread_t thread;
    bdeliver_fn fn;
    void *arg;
    uint64_t after;       /* the position at `caught-up`: later events are live */
    atomic_bool stopping; /* unsubscribe has begun: the stream ending is expected */
};

/* --- JSON scanning ------------------------------------------------------------------------
 * The answers come from steled, so a scanner that finds the extent of each value is enough: it
 * never copies or decodes, and counts events exactly (a key inside an event's data cannot be
 * mistaken for one of the event's own). */

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }
    return p;
}

/* p is at the opening quote; returns just past the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end) {
    const char *q = p + 1;
    for (;;) {
        const char *quote = q < end ? memchr(q, '"', (size_t)(end - q)) : NULL;
        if (quote == NULL) {
            return NULL;
        }
        size_t backslashes = 0; /* an odd number before it escapes the quote */
        for (const char *b = quote; b > p + 1 && b[-1] == '\\'; b--) {
            backslashes++;
        }
        if (backslashes % 2 == 0) {
            return quote + 1;
        }
        q = quote + 1;
    }
}

/* The bytes a scan of an object or array must stop at; everything else is skipped. */
static bool structural(char ch) {
    return ch == '"' || ch == '{' || ch == '}' || ch == '[' || ch == ']';
}

/* Returns just past the value starting at p, or NULL when it is cut off or empty. */
static const char *skip_value(const char *p, const char *end) {
    if (p >= end) {
        return NULL;
    }
    if (*p == '"') {
        return skip_string(p, end);
    }
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char ch = *p;
            if (!structural(ch)) {
                p++;
                continue;
            }
            if (ch == '"') {
                p = skip_string(p, end);
                if (p == NULL) {
                    return NULL;
                }
                continue;
            }
            if (ch == '{' || ch == '[') {
                depth++;
            } else if (--depth == 0) {
                return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *q = p; /* a number, true, false or null */
    while (q < end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\t' &&
           *q != '\r' && *q != '\n') {
        q++;
    }
    return q > p ? q : NULL;
}

typedef struct jitem {
    const char *key; /* members only: the key's raw text, without quotes */
    size_t key_len;
    const char *val;
    const char *val_end;
} jitem_t;

/* The next member of an object (*pp just past '{' or the previous member) or element of an array
 * (close = ']'). Returns 1 with *it set, 0 past the closing bracket, -1 when malformed. */
static int next_item(const char **pp, const char *end, char close, jitem_t *it) {
    const char *p = skip_ws(*pp, end);
    if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
    }
    if (p >= end) {
        return -1;
    }
    if (*p == close) {
        *pp = p + 1;
        return 0;
    }
    it->key = NULL;
    it->key_len = 0;
    if (close == '}') {
        if (*p != '"') {
            return -1;
        }
        const char *q = skip_string(p, end);
        if (q == NULL) {
            return -1;
        }
        it->key = p + 1;
        it->key_len = (size_t)(q - 1 - it->key);
        p = skip_ws(q, end);
        if (p >= end || *p != ':') {
            return -1;
        }
        p = skip_ws(p + 1, end);
    }
    it->val = p;
    it->val_end = skip_value(p, end);
    if (it->val_end == NULL) {
        return -1;
    }
    *pp = it->val_end;
    return 1;
}

static bool key_is(const jitem_t *it, const char *key) {
    size_t n = strlen(key);
    return it->key_len == n && memcmp(it->key, key, n) == 0;
}

/* The value of top-level member `key` of the object text[0..len). Returns true when found. */
static bool object_member(const char *text, size_t len, const char *key, jitem_t *out) {
    const char *end = text + len;
    const char *p = skip_ws(text, end);
    if (p >= end || *p != '{') {
        return false;
    }
    p++;
    int r;
    while ((r = next_item(&p, end, '}', out)) == 1) {
        if (key_is(out, key)) {
            return true;
        }
    }
    return false;
}

/* An unsigned decimal integer spanning exactly p[0..end). */
static bool parse_u64(const char *p, const char *end, uint64_t *out) {
    uint64_t v = 0;
    if (p >= end || end - p > 19) {
        return false;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

/* Counts the events of a read answer {"events":[{...},...]}: their number, the bytes of their
 * "data" values, and the last event's `order_key` ("position" or "version"). Returns 0 or -1. */
static int scan_page(const char *body, size_t len, const char *order_key, uint64_t *count,
                     uint64_t *data_bytes, uint64_t *last) {
    jitem_t events, ev, field;
    if (!object_member(body, len, "events", &events) || *events.val != '[') {
        return -1;
    }
    const char *p = events.val + 1, *end = events.val_end;
    uint64_t n = 0, bytes = 0;
    int r;
    while ((r = next_item(&p, end, ']', &ev)) == 1) {
        if (*ev.val != '{') {
            return -1;
        }
        const char *q = ev.val + 1;
        bool have_order = false;
        int fr;
        while ((fr = next_item(&q, ev.val_end, '}', &field)) == 1) {
            if (key_is(&field, "data")) {
                bytes += (uint64_t)(field.val_end - field.val);
            } else if (key_is(&field, order_key)) {
                have_order = parse_u64(field.val, field.val_end, last);
            }
        }
        if (fr < 0 || !have_order) {
            return -1;
        }
        n++;
    }
    if (r < 0) {
        return -1;
    }
    *count = n;
    *data_bytes = bytes;
    return 0;
}

/* Is the answer an error object {"error": code, ...} with this code? */
static bool error_code_is(const char *body, size_t len, const char *code) {
    jitem_t e;
    size_t n = strlen(code);
    return object_member(body, len, "error", &e) && e.val_end - e.val == (ptrdiff_t)(n + 2) &&
           *e.val == '"' && memcmp(e.val + 1, code, n) == 0;
}

/* --- request building ------------------------------------------------------------------------ */

static int add_json_string(http_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (http_buf_add(b, "\"", 1) != 0) {
        return -1;
    }
    size_t run = 0; /* bytes that need no escape, added in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        char esc[7] = {'\\', (char)ch, 0};
        size_t esc_len = 2;
        if (ch < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            esc_len = 6;
        }
        if (http_buf_add(b, s + run, i - run) != 0 || http_buf_add(b, esc, esc_len) != 0) {
            return -1;
        }
        run = i + 1;
    }
    if (http_buf_add(b, s + run, n - run) != 0) {
        return -1;
    }
    return http_buf_add(b, "\"", 1);
}

/* A stream name as one percent-encoded path segment. */
static int add_path_segment(http_buf_t *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (plain ? http_buf_add(b, p, 1) != 0 : http_buf_add(b, enc, 3) != 0) {
            return -1;
        }
    }
    return 0;
}

static int no_memory(char *err) { return backend_fail(err, "out of memory for a request body"); }

static int add_expected(http_buf_t *b, int64_t expected, char *err) {
    int rc;
    if (expected >= 0) {
        rc = http_buf_addf(b, "\"expected_version\":%lld", (long long)expected);
    } else if (expected == EXPECT_ANY) {
        rc = http_buf_adds(b, "\"expected_version\":\"any\"");
    } else if (expected == EXPECT_NO_STREAM) {
        rc = http_buf_adds(b, "\"expected_version\":\"no_stream\"");
    } else {
        return backend_fail(err,
                            "expected version %lld is none of a version >= 0, EXPECT_ANY, "
                            "EXPECT_NO_STREAM",
                            (long long)expected);
    }
    return rc == 0 ? 0 : no_memory(err);
}

/* "events":[{"type":..,"data":..},...]; an event without data gets the server's default ({}). */
static int add_events(http_buf_t *b, const bevent_t *events, size_t count, char *err) {
    int rc = http_buf_adds(b, "\"events\":[");
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = http_buf_adds(b, i == 0 ? "{\"type\":" : ",{\"type\":");
        if (rc == 0) {
            rc = add_json_string(b, events[i].type, strlen(events[i].type));
        }
        if (rc == 0 && events[i].data_len > 0) {
            rc = http_buf_adds(b, ",\"data\":");
            if (rc == 0) {
                rc = http_buf_add(b, events[i].data, events[i].data_len);
            }
        }
        if (rc == 0) {
            rc = http_buf_add(b, "}", 1);
        }
    }
    if (rc == 0) {
        rc = http_buf_add(b, "]", 1);
    }
    return rc == 0 ? 0 : no_memory(err);
}

/* Starts the target "/streams/<stream>". */
static int stream_target(bconn_t *c, const char *stream, char *err) {
    http_buf_clear(&c->target);
    if (http_buf_adds(&c->target, "/streams/") != 0 || add_path_segment(&c->target, stream) != 0) {
        return backend_fail(err, "out of memory for a request target");
    }
    return 0;
}

/* --- requests -------------------------------------------------------------------------------- */

/* Sends the request (c->target; with a JSON body when `json_body`) and returns the status, or -1
 * with err set when no answer could be read. */
static int call(bconn_t *c, const char *method, bool json_body, char *err) {
    char why[BACKEND_ERR_CAP];
    int status = http_conn_request(
        &c->http, method, c->target.p, NULL, json_body ? "application/json" : NULL,
        json_body ? c->body.p : NULL, json_body ? c->body.len : 0, why, sizeof why);
    if (status < 0) {
        return backend_fail(err, "%s %.100s: %s", method, c->target.p, why);
    }
    return status;
}

/* The start of an answer's body on one line: control characters become single spaces. */
static void excerpt(const char *body, size_t len, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch < 0x20 || ch == 0x7f) {
            if (n > 0 && out[n - 1] != ' ') {
                out[n++] = ' ';
            }
        } else {
            out[n++] = (char)ch;
        }
        if (n + 4 >= cap && i + 1 < len) {
            memcpy(out + n, "...", 3);
            n += 3;
        }
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

/* The reason for an unexpected answer: its status and the start of its body. */
static int fail_status(const bconn_t *c, const char *method, int status, char *err) {
    char text[BODY_EXCERPT_BYTES + 4];
    excerpt(c->http.body, c->http.body_len, text, sizeof text);
    return backend_fail(err, "%s %.80s: status %d: %s", method, c->target.p, status, text);
}

/* --- the backend ----------------------------------------------------------------------------- */

/* steled beside the running program, else on PATH. */
static bool find_steled(char *path, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            int w = snprintf(path, cap, "%s/steled", exe);
            if (w > 0 && (size_t)w < cap && access(path, X_OK) == 0) {
                return true;
            }
        }
    }
    return proc_find_program("steled", NULL, path, cap);
}

static bool stele_http_available(char *err) {
    char path[PATH_MAX];
    if (!find_steled(path, sizeof path)) {
        backend_fail(err, "no steled program beside this one or on PATH (build the steled target)");
        return false;
    }
    return true;
}

/* One try at starting steled on a free port: returns 0 when it answers GET /health with 200,
 * 1 when it exited before listening (the port may have been taken: try another), -1 otherwise. */
static int start_once(benv_t *env, char *err) {
    const char *steled = env->steled, *data = env->data;
    if (proc_free_port(&env->port, err) != 0) {
        return -1;
    }
    char listen[32];
    snprintf(listen, sizeof listen, SERVER_HOST ":%u", (unsigned)env->port);
    /* sync is the default, given to be plain; the limits are above 256 clients plus
     * subscribers, and the inactivity timeout above any pause between workloads */
    const char *const flags[][2] = {
        {"--data", data},
        {"--listen", listen},
        {"--durability", "sync"},
        {"--max-connections", "4096"},
        {"--max-subscribers", "4096"},
        {"--request-timeout-ms", "3600000"},
    };
    enum { NFLAGS = sizeof flags / sizeof flags[0] };
    const char *argv[1 + 2 * NFLAGS + 1];
    argv[0] = steled;
    for (size_t i = 0; i < NFLAGS; i++) {
        argv[1 + 2 * i] = flags[i][0];
        argv[2 + 2 * i] = flags[i][1];
    }
    argv[1 + 2 * NFLAGS] = NULL;
    proc_spec_t spec = {.argv = argv, .log_path = env->log_path, .death_signal = SIGKILL};
    if (proc_start(&spec, &env->pid, err) != 0) {
        env->pid = 0;
        return -1;
    }
    if (proc_wait_tcp(env->port, env->pid, START_TIMEOUT_MS, "steled", err) != 0) {
        bool exited = !proc_running(env->pid, NULL);
        proc_stop(env->pid, SIGKILL, 1000);
        env->pid = 0;
        proc_append_log_tail(err, env->log_path);
        return exited ? 1 : -1;
    }
    http_conn_t h;
    char why[BACKEND_ERR_CAP];
    int status = http_conn_open(&h, SERVER_HOST, env->port, START_TIMEOUT_MS, why, sizeof why);
    if (status == 0) {
        status = http_conn_request(&h, "GET", "/health", NULL, NULL, NULL, 0, why, sizeof why);
    }
    if (status != 200) {
        if (status < 0) {
            backend_fail(err, "steled on port %u: GET /health: %s", (unsigned)env->port, why);
        } else {
            char text[BODY_EXCERPT_BYTES + 4];
            excerpt(h.body, h.body_len, text, sizeof text);
            backend_fail(err, "steled on port %u: GET /health: status %d: %s", (unsigned)env->port,
                         status, text);
        }
        http_conn_close(&h);
        proc_stop(env->pid, SIGKILL, 1000);
        env->pid = 0;
        return -1;
    }
    http_conn_close(&h);
    return 0;
}

/* Starts steled on env->data, trying other ports when one was taken first. */
static int start_server(benv_t *env, char *err) {
    int rc = 1;
    for (int attempt = 0; attempt < START_ATTEMPTS && rc == 1; attempt++) {
        rc = start_once(env, err);
    }
    return rc == 0 ? 0 : -1;
}

/* SIGTERM, as an operator's stop; 0 when steled was not running or exited in time. */
static int stop_server(benv_t *env) {
    int rc = 0;
    if (env->pid > 0 && proc_stop(env->pid, SIGTERM, STOP_TIMEOUT_MS) != 0) {
        fprintf(stderr,
                "stele-compare: steled did not stop within %d s of SIGTERM and was killed "
                "(log: %s)\n",
                STOP_TIMEOUT_MS / 1000, env->log_path);
        rc = -1;
    }
    env->pid = 0;
    return rc;
}

static int stele_http_setup(const char *dir, benv_t **out, char *err) {
    char abs_dir[PATH_MAX];
    benv_t *env = calloc(1, sizeof *env);
    if (env == NULL) {
        return backend_fail(err, "out of memory for the steled environment");
    }
    if (!find_steled(env->steled, sizeof env->steled)) {
        free(env);
        return backend_fail(err, "no steled program beside this one or on PATH");
    }
    /* the server runs in "/", so its paths must be absolute */
    if (realpath(dir, abs_dir) == NULL) {
        free(env);
        return backend_fail(err, "store directory %s: %s", dir, strerror(errno));
    }
    int n1 = snprintf(env->data, sizeof env->data, "%s/data", abs_dir);
    int n2 = snprintf(env->log_path, sizeof env->log_path, "%s/steled.log", abs_dir);
    if (n1 < 0 || (size_t)n1 >= sizeof env->data || n2 < 0 || (size_t)n2 >= sizeof env->log_path) {
        free(env);
        return backend_fail(err, "store directory name too long: %s", abs_dir);
    }
    if (start_server(env, err) != 0) {
        free(env);
        return -1;
    }
    *out = env;
    return 0;
}

static void stele_http_teardown(benv_t *env) {
    if (env == NULL) {
        return;
    }
    stop_server(env);
    free(env);
}

/* Stops steled as teardown does and starts it again on the same data (on a fresh port). */
static int stele_http_reopen(benv_t *env, char *err) {
    if (stop_server(env) != 0) {
        return backend_fail(err, "steled did not stop within %d s of SIGTERM",
                            STOP_TIMEOUT_MS / 1000);
    }
    return start_server(env, err);
}

static uint64_t stele_http_rss_kib(benv_t *env) {
    return env->pid > 0 ? proc_tree_rss_kib(env->pid) : 0;
}

static int stele_http_connect(benv_t *env, bconn_t **out, char *err) {
    bconn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return backend_fail(err, "out of memory for a connection");
    }
    char why[BACKEND_ERR_CAP];
    if (http_conn_open(&c->http, SERVER_HOST, env->port, IO_TIMEOUT_MS, why, sizeof why) != 0) {
        http_conn_close(&c->http);
        free(c);
        return backend_fail(err, "steled: %s", why);
    }
    *out = c;
    return 0;
}

static void stele_http_disconnect(bconn_t *c) {
    if (c == NULL) {
        return;
    }
    http_conn_close(&c->http);
    http_buf_free(&c->target);
    http_buf_free(&c->body);
    free(c);
}

/* {"expected_version":..,"events":[..]} (the caller adds the braces and any other members). */
static int add_append(http_buf_t *b, int64_t expected, const bevent_t *events, size_t count,
                      char *err) {
    if (add_expected(b, expected, err) != 0) {
        return -1;
    }
    if (http_buf_add(b, ",", 1) != 0) {
        return no_memory(err);
    }
    return add_events(b, events, count, err);
}

static int stele_http_append(bconn_t *c, const char *stream, int64_t expected,
                             const bevent_t *events, size_t count, int64_t *last_version,
                             char *err) {
    if (stream_target(c, stream, err) != 0) {
        return -1;
    }
    http_buf_clear(&c->body);
    if (http_buf_add(&c->body, "{", 1) != 0) {
        return no_memory(err);
    }
    if (add_append(&c->body, expected, events, count, err) != 0) {
        return -1;
    }
    if (http_buf_add(&c->body, "}", 1) != 0) {
        return no_memory(err);
    }
    int status = call(c, "POST", true, err);
    if (status == 201) {
        jitem_t v;
        uint64_t last = 0;
        if (!object_member(c->http.body, c->http.body_len, "last_version", &v) ||
            !parse_u64(v.val, v.val_end, &last)) {
            return fail_status(c, "POST (no last_version in the answer)", status, err);
        }
        if (last_version != NULL) {
            *last_version = (int64_t)last;
        }
        return 0;
    }
    if (status == 409 && error_code_is(c->http.body, c->http.body_len, "wrong_expected_version")) {
        /* The answer names the stream's version ("actual", -1 when it has none), so the driver
         * need not read the stream to retry. */
        jitem_t v;
        uint64_t actual = 0;
        if (last_version != NULL && object_member(c->http.body, c->http.body_len, "actual", &v)) {
            if (v.val_end - v.val == 2 && memcmp(v.val, "-1", 2) == 0) {
                *last_version = -1;
            } else if (parse_u64(v.val, v.val_end, &actual)) {
                *last_version = (int64_t)actual;
            }
        }
        return BACKEND_CONFLICT;
    }
    return status < 0 ? -1 : fail_status(c, "POST", status, err);
}

static int stele_http_commit(bconn_t *c, const bpart_t *parts, size_t nparts, char *err) {
    http_buf_clear(&c->target);
    http_buf_clear(&c->body);
    if (http_buf_adds(&c->target, "/commits") != 0 ||
        http_buf_adds(&c->body, "{\"parts\":[") != 0) {
        return no_memory(err);
    }
    for (size_t i = 0; i < nparts; i++) {
        if (http_buf_adds(&c->body, i == 0 ? "{\"stream\":" : ",{\"stream\":") != 0 ||
            add_json_string(&c->body, parts[i].stream, strlen(parts[i].stream)) != 0 ||
            http_buf_add(&c->body, ",", 1) != 0) {
            return no_memory(err);
        }
        if (add_append(&c->body, parts[i].expected, parts[i].events, parts[i].count, err) != 0) {
            return -1;
        }
        if (http_buf_add(&c->body, "}", 1) != 0) {
            return no_memory(err);
        }
    }
    if (http_buf_adds(&c->body, "]}") != 0) {
        return no_memory(err);
    }
    int status = call(c, "POST", true, err);
    if (status == 201) {
        return 0;
    }
    if (status == 409 && error_code_is(c->http.body, c->http.body_len, "wrong_expected_version")) {
        return BACKEND_CONFLICT;
    }
    return status < 0 ? -1 : fail_status(c, "POST", status, err);
}

static int stele_http_read_all(bconn_t *c, uint64_t *events, uint64_t *bytes, char *err) {
    uint64_t from = 1;
    for (;;) {
        http_buf_clear(&c->target);
        if (http_buf_addf(&c->target, "/all?from=%llu&limit=%u", (unsigned long long)from,
                          PAGE_EVENTS) != 0) {
            return backend_fail(err, "out of memory for a request target");
        }
        int status = call(c, "GET", false, err);
        if (status != 200) {
            return status < 0 ? -1 : fail_status(c, "GET", status, err);
        }
        uint64_t n = 0, data = 0, last = 0;
        if (scan_page(c->http.body, c->http.body_len, "position", &n, &data, &last) != 0) {
            return fail_status(c, "GET (not an events page)", status, err);
        }
        *events += n;
        *bytes += data;
        if (n < PAGE_EVENTS) {
            return 0; /* a short page is the last: the server fills every page it can */
        }
        if (last < from) {
            return backend_fail(err, "GET /all?from=%llu answered events before that position",
                                (unsigned long long)from);
        }
        from = last + 1;
    }
}

static int stele_http_read_stream(bconn_t *c, const char *stream, size_t *count, char *err) {
    uint64_t from = 0, total = 0;
    for (;;) {
        if (stream_target(c, stream, err) != 0) {
            return -1;
        }
        if (http_buf_addf(&c->target, "?from=%llu&limit=%u", (unsigned long long)from,
                          PAGE_EVENTS) != 0) {
            return backend_fail(err, "out of memory for a request target");
        }
        int status = call(c, "GET", false, err);
        if (status == 404 && total == 0 &&
            error_code_is(c->http.body, c->http.body_len, "not_found")) {
            break; /* no such stream: no events, as in a table */
        }
        if (status != 200) {
            return status < 0 ? -1 : fail_status(c, "GET", status, err);
        }
        uint64_t n = 0, data = 0, last = 0;
        if (scan_page(c->http.body, c->http.body_len, "version", &n, &data, &last) != 0) {
            return fail_status(c, "GET (not an events page)", status, err);
        }
        total += n;
        if (n < PAGE_EVENTS) {
            break;
        }
        if (last < from) {
            return backend_fail(err, "GET /streams/..?from=%llu answered earlier versions",
                                (unsigned long long)from);
        }
        from = last + 1;
    }
    *count = (size_t)total;
    return 0;
}

/* --- subscriptions --------------------------------------------------------------------------- */

/* Hands one SSE event to the subscriber. Returns 0, or -1 with why set when the stream is not
 * what steled sends. */
static int deliver(bsub_t *s, const http_sse_event_t *ev, char *why, size_t cap) {
    if (ev->event_len > 0) {
        if (strcmp(ev->event, "dropped") == 0) {
            snprintf(why, cap, "steled dropped the subscriber: %.160s", ev->data);
            return -1;
        }
        return 0; /* caught-up again or a newer kind of event: nothing to deliver */
    }
    uint64_t position = 0;
    jitem_t data;
    if (!parse_u64(ev->id, ev->id + ev->id_len, &position)) {
        snprintf(why, cap, "an event without a position (id: %.40s)", ev->id);
        return -1;
    }
    if (!object_member(ev->data, ev->data_len, "data", &data)) {
        snprintf(why, cap, "event %llu has no data: %.120s", (unsigned long long)position,
                 ev->data);
        return -1;
    }
    if (position > s->after) {
        s->fn(s->arg, position, data.val, (size_t)(data.val_end - data.val));
    }
    return 0;
}

static void *subscription_main(void *arg) {
    bsub_t *s = arg;
    char why[BACKEND_ERR_CAP];
    for (;;) {
        http_sse_event_t ev;
        int r = http_conn_sse_next(&s->http, &ev, -1, why, sizeof why);
        if (r == 0) {
            continue;
        }
        if (r < 0 || deliver(s, &ev, why, sizeof why) != 0) {
            break;
        }
    }
    /* backend.h has no way to hand a failure to the driver after subscribe returned */
    if (!atomic_load(&s->stopping)) {
        fprintf(stderr, "stele-compare: stele-http subscription ended: %s\n", why);
    }
    return NULL;
}

static int stele_http_subscribe(benv_t *env, bdeliver_fn fn, void *arg, bsub_t **out, char *err) {
    bsub_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return backend_fail(err, "out of memory for a subscription");
    }
    s->fn = fn;
    s->arg = arg;
    atomic_init(&s->stopping, false);
    char why[BACKEND_ERR_CAP];
    if (http_conn_open(&s->http, SERVER_HOST, env->port, IO_TIMEOUT_MS, why, sizeof why) != 0) {
        backend_fail(err, "subscribing: %s", why);
        goto fail;
    }
    int status = http_conn_sse_open(&s->http, "/subscribe?from=end", NULL, why, sizeof why);
    if (status < 0) {
        backend_fail(err, "GET /subscribe?from=end: %s", why);
        goto fail;
    }
    if (status != 200) {
        char text[BODY_EXCERPT_BYTES + 4];
        excerpt(s->http.body, s->http.body_len, text, sizeof text);
        backend_fail(err, "GET /subscribe?from=end: status %d: %s", status, text);
        goto fail;
    }
    /* The stream is live once steled says `caught-up`: it carries the position the history
     * ended at, and every event after it is live. (With from=end there is no history; any event
     * before caught-up would be one, and is not delivered.) */
    for (;;) {
        http_sse_event_t ev;
        int r = http_conn_sse_next(&s->http, &ev, CAUGHT_UP_TIMEOUT_MS, why, sizeof why);
        if (r == 0) {
            backend_fail(err, "GET /subscribe?from=end: no caught-up event within %d s",
                         CAUGHT_UP_TIMEOUT_MS / 1000);
            goto fail;
        }
        if (r < 0) {
            backend_fail(err, "GET /subscribe?from=end: %s", why);
            goto fail;
        }
        if (ev.event_len > 0 && strcmp(ev.event, "caught-up") == 0) {
            jitem_t pos;
            if (!object_member(ev.data, ev.data_len, "position", &pos) ||
                !parse_u64(pos.val, pos.val_end, &s->after)) {
                backend_fail(err, "caught-up event without a position: %.120s", ev.data);
                goto fail;
            }
            break;
        }
        if (ev.event_len > 0 && strcmp(ev.event, "dropped") == 0) {
            backend_fail(err, "steled dropped the subscriber: %.160s", ev.data);
            goto fail;
        }
    }
    int prc = pthread_create(&s->thread, NULL, subscription_main, s);
    if (prc != 0) {
        backend_fail(err, "cannot start the subscription thread: %s", strerror(prc));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    http_conn_close(&s->http);
    free(s);
    return -1;
}

static void stele_http_unsubscribe(bsub_t *s) {
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stopping, true);
    http_conn_shutdown(&s->http); /* wakes the thread: its read ends */
    pthread_join(s->thread, NULL);
    http_conn_close(&s->http);
    free(s);
}

const backend_t backend_stele_http = {
    .name = "stele-http",
    .durability = "fdatasync per commit (group commit), acknowledged after sync; over HTTP",
    .available = stele_http_available,
    .setup = stele_http_setup,
    .teardown = stele_http_teardown,
    .connect = stele_http_connect,
    .disconnect = stele_http_disconnect,
    .append = stele_http_append,
    .commit = stele_http_commit,
    .read_all = stele_http_read_all,
    .read_stream = stele_http_read_stream,
    .subscribe = stele_http_subscribe,
    .unsubscribe = stele_http_unsubscribe,
    .reopen = stele_http_reopen,
    .rss_kib = stele_http_rss_kib,
};
