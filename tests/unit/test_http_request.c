/*
 * test_http_request.c -- steled's HTTP/1.1 request parser (server/http/request.c): the request
 * line, headers, Content-Length and chunked bodies, pipelining, keep-alive and 100-continue, and
 * every refusal with the status and error code the client is answered with.
 *
 * Bytes reach the parser in whatever pieces the network delivers, so each accepted request is also
 * fed split at every byte boundary and one byte at a time: the outcome must not depend on how the
 * bytes were cut. Refusals are checked the same way (one shot and byte by byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../server/http/request.h"

#include <event2/buffer.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* steled's defaults (16 MiB bodies, 64 KiB heads), set up once for the whole group. */
static srv_config_t defaults;

/* The result of feeding bytes to one request. */
typedef struct parsed {
    int rc;
    srv_req_t *req;
    srv_req_error_t err;
    struct evbuffer *in; /* what the parser left in the input */
} parsed_t;

static void parsed_free(parsed_t *p) {
    srv_req_free(p->req);
    evbuffer_free(p->in);
    memset(p, 0, sizeof(*p));
}

/* Feed text[0, len) to a new request in pieces of `step` bytes (0 = all at once), calling the
 * parser after each piece as the connection does. Every call before the last must ask for more
 * unless the parser has already decided. */
static parsed_t feed_in_steps(const void *text, size_t len, size_t step, const srv_config_t *cfg) {
    parsed_t p;
    memset(&p, 0, sizeof(p));
    p.req = srv_req_new(NULL);
    p.in = evbuffer_new();
    assert_non_null(p.req);
    assert_non_null(p.in);
    const char *bytes = text;
    size_t at = 0;
    p.rc = SRV_REQ_INCOMPLETE;
    do {
        size_t n = step == 0 || len - at < step ? len - at : step;
        assert_int_equal(evbuffer_add(p.in, bytes + at, n), 0);
        at += n;
        p.rc = srv_req_feed(p.req, p.in, cfg, &p.err);
    } while (p.rc == SRV_REQ_INCOMPLETE && at < len);
    return p;
}

static parsed_t feed(const void *text, size_t len, const srv_config_t *cfg) {
    return feed_in_steps(text, len, 0, cfg);
}

/* Feed text[0, cut), then text[cut, len). */
static parsed_t feed_split(const void *text, size_t len, size_t cut, const srv_config_t *cfg) {
    parsed_t p;
    memset(&p, 0, sizeof(p));
    p.req = srv_req_new(NULL);
    p.in = evbuffer_new();
    assert_non_null(p.req);
    assert_non_null(p.in);
    assert_int_equal(evbuffer_add(p.in, text, cut), 0);
    p.rc = srv_req_feed(p.req, p.in, cfg, &p.err);
    if (p.rc == SRV_REQ_INCOMPLETE) {
        assert_int_equal(evbuffer_add(p.in, (const char *)text + cut, len - cut), 0);
        p.rc = srv_req_feed(p.req, p.in, cfg, &p.err);
    }
    return p;
}

/* A complete request from text (NUL-terminated), with nothing left over. */
static parsed_t parse_ok(const char *text) {
    parsed_t p = feed(text, strlen(text), &defaults);
    if (p.rc != SRV_REQ_OK) {
        fail_msg("refused (%d %s: %s): %s", p.err.status, p.err.code, p.err.message, text);
    }
    assert_int_equal(evbuffer_get_length(p.in), 0);
    return p;
}

static void assert_body(const srv_req_t *req, const void *want, size_t len) {
    assert_int_equal(req->body_len, len);
    if (len == 0) {
        assert_true(req->body == NULL || req->body[0] == '\0');
        return;
    }
    assert_non_null(req->body);
    assert_memory_equal(req->body, want, len);
    assert_int_equal(req->body[len], '\0');
}

static void assert_optional_string_equal(const char *a, const char *b) {
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
    } else {
        assert_string_equal(a, b);
    }
}

/* Everything a route can see of a request is the same in a and b. */
static void assert_same_request(const srv_req_t *a, const srv_req_t *b) {
    assert_int_equal(a->method, b->method);
    assert_string_equal(a->method_name, b->method_name);
    assert_int_equal(a->minor, b->minor);
    assert_string_equal(a->path, b->path);
    assert_optional_string_equal(a->query, b->query);
    assert_int_equal(a->nheaders, b->nheaders);
    for (size_t i = 0; i < a->nheaders; i++) {
        assert_string_equal(a->headers[i].name, b->headers[i].name);
        assert_string_equal(a->headers[i].value, b->headers[i].value);
    }
    assert_body(b, a->body, a->body_len);
    assert_int_equal(a->chunked, b->chunked);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_int_equal(a->want_continue, b->want_continue);
}

/* text is accepted in one shot, and identically when cut at any byte or fed byte by byte; every
 * proper prefix leaves the request incomplete. */
static void check_every_split(const void *text, size_t len) {
    parsed_t whole = feed(text, len, &defaults);
    assert_int_equal(whole.rc, SRV_REQ_OK);
    assert_int_equal(evbuffer_get_length(whole.in), 0);
    for (size_t cut = 0; cut <= len; cut++) {
        parsed_t part = feed_split(text, len, cut, &defaults);
        if (part.rc != SRV_REQ_OK) {
            fail_msg("cut at byte %zu of %zu: %d (%d %s)", cut, len, part.rc, part.err.status,
                     part.err.code);
        }
        assert_int_equal(evbuffer_get_length(part.in), 0);
        assert_same_request(whole.req, part.req);
        parsed_free(&part);
    }
    for (size_t end = 0; end < len; end++) {
        parsed_t prefix = feed(text, end, &defaults);
        if (prefix.rc != SRV_REQ_INCOMPLETE) {
            fail_msg("the first %zu of %zu bytes gave %d (%d %s)", end, len, prefix.rc,
                     prefix.err.status, prefix.err.code);
        }
        parsed_free(&prefix);
    }
    parsed_t bytes = feed_in_steps(text, len, 1, &defaults);
    assert_int_equal(bytes.rc, SRV_REQ_OK);
    assert_int_equal(evbuffer_get_length(bytes.in), 0);
    assert_same_request(whole.req, bytes.req);
    parsed_free(&bytes);
    parsed_free(&whole);
}

/* text (len bytes) is refused with status and code, in one shot and byte by byte. */
static void check_refused_len(const char *text, size_t len, const srv_config_t *cfg, int status,
                              const char *code) {
    for (size_t step = 0; step <= 1; step++) {
        parsed_t p = feed_in_steps(text, len, step, cfg);
        if (p.rc != SRV_REQ_ERROR || p.err.status != status || strcmp(p.err.code, code) != 0) {
            fail_msg("%s: want %d %s, got rc %d (%d %s: %s) for \"%.*s\"",
                     step == 0 ? "one shot" : "byte by byte", status, code, p.rc, p.err.status,
                     p.rc == SRV_REQ_ERROR ? p.err.code : "-", p.err.message, (int)len, text);
        }
        assert_true(p.err.message[0] != '\0');
        parsed_free(&p);
    }
}

static void check_refused(const char *text, int status, const char *code) {
    check_refused_len(text, strlen(text), &defaults, status, code);
}

/* ---- accepted requests ------------------------------------------------------------------------
 */

static void test_get_with_query(void **state) {
    (void)state;
    parsed_t p =
        parse_ok("GET /streams/order-1?from=3&limit=10 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_int_equal(p.req->method, SRV_GET);
    assert_int_equal(srv_req_method(p.req), SRV_GET);
    assert_string_equal(p.req->method_name, "GET");
    assert_int_equal(p.req->minor, 1);
    assert_string_equal(p.req->path, "/streams/order-1");
    assert_string_equal(p.req->query, "from=3&limit=10");
    assert_int_equal(p.req->nheaders, 1);
    assert_true(p.req->keep_alive);
    assert_false(p.req->chunked);
    assert_false(p.req->want_continue);
    assert_body(p.req, "", 0);
    parsed_free(&p);

    /* No query; an empty query is still a query. A fragment is never sent in a request target
     * (RFC 9112 3.2): '#' anywhere is refused, so "/a#b?c" cannot be read two ways. */
    p = parse_ok("GET /all HTTP/1.1\r\n\r\n");
    assert_string_equal(p.req->path, "/all");
    assert_null(p.req->query);
    assert_int_equal(p.req->nheaders, 0);
    parsed_free(&p);
    check_refused("GET /all#top HTTP/1.1\r\n\r\n", 400, "bad_request");
    check_refused("GET /a#b?c HTTP/1.1\r\n\r\n", 400, "bad_request");
    check_refused("GET /all?limit=1#top HTTP/1.1\r\n\r\n", 400, "bad_request");
    p = parse_ok("GET /all? HTTP/1.1\r\n\r\n");
    assert_string_equal(p.req->query, "");
    parsed_free(&p);
    /* Percent-encoding is left to the routes. */
    p = parse_ok("GET /streams/a%20b HTTP/1.1\r\n\r\n");
    assert_string_equal(p.req->path, "/streams/a%20b");
    parsed_free(&p);

    /* Empty lines before the request line are skipped (RFC 9112 2.2); bare LF ends lines. */
    p = parse_ok("\r\n\n\r\nHEAD /health HTTP/1.1\nHost: x\n\n");
    assert_int_equal(p.req->method, SRV_HEAD);
    assert_string_equal(p.req->path, "/health");
    assert_string_equal(srv_req_header(p.req, "Host"), "x");
    parsed_free(&p);

    /* The methods routes tell apart; any other token is a method no route serves (405). */
    static const struct {
        const char *name;
        srv_method_t method;
    } methods[] = {{"GET", SRV_GET},     {"HEAD", SRV_HEAD},     {"POST", SRV_POST},
                   {"PUT", SRV_PUT},     {"DELETE", SRV_DELETE}, {"OPTIONS", SRV_OTHER},
                   {"PATCH", SRV_OTHER}, {"BREW", SRV_UNKNOWN},  {"get", SRV_UNKNOWN}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "%s /x HTTP/1.1\r\n\r\n", methods[i].name);
        p = parse_ok(text);
        assert_int_equal(p.req->method, methods[i].method);
        assert_string_equal(p.req->method_name, methods[i].name);
        parsed_free(&p);
    }
}

static void test_headers(void **state) {
    (void)state;
    parsed_t p = parse_ok("POST /streams/s HTTP/1.1\r\n"
                          "Host: localhost:2113\r\n"
                          "content-type: application/json\r\n"
                          "Authorization:Bearer abc\r\n"
                          "X-Padded: \t  some value \t \r\n"
                          "X-Empty:\r\n"
                          "X-Dup: first\r\n"
                          "X-Dup: second\r\n"
                          "X-Utf8: caf\xc3\xa9\r\n"
                          "\r\n");
    assert_int_equal(p.req->nheaders, 8);
    assert_string_equal(srv_req_header(p.req, "Content-Type"), "application/json");
    assert_string_equal(srv_req_header(p.req, "CONTENT-TYPE"), "application/json");
    assert_string_equal(srv_req_header(p.req, "host"), "localhost:2113");
    assert_string_equal(srv_req_header(p.req, "authorization"), "Bearer abc");
    /* Whitespace around a value is not part of it; inside it, it is. */
    assert_string_equal(srv_req_header(p.req, "x-padded"), "some value");
    assert_string_equal(srv_req_header(p.req, "X-Empty"), "");
    /* The first of a repeated header. */
    assert_string_equal(srv_req_header(p.req, "x-dup"), "first");
    assert_string_equal(srv_req_header(p.req, "X-Utf8"), "caf\xc3\xa9");
    assert_null(srv_req_header(p.req, "X-Missing"));
    assert_null(srv_req_header(p.req, "X-Du"));
    assert_null(srv_req_header(p.req, "X-Dupe"));
    /* The names as sent, in order. */
    assert_string_equal(p.req->headers[1].name, "content-type");
    assert_string_equal(p.req->headers[6].value, "second");
    parsed_free(&p);
}

static void test_content_length_body(void **state) {
    (void)state;
    static const char body[] = "{\"events\":[{\"type\":\"T\",\"data\":{}}]}";
    char text[256];
    snprintf(text, sizeof(text),
             "POST /streams/s HTTP/1.1\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    parsed_t p = parse_ok(text);
    assert_int_equal(p.req->method, SRV_POST);
    assert_false(p.req->chunked);
    assert_body(p.req, body, strlen(body));
    parsed_free(&p);

    /* The body is bytes: NUL, CR and LF inside it are data. */
    static const char binary[] = "PUT /b HTTP/1.1\r\nContent-Length: 7\r\n\r\na\0b\r\n\r\n";
    p = feed(binary, sizeof(binary) - 1, &defaults);
    assert_int_equal(p.rc, SRV_REQ_OK);
    assert_body(p.req, "a\0b\r\n\r\n", 7);
    parsed_free(&p);

    /* Content-Length: 0 is no body; the same length twice is one length. */
    p = parse_ok("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_body(p.req, "", 0);
    parsed_free(&p);
    p = parse_ok("POST /x HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc");
    assert_body(p.req, "abc", 3);
    parsed_free(&p);

    /* A body that has not all arrived waits for the rest, and takes no byte beyond it. */
    static const char head[] = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234";
    p = feed(head, strlen(head), &defaults);
    assert_int_equal(p.rc, SRV_REQ_INCOMPLETE);
    assert_true(p.req->head_done);
    assert_int_equal(evbuffer_add(p.in, "56789GET", 8), 0);
    assert_int_equal(srv_req_feed(p.req, p.in, &defaults, &p.err), SRV_REQ_OK);
    assert_body(p.req, "0123456789", 10);
    assert_int_equal(evbuffer_get_length(p.in), 3);
    parsed_free(&p);

    /* At the limit exactly. */
    srv_config_t small = defaults;
    small.max_body_bytes = 4;
    static const char four[] = "POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
    p = feed(four, strlen(four), &small);
    assert_int_equal(p.rc, SRV_REQ_OK);
    assert_body(p.req, "abcd", 4);
    parsed_free(&p);
}

static const char chunked_request[] = "POST /streams/s HTTP/1.1\r\n"
                                      "Host: localhost\r\n"
                                      "Transfer-Encoding: chunked\r\n"
                                      "Content-Type: application/json\r\n"
                                      "\r\n"
                                      "5;name=value\r\n"
                                      "{\"a\":\r\n"
                                      "1A ; ext ; other=\"quoted\"\r\n"
                                      "[1,2,3,4,5,6,7,8,9,10,11]}\r\n"
                                      "1\n"
                                      "\n\n"
                                      "0;last\r\n"
                                      "X-Checksum: abc\r\n"
                                      "Content-Type: text/plain\r\n"
                                      "\r\n";

static void test_chunked_body(void **state) {
    (void)state;
    parsed_t p = parse_ok(chunked_request);
    assert_true(p.req->chunked);
    assert_body(p.req, "{\"a\":[1,2,3,4,5,6,7,8,9,10,11]}\n", 32);
    /* Trailer fields never become headers (a trailer cannot change how the body is read). */
    assert_null(srv_req_header(p.req, "X-Checksum"));
    assert_string_equal(srv_req_header(p.req, "Content-Type"), "application/json");
    assert_int_equal(p.req->nheaders, 3);
    parsed_free(&p);

    /* Upper-case hex digits and coding name; an empty body; the body at the limit exactly. */
    p = parse_ok("PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                 "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n");
    assert_body(p.req, "0123456789abcdefghijk", 21);
    parsed_free(&p);
    p = parse_ok("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_true(p.req->chunked);
    assert_body(p.req, "", 0);
    parsed_free(&p);
    srv_config_t small = defaults;
    small.max_body_bytes = 6;
    static const char six[] =
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
    p = feed(six, strlen(six), &small);
    assert_int_equal(p.rc, SRV_REQ_OK);
    assert_body(p.req, "abcdef", 6);
    parsed_free(&p);
}

static void test_every_split(void **state) {
    (void)state;
    check_every_split(chunked_request, strlen(chunked_request));
    static const char get[] = "GET /streams/s?from=1 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n";
    check_every_split(get, strlen(get));
    static const char lf_only[] = "\r\n\nDELETE /streams/s HTTP/1.0\nConnection: keep-alive\n\n";
    check_every_split(lf_only, strlen(lf_only));
    static const char binary[] = "POST /x HTTP/1.1\r\nContent-Length: 9\r\n\r\n\r\n\0\r\n\r\n\n\n";
    check_every_split(binary, sizeof(binary) - 1);
    static const char cont[] =
        "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}";
    check_every_split(cont, strlen(cont));
}

/* Two requests in one buffer: the first takes its own bytes only. */
static void check_pipelined(const char *first, const char *second) {
    char both[1024];
    size_t flen = strlen(first), slen = strlen(second);
    assert_true(flen + slen <= sizeof(both));
    memcpy(both, first, flen);
    memcpy(both + flen, second, slen);
    for (size_t step = 0; step <= 1; step++) {
        parsed_t p = feed_in_steps(both, flen + slen, step, &defaults);
        assert_int_equal(p.rc, SRV_REQ_OK);
        parsed_t alone = parse_ok(first);
        assert_same_request(alone.req, p.req);
        parsed_free(&alone);
        if (step == 0) {
            /* Untouched: the same bytes, still in the buffer. */
            assert_int_equal(evbuffer_get_length(p.in), slen);
            assert_memory_equal(evbuffer_pullup(p.in, -1), second, slen);
        } else {
            /* Fed byte by byte, the parser stopped at the end of the first request. */
            assert_int_equal(evbuffer_get_length(p.in), 0);
            assert_int_equal(evbuffer_add(p.in, second, slen), 0);
        }
        srv_req_t *next = srv_req_new(NULL);
        assert_non_null(next);
        assert_int_equal(srv_req_feed(next, p.in, &defaults, &p.err), SRV_REQ_OK);
        parsed_t want = parse_ok(second);
        assert_same_request(want.req, next);
        assert_int_equal(evbuffer_get_length(p.in), 0);
        parsed_free(&want);
        srv_req_free(next);
        parsed_free(&p);
    }
}

static void test_pipelined(void **state) {
    (void)state;
    check_pipelined("POST /streams/a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                    "GET /streams/a HTTP/1.1\r\n\r\n");
    check_pipelined("GET /a HTTP/1.1\r\n\r\n", "GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
    check_pipelined(chunked_request,
                    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    /* A body that looks like a request is the body. */
    check_pipelined("PUT /p HTTP/1.1\r\nContent-Length: 19\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
                    "DELETE /d HTTP/1.1\r\n\r\n");
}

static void test_keep_alive(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int minor;
        bool keep_alive;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", 1, true},
        {"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", 1, true},
        {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 1, false},
        {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", 1, false},
        {"GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", 1, false},
        {"GET / HTTP/1.1\r\nconnection:close\r\n\r\n", 1, false},
        {"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1, true},
        {"GET / HTTP/1.0\r\n\r\n", 0, false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, true},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, true},
        {"GET / HTTP/1.0\r\nConnection: foo,keep-alive\r\n\r\n", 0, true},
        {"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", 0, false},
        {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", 0, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parsed_t p = parse_ok(cases[i].text);
        assert_int_equal(p.req->minor, cases[i].minor);
        if (p.req->keep_alive != cases[i].keep_alive) {
            fail_msg("keep_alive %d for %s", p.req->keep_alive, cases[i].text);
        }
        parsed_free(&p);
    }
}

static void test_expect_continue(void **state) {
    (void)state;
    /* The head alone is incomplete but says the client waits for 100 Continue. */
    static const char head[] =
        "POST /streams/s HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    parsed_t p = feed(head, strlen(head), &defaults);
    assert_int_equal(p.rc, SRV_REQ_INCOMPLETE);
    assert_true(p.req->head_done);
    assert_true(p.req->want_continue);
    assert_int_equal(evbuffer_add(p.in, "{}", 2), 0);
    assert_int_equal(srv_req_feed(p.req, p.in, &defaults, &p.err), SRV_REQ_OK);
    assert_body(p.req, "{}", 2);
    parsed_free(&p);

    p = parse_ok("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n"
                 "0\r\n\r\n");
    assert_true(p.req->want_continue);
    parsed_free(&p);
    /* Nothing to wait for: no body, or an HTTP/1.0 client (which knows no 100). */
    p = parse_ok("GET /s HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
    assert_false(p.req->want_continue);
    parsed_free(&p);
    p = parse_ok("POST /s HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
    assert_false(p.req->want_continue);
    parsed_free(&p);
    p = parse_ok("POST /s HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
    assert_false(p.req->want_continue);
    parsed_free(&p);
    p = parse_ok("POST /s HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    assert_false(p.req->want_continue);
    parsed_free(&p);

    check_refused("POST /s HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417,
                  "expectation_failed");
}

/* ---- refusals ---------------------------------------------------------------------------------
 */

static void test_refuse_request_line(void **state) {
    (void)state;
    static const char *const bad[] = {
        "GET /\r\n\r\n",
        "GET\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET /  HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET\t/ HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTP/1\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n",
        "GET / HTTP/11.1\r\n\r\n",
        "junk\r\n\r\n",
        "\x16\x03\x01\x02\x05\x01\x01\xfc\x03\x03\r\n\r\n", /* TLS on the plain port */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_refused(bad[i], 400, "bad_request");
    }
    /* Only HTTP/1.0 and HTTP/1.1 are served: another major version is a bad request. */
    check_refused("GET / HTTP/2.0\r\n\r\n", 400, "bad_request");
    check_refused("GET / HTTP/0.9\r\n\r\n", 400, "bad_request");
    check_refused("GET / HTTP/1.2\r\n\r\n", 400, "bad_request");
    check_refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request");
}

static void test_refuse_target(void **state) {
    (void)state;
    static const char *const bad[] = {
        "GET /a b HTTP/1.1\r\n\r\n",         /* a space */
        "GET /a\tb HTTP/1.1\r\n\r\n",        /* a tab */
        "GET /a\x01 HTTP/1.1\r\n\r\n",       /* a control byte */
        "GET /a\x7f HTTP/1.1\r\n\r\n",       /* DEL */
        "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", /* UTF-8, not percent-encoded */
        "GET /\xff HTTP/1.1\r\n\r\n",        /* not even UTF-8 */
        "GET /a?q=\x80 HTTP/1.1\r\n\r\n",    /* in the query too */
        "GET /a\rb HTTP/1.1\r\n\r\n",        /* a bare CR */
        "GET http://h/x HTTP/1.1\r\n\r\n",   /* absolute form */
        "OPTIONS * HTTP/1.1\r\n\r\n",        /* asterisk form */
        "GET x HTTP/1.1\r\n\r\n",            /* not a path */
        "CONNECT h:443 HTTP/1.1\r\n\r\n",    /* authority form */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_refused(bad[i], 400, "bad_request");
    }
}

static void test_refuse_headers(void **state) {
    (void)state;
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nHost localhost\r\n\r\n",    /* no colon */
        "GET / HTTP/1.1\r\n: value\r\n\r\n",           /* no name */
        "GET / HTTP/1.1\r\nHost : localhost\r\n\r\n",  /* space before the colon */
        "GET / HTTP/1.1\r\nHost\t: localhost\r\n\r\n", /* tab before the colon */
        "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",      /* folded with a space */
        "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n",     /* folded with a tab */
        "GET / HTTP/1.1\r\n Host: h\r\n\r\n",          /* first line folded */
        "GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n",       /* control byte in a value */
        "GET / HTTP/1.1\r\nX-A: a\rz\r\n\r\n",         /* bare CR in a value */
        "GET / HTTP/1.1\r\nX-A: a\x7fz\r\n\r\n",       /* DEL in a value */
        "GET / HTTP/1.1\r\nX-A: a\x1b[2J\r\n\r\n",     /* escape in a value */
        "GET / HTTP/1.1\r\nX(A): a\r\n\r\n",           /* name not a token */
        "GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n",      /* non-ASCII name */
        "GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",         /* CR CR LF */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_refused(bad[i], 400, "bad_request");
    }
}

static void test_refuse_framing(void **state) {
    (void)state;
    static const char *const bad_length[] = {"abc",  "-1",  "+5", "1.0", "0x10",
                                             "5, 5", "5 5", "",   "1e3", "\xd9\xa3"};
    for (size_t i = 0; i < sizeof(bad_length) / sizeof(bad_length[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\nabc",
                 bad_length[i]);
        check_refused(text, 400, "bad_request");
    }
    /* Two lengths that differ, even when they are the same number. */
    check_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", 400,
                  "bad_request");
    check_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nabcde", 400,
                  "bad_request");
    /* Both framings, in either order, whatever their case. */
    check_refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "0\r\n\r\n",
                  400, "bad_request");
    check_refused("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n"
                  "0\r\n\r\n",
                  400, "bad_request");
    /* No transfer coding but chunked alone, and none for HTTP/1.0. */
    static const char *const bad_te[] = {"gzip",     "chunked, gzip", "gzip, chunked",
                                         "identity", "chunked;q=1",   ""};
    for (size_t i = 0; i < sizeof(bad_te) / sizeof(bad_te[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "POST / HTTP/1.1\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n",
                 bad_te[i]);
        check_refused(text, 400, "bad_request");
    }
    check_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked"
                  "\r\n\r\n0\r\n\r\n",
                  400, "bad_request");
    check_refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                  "bad_request");
}

static void test_refuse_body_too_large(void **state) {
    (void)state;
    /* Refused from the head alone: not a byte of the body is read (or needs to arrive). */
    check_refused("POST / HTTP/1.1\r\nContent-Length: 16777217\r\n\r\n", 413, "payload_too_large");
    check_refused("POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n", 413,
                  "payload_too_large");
    /* Lengths of 18 digits and more, beyond 64 bits too: still a length, still over the limit. */
    static const char *const huge[] = {"999999999999999999", "18446744073709551615",
                                       "18446744073709551616", "99999999999999999999",
                                       "0000000000000000000000000099999999999999999999999999"};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        char text[160];
        snprintf(text, sizeof(text), "POST / HTTP/1.1\r\nContent-Length: %s\r\n\r\n", huge[i]);
        check_refused(text, 413, "payload_too_large");
    }
    /* Leading zeros do not make a small length large. */
    parsed_t z = parse_ok("POST / HTTP/1.1\r\nContent-Length: 000000000000000000000003\r\n\r\nabc");
    assert_body(z.req, "abc", 3);
    parsed_free(&z);
    /* The same for chunk sizes of 16 hex digits and more. */
    check_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 413,
                  "payload_too_large");
    check_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000000000\r\n",
                  413, "payload_too_large");
    srv_config_t small = defaults;
    small.max_body_bytes = 10;
    static const char text[] = "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n0123456789A";
    parsed_t p = feed(text, strlen(text), &small);
    assert_int_equal(p.rc, SRV_REQ_ERROR);
    assert_int_equal(p.err.status, 413);
    assert_string_equal(p.err.code, "payload_too_large");
    assert_int_equal(evbuffer_get_length(p.in), 11);
    assert_int_equal(p.req->body_len, 0);
    parsed_free(&p);
    check_refused_len(text, strlen(text), &small, 413, "payload_too_large");

    /* A declared length reserves no memory before its bytes arrive, and never more than it needs
     * once they have. */
    static const char big[] = "POST / HTTP/1.1\r\nContent-Length: 16000000\r\n\r\n0123456789";
    p = feed(big, strlen(big), &defaults);
    assert_int_equal(p.rc, SRV_REQ_INCOMPLETE);
    assert_true(p.req->body_cap <= 1024);
    parsed_free(&p);
    static const char exact[] = "POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n";
    char *whole = malloc(sizeof(exact) + 3000);
    assert_non_null(whole);
    memcpy(whole, exact, sizeof(exact) - 1);
    memset(whole + sizeof(exact) - 1, 'x', 3000);
    p = feed(whole, sizeof(exact) - 1 + 3000, &defaults);
    assert_int_equal(p.rc, SRV_REQ_OK);
    assert_int_equal(p.req->body_cap, 3001);
    parsed_free(&p);
    free(whole);
}

static void test_refuse_head_too_large(void **state) {
    (void)state;
    srv_config_t small = defaults;
    small.max_header_bytes = 1024;
    char text[4096];
    /* One header longer than the limit, ended or not. */
    int n = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nX-Big: %01500d\r\n\r\n", 7);
    check_refused_len(text, (size_t)n, &small, 431, "header_too_large");
    n = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nX-Big: %01500d", 7);
    check_refused_len(text, (size_t)n, &small, 431, "header_too_large");
    /* Many small headers adding up to more than the limit. */
    size_t len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 60; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "X-Header-%02d: 0123456789\r\n", i);
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len, "\r\n");
    check_refused_len(text, len, &small, 431, "header_too_large");
    /* A request line alone beyond the limit. */
    n = snprintf(text, sizeof(text), "GET /%02000d HTTP/1.1\r\n\r\n", 1);
    check_refused_len(text, (size_t)n, &small, 431, "header_too_large");
    /* A client that never ends its head is refused once it has sent more than the limit. */
    parsed_t p = feed(text, 1100, &small);
    assert_int_equal(p.rc, SRV_REQ_ERROR);
    assert_int_equal(p.err.status, 431);
    parsed_free(&p);
}

/* The head limit holds at its edge the same way whether the head arrives at once or in pieces. */
static void test_head_limit_edge(void **state) {
    (void)state;
    srv_config_t small = defaults;
    small.max_header_bytes = 64;
    char text[256];
    for (size_t pad = 30; pad < 60; pad++) {
        int n = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nX-Pad: %0*d\r\n\r\n", (int)pad, 0);
        parsed_t whole = feed(text, (size_t)n, &small);
        parsed_t bytes = feed_in_steps(text, (size_t)n, 1, &small);
        if (whole.rc != bytes.rc ||
            (whole.rc == SRV_REQ_ERROR && (whole.err.status != bytes.err.status ||
                                           strcmp(whole.err.code, bytes.err.code) != 0))) {
            fail_msg("a head of %d bytes with a %zu-byte limit: at once %d (%d), byte by byte %d "
                     "(%d)",
                     n, (size_t)small.max_header_bytes, whole.rc, whole.err.status, bytes.rc,
                     bytes.err.status);
        }
        /* Well within the limit is accepted; well beyond it refused. */
        if ((size_t)n <= small.max_header_bytes) {
            assert_int_equal(whole.rc, SRV_REQ_OK);
        }
        if ((size_t)n > small.max_header_bytes + 4) {
            assert_int_equal(whole.rc, SRV_REQ_ERROR);
            assert_int_equal(whole.err.status, 431);
        }
        parsed_free(&whole);
        parsed_free(&bytes);
    }
}

static void test_refuse_too_many_headers(void **state) {
    (void)state;
    char text[4096];
    for (int count = 63; count <= 66; count++) {
        size_t len = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n");
        for (int i = 0; i < count; i++) {
            len += (size_t)snprintf(text + len, sizeof(text) - len, "X-%d: v\r\n", i);
        }
        len += (size_t)snprintf(text + len, sizeof(text) - len, "\r\n");
        if (count <= 64) {
            parsed_t p = parse_ok(text);
            assert_int_equal(p.req->nheaders, (size_t)count);
            parsed_free(&p);
        } else {
            check_refused_len(text, len, &defaults, 431, "header_too_large");
        }
    }
}

static void test_refuse_chunks(void **state) {
    (void)state;
#define CHUNKED_HEAD "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    static const char *const bad[] = {
        CHUNKED_HEAD "zz\r\nab\r\n0\r\n\r\n",               /* not hex */
        CHUNKED_HEAD "\r\n0\r\n\r\n",                       /* empty size */
        CHUNKED_HEAD ";ext\r\n\r\n",                        /* extension without size */
        CHUNKED_HEAD "-5\r\nhello\r\n0\r\n\r\n",            /* negative */
        CHUNKED_HEAD "0x5\r\nhello\r\n0\r\n\r\n",           /* C notation */
        CHUNKED_HEAD "5\r\nhelloX\r\n0\r\n\r\n",            /* data not followed by CRLF */
        CHUNKED_HEAD "5\r\nhello\r\r\n0\r\n\r\n",           /* CR CR LF after the data */
        CHUNKED_HEAD "5\r\nhello world\r\n0\r\n\r\n",       /* more data than the size */
        CHUNKED_HEAD "5\r\nhello 0\r\n\r\n",                /* the next size on the same line */
        CHUNKED_HEAD "5 xyz\r\nhello\r\n0\r\n\r\n",         /* junk after the size */
        CHUNKED_HEAD "5\r\nhello\r\n0\r\nno colon\r\n\r\n", /* a trailer that is no field */
        CHUNKED_HEAD "5\r\nhello\r\n0\r\nA: \x01\r\n\r\n",  /* a control byte in a trailer */
    };
#undef CHUNKED_HEAD
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_refused(bad[i], 400, "bad_request");
    }
    /* A NUL after the size. */
    static const char nul_size[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "5\0xyz\r\nhello\r\n0\r\n\r\n";
    check_refused_len(nul_size, sizeof(nul_size) - 1, &defaults, 400, "bad_request");
    /* White space before an extension is allowed. */
    parsed_t ok = parse_ok("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5 \t;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n");
    assert_body(ok.req, "hello", 5);
    parsed_free(&ok);

    /* A chunk-size line that never ends. */
    char text[4096];
    int n = snprintf(text, sizeof(text),
                     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;%02000d", 0);
    check_refused_len(text, (size_t)n, &defaults, 400, "bad_request");

    /* The chunks add up to more than the limit: 413 when the size line says so. */
    srv_config_t small = defaults;
    small.max_body_bytes = 10;
    static const char over[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "6\r\nabcdef\r\n6\r\n";
    check_refused_len(over, strlen(over), &small, 413, "payload_too_large");
    static const char one[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n";
    check_refused_len(one, strlen(one), &small, 413, "payload_too_large");
    check_refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000001\r\n", 413,
                  "payload_too_large");

    /* Trailers beyond the head limit. */
    small = defaults;
    small.max_header_bytes = 64;
    size_t len = (size_t)snprintf(text, sizeof(text),
                                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    for (int i = 0; i < 10; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "X-T%d: 0123456789\r\n", i);
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len, "\r\n");
    check_refused_len(text, len, &small, 431, "header_too_large");
}

static void test_refuse_nul(void **state) {
    (void)state;
#define WITH_NUL(text) \
    { text, sizeof(text) - 1 }
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
        WITH_NUL("GET /\0 HTTP/1.1\r\n\r\n"),
        WITH_NUL("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"),
        WITH_NUL("GET / HTTP/1.1\r\nX\0: a\r\n\r\n"),
        WITH_NUL("G\0T / HTTP/1.1\r\n\r\n"),
        WITH_NUL("GET / HTTP/1.1\0\r\n\r\n"),
        WITH_NUL("GET / HTTP/1.1\r\n\0\r\n\r\n"),
        WITH_NUL("\0GET / HTTP/1.1\r\n\r\n"),
    };
#undef WITH_NUL
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_refused_len(bad[i].text, bad[i].len, &defaults, 400, "bad_request");
    }
}

static int setup(void **state) {
    (void)state;
    srv_config_defaults(&defaults);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    srv_config_free(&defaults);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_query),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_content_length_body),
        cmocka_unit_test(test_chunked_body),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_refuse_request_line),
        cmocka_unit_test(test_refuse_target),
        cmocka_unit_test(test_refuse_headers),
        cmocka_unit_test(test_refuse_framing),
        cmocka_unit_test(test_refuse_body_too_large),
        cmocka_unit_test(test_refuse_head_too_large),
        cmocka_unit_test(test_head_limit_edge),
        cmocka_unit_test(test_refuse_too_many_headers),
        cmocka_unit_test(test_refuse_chunks),
        cmocka_unit_test(test_refuse_nul),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
