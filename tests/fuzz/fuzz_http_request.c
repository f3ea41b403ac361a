/*
 * fuzz_http_request.c -- steled's HTTP/1.1 request parser (srv_req_feed in server/http/request.c)
 * on whatever a client may send.
 *
 * Input: one control byte, then the bytes a client sends on one connection. Bits 0-5 of the
 * control byte choose where those bytes are cut in two (0 = before the first, 63 = after the
 * last); bits 6-7 choose the limits: steled's defaults, or small ones so that the 413 and 431
 * refusals are reached by short inputs.
 *
 * The bytes are fed three ways, as a connection may receive them: all at once, in two pieces at
 * the cut, and one byte at a time, calling the parser after each piece. After each complete request
 * the next one is read from what is left (pipelining), until the parser needs more bytes or refuses
 * them. Checks: no crash, leak or out-of-bounds read; the three feedings give the same transcript
 * (for each request its method, target, version, headers, framing, keep-alive, 100-continue and
 * body bytes; for a refusal its status and code; at the end, how far the unfinished request got and
 * how many bytes it left); and every outcome keeps the parser's promises (a body no longer than
 * the limit and as long as Content-Length says, headers found by name, no control byte in a value
 * or the target, a refusal with a 4xx status, a code and a message).
 */
#include "fuzz_util.h"

#include "../../server/http/request.h"

#include <event2/buffer.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What srv_req_feed may refuse with (500 is only for a failed allocation). */
static bool known_status(int status) {
    return status == 400 || status == 413 || status == 417 || status == 431;
}

static bool has_ctl(const char *s, bool tab_ok) {
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* The promises of a complete request, whatever the bytes were. */
static void check_request(const srv_req_t *req, const srv_config_t *cfg) {
    FUZZ_CHECK(req->head_done, "complete without a head");
    FUZZ_CHECK(req->method_name != NULL && req->method_name[0] != '\0', "no method name");
    FUZZ_CHECK(req->path != NULL && req->path[0] == '/', "the path does not start with /");
    for (const unsigned char *t = (const unsigned char *)req->path; *t != '\0'; t++) {
        FUZZ_CHECK(*t > 0x20 && *t < 0x7f && *t != '?', "path byte 0x%02x", *t);
    }
    if (req->query != NULL) {
        for (const unsigned char *t = (const unsigned char *)req->query; *t != '\0'; t++) {
            FUZZ_CHECK(*t > 0x20 && *t < 0x7f && *t != '#', "query byte 0x%02x", *t);
        }
    }
    FUZZ_CHECK(req->minor >= 0 && req->minor <= 9, "HTTP/1.%d", req->minor);
    FUZZ_CHECK(req->nheaders <= 64, "%zu header lines", req->nheaders);
    for (size_t i = 0; i < req->nheaders; i++) {
        const srv_header_t *h = &req->headers[i];
        FUZZ_CHECK(h->name[0] != '\0', "an empty header name");
        FUZZ_CHECK(!has_ctl(h->name, false) && strpbrk(h->name, " \t:") == NULL,
                   "header name \"%s\"", h->name);
        FUZZ_CHECK(!has_ctl(h->value, true), "a control byte in the value of %s", h->name);
        size_t vlen = strlen(h->value);
        FUZZ_CHECK(vlen == 0 || (h->value[0] != ' ' && h->value[0] != '\t' &&
                                 h->value[vlen - 1] != ' ' && h->value[vlen - 1] != '\t'),
                   "the value of %s is not trimmed", h->name);
        const char *first = srv_req_header(req, h->name);
        FUZZ_CHECK(first != NULL, "header %s not found by its name", h->name);
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(req->headers[j].name, h->name) == 0) {
                FUZZ_CHECK(first == req->headers[j].value, "header %s: not the first", h->name);
                break;
            }
        }
    }
    FUZZ_CHECK(req->body_len <= cfg->max_body_bytes, "a body of %zu bytes over the limit",
               req->body_len);
    FUZZ_CHECK(req->body != NULL || req->body_len == 0, "body bytes without a body");
    FUZZ_CHECK(req->body == NULL || req->body[req->body_len] == '\0', "the body is not terminated");
    const char *te = srv_req_header(req, "Transfer-Encoding");
    const char *cl = srv_req_header(req, "Content-Length");
    if (req->chunked) {
        FUZZ_CHECK(te != NULL && cl == NULL && req->minor >= 1, "chunked without its header");
    } else {
        FUZZ_CHECK(te == NULL, "Transfer-Encoding %s but not chunked", te);
        FUZZ_CHECK(req->body_len == (cl != NULL ? strtoull(cl, NULL, 10) : 0),
                   "a body of %zu bytes, Content-Length %s", req->body_len, cl ? cl : "absent");
    }
    FUZZ_CHECK(!req->want_continue || (req->minor >= 1 && (req->chunked || cl != NULL)),
               "100-continue without a body to wait for");
}

static void note_string(struct evbuffer *t, const char *s) {
    if (s == NULL) {
        evbuffer_add(t, "-", 1);
    } else {
        evbuffer_add(t, s, strlen(s) + 1);
    }
}

static void note_request(struct evbuffer *t, const srv_req_t *req) {
    evbuffer_add_printf(t, "OK %d %d ", (int)req->method, req->minor);
    note_string(t, req->method_name);
    note_string(t, req->path);
    note_string(t, req->query);
    evbuffer_add_printf(t, " %zu headers ", req->nheaders);
    for (size_t i = 0; i < req->nheaders; i++) {
        note_string(t, req->headers[i].name);
        note_string(t, req->headers[i].value);
    }
    evbuffer_add_printf(t, " chunked %d keep-alive %d continue %d body %zu:", req->chunked,
                        req->keep_alive, req->want_continue, req->body_len);
    if (req->body_len > 0) {
        evbuffer_add(t, req->body, req->body_len);
    }
    evbuffer_add(t, "\n", 1);
}

/* Feed bytes[0, len) to the parser in the pieces that end at ends[] (the last ends at len), as a
 * connection does, and write what it made of them to the transcript t. */
static void run(const uint8_t *bytes, size_t len, const size_t *ends, size_t nends,
                const srv_config_t *cfg, struct evbuffer *t) {
    struct evbuffer *in = evbuffer_new();
    srv_req_t *req = srv_req_new(NULL);
    FUZZ_CHECK(in != NULL && req != NULL, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < nends; i++) {
        FUZZ_CHECK(ends[i] >= at && ends[i] <= len, "piece %zu ends at %zu", i, ends[i]);
        FUZZ_CHECK(evbuffer_add(in, bytes + at, ends[i] - at) == 0, "out of memory");
        at = ends[i];
        for (;;) {
            size_t before = evbuffer_get_length(in);
            srv_req_error_t e;
            memset(&e, 0, sizeof(e));
            int rc = srv_req_feed(req, in, cfg, &e);
            FUZZ_CHECK(evbuffer_get_length(in) <= before, "the parser added bytes");
            if (rc == SRV_REQ_INCOMPLETE) {
                break;
            }
            if (rc == SRV_REQ_ERROR) {
                FUZZ_CHECK(known_status(e.status) && e.code != NULL && e.message[0] != '\0',
                           "refused with status %d, code %s", e.status, e.code ? e.code : "-");
                evbuffer_add_printf(t, "ERROR %d %s\n", e.status, e.code);
                goto done;
            }
            FUZZ_CHECK(rc == SRV_REQ_OK, "srv_req_feed returned %d", rc);
            check_request(req, cfg);
            note_request(t, req);
            srv_req_free(req);
            req = srv_req_new(NULL);
            FUZZ_CHECK(req != NULL, "out of memory");
        }
    }
    FUZZ_CHECK(at == len, "not every byte was fed");
    evbuffer_add_printf(t, "INCOMPLETE head %d body %zu left %zu\n", req->head_done, req->body_len,
                        evbuffer_get_length(in));
done:
    srv_req_free(req);
    evbuffer_free(in);
}

static void check_same(struct evbuffer *a, struct evbuffer *b, const char *how) {
    size_t alen = evbuffer_get_length(a), blen = evbuffer_get_length(b);
    const char *ap = alen > 0 ? (const char *)evbuffer_pullup(a, -1) : "";
    const char *bp = blen > 0 ? (const char *)evbuffer_pullup(b, -1) : "";
    size_t same = 0;
    while (same < alen && same < blen && ap[same] == bp[same]) {
        same++;
    }
    /* Show where the transcripts part (they are mostly text). */
    size_t from = same > 60 ? same - 60 : 0;
    FUZZ_CHECK(alen == blen && same == alen,
               "fed %s, the parser differs from one shot after %zu bytes of transcript:\n"
               "  one shot: ...%.*s\n  %s: ...%.*s",
               how, same, (int)(alen - from < 200 ? alen - from : 200), ap + from, how,
               (int)(blen - from < 200 ? blen - from : 200), bp + from);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    static const struct {
        uint64_t header_bytes, body_bytes;
    } limits[4] = {{64u * 1024u, 16u * 1024u * 1024u}, {256, 64}, {64, 8}, {24, 0}};
    srv_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_header_bytes = limits[data[0] >> 6].header_bytes;
    cfg.max_body_bytes = limits[data[0] >> 6].body_bytes;
    const uint8_t *bytes = data + 1;
    size_t len = size - 1;
    size_t cut = len * (size_t)(data[0] & 63) / 63;

    struct evbuffer *whole = evbuffer_new(), *two = evbuffer_new(), *single = evbuffer_new();
    size_t *ends = malloc((len + 2) * sizeof(*ends));
    FUZZ_CHECK(whole != NULL && two != NULL && single != NULL && ends != NULL, "out of memory");

    ends[0] = len;
    run(bytes, len, ends, 1, &cfg, whole);
    ends[0] = cut;
    ends[1] = len;
    run(bytes, len, ends, 2, &cfg, two);
    check_same(whole, two, "in two pieces");
    for (size_t i = 0; i < len; i++) {
        ends[i] = i + 1;
    }
    run(bytes, len, ends, len, &cfg, single);
    check_same(whole, single, "byte by byte");

    free(ends);
    evbuffer_free(whole);
    evbuffer_free(two);
    evbuffer_free(single);
    return 0;
}
