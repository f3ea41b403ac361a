/*
 * remote.c -- what the remote commands of the `stele` tool share: the connection to the server,
 * calls whose HTTP errors become the tool's messages and exit statuses, and output.
 *
 * Exit statuses match local mode: 2xx -> 0; a server's error code -> the exit status the one error
 * table (common/error_map.h) gives it, which is the one local mode gives the library error behind
 * it (wrong_expected_version -> 2; not_found, stream_deleted, stream_tombstoned -> 3); everything
 * else -> 4, including an unreachable server ("cannot connect to URL") and 401/403 (named, with a
 * hint about the token).
 *
 * Events come back as the server's event JSON, whose keys are the ones `read` prints. They are
 * printed from the raw response text rather than re-encoded by jansson, so that data keeps its
 * exact bytes (0.1 stays 0.1, 12.50 stays 12.50, key order is kept) and a line is byte for byte
 * what local mode prints for the same event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error_map.h"
#include "json_scan.h"
#include "remote.h"

#define JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

static http_client_t client;
static bool client_ready;

http_client_t *remote_client(const cli_ctx_t *ctx) {
    if (!client_ready) {
        if (http_client_init(&client, ctx) != 0) {
            cli_errorf(ctx, "cannot set up the HTTP client (libcurl)");
            return NULL;
        }
        client_ready = true;
    }
    return &client;
}

void remote_cleanup(void) {
    if (client_ready) {
        http_client_free(&client);
        client_ready = false;
        curl_global_cleanup();
    }
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* The words local mode prints for the same failure (stele_strerror), by the server's code, from
 * the one error table; a code the table does not know is printed as it is. */
static const char *phrase_for(const char *code) {
    const char *phrase = errmap_json_phrase(code);
    return phrase != NULL ? phrase : code;
}

/* The exit status of the server's code in the error table (the one local mode uses for the same
 * library error); without a known code, by the HTTP status alone. */
static int exit_for_http(long status, const char *code) {
    if (status / 100 == 2) {
        return EXIT_OK;
    }
    int from_table = errmap_json_exit(code);
    if (from_table >= 0) {
        return from_table;
    }
    if (status == 409 && code[0] == '\0') {
        return EXIT_CONFLICT;
    }
    if (status == 404 || status == 410) {
        return EXIT_NOTFOUND;
    }
    return EXIT_ERROR;
}

void remote_reply_from(const cli_ctx_t *ctx, const http_response_t *resp, remote_reply_t *reply) {
    reply->status = resp->status;
    reply->code[0] = '\0';
    reply->message[0] = '\0';
    if (resp->curl_code != CURLE_OK) {
        reply->status = 0;
        reply->exit_status = EXIT_ERROR;
        bool connect = resp->curl_code == CURLE_COULDNT_CONNECT ||
                       resp->curl_code == CURLE_COULDNT_RESOLVE_HOST ||
                       resp->curl_code == CURLE_COULDNT_RESOLVE_PROXY ||
                       resp->curl_code == CURLE_OPERATION_TIMEDOUT ||
                       resp->curl_code == CURLE_SSL_CONNECT_ERROR;
        bool certificate = resp->curl_code == CURLE_PEER_FAILED_VERIFICATION ||
                           resp->curl_code == CURLE_SSL_CACERT_BADFILE;
        snprintf(reply->message, sizeof(reply->message), "%s %s: %s%s",
                 connect || certificate ? "cannot connect to" : "request to", ctx->url,
                 resp->error[0] != '\0' ? resp->error
                                        : curl_easy_strerror((CURLcode)resp->curl_code),
                 certificate ? " (name the server's CA certificate with --cacert FILE or "
                               "SSL_CERT_FILE, or skip the check with --insecure)"
                             : "");
        return;
    }
    if (resp->status / 100 == 2) {
        reply->exit_status = EXIT_OK;
        return;
    }
    const char *message = "";
    json_t *root = resp->body.data != NULL
                       ? json_loadb(resp->body.data, resp->body.len, JSON_DECODE_INT_AS_REAL, NULL)
                       : NULL;
    if (json_is_object(root)) {
        const char *code = json_string_value(json_object_get(root, "error"));
        const char *msg = json_string_value(json_object_get(root, "message"));
        if (code != NULL) {
            snprintf(reply->code, sizeof(reply->code), "%s", code);
        }
        message = msg != NULL ? msg : "";
    }
    reply->exit_status = exit_for_http(resp->status, reply->code);
    if (reply->code[0] == '\0') {
        /* Not the server's JSON error: name the status and the start of the body. */
        size_t n = resp->body.len < 200 ? resp->body.len : 200;
        snprintf(reply->message, sizeof(reply->message), "%s: HTTP %ld%s%.*s", ctx->url,
                 resp->status, n > 0 ? ": " : "", (int)n,
                 resp->body.data != NULL ? resp->body.data : "");
        char *nl = strpbrk(reply->message, "\r\n");
        if (nl != NULL) {
            *nl = '\0';
        }
    } else {
        const char *phrase = phrase_for(reply->code);
        if (strcmp(reply->code, "not_found") == 0 && strstr(message, "stream") != NULL) {
            phrase = "stream not found"; /* as local mode says it */
        }
        bool has_phrase = strstr(message, phrase) != NULL;
        const char *hint = "";
        if (resp->status == 401) {
            hint = client.has_token ? " (the server refused the token)"
                                    : " (give a token with --token or STELE_TOKEN)";
        } else if (resp->status == 403) {
            hint = " (the token's role or stream prefixes do not allow this)";
        }
        if (message[0] == '\0' || has_phrase) {
            snprintf(reply->message, sizeof(reply->message), "%s%s",
                     message[0] != '\0' ? message : phrase, hint);
        } else {
            snprintf(reply->message, sizeof(reply->message), "%s: %s%s", phrase, message, hint);
        }
    }
    json_decref(root);
}

int remote_call(const cli_ctx_t *ctx, const char *method, const char *path, const char *body,
                size_t body_len, remote_reply_t *reply) {
    memset(reply, 0, sizeof(*reply));
    http_client_t *c = remote_client(ctx);
    if (c == NULL) {
        reply->exit_status = EXIT_ERROR;
        snprintf(reply->message, sizeof(reply->message), "no HTTP client");
        return reply->exit_status;
    }
    http_response_t resp;
    http_request(c, method, path, body, body_len, &resp);
    remote_reply_from(ctx, &resp, reply);
    reply->body = resp.body; /* ownership moves */
    return reply->exit_status;
}

int remote_call_path(const cli_ctx_t *ctx, const char *method, json_out_t *path, const char *body,
                     size_t body_len, remote_reply_t *reply) {
    int status;
    if (path->failed || path->data == NULL) {
        memset(reply, 0, sizeof(*reply));
        reply->exit_status = status = EXIT_ERROR;
        snprintf(reply->message, sizeof(reply->message), "out of memory");
    } else {
        status = remote_call(ctx, method, path->data, body, body_len, reply);
    }
    jout_free(path);
    return status;
}

void remote_reply_free(remote_reply_t *reply) { jout_free(&reply->body); }

int remote_report(const cli_ctx_t *ctx, const remote_reply_t *reply) {
    if (reply->exit_status != EXIT_OK) {
        cli_errorf(ctx, "%s", reply->message);
    }
    return reply->exit_status;
}

/* ---- paths ----------------------------------------------------------------------------------- */

void remote_stream_path(json_out_t *b, const char *stream, const char *suffix) {
    jout_str(b, "/streams/");
    http_escape_into(b, stream);
    jout_str(b, suffix);
}

void remote_expect_text(json_out_t *b, int64_t expect, bool quoted) {
    const char *word = expect == STELE_EXPECT_ANY             ? "any"
                       : expect == STELE_EXPECT_NO_STREAM     ? "no_stream"
                       : expect == STELE_EXPECT_STREAM_EXISTS ? "stream_exists"
                                                              : NULL;
    if (word == NULL) {
        jout_printf(b, "%lld", (long long)expect);
    } else {
        jout_printf(b, quoted ? "\"%s\"" : "%s", word);
    }
}

/* ---- raw JSON scanning ----------------------------------------------------------------------- */

bool remote_json_member(const char *s, size_t len, const char *key, size_t *off, size_t *vlen) {
    size_t start = 0, end = 0;
    if (!jscan_member(s, len, 0, key, &start, &end))
        return false;
    *off = start;
    *vlen = end - start;
    return true;
}

bool remote_json_array_next(const char *s, size_t len, size_t *cursor, size_t *off, size_t *vlen) {
    size_t i = jscan_ws(s, len, *cursor);
    if (i >= len) {
        return false;
    }
    if (s[i] == '[' || s[i] == ',') {
        i = jscan_ws(s, len, i + 1);
    }
    if (i >= len || s[i] == ']') {
        *cursor = len;
        return false;
    }
    size_t end = jscan_value_end(s, len, i);
    *off = i;
    *vlen = end - i;
    *cursor = end;
    return true;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* Write the JSON string literal at text[0..len) as local mode writes it (decoded, re-encoded). */
static int write_json_string(FILE *f, const char *text, size_t len) {
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!json_is_string(v)) {
        json_decref(v);
        return -1;
    }
    json_t *s = json_stringn_nocheck(json_string_value(v), json_string_length(v));
    int rc = s != NULL ? json_dumpf(s, f, JSON_FLAGS) : -1;
    json_decref(s);
    json_decref(v);
    return rc;
}

static bool is_digits(const char *s, size_t len, bool allow_minus) {
    size_t i = allow_minus && len > 0 && s[0] == '-' ? 1 : 0;
    if (i >= len) {
        return false;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

int remote_print_event(const cli_ctx_t *ctx, const char *text, size_t len, uint64_t *position) {
    size_t p_off, p_len, s_off, s_len, v_off, v_len, t_off, t_len, tm_off, tm_len, id_off, id_len;
    bool ok = remote_json_member(text, len, "position", &p_off, &p_len) &&
              remote_json_member(text, len, "stream", &s_off, &s_len) &&
              remote_json_member(text, len, "version", &v_off, &v_len) &&
              remote_json_member(text, len, "type", &t_off, &t_len) &&
              remote_json_member(text, len, "time", &tm_off, &tm_len) &&
              remote_json_member(text, len, "id", &id_off, &id_len) &&
              is_digits(text + p_off, p_len, false) && is_digits(text + v_off, v_len, true) &&
              text[tm_off] == '"' && text[id_off] == '"';
    if (!ok) {
        cli_errorf(ctx, "the server sent an event without its keys: %.*s",
                   (int)(len < 200 ? len : 200), text);
        return EXIT_ERROR;
    }
    if (position != NULL) {
        *position = strtoull(text + p_off, NULL, 10);
    }
    FILE *f = stdout;
    fputs("{\"position\":", f);
    fwrite(text + p_off, 1, p_len, f);
    fputs(",\"stream\":", f);
    int rc = write_json_string(f, text + s_off, s_len);
    fputs(",\"version\":", f);
    fwrite(text + v_off, 1, v_len, f);
    fputs(",\"type\":", f);
    rc |= write_json_string(f, text + t_off, t_len);
    fputs(",\"time\":", f);
    fwrite(text + tm_off, 1, tm_len, f);
    fputs(",\"id\":", f);
    fwrite(text + id_off, 1, id_len, f);
    fputs(",\"data\":", f);
    size_t d_off, d_len, c_off, c_len, m_off, m_len;
    bool binary = remote_json_member(text, len, "content", &c_off, &c_len) && c_len == 8 &&
                  memcmp(text + c_off, "\"binary\"", 8) == 0;
    if (!remote_json_member(text, len, "data", &d_off, &d_len) || d_len == 0) {
        fputs("null", f);
    } else if (binary) {
        fwrite(text + d_off, 1, d_len, f);
        fputs(",\"content\":\"binary\"", f);
    } else {
        cli_write_compact_json(f, text + d_off, d_len);
    }
    fputs(",\"metadata\":", f);
    if (!remote_json_member(text, len, "metadata", &m_off, &m_len) || m_len == 0) {
        fputs("null", f);
    } else {
        cli_write_compact_json(f, text + m_off, m_len);
    }
    fputs("}\n", f);
    if (rc != 0) {
        cli_errorf(ctx, "the server sent a bad stream name or type");
        return EXIT_ERROR;
    }
    if (ferror(f)) {
        cli_errorf(ctx, "writing the output failed");
        return EXIT_ERROR;
    }
    return EXIT_OK;
}

int remote_pick_object(const cli_ctx_t *ctx, const char *text, size_t len, const char *const *keys,
                       size_t n, json_t **out) {
    json_t *root = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;
    if (!json_is_object(root)) {
        cli_errorf(ctx, "the server's answer is not a JSON object");
        json_decref(root);
        return EXIT_ERROR;
    }
    json_t *o = json_object();
    for (size_t i = 0; i < n && o != NULL; i++) {
        json_t *v = json_object_get(root, keys[i]);
        if (v != NULL) {
            json_object_set(o, keys[i], v);
        }
    }
    json_decref(root);
    *out = o;
    return EXIT_OK;
}

void remote_append_body(json_out_t *b, int64_t expect, const stele_event_in_t *events,
                        size_t count) {
    jout_str(b, "{\"expected_version\":");
    remote_expect_text(b, expect, true);
    jout_str(b, ",\"events\":[");
    for (size_t i = 0; i < count; i++) {
        const stele_event_in_t *ev = &events[i];
        jout_str(b, i > 0 ? ",{" : "{");
        if (!stele_uuid_is_nil(&ev->id)) {
            char id[37];
            stele_uuid_format(&ev->id, id);
            jout_printf(b, "\"id\":\"%s\",", id);
        }
        jout_str(b, "\"type\":");
        jout_string(b, ev->type, strlen(ev->type));
        jout_str(b, ",\"data\":");
        if ((ev->flags & STELE_EVENT_BINARY) != 0) {
            char *b64 = b64_encode(ev->data != NULL ? ev->data : "", ev->data_len);
            if (b64 == NULL) {
                b->failed = true;
                return;
            }
            jout_printf(b, "\"%s\",\"content\":\"binary\"", b64);
            free(b64);
        } else if (ev->data == NULL || ev->data_len == 0) {
            jout_str(b, "null");
        } else {
            jout_add(b, ev->data, ev->data_len);
        }
        if (ev->metadata != NULL && ev->metadata_len > 0) {
            jout_str(b, ",\"metadata\":");
            jout_add(b, ev->metadata, ev->metadata_len);
        }
        jout_str(b, "}");
    }
    jout_str(b, "]}");
}
