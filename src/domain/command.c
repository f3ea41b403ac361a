/*
 * command.c -- what makes a command idempotent and traceable: the ids of the events it appends,
 * derived from its command id, and the metadata those events carry (command_id, causation_id,
 * command and the command's own metadata members). A retried command derives the same ids, so
 * the event-id index finds its first execution.
 */
#include "domain/domain.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static uint64_t mix64(uint64_t z) {
    /* splitmix64's finaliser: every input bit reaches every output bit. */
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t load64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void store64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void stele__command_event_id(const stele_uuid_t *command_id, uint32_t index, stele_uuid_t *out) {
    uint64_t hi = load64(command_id->bytes);
    uint64_t lo = load64(command_id->bytes + 8);
    /* "SteleCmd" keeps these ids apart from any other use of the same mix. */
    uint64_t a = mix64(hi ^ 0x5374656C65436D64ull);
    a = mix64(a ^ lo);
    a = mix64(a ^ index);
    uint64_t b = mix64(a ^ 0x6576656E742D6964ull);
    b = mix64(b ^ hi ^ ((uint64_t)index << 32));
    b = mix64(b ^ lo);
    store64(out->bytes, a);
    store64(out->bytes + 8, b);
    out->bytes[6] = (uint8_t)((out->bytes[6] & 0x0F) | 0x80); /* version 8: custom */
    out->bytes[8] = (uint8_t)((out->bytes[8] & 0x3F) | 0x80); /* RFC 9562 variant */
}

/* A growing string for the metadata. */
typedef struct text {
    char *p;
    size_t len;
    size_t cap;
    bool failed;
} text_t;

static void put(text_t *t, const char *s, size_t n) {
    if (t->failed) {
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *grown = stele_realloc(t->p, cap);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->p = grown;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void put_s(text_t *t, const char *s) { put(t, s, strlen(s)); }

/* The command's name as a JSON string's content: it has no control characters (checked), so
 * only '"' and '\' need escaping. */
static void put_escaped(text_t *t, const char *s) {
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') {
            put(t, "\\", 1);
        }
        put(t, s, 1);
    }
}

static int build_prefix(text_t *t, const stele_command_t *command, const stele_uuid_t *command_id) {
    char id[37];
    stele_uuid_format(command_id, id);
    put_s(t, "{\"command_id\":\"");
    put_s(t, id);
    put_s(t, "\",\"causation_id\":\"");
    put_s(t, id);
    put_s(t, "\",\"command\":\"");
    put_escaped(t, command->name);
    put_s(t, "\"");
    if (t->failed) {
        stele_free(t->p);
        t->p = NULL;
        return stele_errdetail_set(STELE_ENOMEM, "command metadata: out of memory");
    }
    return 0;
}

int stele__command_metadata_prefix(const stele_command_t *command, const stele_uuid_t *command_id,
                                   char **out, size_t *out_len) {
    text_t t = {0};
    int rc = build_prefix(&t, command, command_id);
    if (rc == 0) {
        *out = t.p;
        *out_len = t.len;
    }
    return rc;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const char *const reserved_keys[] = {"command_id", "causation_id", "command"};

/* The first top-level key of the JSON object text[0..len) that the library sets itself, or NULL.
 * The text is valid JSON (checked before), so a small scan that tracks strings and depth finds
 * every top-level key: a string at depth 1 followed by ':'. Keys are compared as written (a key
 * spelled with \u escapes is not recognised). */
static const char *reserved_key(const char *text, size_t len) {
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '"') {
            size_t start = i + 1;
            size_t j = start;
            while (j < len && text[j] != '"') {
                j += text[j] == '\\' ? 2 : 1;
            }
            size_t k = j + 1;
            while (k < len && is_space(text[k])) {
                k++;
            }
            if (depth == 1 && k < len && text[k] == ':') {
                for (size_t r = 0; r < sizeof reserved_keys / sizeof reserved_keys[0]; r++) {
                    size_t n = strlen(reserved_keys[r]);
                    if (j - start == n && memcmp(text + start, reserved_keys[r], n) == 0) {
                        return reserved_keys[r];
                    }
                }
            }
            i = j;
        }
    }
    return NULL;
}

int stele__command_metadata(const stele_command_t *command, const stele_uuid_t *command_id,
                            char **out, size_t *out_len) {
    const char *meta = command->metadata;
    size_t len = command->metadata != NULL ? command->metadata_len : 0;
    const char *key = reserved_key(meta != NULL ? meta : "", len);
    if (key != NULL) {
        return stele_errdetail_set(STELE_EINVAL,
                                   "command metadata: key \"%s\" is set by the library", key);
    }
    text_t t = {0};
    int rc = build_prefix(&t, command, command_id);
    if (rc != 0) {
        return rc;
    }
    /* Splice the members of the command's object after the library's keys: skip its '{' and
     * keep the rest (members and the closing '}'), or just close ours when it is empty. */
    size_t i = 0;
    while (i < len && is_space(meta[i])) {
        i++;
    }
    if (i < len && meta[i] == '{') {
        i++;
        while (i < len && is_space(meta[i])) {
            i++;
        }
    }
    if (i < len && meta[i] != '}') {
        put_s(&t, ",");
        put(&t, meta + i, len - i);
    } else {
        put_s(&t, "}");
    }
    if (t.failed) {
        stele_free(t.p);
        return stele_errdetail_set(STELE_ENOMEM, "command metadata: out of memory");
    }
    *out = t.p;
    *out_len = t.len;
    return 0;
}
