/*
 * compact.c -- merging table files of the index (see compact.h and docs/design/index.md).
 *
 * A merged table is written beside its inputs, synced and verified, then installed by one manifest
 * write that names it instead of them; only then are the inputs unlinked. A crash at any point
 * leaves either the inputs or the merged table named by the manifest, and open removes the other.
 */
#include "index/compact.h"

#include "index/entry.h"
#include "index/state.h"
#include "stele.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

/* The oldest fanout tables of the lowest level that has at least fanout of them. mu held. */
static bool pick_merge(stele_index_t *idx, stele__table_t **in, uint32_t *level) {
    const tableset_t *s = idx->tables;
    bool found = false;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t l = s->t[i]->level, n = 0;
        if (found && l >= *level)
            continue;
        for (uint32_t j = 0; j < s->count; j++)
            n += s->t[j]->level == l;
        if (n >= idx->fanout && l < UINT32_MAX) {
            *level = l;
            found = true;
        }
    }
    if (!found)
        return false;
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->count && n < idx->fanout; i++)
        if (s->t[i]->level == *level)
            in[n++] = s->t[i];
    return true;
}

static int merge_tables(stele_index_t *idx, stele__table_t *const *in, uint32_t n, uint32_t level,
                        uint64_t seq, stele__table_t **out) {
    stele__table_iter_t it[MAX_FANOUT];
    const stele_index_entry_t *head[MAX_FANOUT];
    stele__table_writer_t *w = NULL;
    char path[PATH_MAX];
    uint32_t opened = 0;
    uint64_t count = 0, distinct = 0;
    int rc = stele__index_table_path(idx, seq, path);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        count += in[i]->count;
        distinct += in[i]->distinct;
        rc = stele__table_iter_init(&it[i], in[i]);
        if (rc == 0)
            opened++;
        if (rc == 0) {
            rc = stele__table_iter_next(&it[i], &head[i]);
            if (rc == 1)
                rc = 0;
            else if (rc == 0)
                head[i] = NULL;
        }
    }
    if (rc == 0)
        rc = stele__table_writer_open(idx->vfs, path, level, count, distinct, &w);
    /* A k-way merge with a linear choice: k is small, and entries are mostly taken in runs. */
    for (uint64_t done = 0; rc == 0; done++) {
        int best = -1;
        for (uint32_t i = 0; i < n; i++)
            if (head[i] && (best < 0 || stele__entry_cmp(head[i], head[best]) < 0))
                best = (int)i;
        if (best < 0)
            break;
        rc = stele__table_writer_add(w, head[best]);
        if (rc == 0) {
            rc = stele__table_iter_next(&it[best], &head[best]);
            if (rc == 1)
                rc = 0;
            else if (rc == 0)
                head[best] = NULL;
        }
        if (rc == 0 && done % CANCEL_CHECK_ENTRIES == 0 && atomic_load(&idx->cancel))
            rc = STELE_ECLOSED;
    }
    for (uint32_t i = 0; i < opened; i++)
        stele__table_iter_free(&it[i]);
    if (rc != 0) {
        stele__table_writer_discard(w);
        return rc;
    }
    rc = stele__table_writer_finish(w);
    if (rc == 0)
        rc = stele__index_publish_table(idx, path, seq, out);
    return rc;
}

void *stele__compact_main(void *arg) {
    stele_index_t *idx = arg;
    stele__table_t *in[MAX_FANOUT];
    uint32_t level = 0;
    pthread_mutex_lock(&idx->mu);
    for (;;) {
        while (!idx->stopping && idx->bg_error == 0 &&
               (idx->paused || !pick_merge(idx, in, &level)))
            pthread_cond_wait(&idx->work_cv, &idx->mu);
        if (idx->stopping || idx->bg_error != 0)
            break;
        uint64_t seq = 0;
        int rc = stele__index_take_seq(idx, &seq);
        uint32_t n = idx->fanout;
        idx->merger_busy = true;
        pthread_mutex_unlock(&idx->mu);

        stele__table_t *t = NULL;
        if (rc == 0)
            rc = merge_tables(idx, in, n, level + 1, seq, &t);
        if (rc == 0) {
            rc = stele__index_install(idx, t, in, n, NULL, 0);
            if (rc != 0)
                stele__table_close(t);
        }

        pthread_mutex_lock(&idx->mu);
        idx->merger_busy = false;
        if (rc != 0 && rc != STELE_ECLOSED)
            stele__index_set_error(idx, rc);
        pthread_cond_broadcast(&idx->done_cv);
    }
    pthread_mutex_unlock(&idx->mu);
    return NULL;
}
