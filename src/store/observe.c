/*
 * observe.c -- commit observers (stele_store_observe, stele.h): the registry, and the call of every
 * observer with each batch the writer publishes. stele_store_on_commit is one of them.
 *
 * Exactly once and no gap: observe registers under obs_mu, counts itself in nobservers and then
 * reads the visible head as its starting point (both sequentially consistent); the writer stores
 * the new visible head, then, after a sequentially consistent fence, reads nobservers. So either
 * the writer sees the new observer and hands it the batch if it lies after its starting point, or
 * the observer's starting point already includes the batch. A visible head is always the end of a
 * batch, so no batch is cut in two. The writer calls the observers under obs_mu: unobserve, which
 * takes it, returns only when its observer is not running.
 */
#include "store/store.h"

#include "os/alloc.h"
#include "util/assert.h"
#include "util/error.h"

#include <stdatomic.h>
#include <string.h>

#define SLOTS STELE__OBSERVER_SLOTS

void stele__observers_init(stele_store_t *s) { pthread_mutex_init(&s->obs_mu, NULL); }

void stele__observers_free(stele_store_t *s) {
    pthread_mutex_destroy(&s->obs_mu);
    stele__free(s->obs_entries);
    s->obs_entries = NULL;
}

/* Register fn; public observers get the entries, and may not take the on_commit slot. */
static int add(stele_store_t *s, stele_observer_fn fn, void *arg, bool entries, uint64_t *id,
               uint64_t *head) {
    int rc = 0;
    pthread_mutex_lock(&s->obs_mu);
    uint32_t used = 0;
    for (uint32_t i = 0; i < SLOTS; i++)
        used += s->observers[i].id != 0 && s->observers[i].entries;
    if (entries && used >= STELE_MAX_OBSERVERS) {
        rc = stele__fail(STELE_ETOOBIG, "%u observers are already registered; the limit is %u",
                         used, STELE_MAX_OBSERVERS);
        goto out;
    }
    if (entries && !s->obs_entries) {
        s->obs_entries = stele__malloc(s->entries_cap * sizeof(*s->obs_entries));
        if (!s->obs_entries) {
            rc = STELE_ENOMEM;
            goto out;
        }
    }
    stele_observer_t *o = NULL;
    for (uint32_t i = 0; i < SLOTS && !o; i++)
        if (s->observers[i].id == 0)
            o = &s->observers[i];
    if (!o) { /* cannot happen: the on_commit hook has a slot of its own */
        rc = stele__fail(STELE_ETOOBIG, "no free observer slot");
        goto out;
    }
    o->fn = fn;
    o->arg = arg;
    o->entries = entries;
    o->id = ++s->next_observer_id;
    atomic_fetch_add(&s->nobservers, 1);
    o->after = atomic_load(&s->visible);
    *id = o->id;
    if (head)
        *head = o->after;
out:
    pthread_mutex_unlock(&s->obs_mu);
    return rc;
}

static int remove_id(stele_store_t *s, uint64_t id) {
    int rc = STELE_ENOTFOUND;
    pthread_mutex_lock(&s->obs_mu);
    for (uint32_t i = 0; i < SLOTS && id != 0; i++) {
        if (s->observers[i].id == id) {
            memset(&s->observers[i], 0, sizeof s->observers[i]);
            atomic_fetch_sub(&s->nobservers, 1);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&s->obs_mu);
    return rc;
}

int stele_store_observe(stele_store_t *store, stele_observer_fn fn, void *arg, uint64_t *id,
                        uint64_t *head) {
    stele__error_clear();
    if (!store || !fn || !id)
        return stele__fail(STELE_EINVAL, "%s is NULL", !store ? "store" : !fn ? "fn" : "id");
    return add(store, fn, arg, true, id, head);
}

int stele_store_unobserve(stele_store_t *store, uint64_t id) {
    stele__error_clear();
    if (!store)
        return stele__fail(STELE_EINVAL, "store is NULL");
    int rc = remove_id(store, id);
    if (rc == STELE_ENOTFOUND)
        return stele__fail(rc, "no observer has id %llu", (unsigned long long)id);
    return rc;
}

/* The stele_store_on_commit hook as an observer. */
static void on_commit_observer(void *arg, const stele_commit_batch_t *batch) {
    stele_store_t *s = arg;
    s->on_commit(s->on_commit_arg, batch->last_position);
}

void stele_store_on_commit(stele_store_t *store, void (*fn)(void *arg, uint64_t head), void *arg) {
    if (!store)
        return;
    if (store->on_commit_id) {
        remove_id(store, store->on_commit_id);
        store->on_commit_id = 0;
    }
    store->on_commit = fn;
    store->on_commit_arg = arg;
    if (fn) /* cannot fail: the hook has a slot of its own and needs no entries */
        (void)add(store, on_commit_observer, store, false, &store->on_commit_id, NULL);
}

void stele__observers_notify(stele_store_t *s, const stele_commit_buf_t *cb) {
    /* Orders the caller's store of the visible head before the look at nobservers (banner). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&s->nobservers) == 0)
        return;
    stele_commit_batch_t batch = {.first_position = cb->first_position,
                                  .last_position = cb->next_position - 1,
                                  .count = (size_t)(cb->next_position - cb->first_position)};
    pthread_mutex_lock(&s->obs_mu);
    if (s->obs_entries) {
        size_t n = 0;
        for (size_t off = 0; off < cb->len && n < s->entries_cap; n++) {
            stele_record_t rec;
            stele__record_parse_own(cb->buf + off, &rec);
            s->obs_entries[n] = (stele_commit_entry_t){.stream = rec.stream,
                                                       .stream_len = rec.stream_len,
                                                       .version = (int64_t)rec.version,
                                                       .position = rec.position};
            off += rec.padded_length;
        }
        /* entries_cap holds the records of the largest batch (the smallest record is 80 bytes):
         * an observer reads batch.count entries */
        STELE_ASSERT(n == batch.count);
        batch.entries = s->obs_entries;
    }
    for (uint32_t i = 0; i < SLOTS; i++) {
        const stele_observer_t *o = &s->observers[i];
        if (o->id != 0 && batch.first_position > o->after)
            o->fn(o->arg, &batch);
    }
    pthread_mutex_unlock(&s->obs_mu);
}
