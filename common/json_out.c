/*
 * json_out.c -- JSON text built in a growable buffer; events as JSON (see json_out.h).
 */
#include "json_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

/* Room for more bytes and the terminating NUL. */
static bool reserve(json_out_t *b, size_t more) {
    if (b->failed) {
        return false;
    }
    if (more < b->cap - b->len) {
        return true;
    }
    size_t cap = b->cap == 0 ? 256 : b->cap;
    while (cap - b->len <= more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void jout_add(json_out_t *b, const void *data, size_t n) {
    if (reserve(b, n)) {
        if (n > 0) {
            memcpy(b->data + b->len, data, n);
        }
        b->len += n;
        b->data[b->len] = '\0';
    }
}

void jout_str(json_out_t *b, const char *s) { jout_add(b, s, strlen(s)); }

void jout_printf(json_out_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t jout_u64_text(char out[20], uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    memcpy(out, digits + sizeof(digits) - n, n);
    return n;
}

void jout_u64(json_out_t *b, uint64_t v) {
    char digits[20];
    jout_add(b, digits, jout_u64_text(digits, v));
}

void jout_i64(json_out_t *b, int64_t v) {
    if (v < 0) {
        jout_add(b, "-", 1);
        jout_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        jout_u64(b, (uint64_t)v);
    }
}

void jout_string(json_out_t *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    jout_add(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        jout_add(b, s + start, i - start);
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        if (c == '\n') {
            esc[1] = 'n';
        } else if (c == '\r') {
            esc[1] = 'r';
        } else if (c == '\t') {
            esc[1] = 't';
        } else if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        jout_add(b, esc, n);
        start = i + 1;
    }
    jout_add(b, s + start, len - start);
    jout_add(b, "\"", 1);
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Text without any white space byte (what compact serializers write) is copied whole; otherwise
 * runs are copied between white space outside strings, and strings are skipped to their closing
 * quote with memchr. */
void jout_compact(json_out_t *b, const char *text, size_t len) {
    if (!reserve(b, len)) {
        return;
    }
    char *out = b->data + b->len;
    if (memchr(text, ' ', len) == NULL && memchr(text, '\n', len) == NULL &&
        memchr(text, '\t', len) == NULL && memchr(text, '\r', len) == NULL) {
        memcpy(out, text, len);
        b->len += len;
        b->data[b->len] = '\0';
        return;
    }
    size_t n = 0, i = 0;
    while (i < len) {
        if (is_ws(text[i])) {
            i++;
            continue;
        }
        size_t start = i;
        if (text[i] == '"') {
            /* to the closing quote: one not preceded by an odd number of backslashes */
            size_t j = i + 1;
            for (;;) {
                const char *q = memchr(text + j, '"', len - j);
                if (q == NULL) {
                    j = len;
                    break;
                }
                j = (size_t)(q - text);
                size_t backslashes = 0;
                while (j - backslashes > i + 1 && text[j - backslashes - 1] == '\\') {
                    backslashes++;
                }
                j++;
                if (backslashes % 2 == 0) {
                    break;
                }
            }
            i = j;
        } else {
            while (i < len && text[i] != '"' && !is_ws(text[i])) {
                i++;
            }
        }
        memcpy(out + n, text + start, i - start);
        n += i - start;
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void jout_event(json_out_t *b, const stele_event_t *ev) {
    char time_text[36];
    char id_text[37];
    stele_time_format(ev->time_ns, time_text);
    stele_uuid_format(&ev->id, id_text);
    jout_str(b, "{\"position\":");
    jout_u64(b, ev->position);
    jout_str(b, ",\"stream\":");
    jout_string(b, ev->stream, ev->stream_len);
    jout_str(b, ",\"version\":");
    jout_i64(b, ev->version);
    jout_str(b, ",\"type\":");
    jout_string(b, ev->type, ev->type_len);
    jout_str(b, ",\"time\":\"");
    jout_str(b, time_text);
    jout_str(b, "\",\"id\":\"");
    jout_str(b, id_text);
    jout_str(b, "\",\"data\":");
    if ((ev->flags & STELE_EVENT_BINARY) != 0) {
        char *b64 = b64_encode(ev->data != NULL ? ev->data : "", ev->data_len);
        if (b64 == NULL) {
            b->failed = true;
            return;
        }
        jout_add(b, "\"", 1);
        jout_str(b, b64);
        jout_str(b, "\",\"content\":\"binary\"");
        free(b64);
    } else if (ev->data_len == 0) {
        jout_str(b, "null");
    } else {
        jout_compact(b, ev->data, ev->data_len);
    }
    jout_str(b, ",\"metadata\":");
    if (ev->metadata == NULL || ev->metadata_len == 0) {
        jout_str(b, "null");
    } else {
        jout_compact(b, ev->metadata, ev->metadata_len);
    }
    jout_add(b, "}", 1);
}

void jout_clear(json_out_t *b) {
    b->len = 0;
    b->failed = false;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void jout_free(json_out_t *b) {
    free(b->data);
    *b = (json_out_t){0};
}
