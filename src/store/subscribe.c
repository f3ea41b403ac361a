/*
 * subscribe.c -- subscriptions: history, then live events, read from the log by a cursor.
 *
 * There is no queue between the writer and a subscriber: the writer publishes a new visible
 * position and broadcasts one condition variable; each subscriber reads the log from its own
 * position up to the visible one. So history and live events come through the same path (no gap,
 * no duplicate at the switch), a slow subscriber holds no memory beyond its read buffer, and the
 * writer never waits for a subscriber.
 */
#include "store/store.h"

#include "os/alloc.h"
#include "os/clock.h"
#include "store/retention.h"
#include "util/error.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#define SUB_BATCH 64

struct stele_subscription {
    stele_store_t *store;
    stele_log_cursor_t cursor;
    uint64_t position; /* last position delivered or passed over */
    bool caught_up_sent;
    bool seeked; /* the cursor is at position + 1 */
    _Atomic bool cancelled;
    stele_filter_t filter;
    char *strings[5];
    /* one-stream subscriptions go through the index */
    char *stream;
    size_t stream_len;
    uint64_t hash;
    int64_t next_version;
    bool version_known;
};

void stele_subscribe_options_init(stele_subscribe_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
}

void stele_subscription_close(stele_subscription_t *sub) {
    if (!sub)
        return;
    stele__cursor_free(&sub->cursor);
    for (size_t i = 0; i < 5; i++)
        stele__free(sub->strings[i]);
    stele__free(sub->stream);
    stele__free(sub);
}

int stele_subscribe(stele_store_t *s, const stele_subscribe_options_t *opts,
                    stele_subscription_t **out) {
    stele__error_clear();
    if (!s || !out)
        return stele__fail(STELE_EINVAL, "store or out pointer is NULL");
    *out = NULL;
    stele_subscribe_options_t o;
    stele_subscribe_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return stele__fail(STELE_EINVAL, "subscribe options struct_size %zu is not known",
                               opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    int rc = 0;
    if (o.stream && (rc = stele__check_stream_name(o.stream, true)) < 0)
        return rc;
    stele_subscription_t *sub = stele__calloc(1, sizeof(*sub));
    if (!sub)
        return STELE_ENOMEM;
    if ((rc = stele__cursor_init(&sub->cursor, s->log, o.stream ? 4 * 1024 : 32 * 1024)) < 0)
        goto fail;
    sub->store = s;
    sub->filter = o.filter;
    const char *src[5] = {o.filter.type, o.filter.type_prefix, o.filter.category,
                          o.filter.stream_prefix, o.filter.stream};
    const char **dst[5] = {&sub->filter.type, &sub->filter.type_prefix, &sub->filter.category,
                           &sub->filter.stream_prefix, &sub->filter.stream};
    for (size_t i = 0; i < 5; i++) {
        if (!src[i])
            continue;
        if (!(sub->strings[i] = stele__strdup(src[i]))) {
            rc = STELE_ENOMEM;
            goto fail;
        }
        *dst[i] = sub->strings[i];
    }
    uint64_t head = atomic_load_explicit(&s->visible, memory_order_acquire);
    sub->position = o.from_end ? head : (o.after_position < head ? o.after_position : head);
    if (o.stream) {
        sub->stream_len = strlen(o.stream);
        if (!(sub->stream = stele__strndup(o.stream, sub->stream_len))) {
            rc = STELE_ENOMEM;
            goto fail;
        }
        sub->hash = stele__index_hash(sub->stream, sub->stream_len);
        sub->filter.include_system = true;
    }
    *out = sub;
    return 0;
fail:
    stele_subscription_close(sub);
    return rc;
}

/* $all: the next matching event in (position, visible], or 0 with position = visible. */
static int next_all(stele_subscription_t *sub, uint64_t visible, stele_event_t *ev) {
    int rc;
    if (!sub->seeked) {
        if ((rc = stele__cursor_seek(&sub->cursor, sub->position + 1)) < 0)
            return rc;
        sub->seeked = true;
    }
    while (sub->position < visible) {
        stele_record_t rec;
        rc = stele__cursor_next(&sub->cursor, &rec, NULL);
        if (rc == 0)
            rc = stele__fail(STELE_ECORRUPT, "the log ends before position %" PRIu64, visible);
        if (rc < 0)
            return rc;
        sub->position = rec.position;
        if (stele__filter_match(&sub->filter, &rec)) {
            stele__event_from_record(ev, &rec);
            return 1;
        }
    }
    return 0;
}

/* One stream: its next version through the index, if visible. */
static int next_stream(stele_subscription_t *sub, uint64_t visible, stele_event_t *ev) {
    stele_store_t *s = sub->store;
    stele_index_entry_t ents[SUB_BATCH];
    for (;;) {
        size_t got = 0;
        uint64_t from = sub->version_known ? (uint64_t)sub->next_version : 0;
        int rc = stele__store_derived_check(s);
        if (rc == 0)
            rc = stele__index_lookup(s->index, sub->hash, from, false, ents, SUB_BATCH, &got);
        if (rc < 0)
            return rc;
        bool stop = got < SUB_BATCH;
        for (size_t i = 0; i < got; i++) {
            stele_index_entry_t *e = &ents[i];
            if (e->position > visible) {
                stop = true;
                break;
            }
            if (e->position <= sub->position)
                continue; /* before the start */
            if ((rc = stele__cursor_seek(&sub->cursor, e->position)) < 0)
                return rc;
            stele_record_t rec;
            if ((rc = stele__cursor_next(&sub->cursor, &rec, NULL)) <= 0)
                return rc < 0 ? rc : STELE_ECORRUPT;
            if (rec.stream_len != sub->stream_len ||
                memcmp(rec.stream, sub->stream, sub->stream_len) != 0)
                continue;
            sub->position = rec.position;
            sub->next_version = (int64_t)rec.version + 1;
            sub->version_known = true;
            if (stele__retention_hides(&s->cat, &rec, stele__clock_realtime_ns()))
                continue;
            stele__event_from_record(ev, &rec);
            return 1;
        }
        if (stop)
            break;
        /* a full batch before the start position: look further */
        sub->next_version = (int64_t)ents[got - 1].version + 1;
        sub->version_known = true;
    }
    sub->position = visible;
    return 0;
}

static int next_event(stele_subscription_t *sub, stele_event_t *ev, int timeout_ms) {
    stele_store_t *s = sub->store;
    struct timespec deadline;
    if (timeout_ms > 0) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        int64_t ns = deadline.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
        deadline.tv_sec += timeout_ms / 1000 + ns / 1000000000;
        deadline.tv_nsec = ns % 1000000000;
    }
    for (;;) {
        if (atomic_load(&sub->cancelled) || atomic_load(&s->closing))
            return stele__fail(STELE_ECLOSED, "the subscription was cancelled or the store closed");
        uint64_t visible = atomic_load_explicit(&s->visible, memory_order_acquire);
        if (sub->position < visible) {
            int rc = sub->stream ? next_stream(sub, visible, ev) : next_all(sub, visible, ev);
            if (rc != 0)
                return rc;
            sub->seeked = sub->seeked && !sub->stream;
            continue;
        }
        if (!sub->caught_up_sent) {
            sub->caught_up_sent = true;
            return STELE_SUB_CAUGHT_UP;
        }
        if (timeout_ms == 0)
            return STELE_SUB_TIMEOUT;
        pthread_mutex_lock(&s->notify_mu);
        int wrc = 0;
        while (atomic_load(&s->visible) == visible && !atomic_load(&sub->cancelled) &&
               !atomic_load(&s->closing) && wrc != ETIMEDOUT) {
            if (timeout_ms < 0)
                pthread_cond_wait(&s->notify_cv, &s->notify_mu);
            else
                wrc = pthread_cond_timedwait(&s->notify_cv, &s->notify_mu, &deadline);
        }
        pthread_mutex_unlock(&s->notify_mu);
        if (wrc == ETIMEDOUT && atomic_load(&s->visible) == visible)
            return STELE_SUB_TIMEOUT;
    }
}

int stele_subscription_next(stele_subscription_t *sub, stele_event_t *ev, int timeout_ms) {
    if (!sub || !ev)
        return stele__fail(STELE_EINVAL, "subscription or event is NULL");
    stele_store_t *s = sub->store;
    atomic_fetch_add(&s->sub_inside, 1);
    int rc = next_event(sub, ev, timeout_ms);
    /* The last one out while the store closes lets stele_store_close() go on. */
    if (atomic_fetch_sub(&s->sub_inside, 1) == 1 && atomic_load(&s->closing)) {
        pthread_mutex_lock(&s->notify_mu);
        pthread_cond_broadcast(&s->notify_cv);
        pthread_mutex_unlock(&s->notify_mu);
    }
    return rc;
}

uint64_t stele_subscription_position(const stele_subscription_t *sub) {
    return sub ? sub->position : 0;
}

void stele_subscription_cancel(stele_subscription_t *sub) {
    if (!sub)
        return;
    atomic_store(&sub->cancelled, true);
    pthread_mutex_lock(&sub->store->notify_mu);
    pthread_cond_broadcast(&sub->store->notify_cv);
    pthread_mutex_unlock(&sub->store->notify_mu);
}
