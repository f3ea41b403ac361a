/*
 * http_client.c -- the HTTP side of the `stele` tool's remote mode, over libcurl.
 *
 * One easy handle is reused for every request of a command, so a paged read or an import keeps
 * one keep-alive connection. Requests send the token as "Authorization: Bearer T" and JSON
 * bodies; curl's "Expect: 100-continue" is switched off (one round trip less for big bodies).
 * A long GET (Server-Sent Events) hands the body to a callback as it arrives and is polled about
 * once a second so that a signal can end it. For https the server's certificate is verified
 * against --cacert (else SSL_CERT_FILE / SSL_CERT_DIR, else the system's store) unless --insecure.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

#define CONNECT_TIMEOUT_S 10L

/* ---- the client ------------------------------------------------------------------------------ */

int http_client_init(http_client_t *c, const cli_ctx_t *ctx) {
    memset(c, 0, sizeof(*c));
    const char *url = ctx->url, *token = ctx->token;
    c->cacert = ctx->cacert;
    c->capath = ctx->capath;
    c->insecure = ctx->insecure;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return -1;
    }
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/') {
        len--;
    }
    c->base = malloc(len + 1);
    c->curl = curl_easy_init();
    if (c->base == NULL || c->curl == NULL) {
        http_client_free(c);
        return -1;
    }
    memcpy(c->base, url, len);
    c->base[len] = '\0';

    json_out_t auth = {0};
    if (token != NULL && token[0] != '\0') {
        jout_printf(&auth, "Authorization: Bearer %s", token);
        c->has_token = true;
    }
    const char *lines[] = {"Accept: application/json, text/event-stream", "Expect:", auth.data};
    bool failed = auth.failed;
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && !failed; i++) {
        if (lines[i] != NULL) {
            struct curl_slist *next = curl_slist_append(c->hdrs, lines[i]);
            failed = next == NULL;
            c->hdrs = next != NULL ? next : c->hdrs;
        }
    }
    jout_free(&auth);
    if (failed) {
        http_client_free(c);
        return -1;
    }
    return 0;
}

void http_client_free(http_client_t *c) {
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    curl_slist_free_all(c->hdrs);
    free(c->base);
    memset(c, 0, sizeof(*c));
}

void http_response_free(http_response_t *resp) { jout_free(&resp->body); }

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
    json_out_t *b = userdata;
    size_t n = size * nmemb;
    jout_add(b, ptr, n);
    return b->failed ? 0 : n;
}

/* The options every transfer shares. */
static void setup(http_client_t *c, const char *path, http_response_t *resp,
                  struct curl_slist *hdrs, json_out_t *url) {
    curl_easy_reset(c->curl);
    jout_str(url, c->base);
    jout_str(url, path);
    curl_easy_setopt(c->curl, CURLOPT_URL, url->data != NULL ? url->data : c->base);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, resp->error);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "stele/" STELE_VERSION_STRING);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    /* libcurl reads no environment for its CA store: the tool passes --cacert, SSL_CERT_FILE
     * and SSL_CERT_DIR on, as curl(1) and OpenSSL's own tools do. */
    if (c->cacert != NULL) {
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cacert);
    }
    if (c->capath != NULL) {
        curl_easy_setopt(c->curl, CURLOPT_CAPATH, c->capath);
    }
    if (c->insecure) {
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

int http_request(http_client_t *c, const char *method, const char *path, const char *body,
                 size_t body_len, http_response_t *resp) {
    memset(resp, 0, sizeof(*resp));
    json_out_t url = {0};
    struct curl_slist *hdrs = c->hdrs;
    struct curl_slist *with_type = NULL;
    if (body != NULL) {
        /* The Content-Type only on requests that carry a body. */
        with_type = curl_slist_append(NULL, "Content-Type: application/json");
        for (struct curl_slist *h = c->hdrs; h != NULL && with_type != NULL; h = h->next) {
            if (curl_slist_append(with_type, h->data) == NULL) {
                curl_slist_free_all(with_type);
                with_type = NULL;
            }
        }
        if (with_type == NULL) {
            snprintf(resp->error, sizeof(resp->error), "out of memory");
            resp->curl_code = CURLE_OUT_OF_MEMORY;
            return resp->curl_code;
        }
        hdrs = with_type;
    }
    setup(c, path, resp, hdrs, &url);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &resp->body);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        }
        if (body != NULL || strcmp(method, "POST") == 0) {
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body != NULL ? body : "");
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)(body != NULL ? body_len : 0));
        }
    }
    CURLcode rc = url.failed ? CURLE_OUT_OF_MEMORY : curl_easy_perform(c->curl);
    jout_free(&url);
    curl_slist_free_all(with_type);
    resp->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        if (resp->body.failed) {
            resp->curl_code = CURLE_OUT_OF_MEMORY;
            snprintf(resp->error, sizeof(resp->error), "out of memory");
        }
    } else if (resp->error[0] == '\0') {
        snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
    }
    return resp->curl_code;
}

/* ---- a long GET: Server-Sent Events ------------------------------------------------------- */

typedef struct stream_ctx {
    http_client_t *c;
    http_response_t *resp;
    http_data_fn on_data;
    http_stop_fn should_stop;
    void *arg;
} stream_ctx_t;

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
    stream_ctx_t *s = userdata;
    size_t n = size * nmemb;
    if (s->resp->status == 0) {
        curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &s->resp->status);
    }
    if (s->resp->status / 100 != 2) {
        jout_add(&s->resp->body, ptr, n);
        return s->resp->body.failed ? 0 : n;
    }
    if (s->should_stop != NULL && s->should_stop(s->arg)) {
        return 0;
    }
    return s->on_data(s->arg, ptr, n) ? n : 0;
}

static int stream_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    stream_ctx_t *s = clientp;
    return s->should_stop != NULL && s->should_stop(s->arg) ? 1 : 0;
}

int http_stream(http_client_t *c, const char *path, const char *last_event_id, http_data_fn on_data,
                http_stop_fn should_stop, void *arg, http_response_t *resp) {
    memset(resp, 0, sizeof(*resp));
    json_out_t url = {0}, id_header = {0};
    struct curl_slist *hdrs = c->hdrs, *extra = NULL;
    if (last_event_id != NULL) {
        jout_printf(&id_header, "Last-Event-ID: %s", last_event_id);
        extra = id_header.failed ? NULL : curl_slist_append(NULL, id_header.data);
        for (struct curl_slist *h = c->hdrs; h != NULL && extra != NULL; h = h->next) {
            if (curl_slist_append(extra, h->data) == NULL) {
                curl_slist_free_all(extra);
                extra = NULL;
            }
        }
        jout_free(&id_header);
        if (extra == NULL) {
            snprintf(resp->error, sizeof(resp->error), "out of memory");
            resp->curl_code = CURLE_OUT_OF_MEMORY;
            return resp->curl_code;
        }
        hdrs = extra;
    }
    stream_ctx_t s = {c, resp, on_data, should_stop, arg};
    setup(c, path, resp, hdrs, &url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &s);
    CURLcode rc = url.failed ? CURLE_OUT_OF_MEMORY : curl_easy_perform(c->curl);
    jout_free(&url);
    curl_slist_free_all(extra);
    resp->curl_code = (int)rc;
    if (resp->status == 0) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    if (rc != CURLE_OK && resp->error[0] == '\0') {
        snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
    }
    return resp->curl_code;
}

/* ---- query strings ----------------------------------------------------------------------- */

void http_escape_into(json_out_t *b, const char *text) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        unsigned char ch = *p;
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
        if (plain) {
            jout_add(b, p, 1);
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            jout_add(b, enc, 3);
        }
    }
}

void http_query_add(json_out_t *q, const char *key, const char *value) {
    if (value == NULL) {
        return;
    }
    bool first = q->data == NULL || strchr(q->data, '?') == NULL;
    jout_str(q, first ? "?" : "&");
    jout_str(q, key);
    jout_str(q, "=");
    http_escape_into(q, value);
}

void http_query_add_u64(json_out_t *q, const char *key, uint64_t value) {
    char text[24];
    snprintf(text, sizeof(text), "%llu", (unsigned long long)value);
    http_query_add(q, key, text);
}
