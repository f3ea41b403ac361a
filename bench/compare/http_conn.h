/*
 * http_conn.h -- a small blocking HTTP/1.1 client for the benchmarks: one keep-alive TCP
 * connection to a server on this machine, one request at a time, Content-Length, chunked and
 * close-delimited bodies, and Server-Sent Events.
 *
 * The benchmarks talk only to servers they start themselves (steled), so this knows only what
 * such a server sends: no TLS, no redirects, no proxies, no pipelining. The layers under the
 * connection (growable buffers, the response-head parser, the chunked decoder and the SSE event
 * parser) work on plain memory, so an event-driven client (non-blocking sockets under epoll) can
 * use them without the blocking connection on top.
 *
 * Errors: functions that can fail write a one-line reason naming the problem into `err`
 * (`err_cap` bytes, always NUL-terminated) and return -1. Nothing here is thread-safe except
 * http_conn_shutdown(), which another thread may call to wake a reader blocked on the connection.
 */
#ifndef STELE_BENCH_HTTP_CONN_H
#define STELE_BENCH_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD_BYTES 65536u          /* status line + headers */
#define HTTP_MAX_BODY_BYTES (256u << 20)    /* one response body */
#define HTTP_MAX_SSE_LINE_BYTES (64u << 20) /* one line of an event stream */

/* --- growable buffers ------------------------------------------------------------------------ */

/* A byte buffer that is NUL-terminated whenever p != NULL (the NUL is not counted in len), so
 * text in it can be handed to string functions. Zero-initialized is empty. */
typedef struct http_buf {
    char *p;
    size_t len;
    size_t cap;
} http_buf_t;

/* Make room for `extra` more bytes (plus the NUL). Returns 0, or -1 when out of memory. */
int http_buf_reserve(http_buf_t *b, size_t extra);
int http_buf_add(http_buf_t *b, const void *data, size_t n);
int http_buf_adds(http_buf_t *b, const char *s);
int http_buf_addf(http_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (all when n >= len). */
void http_buf_consume(http_buf_t *b, size_t n);
void http_buf_clear(http_buf_t *b);
void http_buf_free(http_buf_t *b);

/* --- response heads -------------------------------------------------------------------------- */

typedef struct http_head {
    int status;             /* 100..999 */
    size_t head_bytes;      /* status line, headers and the blank line */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool close;             /* the server closes the connection after this response */
} http_head_t;

/* Parses the response head at the start of p[0..len). Returns 1 when complete (*head set), 0 when
 * more bytes are needed, -1 when it is not HTTP/1.x or longer than HTTP_MAX_HEAD_BYTES. */
int http_head_parse(const char *p, size_t len, http_head_t *head);

/* The value of header `name` (case-insensitive, surrounding blanks trimmed) in the head text
 * p[0..head_bytes), *len bytes long and not NUL-terminated; NULL when absent. */
const char *http_head_find(const char *p, size_t head_bytes, const char *name, size_t *len);

/* --- chunked transfer coding ----------------------------------------------------------------- */

typedef struct http_chunked {
    int state;     /* where the decoder is in the framing (0 = at a chunk-size line) */
    uint64_t left; /* data bytes of the current chunk still to come */
} http_chunked_t;

/* Decodes the chunked body bytes in[0..len) that follow what was decoded before, appending the
 * data to `out`; *used is set to the bytes of `in` consumed (an incomplete size line is left for
 * the next call). Returns 1 once the last chunk and its trailer are consumed, 0 when more input is
 * needed, -1 on bad framing or no memory. Zero-initialize the decoder for each body. */
int http_chunked_decode(http_chunked_t *d, const char *in, size_t len, size_t *used,
                        http_buf_t *out);

/* --- Server-Sent Events ---------------------------------------------------------------------- */

/* One dispatched event. The fields are those given in the event's own block (an absent field has
 * length 0; `id` is not carried over from earlier events as EventSource would do). Multi-line
 * data is joined with '\n'. The pointers stay valid until the next http_sse_next() call. */
typedef struct http_sse_event {
    const char *event; /* "" for the default type ("message") */
    size_t event_len;
    const char *id;
    size_t id_len;
    const char *data;
    size_t data_len;
} http_sse_event_t;

typedef struct http_sse {
    http_buf_t text; /* decoded stream text; lines before `pos` are parsed */
    size_t pos;
    http_buf_t data, event, id; /* the fields of the event being built */
    bool has_data;
    uint64_t comments; /* comment lines seen (": heartbeat") */
} http_sse_t;

/* Adds decoded stream text (the body, after any chunked framing is removed). Returns 0 or -1. */
int http_sse_feed(http_sse_t *s, const char *text, size_t len);
/* Parses the fed text up to the next dispatched event. Returns 1 with *ev set, 0 when the text
 * holds no complete event yet, -1 when a line exceeds HTTP_MAX_SSE_LINE_BYTES or on no memory. */
int http_sse_next(http_sse_t *s, http_sse_event_t *ev);
void http_sse_free(http_sse_t *s);

/* --- the blocking connection ----------------------------------------------------------------- */

typedef struct http_conn {
    int fd;        /* -1 while closed (reopened by the next request) */
    char host[64]; /* numeric address, as given to http_conn_open */
    uint16_t port;
    int timeout_ms;     /* the longest wait for the socket during a request (-1: no limit) */
    unsigned responses; /* responses read on the current TCP connection */
    http_buf_t out;     /* the request head being sent */
    http_buf_t in;      /* received bytes; the last response's head starts at 0 */
    size_t in_used;     /* bytes of `in` that belong to the last response */
    http_buf_t decoded; /* a chunked (or copied) body */
    http_head_t head;   /* the last response's head */
    const char *body;   /* the last response's body, body_len bytes then a NUL */
    size_t body_len;
    bool streaming;      /* an event stream is open: only http_conn_sse_next() may be called */
    bool stream_chunked; /* else the stream ends when the server closes */
    bool stream_ended;   /* the last chunk arrived: what is parsed is all there is */
    http_chunked_t chunked;
    http_sse_t sse;
} http_conn_t;

/* Connects to host (a numeric IPv4 or IPv6 address) and port with TCP_NODELAY. Returns 0, or -1
 * with err set. A failed open leaves *c closed (http_conn_close is still allowed). */
int http_conn_open(http_conn_t *c, const char *host, uint16_t port, int timeout_ms, char *err,
                   size_t err_cap);
/* Closes the socket and frees the buffers; *c may be opened again. */
void http_conn_close(http_conn_t *c);
/* Shuts the socket down so that a thread blocked reading it returns at once (the stream or
 * request fails with "closed"). Safe to call from another thread; does not free anything. */
void http_conn_shutdown(http_conn_t *c);

/* Sends one request and reads the whole response. `headers` are extra header lines, each ending
 * in "\r\n" (or NULL); with body_len > 0 (or a non-NULL content_type) the body is sent with
 * Content-Length and, when content_type is not NULL, that Content-Type. Returns the status; the
 * body is in c->body / c->body_len and the head in c->head (headers: http_conn_header), valid
 * until the next call. Reconnects when the previous response closed the connection, and resends a
 * GET or HEAD once when a reused connection turns out to be closed before any answer.
 * Returns -1 with err set when no complete response could be read. */
int http_conn_request(http_conn_t *c, const char *method, const char *target, const char *headers,
                      const char *content_type, const void *body, size_t body_len, char *err,
                      size_t err_cap);

/* The value of a header of the last response (see http_head_find), or NULL. */
const char *http_conn_header(const http_conn_t *c, const char *name, size_t *len);

/* Sends GET target with "Accept: text/event-stream" and reads the response head. Returns the
 * status; on 200 the connection streams events (read them with http_conn_sse_next; close it to
 * end), on any other status the whole body is read into c->body as for http_conn_request.
 * Returns -1 with err set on failure. */
int http_conn_sse_open(http_conn_t *c, const char *target, const char *headers, char *err,
                       size_t err_cap);
/* Waits up to timeout_ms (-1: no limit) for the next event. Returns 1 with *ev set (valid until
 * the next call), 0 when the time ran out, -1 with err set when the stream ended or failed. */
int http_conn_sse_next(http_conn_t *c, http_sse_event_t *ev, int timeout_ms, char *err,
                       size_t err_cap);

#endif
