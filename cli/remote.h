/*
 * remote.h -- the `stele` tool against a server (`--url URL`, `--token T`): the HTTP client
 * (http_client.c, libcurl), the shared request and output helpers (remote.c) and the longer
 * operations of the server backend (remote_*.c), which backend_remote.c puts behind the backend
 * interface (backend.h) with its shorter ones.
 *
 * The remote operations print the same stdout lines as local mode and return the same exit
 * statuses: the server's JSON error codes map to them through the one error table
 * (common/error_map.h), the table local mode uses too.
 */
#ifndef STELE_CLI_REMOTE_H
#define STELE_CLI_REMOTE_H

#include <curl/curl.h>

#include "cli.h"
#include "json_out.h"

/* ---- http_client.c: the curl handle, one request, one stream ------------------------------------
 * Request and answer bodies are built in a json_out_t (common/json_out.h). */

typedef struct http_client {
    CURL *curl;
    char *base;              /* the server URL without a trailing '/' */
    struct curl_slist *hdrs; /* Authorization, Content-Type, Accept, "Expect:" */
    bool has_token;
    const char *cacert; /* borrowed from the context: CA file, CA directory, or NULL */
    const char *capath;
    bool insecure;
} http_client_t;

typedef struct http_response {
    long status;   /* HTTP status; 0 when no response came */
    int curl_code; /* CURLcode of the transfer */
    char error[CURL_ERROR_SIZE];
    json_out_t body; /* the response body */
} http_response_t;

/* The client of ctx's server (url, token and TLS settings, which it borrows). Returns 0, or -1
 * when curl cannot be set up. */
int http_client_init(http_client_t *c, const cli_ctx_t *ctx);
void http_client_free(http_client_t *c);

/* One request. path starts with '/' and includes the query string; body may be NULL. The
 * response (status, body, or the transfer error) goes to *resp, which the caller frees with
 * http_response_free(). Returns the CURLcode (0 when a response came, whatever its status). */
int http_request(http_client_t *c, const char *method, const char *path, const char *body,
                 size_t body_len, http_response_t *resp);
void http_response_free(http_response_t *resp);

/* A long GET whose body is handed to on_data as it arrives (text/event-stream). on_data returns
 * false to end the transfer. should_stop is polled about once a second and between reads; true
 * ends it too. last_event_id, when not NULL, is sent as Last-Event-ID. For a non-2xx status the
 * body is collected in resp->body instead. Returns the CURLcode (CURLE_WRITE_ERROR or
 * CURLE_ABORTED_BY_CALLBACK when a callback ended it). */
typedef bool (*http_data_fn)(void *arg, const char *data, size_t len);
typedef bool (*http_stop_fn)(void *arg);
int http_stream(http_client_t *c, const char *path, const char *last_event_id, http_data_fn on_data,
                http_stop_fn should_stop, void *arg, http_response_t *resp);

/* Append "?key=value" (or "&key=value") to q, value percent-encoded; NULL values are skipped. */
void http_query_add(json_out_t *q, const char *key, const char *value);
void http_query_add_u64(json_out_t *q, const char *key, uint64_t value);
/* Append text percent-encoded (every byte but A-Z a-z 0-9 - . _ ~). */
void http_escape_into(json_out_t *b, const char *text);

/* ---- remote.c: the connection, calls with error mapping, JSON output --------------------------
 */

/* Lists are read in pages of at most this many items (read, read-all, streams). */
#define REMOTE_PAGE 1000u

/* The outcome of one call. */
typedef struct remote_reply {
    long status;        /* HTTP status, 0 when the server could not be reached */
    int exit_status;    /* EXIT_OK for 2xx, else the exit status the error maps to */
    char code[48];      /* the server's "error" code, "" when none */
    char message[1024]; /* a sentence for the user (without "stele: CMD: ") */
    json_out_t body;    /* the response body */
} remote_reply_t;

/* One call to the server at ctx->url. Returns reply->exit_status. */
int remote_call(const cli_ctx_t *ctx, const char *method, const char *path, const char *body,
                size_t body_len, remote_reply_t *reply);
/* The same with a path built in a buffer, which is freed (out of memory in it: EXIT_ERROR). */
int remote_call_path(const cli_ctx_t *ctx, const char *method, json_out_t *path, const char *body,
                     size_t body_len, remote_reply_t *reply);
void remote_reply_free(remote_reply_t *reply);
/* Print reply->message as "stele: CMD: ..." and return reply->exit_status. */
int remote_report(const cli_ctx_t *ctx, const remote_reply_t *reply);
/* The shared client (created at the first call), or NULL after printing why. */
http_client_t *remote_client(const cli_ctx_t *ctx);
/* Fill reply (message, exit status) for a failed transfer or a non-2xx response. */
void remote_reply_from(const cli_ctx_t *ctx, const http_response_t *resp, remote_reply_t *reply);
/* Release the client (at exit). */
void remote_cleanup(void);

/* "/streams/<percent-encoded name>" + suffix into b. */
void remote_stream_path(json_out_t *b, const char *stream, const char *suffix);
/* The expected-version value of the API for a STELE_EXPECT_* or a version (into b, unquoted for
 * numbers, quoted for words when quoted is true). */
void remote_expect_text(json_out_t *b, int64_t expect, bool quoted);

/* Raw JSON scanning over valid JSON text: the span of a top-level member of an object, and the
 * elements of an array. Keys are compared byte for byte. */
bool remote_json_member(const char *s, size_t len, const char *key, size_t *off, size_t *vlen);
bool remote_json_array_next(const char *s, size_t len, size_t *cursor, size_t *off, size_t *vlen);

/* Print one event object (the server's event JSON) as the local NDJSON line. The data and
 * metadata are written from the raw text (whitespace removed), so numbers and key order are kept.
 * Sets *position (when not NULL) to its position. Returns EXIT_OK or EXIT_ERROR. */
int remote_print_event(const cli_ctx_t *ctx, const char *text, size_t len, uint64_t *position);

/* The members keys[0..n) of the JSON object text, present ones only, in that order, as a new
 * object in *out (NULL when out of memory). Returns EXIT_OK, or EXIT_ERROR after printing that
 * the answer is not a JSON object. */
int remote_pick_object(const cli_ctx_t *ctx, const char *text, size_t len, const char *const *keys,
                       size_t n, json_t **out);

/* The JSON body of an append of events[0..count) with the expected version. */
void remote_append_body(json_out_t *b, int64_t expect, const stele_event_in_t *events,
                        size_t count);

/* ---- remote_*.c: operations of the server backend
 * ---------------------------------------------------------------- */

/* append: POST the events; *result (a new reference) holds the answer's append keys. */
int remote_append(cli_ctx_t *ctx, const char *stream, int64_t expect,
                  const stele_event_in_t *events, size_t count, json_t **result);
int remote_read(cli_ctx_t *ctx, const char *stream, int64_t from_version, bool backward,
                uint64_t limit);
int remote_read_all(cli_ctx_t *ctx, const stele_read_options_t *ro);
int remote_tail(cli_ctx_t *ctx, const stele_subscribe_options_t *so, bool caught_up_exit,
                bool verbose);
/* `event ID`: GET /events/{id}, printed as one NDJSON line like a read. */
int remote_event(cli_ctx_t *ctx, const char *id);

/* import: one run of events of one stream (expect as in the export; a conflict retries with
 * any). Prints the error naming the lines. *idempotent tells how the server took it. */
int remote_import_run(cli_ctx_t *ctx, const char *source, const char *stream, int64_t expect,
                      const stele_event_in_t *events, size_t count, uint64_t first_line,
                      uint64_t last_line, bool *idempotent);
/* import: replay a system event on target: set its metadata (unless equal), or delete it. */
int remote_import_system(cli_ctx_t *ctx, const char *source, uint64_t line, const char *name,
                         const char *target, bool is_meta, bool is_tombstone, const char *data,
                         size_t data_len);

#endif /* STELE_CLI_REMOTE_H */
