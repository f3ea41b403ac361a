/*
 * decision.c -- what decide answers: the events a command produces, or its rejection with a
 * reason. The decision copies what decide gives it, so a JSON or Lua aggregate may pass
 * temporary buffers, and bounds what it holds by the limits of one append.
 */
#include "domain/domain.h"

#include <string.h>

void stele__decision_init(stele_decision_t *d) { memset(d, 0, sizeof *d); }

static void drop_events(stele_decision_t *d) {
    for (size_t i = 0; i < d->count; i++) {
        stele_free(d->events[i].type);
        stele_free(d->events[i].data);
    }
    d->count = 0;
    d->data_bytes = 0;
}

void stele__decision_clear(stele_decision_t *d) {
    if (d == NULL) {
        return;
    }
    drop_events(d);
    stele_free(d->events);
    stele_free(d->reason);
    memset(d, 0, sizeof *d);
}

int stele_decision_emit(stele_decision_t *d, const char *type, const void *data, size_t data_len) {
    if (d == NULL || type == NULL) {
        return stele_errdetail_set(STELE_EINVAL, "decision or event type is NULL");
    }
    if (d->reason != NULL) {
        return stele_errdetail_set(STELE_EINVAL, "the command was already rejected");
    }
    if (data == NULL && data_len > 0) {
        return stele_errdetail_set(STELE_EINVAL, "event %zu: data is NULL with length %zu",
                                   d->count, data_len);
    }
    if (d->count >= STELE_MAX_EVENTS_PER_APPEND) {
        return stele_errdetail_set(STELE_ETOOBIG, "a command may emit at most %u events",
                                   STELE_MAX_EVENTS_PER_APPEND);
    }
    size_t type_len = strnlen(type, STELE_MAX_TYPE_BYTES + 1);
    if (data_len > STELE_MAX_APPEND_BYTES ||
        d->data_bytes + type_len + data_len > STELE_MAX_APPEND_BYTES) {
        return stele_errdetail_set(STELE_ETOOBIG, "event %zu: the events emitted exceed %u bytes",
                                   d->count, STELE_MAX_APPEND_BYTES);
    }
    if (d->count == d->capacity) {
        size_t cap = d->capacity ? d->capacity * 2 : 4;
        decided_event_t *grown = stele_realloc(d->events, cap * sizeof *grown);
        if (grown == NULL) {
            return stele_errdetail_set(STELE_ENOMEM, "event %zu: out of memory", d->count);
        }
        d->events = grown;
        d->capacity = cap;
    }
    decided_event_t *e = &d->events[d->count];
    e->type = stele_malloc(type_len + 1);
    e->data = data_len > 0 ? stele_malloc(data_len) : NULL;
    if (e->type == NULL || (data_len > 0 && e->data == NULL)) {
        stele_free(e->type);
        stele_free(e->data);
        return stele_errdetail_set(STELE_ENOMEM, "event %zu: out of memory", d->count);
    }
    /* A type longer than the limit is kept cut one byte over it, so the check before the append
     * still refuses it (STELE_ETYPE) with the event named. */
    memcpy(e->type, type, type_len);
    e->type[type_len] = '\0';
    if (data_len > 0) {
        memcpy(e->data, data, data_len);
    }
    e->data_len = data_len;
    d->data_bytes += type_len + data_len;
    d->count++;
    return 0;
}

/* The length of at most max bytes of s that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
    if (len <= max) {
        return len;
    }
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--; /* s[n] continues a character that started before it: cut before that start */
    }
    return n;
}

int stele_decision_reject(stele_decision_t *d, const char *reason) {
    if (d == NULL || reason == NULL || reason[0] == '\0') {
        return stele_errdetail_set(STELE_EINVAL, "a rejection needs a decision and a reason");
    }
    size_t len = utf8_cut(reason, strlen(reason), STELE_MAX_REJECTION_BYTES);
    char *copy = stele_malloc(len + 1);
    if (copy == NULL) {
        return stele_errdetail_set(STELE_ENOMEM, "rejection: out of memory");
    }
    memcpy(copy, reason, len);
    copy[len] = '\0';
    drop_events(d);
    stele_free(d->reason);
    d->reason = copy;
    return 0;
}
