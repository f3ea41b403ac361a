/*
 * http.c -- the HTTP side of steled above the connections: replies with their stable error codes,
 * query strings and bodies, and routing of a request read by session.c to its handler.
 *
 * The routing table names each route's path, method and query parameters: the dispatcher answers
 * 404, 405 (with Allow), OPTIONS, and a 400 for any parameter the route does not take or that is
 * given twice, before the handler runs. It also adds the CORS headers for --cors-origin.
 *
 * Stream names travel percent-encoded in paths; each path segment is decoded on its own, so a
 * name may hold '/' as %2F. A decoded NUL is an invalid name.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/buffer.h>

#include "../core/errors.h"
#include "../core/log.h"
#include "../core/metrics.h"
#include "../core/wakeup.h"
#include "access.h"
#include "json_io.h"
#include "routes.h"
#include "session.h"
#include "sse.h"

/* ---- replies -------------------------------------------------------------------------------- */

static const char *reason_of(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void srv_reply_buffer(srv_t *srv, srv_req_t *req, int status, struct evbuffer *body,
                      const char *content_type) {
    srv_metrics_request(srv, status);
    if (req == NULL) {
        return;
    }
    srv_http_respond(srv, req, status, reason_of(status), content_type, body);
}

void srv_reply_json(srv_t *srv, srv_req_t *req, int status, json_t *body) {
    struct evbuffer *buf = evbuffer_new();
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (buf == NULL || text == NULL) {
        free(text);
        if (buf != NULL) {
            evbuffer_free(buf);
        }
        srv_reply_buffer(srv, req, 500, NULL, NULL);
        return;
    }
    evbuffer_add(buf, text, strlen(text));
    evbuffer_add(buf, "\n", 1);
    free(text);
    srv_reply_buffer(srv, req, status, buf, "application/json");
    evbuffer_free(buf);
}

void srv_reply_empty(srv_t *srv, srv_req_t *req, int status) {
    srv_reply_buffer(srv, req, status, NULL, NULL);
}

static void reply_error_msg(srv_t *srv, srv_req_t *req, const char *code, json_t *extra,
                            const char *message) {
    int status = srv_error_status(code);
    srv_metrics_error(srv, code);
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "error", json_string(code));
        /* Library details may quote input bytes that are not UTF-8. */
        json_t *m = json_string(message);
        json_object_set_new(o, "message", m != NULL ? m : json_string("(not UTF-8)"));
        if (extra != NULL) {
            json_object_update(o, extra);
        }
    }
    json_decref(extra);
    if (status >= 500) {
        srv_log(SRV_LOG_ERROR, "request failed",
                json_pack("{s:s, s:s?}", "error", code, "message", message));
    }
    srv_reply_json(srv, req, status, o);
}

void srv_reply_error(srv_t *srv, srv_req_t *req, const char *code, json_t *extra, const char *fmt,
                     ...) {
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    reply_error_msg(srv, req, code, extra, message);
}

void srv_reply_stele_error(srv_t *srv, srv_req_t *req, int rc, const char *detail, json_t *extra) {
    if (detail == NULL) {
        detail = stele_errdetail();
    }
    if (detail == NULL || detail[0] == '\0') {
        detail = stele_strerror(rc);
    }
    srv_reply_error(srv, req, srv_error_code(rc), extra, "%s", detail);
}

/* ---- requests ------------------------------------------------------------------------------- */

int srv_query_parse(srv_t *srv, srv_req_t *req, const char *const *allowed, srv_query_t *q) {
    TAILQ_INIT(&q->kv);
    const char *query = req->query;
    if (query == NULL || query[0] == '\0') {
        return 0;
    }
    if (evhttp_parse_query_str(query, &q->kv) != 0) {
        srv_query_free(q);
        srv_reply_error(srv, req, "bad_request", NULL, "the query string is malformed");
        return -1;
    }
    /* A value decoded to a NUL byte would be cut there: `prefix=%00x` would read as `prefix=`. */
    const char *nul = strstr(query, "%00");
    if (nul != NULL) {
        const char *key = nul;
        while (key > query && key[-1] != '&') {
            key--;
        }
        int key_len = (int)strcspn(key, "=&");
        srv_query_free(q);
        srv_reply_error(srv, req, "invalid_argument", NULL,
                        "the query parameter \"%.*s\" decodes to a NUL byte",
                        key_len < 64 ? key_len : 64, key);
        return -1;
    }
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &q->kv, next) {
        for (const struct evkeyval *before = TAILQ_FIRST(&q->kv); before != kv;
             before = TAILQ_NEXT(before, next)) {
            if (strcmp(before->key, kv->key) == 0) {
                json_t *name = json_string(kv->key);
                json_t *extra = json_pack("{s:o}", "parameter", name != NULL ? name : json_null());
                srv_reply_error(srv, req, "bad_request", extra,
                                "the query parameter \"%.64s\" is given more than once", kv->key);
                srv_query_free(q);
                return -1;
            }
        }
        bool known = false;
        for (size_t i = 0; allowed != NULL && allowed[i] != NULL; i++) {
            if (strcmp(kv->key, allowed[i]) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            json_t *name = json_string(kv->key);
            json_t *extra = json_pack("{s:o}", "parameter", name != NULL ? name : json_null());
            srv_reply_error(srv, req, "bad_request", extra, "unknown query parameter \"%.64s\"",
                            kv->key);
            srv_query_free(q);
            return -1;
        }
    }
    return 0;
}

void srv_query_free(srv_query_t *q) { evhttp_clear_headers(&q->kv); }

const char *srv_query_get(const srv_query_t *q, const char *name) {
    return evhttp_find_header(&q->kv, name);
}

int srv_query_u64(srv_t *srv, srv_req_t *req, const srv_query_t *q, const char *name,
                  uint64_t deflt, uint64_t *out) {
    const char *text = srv_query_get(q, name);
    if (text == NULL) {
        *out = deflt;
        return 0;
    }
    uint64_t v = 0;
    size_t n = 0;
    for (; text[n] >= '0' && text[n] <= '9'; n++) {
        if (v > (UINT64_MAX - 9) / 10) {
            n = 0;
            break;
        }
        v = v * 10 + (uint64_t)(text[n] - '0');
    }
    if (n == 0 || text[n] != '\0' || v > (uint64_t)INT64_MAX) {
        srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", name),
                        "%s must be a non-negative integer", name);
        return -1;
    }
    *out = v;
    return 0;
}

int srv_query_bool(srv_t *srv, srv_req_t *req, const srv_query_t *q, const char *name, bool *out) {
    const char *text = srv_query_get(q, name);
    if (text == NULL || strcmp(text, "false") == 0 || strcmp(text, "0") == 0) {
        *out = false;
        return 0;
    }
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 || text[0] == '\0') {
        *out = true;
        return 0;
    }
    srv_reply_error(srv, req, "invalid_argument", json_pack("{s:s}", "parameter", name),
                    "%s must be true or false", name);
    return -1;
}

int srv_body_text(srv_t *srv, srv_req_t *req, char **text, size_t *len) {
    const char *ct = srv_req_header(req, "Content-Type");
    size_t n = ct != NULL ? strcspn(ct, "; \t") : 0;
    if (ct == NULL || n != 16 || strncasecmp(ct, "application/json", 16) != 0) {
        srv_reply_error(srv, req, "unsupported_media_type", NULL,
                        "the body must be sent with Content-Type: application/json");
        return -1;
    }
    /* The body is taken from the request (session.c read it within --max-body-bytes). */
    size_t body_len = req->body_len;
    char *body = req->body != NULL ? req->body : strdup("");
    req->body = NULL;
    req->body_len = 0;
    if (body == NULL) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return -1;
    }
    const char *nul = memchr(body, '\0', body_len);
    if (nul != NULL) {
        size_t at = (size_t)(nul - body);
        /* JSON has no raw NUL byte (in strings it is written \u0000); jansson skips one after a
         * number, and the raw text of the data would then differ from what was checked. */
        free(body);
        srv_reply_error(srv, req, "invalid_json", NULL,
                        "the body is not valid JSON: a NUL byte at byte %zu", at);
        return -1;
    }
    *text = body;
    *len = body_len;
    return 0;
}

json_t *srv_body_parse(srv_t *srv, srv_req_t *req, const char *text, size_t len) {
    char msg[512];
    json_t *v = srv_json_parse(text, len, msg, sizeof(msg));
    if (v == NULL) {
        srv_reply_error(srv, req, "invalid_json", NULL, "%s", msg);
    }
    return v;
}

json_t *srv_body_json(srv_t *srv, srv_req_t *req, char **raw, size_t *raw_len) {
    char *text = NULL;
    size_t len = 0;
    if (srv_body_text(srv, req, &text, &len) != 0) {
        return NULL;
    }
    json_t *v = srv_body_parse(srv, req, text, len);
    if (v != NULL && raw != NULL) {
        *raw = text;
        *raw_len = len;
    } else {
        free(text);
    }
    return v;
}

/* ---- routing -------------------------------------------------------------------------------- */

#define MAX_SEGMENTS 4

/* The query parameters of each route. The dispatcher refuses any other, and any given twice,
 * before the handler runs, so a route cannot forget to. */
static const char *const no_params[] = {NULL};
static const char *const list_params[] = {"prefix", "after", "limit", "all", NULL};
static const char *const read_params[] = {"from", "direction", "limit", NULL};
static const char *const delete_params[] = {"tombstone", "expected_version", NULL};
static const char *const metadata_params[] = {"expected_version", NULL};
static const char *const all_params[] = {"from",        "direction", "limit",  "type",
                                         "type_prefix", "category",  "prefix", "stream",
                                         "since",       "until",     "system", NULL};
static const char *const subscribe_params[] = {"stream",   "from",   "type",  "type_prefix",
                                               "category", "prefix", "since", "until",
                                               "system",   "ticket", NULL};

/* GET /metrics: the counters of core/metrics.c in the Prometheus text format. */
static void route_metrics(srv_t *srv, srv_req_t *req, const srv_args_t *a) {
    (void)a;
    if (!srv_access_check(srv, req, SRV_ROLE_READ, NULL)) {
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        srv_reply_error(srv, req, "internal", NULL, "out of memory");
        return;
    }
    srv_metrics_write(srv, out);
    srv_reply_buffer(srv, req, 200, out, "text/plain; version=0.0.4");
    evbuffer_free(out);
}

typedef struct route {
    const char *path;    /* '/'-separated segments; "{s}" is a stream name, "{id}" any segment */
    srv_method_t method; /* SRV_GET routes answer HEAD too */
    void (*handler)(srv_t *srv, srv_req_t *req, const srv_args_t *a);
    const char *const *params; /* the query parameters it takes */
} route_t;

static const route_t routes[] = {
    {"streams", SRV_GET, srv_route_stream_list, list_params},
    {"streams/{s}", SRV_GET, srv_route_stream_read, read_params},
    {"streams/{s}", SRV_POST, srv_route_stream_append, no_params},
    {"streams/{s}", SRV_DELETE, srv_route_stream_delete, delete_params},
    {"streams/{s}/info", SRV_GET, srv_route_stream_info, no_params},
    {"streams/{s}/metadata", SRV_GET, srv_route_metadata_get, no_params},
    {"streams/{s}/metadata", SRV_PUT, srv_route_metadata_put, metadata_params},
    {"commits", SRV_POST, srv_route_commits, no_params},
    {"all", SRV_GET, srv_route_all, all_params},
    {"events/{id}", SRV_GET, srv_route_event, no_params},
    {"subscribe", SRV_GET, srv_route_subscribe, subscribe_params},
    {"subscribe/ticket", SRV_POST, srv_route_ticket, no_params},
    {"health", SRV_GET, srv_route_health, no_params},
    {"info", SRV_GET, srv_route_info, no_params},
    {"stats", SRV_GET, srv_route_stats, no_params},
    {"metrics", SRV_GET, route_metrics, no_params},
    {"admin/verify", SRV_POST, srv_route_admin, no_params},
    {"admin/reindex", SRV_POST, srv_route_admin, no_params},
};

static const char *method_text(srv_method_t m) {
    switch (m) {
    case SRV_GET: return "GET, HEAD";
    case SRV_POST: return "POST";
    case SRV_PUT: return "PUT";
    case SRV_DELETE: return "DELETE";
    default: return "";
    }
}

/* Does the route path match the decoded segments? Then *stream is set to its {s} segment. */
static bool path_matches(const char *path, char **segs, size_t n, const char **stream) {
    size_t i = 0;
    const char *name = NULL;
    for (const char *p = path; *p != '\0'; i++) {
        size_t len = strcspn(p, "/");
        if (i == n) {
            return false;
        }
        if (len == 3 && memcmp(p, "{s}", 3) == 0) {
            name = segs[i];
        } else if (p[0] == '{') {
            /* another variable segment: the handler reads it (srv_args_t.last) */
        } else if (strlen(segs[i]) != len || memcmp(segs[i], p, len) != 0) {
            return false;
        }
        p += len;
        p += *p == '/';
    }
    if (i == n && name != NULL) {
        *stream = name;
    }
    return i == n;
}

/* CORS (docs/http-api.md): an answer to a request whose Origin is one of --cors-origin carries
 * Access-Control-Allow-Origin naming it (and allows credentials); with `*` configured any other
 * origin gets `*` (never with credentials). Requests from other origins get no CORS header, so
 * browsers keep them from the page. Returns whether the origin is allowed. */
static bool cors_headers(srv_t *srv, srv_req_t *req) {
    const char *origin = srv_req_header(req, "Origin");
    const srv_config_t *cfg = srv->cfg;
    if (origin == NULL || cfg->cors_origin_count == 0) {
        return false;
    }
    const char *listed = NULL;
    bool star = false;
    for (size_t i = 0; i < cfg->cors_origin_count; i++) {
        if (strcmp(cfg->cors_origins[i], "*") == 0) {
            star = true;
        } else if (strcasecmp(cfg->cors_origins[i], origin) == 0) {
            listed = cfg->cors_origins[i];
        }
    }
    if (listed != NULL) {
        srv_req_add_header(req, "Access-Control-Allow-Origin", listed);
        srv_req_add_header(req, "Access-Control-Allow-Credentials", "true");
        srv_req_add_header(req, "Vary", "Origin");
    } else if (star) {
        srv_req_add_header(req, "Access-Control-Allow-Origin", "*");
    }
    return listed != NULL || star;
}

static void method_not_allowed(srv_t *srv, srv_req_t *req, const char *allow) {
    srv_req_add_header(req, "Allow", allow);
    srv_reply_error(srv, req, "method_not_allowed", NULL, "use %s", allow);
}

/* OPTIONS: the methods of the path; a CORS preflight from an allowed origin also gets what it may
 * send. Preflights carry no credentials, so no token is asked for. */
static void options(srv_t *srv, srv_req_t *req, const char *allow, bool cors) {
    srv_req_add_header(req, "Allow", allow);
    if (cors && srv_req_header(req, "Access-Control-Request-Method") != NULL) {
        srv_req_add_header(req, "Access-Control-Allow-Methods", allow);
        srv_req_add_header(req, "Access-Control-Allow-Headers",
                           "Authorization, Content-Type, Last-Event-ID");
        srv_req_add_header(req, "Access-Control-Max-Age", "600");
    }
    srv_reply_empty(srv, req, 204);
}

static void route(srv_t *srv, srv_req_t *req, char **segs, size_t n, bool cors) {
    const route_t *found = NULL;
    const char *stream = NULL;
    char allow[96] = "";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const route_t *r = &routes[i];
        if (!path_matches(r->path, segs, n, &stream)) {
            continue;
        }
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof(allow) - used, "%s%s", used > 0 ? ", " : "",
                 method_text(r->method));
        if (r->method == req->method || (r->method == SRV_GET && req->method == SRV_HEAD)) {
            found = r;
        }
    }
    if (allow[0] == '\0') {
        srv_reply_error(srv, req, "not_found", NULL, "no such endpoint");
        return;
    }
    if (stream != NULL && stream[0] == '\0') {
        srv_reply_error(srv, req, "invalid_name", NULL, "the stream name is empty");
        return;
    }
    if (req->method == SRV_OTHER && strcmp(req->method_name, "OPTIONS") == 0) {
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof(allow) - used, ", OPTIONS");
        options(srv, req, allow, cors);
        return;
    }
    if (found == NULL) {
        method_not_allowed(srv, req, allow);
        return;
    }
    srv_query_t q;
    if (srv_query_parse(srv, req, found->params, &q) != 0) {
        return;
    }
    srv_args_t a = {.q = &q, .stream = stream, .last = n > 0 ? segs[n - 1] : ""};
    found->handler(srv, req, &a);
    srv_query_free(&q);
}

void srv_http_dispatch(srv_t *srv, srv_req_t *req) {
    bool cors = cors_headers(srv, req);
    if (srv->closing) {
        srv_reply_error(srv, req, "unavailable", NULL, "the server is shutting down");
        return;
    }
    if (req->method == SRV_UNKNOWN) {
        srv_req_add_header(req, "Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
        srv_reply_error(srv, req, "method_not_allowed", NULL, "the method %.32s is not served",
                        req->method_name);
        return;
    }
    const char *path = req->path;
    char *segs[MAX_SEGMENTS];
    size_t n = 0;
    bool bad_name = false;
    const char *p = path + 1;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (n == MAX_SEGMENTS) {
            n++;
            break;
        }
        char *raw = strndup(p, len);
        size_t dlen = 0;
        char *dec = raw != NULL ? evhttp_uridecode(raw, 0, &dlen) : NULL;
        free(raw);
        if (dec == NULL) {
            break;
        }
        if (strlen(dec) != dlen) {
            bad_name = true;
        }
        segs[n++] = dec;
        if (slash == NULL) {
            break;
        }
        p = slash + 1;
        if (*p == '\0') {
            /* a trailing slash: an empty last segment */
            if (n < MAX_SEGMENTS) {
                segs[n++] = strdup("");
            } else {
                n++;
            }
            break;
        }
    }
    if (n > MAX_SEGMENTS) {
        srv_reply_error(srv, req, "not_found", NULL, "no such endpoint");
        n = MAX_SEGMENTS;
    } else if (bad_name) {
        srv_reply_error(srv, req, "invalid_name", NULL, "a path segment decodes to a NUL byte");
    } else {
        route(srv, req, segs, n, cors);
    }
    for (size_t i = 0; i < n; i++) {
        free(segs[i]);
    }
}
