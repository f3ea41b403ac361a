/*
 * index.c -- the per-event stream index: memtables, table files, the manifest and the flusher
 * thread that writes tables; the merger thread is in compact.c (design in index.h and
 * docs/design/index.md). The shared state is in state.h.
 *
 * Who does what:
 *   - the store's writer thread calls add: entries go into the active memtable; a full one is
 *     retired to the (at most two) immutable memtables waiting to be written;
 *   - the flusher thread writes the oldest immutable memtable as a level-0 table file, syncs it
 *     and the directory, then installs a manifest naming it with the new checkpoint;
 *   - the merger thread (compact.c) merges merge_fanout tables of one level into one of the next
 *     level, so a slow merge never holds up the flushes that add waits for;
 *   - readers look up from any thread, under the shared state lock, which the background threads
 *     take exclusively only to swap in a new table set or drop a written memtable. So no reader
 *     ever uses a memtable that was freed or a table file that was closed.
 *
 * Lock order: add_mu -> manifest_mu -> mu -> state -> a memtable's lock.
 */
#include "index/index.h"

#include "index/compact.h"
#include "index/state.h"
#include "index/entry.h"
#include "index/lookup.h"
#include "index/manifest.h"
#include "index/memtable.h"
#include "index/table.h"
#include "os/alloc.h"
#include "stele.h"
#include "util/assert.h"
#include "util/error.h"
#include "util/path.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MEMTABLE_ENTRIES (UINT64_C(1) << 20)
#define DEFAULT_FANOUT 4u
#define TABLE_PREFIX "table-"
#define TABLE_SUFFIX ".sti"
#define TABLE_NAME_LEN 26u /* "table-" + 16 hex digits + ".sti" */

/* ---------------------------------------------------------------------------------------------
 * The hash
 * ------------------------------------------------------------------------------------------- */

/* FNV-1a (64-bit) over the bytes, then the murmur3 64-bit finalizer. FNV-1a alone mixes its last
 * bytes poorly into the high bits; the finalizer fixes that, so every bit of the result depends on
 * every input byte. It is on disk: never change it. */
uint64_t stele__index_hash(const char *name, size_t len) {
    const unsigned char *p = (const unsigned char *)name;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return stele__mix64(h);
}

/* ---------------------------------------------------------------------------------------------
 * Files and table sets
 * ------------------------------------------------------------------------------------------- */

static int join(char out[PATH_MAX], const char *dir, const char *name) {
    return stele__path_join(out, PATH_MAX, dir, name);
}

int stele__index_table_path(const stele_index_t *idx, uint64_t seq, char out[PATH_MAX]) {
    char name[32];
    snprintf(name, sizeof name, TABLE_PREFIX "%016" PRIx64 TABLE_SUFFIX, seq);
    return join(out, idx->dir, name);
}

/* True when name is a table file name; *seq gets its number. */
static bool parse_table_name(const char *name, uint64_t *seq) {
    if (strlen(name) != TABLE_NAME_LEN || strncmp(name, TABLE_PREFIX, 6) != 0 ||
        strcmp(name + 22, TABLE_SUFFIX) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 6; i < 22; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return true;
}

static tableset_t *set_alloc(uint32_t count) {
    tableset_t *s = stele__malloc(sizeof *s + sizeof s->t[0] * (count ? count : 1));
    if (s)
        s->count = count;
    return s;
}

static int cmp_table(const void *a, const void *b) {
    const stele__table_t *x = *(stele__table_t *const *)a, *y = *(stele__table_t *const *)b;
    if (x->min_position != y->min_position)
        return x->min_position < y->min_position ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A new set: old minus remove[0..nremove) plus add (if not NULL). */
static int set_with(const tableset_t *old, stele__table_t *add, stele__table_t *const *remove,
                    uint32_t nremove, tableset_t **out) {
    tableset_t *s = set_alloc(old->count + 1);
    if (!s)
        return stele__fail(STELE_ENOMEM, "index: no memory for a table set");
    uint32_t n = 0;
    for (uint32_t i = 0; i < old->count; i++) {
        bool removed = false;
        for (uint32_t j = 0; j < nremove; j++)
            removed = removed || old->t[i] == remove[j];
        if (!removed)
            s->t[n++] = old->t[i];
    }
    if (add)
        s->t[n++] = add;
    s->count = n;
    qsort(s->t, n, sizeof s->t[0], cmp_table);
    *out = s;
    return 0;
}

static int write_manifest(stele_index_t *idx, const tableset_t *set, uint64_t checkpoint,
                          uint64_t next_seq) {
    if (set->count > STELE__MANIFEST_MAX_TABLES)
        return stele__fail(STELE_ETOOBIG, "index: more than %u tables", STELE__MANIFEST_MAX_TABLES);
    stele__manifest_table_t *mt = stele__calloc(set->count ? set->count : 1, sizeof *mt);
    if (!mt)
        return stele__fail(STELE_ENOMEM, "index: no memory for the manifest");
    for (uint32_t i = 0; i < set->count; i++) {
        const stele__table_t *t = set->t[i];
        mt[i] =
            (stele__manifest_table_t){t->seq, t->level, t->count, t->min_position, t->max_position};
    }
    stele__manifest_t m = {checkpoint, next_seq, set->count, mt};
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = stele__manifest_encode(&m, &buf, &len);
    if (rc == 0) {
        rc = stele__file_write_atomic(idx->vfs, idx->dir, STELE__MANIFEST_NAME, buf, len);
        if (rc != 0)
            stele__fail(rc, "index: cannot write the manifest in %s", idx->dir);
    }
    stele__free(buf);
    stele__free(mt);
    return rc;
}

/* Records the first background error, with its detail, and wakes everyone who waits. mu held. */
void stele__index_set_error(stele_index_t *idx, int rc) {
    if (idx->bg_error == 0) {
        idx->bg_error = rc;
        snprintf(idx->bg_detail, sizeof idx->bg_detail, "%s", stele_errdetail());
        atomic_store(&idx->bg_error_seen, rc);
    }
    pthread_cond_broadcast(&idx->done_cv);
    pthread_cond_broadcast(&idx->work_cv);
}

/* The background error as this thread's error. mu held. */
static int report_error(stele_index_t *idx) {
    return stele__fail(idx->bg_error, "index: background writer failed: %s", idx->bg_detail);
}

/* Makes the table set old - remove + add current, durable in the manifest first. When flushed is
 * set, the oldest immutable memtable is dropped too and checkpoint recorded. On success the
 * removed tables and the flushed memtable are freed here (no reader can be using them). */
int stele__index_install(stele_index_t *idx, stele__table_t *add, stele__table_t *const *remove,
                         uint32_t nremove, stele__memtable_t *flushed, uint64_t checkpoint) {
    tableset_t *next = NULL;
    pthread_mutex_lock(&idx->manifest_mu);
    pthread_mutex_lock(&idx->mu);
    tableset_t *old = idx->tables;
    uint64_t next_seq = idx->next_seq;
    pthread_mutex_unlock(&idx->mu);
    if (!flushed)
        checkpoint = atomic_load(&idx->checkpoint);
    int rc = set_with(old, add, remove, nremove, &next);
    if (rc == 0)
        rc = write_manifest(idx, next, checkpoint, next_seq);
    if (rc == 0) {
        pthread_mutex_lock(&idx->mu);
        pthread_rwlock_wrlock(&idx->state);
        idx->tables = next;
        if (flushed) {
            idx->imm[0] = idx->imm[1];
            idx->imm[1] = NULL;
            idx->nimm--;
        }
        pthread_rwlock_unlock(&idx->state);
        atomic_store(&idx->checkpoint, checkpoint);
        pthread_mutex_unlock(&idx->mu);
    }
    pthread_mutex_unlock(&idx->manifest_mu);
    if (rc != 0) {
        stele__free(next);
        return rc;
    }
    stele__free(old);
    stele__memtable_free(flushed);
    for (uint32_t i = 0; i < nremove; i++) {
        /* The manifest no longer names it; a failed unlink only leaves an orphan for open. */
        idx->vfs->unlink(idx->vfs, remove[i]->path);
        stele__table_close(remove[i]);
    }
    return 0;
}

/* After a table file is complete: make its name durable, then open (and so verify) it. */
int stele__index_publish_table(stele_index_t *idx, const char *path, uint64_t seq,
                               stele__table_t **out) {
    int rc = idx->vfs->sync_dir(idx->vfs, idx->dir);
    if (rc != 0)
        stele__fail(rc, "index: cannot sync directory %s", idx->dir);
    if (rc == 0)
        rc = stele__table_open(idx->vfs, path, seq, out);
    if (rc != 0)
        idx->vfs->unlink(idx->vfs, path);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Background threads
 * ------------------------------------------------------------------------------------------- */

static int emit_to_writer(void *arg, const stele_index_entry_t *e) {
    return stele__table_writer_add(arg, e);
}

static int write_memtable(stele_index_t *idx, const stele__memtable_t *mt, uint64_t seq,
                          stele__table_t **out) {
    char path[PATH_MAX];
    stele__table_writer_t *w = NULL;
    int rc = stele__index_table_path(idx, seq, path);
    if (rc == 0)
        rc = stele__table_writer_open(idx->vfs, path, 0, mt->count,
                                      mt->lazy ? mt->count : mt->distinct, &w);
    if (rc != 0)
        return rc;
    rc = stele__memtable_sorted(mt, emit_to_writer, w);
    if (rc != 0) {
        stele__table_writer_discard(w);
        return rc;
    }
    rc = stele__table_writer_finish(w);
    if (rc == 0)
        rc = stele__index_publish_table(idx, path, seq, out);
    return rc;
}

/* The number of a new table file (mu held). Numbers only grow, and the manifest requires every
 * table's number below the next one, so the last number is never handed out: the flush or merge
 * fails instead of writing a manifest that would not read back. */
int stele__index_take_seq(stele_index_t *idx, uint64_t *seq) {
    if (idx->next_seq == UINT64_MAX)
        return stele__fail(STELE_ECORRUPT, "index: table numbers are exhausted");
    *seq = idx->next_seq++;
    return 0;
}

static void *flusher_main(void *arg) {
    stele_index_t *idx = arg;
    pthread_mutex_lock(&idx->mu);
    for (;;) {
        while (!idx->stopping && idx->bg_error == 0 && (idx->paused || idx->nimm == 0))
            pthread_cond_wait(&idx->work_cv, &idx->mu);
        if (idx->bg_error != 0 || (idx->stopping && idx->nimm == 0))
            break;
        stele__memtable_t *mt = idx->imm[0];
        uint64_t seq = 0;
        int rc = stele__index_take_seq(idx, &seq);
        idx->flusher_busy = true;
        pthread_mutex_unlock(&idx->mu);

        stele__table_t *t = NULL;
        if (rc == 0)
            rc = write_memtable(idx, mt, seq, &t);
        if (rc == 0) {
            rc = stele__index_install(idx, t, NULL, 0, mt, mt->max_position);
            /* The manifest may or may not name the file now: leave it for open to sort out. */
            if (rc != 0)
                stele__table_close(t);
        }

        pthread_mutex_lock(&idx->mu);
        idx->flusher_busy = false;
        if (rc != 0)
            stele__index_set_error(idx, rc);
        pthread_cond_broadcast(&idx->done_cv);
        pthread_cond_broadcast(&idx->work_cv);
    }
    pthread_mutex_unlock(&idx->mu);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n, cap;
} names_t;

static int collect_name(void *arg, const char *name) {
    names_t *ns = arg;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **v = stele__realloc(ns->v, sizeof *v * cap);
        if (!v)
            return STELE_ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = stele__strdup(name)))
        return STELE_ENOMEM;
    ns->n++;
    return 0;
}

static void names_free(names_t *ns) {
    for (size_t i = 0; i < ns->n; i++)
        stele__free(ns->v[i]);
    stele__free(ns->v);
}

static bool set_has_seq(const tableset_t *s, uint64_t seq) {
    for (uint32_t i = 0; i < s->count; i++)
        if (s->t[i]->seq == seq)
            return true;
    return false;
}

/* Removes the index files of dir that set does not name (all of them when set is NULL, the
 * manifest included); *max_seq gets the largest table number seen. */
static int remove_files(stele_index_t *idx, const tableset_t *set, uint64_t *max_seq) {
    names_t ns = {NULL, 0, 0};
    char path[PATH_MAX];
    int rc = idx->vfs->list_dir(idx->vfs, idx->dir, collect_name, &ns);
    if (rc != 0) {
        stele__fail(rc, "index: cannot list directory %s", idx->dir);
        goto done;
    }
    bool removed = false;
    for (size_t i = 0; i < ns.n && rc == 0; i++) {
        uint64_t seq;
        bool is_table = parse_table_name(ns.v[i], &seq);
        if (is_table && seq > *max_seq)
            *max_seq = seq;
        bool drop = (is_table && (!set || !set_has_seq(set, seq))) ||
                    strcmp(ns.v[i], STELE__MANIFEST_NAME ".tmp") == 0 ||
                    (!set && strcmp(ns.v[i], STELE__MANIFEST_NAME) == 0);
        if (!drop)
            continue;
        rc = join(path, idx->dir, ns.v[i]);
        if (rc == 0) {
            rc = idx->vfs->unlink(idx->vfs, path);
            if (rc == -ENOENT)
                rc = 0;
            if (rc != 0)
                stele__fail(rc, "index: cannot remove %s", path);
        }
        removed = true;
    }
    if (rc == 0 && removed) {
        rc = idx->vfs->sync_dir(idx->vfs, idx->dir);
        if (rc != 0)
            stele__fail(rc, "index: cannot sync directory %s", idx->dir);
    }
done:
    names_free(&ns);
    return rc;
}

static void set_close_all(tableset_t *s) {
    if (!s)
        return;
    for (uint32_t i = 0; i < s->count; i++)
        stele__table_close(s->t[i]);
    stele__free(s);
}

/* Opens the tables the manifest names. STELE_ENOMEM is returned; any other problem means the
 * index is damaged (*damaged set) and is rebuilt from the log. */
static int load(stele_index_t *idx, bool *damaged) {
    char path[PATH_MAX];
    unsigned char *buf = NULL;
    size_t len = 0;
    stele__manifest_t m = {0, 1, 0, NULL};
    tableset_t *set = NULL;
    *damaged = false;
    int rc = join(path, idx->dir, STELE__MANIFEST_NAME);
    if (rc != 0)
        return rc;
    rc = stele__file_read_all(idx->vfs, path, stele__manifest_max_bytes(), (void **)&buf, &len);
    if (rc == -ENOENT) {
        rc = 0;
    } else if (rc == 0) {
        rc = stele__manifest_decode(buf, len, &m);
    }
    stele__free(buf);
    if (rc == 0 && !(set = set_alloc(m.ntables)))
        rc = stele__fail(STELE_ENOMEM, "index: no memory for a table set");
    if (rc == 0)
        set->count = 0;
    for (uint32_t i = 0; i < m.ntables && rc == 0; i++) {
        const stele__manifest_table_t *mt = &m.tables[i];
        stele__table_t *t = NULL;
        rc = stele__index_table_path(idx, mt->seq, path);
        if (rc == 0)
            rc = stele__table_open(idx->vfs, path, mt->seq, &t);
        if (rc == 0)
            set->t[set->count++] = t;
        if (rc == 0 && (t->level != mt->level || t->count != mt->count ||
                        t->min_position != mt->min_position || t->max_position != mt->max_position))
            rc = stele__fail(STELE_ECORRUPT, "index: table %s does not match the manifest", path);
    }
    stele__free(m.tables);
    if (rc == STELE_ENOMEM) {
        set_close_all(set);
        return rc;
    }
    uint64_t max_seq = 0;
    if (rc != 0) {
        *damaged = true;
        set_close_all(set);
        set = set_alloc(0);
        if (!set)
            return stele__fail(STELE_ENOMEM, "index: no memory for a table set");
        m.checkpoint = 0;
        m.next_seq = 1;
        rc = remove_files(idx, NULL, &max_seq);
        if (rc == 0)
            max_seq = 0; /* every table file is gone: numbering starts again */
    } else {
        qsort(set->t, set->count, sizeof set->t[0], cmp_table);
        rc = remove_files(idx, set, &max_seq);
    }
    idx->tables = set;
    idx->next_seq = m.next_seq > max_seq   ? m.next_seq
                    : max_seq < UINT64_MAX ? max_seq + 1
                                           : max_seq;
    atomic_store(&idx->checkpoint, m.checkpoint);
    atomic_store(&idx->last_position, m.checkpoint);
    return rc;
}

static int init_locks(stele_index_t *idx) {
    pthread_rwlockattr_t attr;
    int rc = pthread_rwlockattr_init(&attr);
    if (rc != 0)
        return -rc;
    /* Readers come all the time; the background's swaps must not starve behind them. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    rc = pthread_rwlock_init(&idx->state, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0)
        return -rc;
    pthread_mutex_init(&idx->add_mu, NULL);
    pthread_mutex_init(&idx->manifest_mu, NULL);
    pthread_mutex_init(&idx->mu, NULL);
    pthread_cond_init(&idx->work_cv, NULL);
    pthread_cond_init(&idx->done_cv, NULL);
    return 0;
}

static void destroy_locks(stele_index_t *idx) {
    pthread_rwlock_destroy(&idx->state);
    pthread_mutex_destroy(&idx->add_mu);
    pthread_mutex_destroy(&idx->manifest_mu);
    pthread_mutex_destroy(&idx->mu);
    pthread_cond_destroy(&idx->work_cv);
    pthread_cond_destroy(&idx->done_cv);
}

static void free_index(stele_index_t *idx) {
    stele__memtable_free(idx->active);
    for (uint32_t i = 0; i < idx->nimm; i++)
        stele__memtable_free(idx->imm[i]);
    set_close_all(idx->tables);
    destroy_locks(idx);
    stele__free(idx->dir);
    stele__free(idx);
}

/* ---------------------------------------------------------------------------------------------
 * Read-only indexes (an unlocked reader of a store whose writer may be running: index.h)
 * ------------------------------------------------------------------------------------------- */

/* Reading the manifest again when a table it names has vanished: the writer's merges remove
 * tables right after installing the manifest that no longer names them, so one more read almost
 * always succeeds; this bounds a reader racing a writer that merges without pause. */
#define READONLY_LOAD_ATTEMPTS 8

/* One read of the manifest and its tables into *out (checkpoint and next number in *m). -ENOENT
 * when a table it names is missing; STELE_ENOMEM; another error when the index is damaged. */
static int load_readonly_once(stele_index_t *idx, stele__manifest_t *m, tableset_t **out) {
    char path[PATH_MAX];
    unsigned char *buf = NULL;
    size_t len = 0;
    tableset_t *set = NULL;
    *m = (stele__manifest_t){0, 1, 0, NULL};
    int rc = join(path, idx->dir, STELE__MANIFEST_NAME);
    if (rc == 0)
        rc = stele__file_read_all(idx->vfs, path, stele__manifest_max_bytes(), (void **)&buf, &len);
    if (rc == -ENOENT) /* no manifest (or no index directory): an empty index */
        rc = 0;
    else if (rc == 0)
        rc = stele__manifest_decode(buf, len, m);
    stele__free(buf);
    if (rc == 0 && !(set = set_alloc(m->ntables)))
        rc = stele__fail(STELE_ENOMEM, "index: no memory for a table set");
    if (rc == 0)
        set->count = 0;
    for (uint32_t i = 0; i < m->ntables && rc == 0; i++) {
        const stele__manifest_table_t *mt = &m->tables[i];
        stele__table_t *t = NULL;
        rc = stele__index_table_path(idx, mt->seq, path);
        if (rc == 0)
            rc = stele__table_open(idx->vfs, path, mt->seq, &t);
        if (rc == 0)
            set->t[set->count++] = t;
        if (rc == 0 && (t->level != mt->level || t->count != mt->count ||
                        t->min_position != mt->min_position || t->max_position != mt->max_position))
            rc = stele__fail(STELE_ECORRUPT, "index: table %s does not match the manifest", path);
    }
    stele__free(m->tables);
    m->tables = NULL;
    if (rc != 0) {
        set_close_all(set);
        return rc;
    }
    qsort(set->t, set->count, sizeof set->t[0], cmp_table);
    *out = set;
    return 0;
}

static int load_readonly(stele_index_t *idx) {
    stele__manifest_t m = {0, 1, 0, NULL};
    tableset_t *set = NULL;
    int rc = 0;
    for (int attempt = 1; attempt <= READONLY_LOAD_ATTEMPTS; attempt++) {
        rc = load_readonly_once(idx, &m, &set);
        if (rc != -ENOENT)
            break;
    }
    if (rc == STELE_ENOMEM)
        return rc;
    if (rc != 0) {
        /* Damaged, or changing faster than it can be read: the store indexes the whole log in
         * memory instead, and the writer's next open repairs the files. */
        stele__error_clear();
        m = (stele__manifest_t){0, 1, 0, NULL};
        if (!(set = set_alloc(0)))
            return stele__fail(STELE_ENOMEM, "index: no memory for a table set");
    }
    idx->tables = set;
    idx->next_seq = m.next_seq;
    atomic_store(&idx->checkpoint, m.checkpoint);
    atomic_store(&idx->last_position, m.checkpoint);
    return 0;
}

/* Read-only: no thread writes a full memtable out, so it is replaced by one twice as large holding
 * the same entries (each entry is copied about once in all). */
static int grow_active(stele_index_t *idx) {
    stele__memtable_t *old = idx->active, *mt = NULL;
    if (old->capacity >= STELE__MEMTABLE_MAX_ENTRIES)
        return stele__fail(STELE_ETOOBIG,
                           "index: a read-only open holds at most %u entries of the log's tail in "
                           "memory (open the store for writing once to index them)",
                           STELE__MEMTABLE_MAX_ENTRIES);
    uint64_t cap = (uint64_t)old->capacity * 2;
    if (cap > STELE__MEMTABLE_MAX_ENTRIES)
        cap = STELE__MEMTABLE_MAX_ENTRIES;
    int rc = stele__memtable_new((uint32_t)cap, &mt);
    if (rc != 0)
        return rc;
    mt->lazy = old->lazy;
    size_t added = 0;
    rc = stele__memtable_add(mt, old->entries, old->count, &added);
    if (rc != 0) {
        stele__memtable_free(mt);
        return rc;
    }
    pthread_mutex_lock(&idx->mu);
    pthread_rwlock_wrlock(&idx->state);
    idx->active = mt;
    pthread_rwlock_unlock(&idx->state);
    pthread_mutex_unlock(&idx->mu);
    stele__memtable_free(old);
    return 0;
}

/* Read-only reset: the index forgets its tables and entries; the files stay. */
static int reset_in_memory(stele_index_t *idx) {
    tableset_t *empty = set_alloc(0);
    if (!empty)
        return stele__fail(STELE_ENOMEM, "index: no memory for a table set");
    pthread_mutex_lock(&idx->add_mu);
    pthread_mutex_lock(&idx->mu);
    pthread_rwlock_wrlock(&idx->state);
    tableset_t *old = idx->tables;
    stele__memtable_t *active = idx->active;
    idx->tables = empty;
    idx->active = NULL;
    pthread_rwlock_unlock(&idx->state);
    atomic_store(&idx->checkpoint, 0);
    atomic_store(&idx->last_position, 0);
    pthread_mutex_unlock(&idx->mu);
    pthread_mutex_unlock(&idx->add_mu);
    stele__memtable_free(active);
    set_close_all(old);
    return 0;
}

int stele__index_open(const stele_vfs_t *vfs, const char *dir, const stele_index_options_t *opts,
                      stele_index_t **out) {
    uint64_t mt_entries =
        opts && opts->memtable_entries ? opts->memtable_entries : DEFAULT_MEMTABLE_ENTRIES;
    uint32_t fanout = opts && opts->merge_fanout ? opts->merge_fanout : DEFAULT_FANOUT;
    if (mt_entries > STELE__MEMTABLE_MAX_ENTRIES)
        return stele__fail(STELE_EINVAL, "index: memtable_entries above %u",
                           STELE__MEMTABLE_MAX_ENTRIES);
    if (fanout < 2 || fanout > MAX_FANOUT)
        return stele__fail(STELE_EINVAL, "index: merge_fanout must be 2..%u", MAX_FANOUT);
    if (!vfs)
        vfs = stele__vfs_posix();

    stele_index_t *idx = stele__calloc(1, sizeof *idx);
    if (!idx)
        return stele__fail(STELE_ENOMEM, "index: no memory");
    idx->vfs = vfs;
    idx->memtable_entries = (uint32_t)mt_entries;
    idx->fanout = fanout;
    idx->unique_keys = opts && opts->unique_keys;
    idx->dir = stele__strdup(dir);
    if (!idx->dir) {
        stele__free(idx);
        return stele__fail(STELE_ENOMEM, "index: no memory");
    }
    int rc = init_locks(idx);
    if (rc != 0) {
        stele__free(idx->dir);
        stele__free(idx);
        return stele__fail(rc, "index: cannot create locks");
    }
    idx->readonly = opts && opts->readonly;
    if (idx->readonly) {
        if ((rc = load_readonly(idx)) != 0)
            goto fail;
        *out = idx; /* no background thread: nothing is ever written */
        return 0;
    }
    rc = vfs->mkdir(vfs, dir);
    if (rc == -EEXIST)
        rc = 0;
    if (rc != 0) {
        stele__fail(rc, "index: cannot create directory %s", dir);
        goto fail;
    }
    bool damaged;
    rc = load(idx, &damaged);
    if (rc != 0)
        goto fail;
    rc = pthread_create(&idx->flusher, NULL, flusher_main, idx);
    if (rc != 0) {
        rc = stele__fail(-rc, "index: cannot start a thread");
        goto fail;
    }
    rc = pthread_create(&idx->merger, NULL, stele__compact_main, idx);
    if (rc != 0) {
        pthread_mutex_lock(&idx->mu);
        idx->stopping = true;
        pthread_cond_broadcast(&idx->work_cv);
        pthread_mutex_unlock(&idx->mu);
        pthread_join(idx->flusher, NULL);
        rc = stele__fail(-rc, "index: cannot start a thread");
        goto fail;
    }
    idx->threads_started = true;
    *out = idx;
    return 0;

fail:
    free_index(idx);
    return rc;
}

int stele__index_close(stele_index_t *idx) {
    if (!idx)
        return 0;
    if (idx->readonly) {
        free_index(idx);
        return 0;
    }
    int rc = stele__index_flush(idx);
    pthread_mutex_lock(&idx->mu);
    idx->stopping = true;
    atomic_store(&idx->cancel, true);
    pthread_cond_broadcast(&idx->work_cv);
    pthread_mutex_unlock(&idx->mu);
    pthread_join(idx->flusher, NULL);
    pthread_join(idx->merger, NULL);
    free_index(idx);
    return rc;
}

uint64_t stele__index_checkpoint(stele_index_t *idx) { return atomic_load(&idx->checkpoint); }

/* ---------------------------------------------------------------------------------------------
 * Adding
 * ------------------------------------------------------------------------------------------- */

/* Moves the active memtable to the immutable ones, waiting while two are already there. add_mu
 * held. */
static int retire_active(stele_index_t *idx) {
    int rc = 0;
    pthread_mutex_lock(&idx->mu);
    while (idx->nimm == MAX_IMMUTABLE && idx->bg_error == 0)
        pthread_cond_wait(&idx->done_cv, &idx->mu);
    if (idx->bg_error != 0) {
        rc = report_error(idx);
    } else {
        pthread_rwlock_wrlock(&idx->state);
        idx->imm[idx->nimm++] = idx->active;
        idx->active = NULL;
        pthread_rwlock_unlock(&idx->state);
        pthread_cond_broadcast(&idx->work_cv);
    }
    pthread_mutex_unlock(&idx->mu);
    return rc;
}

static int new_active(stele_index_t *idx) {
    stele__memtable_t *mt = NULL;
    int rc = stele__memtable_new(idx->memtable_entries, &mt);
    if (rc != 0)
        return rc;
    mt->lazy = idx->unique_keys;
    pthread_mutex_lock(&idx->mu);
    pthread_rwlock_wrlock(&idx->state);
    idx->active = mt;
    pthread_rwlock_unlock(&idx->state);
    pthread_mutex_unlock(&idx->mu);
    return 0;
}

int stele__index_add(stele_index_t *idx, const stele_index_entry_t *entries, size_t n) {
    int rc = 0;
    pthread_mutex_lock(&idx->add_mu);
    if (atomic_load(&idx->bg_error_seen) != 0) {
        pthread_mutex_lock(&idx->mu);
        rc = report_error(idx);
        pthread_mutex_unlock(&idx->mu);
        goto done;
    }
    uint64_t last = atomic_load(&idx->last_position);
    for (size_t i = 0; i < n; i++) {
        if (entries[i].position <= last) {
            rc = stele__fail(STELE_EINVAL,
                             "index: entry %zu: position %" PRIu64 " not after %" PRIu64, i,
                             entries[i].position, last);
            goto done;
        }
        last = entries[i].position;
    }
    while (n > 0) {
        if (idx->active && stele__memtable_full(idx->active) &&
            (rc = idx->readonly ? grow_active(idx) : retire_active(idx)) != 0)
            break;
        if (!idx->active && (rc = new_active(idx)) != 0)
            break;
        size_t added = 0;
        rc = stele__memtable_add(idx->active, entries, n, &added);
        if (added > 0)
            atomic_store(&idx->last_position, entries[added - 1].position);
        entries += added;
        n -= added;
        if (rc != 0)
            break;
    }
    /* every entry added: the index has reached the last position given, in order */
    STELE_ASSERT(rc != 0 || atomic_load(&idx->last_position) == last);
done:
    pthread_mutex_unlock(&idx->add_mu);
    return rc;
}

int stele__index_flush(stele_index_t *idx) {
    if (idx->readonly)
        return stele__fail(STELE_EREADONLY, "index: %s was opened read-only", idx->dir);
    int rc = 0;
    pthread_mutex_lock(&idx->add_mu);
    if (idx->active && idx->active->count > 0)
        rc = retire_active(idx);
    if (rc == 0) {
        pthread_mutex_lock(&idx->mu);
        while (idx->nimm > 0 && idx->bg_error == 0)
            pthread_cond_wait(&idx->done_cv, &idx->mu);
        if (idx->bg_error != 0)
            rc = report_error(idx);
        pthread_mutex_unlock(&idx->mu);
    }
    pthread_mutex_unlock(&idx->add_mu);
    return rc;
}

int stele__index_reset(stele_index_t *idx) {
    if (idx->readonly)
        return reset_in_memory(idx);
    pthread_mutex_lock(&idx->add_mu);
    pthread_mutex_lock(&idx->mu);
    idx->paused = true;
    atomic_store(&idx->cancel, true);
    while (idx->flusher_busy || idx->merger_busy)
        pthread_cond_wait(&idx->done_cv, &idx->mu);
    tableset_t *empty = set_alloc(0);
    int rc = 0;
    if (!empty) {
        rc = stele__fail(STELE_ENOMEM, "index: no memory for a table set");
        goto resume;
    }
    stele__memtable_t *drop[MAX_IMMUTABLE + 1] = {idx->active, idx->imm[0], idx->imm[1]};
    pthread_rwlock_wrlock(&idx->state);
    tableset_t *old = idx->tables;
    idx->tables = empty;
    idx->active = NULL;
    idx->imm[0] = idx->imm[1] = NULL;
    idx->nimm = 0;
    pthread_rwlock_unlock(&idx->state);
    atomic_store(&idx->checkpoint, 0);
    atomic_store(&idx->last_position, 0);
    uint64_t next_seq = idx->next_seq;
    pthread_mutex_unlock(&idx->mu);

    for (uint32_t i = 0; i <= MAX_IMMUTABLE; i++)
        stele__memtable_free(drop[i]);
    set_close_all(old);
    /* The manifest first, so that it never names a missing file; then the files. */
    rc = write_manifest(idx, empty, 0, next_seq);
    uint64_t max_seq = 0;
    if (rc == 0)
        rc = remove_files(idx, empty, &max_seq);
    pthread_mutex_lock(&idx->mu);
    if (rc != 0)
        stele__index_set_error(idx, rc);
resume:
    idx->paused = false;
    atomic_store(&idx->cancel, false);
    pthread_cond_broadcast(&idx->work_cv);
    pthread_mutex_unlock(&idx->mu);
    pthread_mutex_unlock(&idx->add_mu);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

int stele__index_lookup(stele_index_t *idx, uint64_t hash, uint64_t from_version, bool backward,
                        stele_index_entry_t *out, size_t max, size_t *count) {
    stele__lookup_t lk = {hash, from_version, backward, out, 0, max};
    int rc = 0;
    *count = 0;
    if (max == 0)
        return 0;
    pthread_rwlock_rdlock(&idx->state);
    const tableset_t *s = idx->tables;
    /* Sources in the order their entries were written (reversed when backward), so a stream's
     * entries mostly arrive in order and merge by appending. */
    if (!backward) {
        for (uint32_t i = 0; i < s->count && rc == 0; i++)
            rc = stele__table_lookup(s->t[i], &lk);
        for (uint32_t i = 0; i < idx->nimm && rc == 0; i++)
            stele__memtable_lookup(idx->imm[i], &lk);
        if (idx->active && rc == 0)
            stele__memtable_lookup(idx->active, &lk);
    } else {
        if (idx->active)
            stele__memtable_lookup(idx->active, &lk);
        for (uint32_t i = idx->nimm; i-- > 0;)
            stele__memtable_lookup(idx->imm[i], &lk);
        for (uint32_t i = s->count; i-- > 0 && rc == 0;)
            rc = stele__table_lookup(s->t[i], &lk);
    }
    pthread_rwlock_unlock(&idx->state);
    /* A failed lookup returns nothing rather than a partial answer. */
    *count = rc == 0 ? lk.count : 0;
    return rc;
}

#define FILTER_CHUNK 128u

void stele__index_filter(stele_index_t *idx, const uint64_t *hashes, size_t n, uint8_t *maybe) {
    stele__bloom_key_t keys[FILTER_CHUNK]; /* each hash mixed once for all the filters */
    memset(maybe, 0, n);
    pthread_rwlock_rdlock(&idx->state);
    const tableset_t *s = idx->tables;
    for (size_t c = 0; c < n; c += FILTER_CHUNK) {
        size_t m = n - c < FILTER_CHUNK ? n - c : FILTER_CHUNK;
        for (size_t i = 0; i < m; i++)
            keys[i] = stele__bloom_key(hashes[c + i]);
        for (uint32_t i = 0; i < s->count; i++)
            stele__table_filter(s->t[i], keys, m, maybe + c);
        for (uint32_t i = 0; i < idx->nimm; i++)
            stele__memtable_filter(idx->imm[i], hashes + c, keys, m, maybe + c);
        if (idx->active)
            stele__memtable_filter(idx->active, hashes + c, keys, m, maybe + c);
    }
    pthread_rwlock_unlock(&idx->state);
}

void stele__index_stats(stele_index_t *idx, stele_index_stats_t *out) {
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&idx->state);
    const tableset_t *s = idx->tables;
    for (uint32_t i = 0; i < s->count; i++)
        out->entries += s->t[i]->count;
    out->tables = s->count;
    for (uint32_t i = 0; i < idx->nimm; i++)
        out->entries += idx->imm[i]->count;
    if (idx->active)
        out->entries += stele__memtable_count(idx->active);
    pthread_rwlock_unlock(&idx->state);
    out->checkpoint = atomic_load(&idx->checkpoint);
    out->last_position = atomic_load(&idx->last_position);
}

static int scan_memtable(stele__memtable_t *mt, int (*fn)(void *, const stele_index_entry_t *),
                         void *arg) {
    int rc = 0;
    pthread_rwlock_rdlock(&mt->lock);
    for (uint32_t i = 0; i < mt->count && rc == 0; i++) {
        const stele_index_entry_t *e = &mt->entries[i];
        if (e->position == 0 || (i > 0 && e->position <= mt->entries[i - 1].position))
            rc = stele__fail(STELE_ECORRUPT, "index: memtable entry %u out of order", i);
        else
            rc = fn(arg, e);
    }
    pthread_rwlock_unlock(&mt->lock);
    return rc;
}

static int scan_table(stele__table_t *t, int (*fn)(void *, const stele_index_entry_t *),
                      void *arg) {
    stele__table_iter_t it;
    const stele_index_entry_t *e;
    stele_index_entry_t last = {0, 0, 0};
    uint64_t n = 0;
    int rc = stele__table_iter_init(&it, t);
    while (rc == 0 && (rc = stele__table_iter_next(&it, &e)) == 1) {
        if ((n > 0 && stele__entry_cmp(&last, e) >= 0) || e->position < t->min_position ||
            e->position > t->max_position)
            rc = stele__fail(STELE_ECORRUPT, "index: table %s: entry %" PRIu64 " is misplaced",
                             t->path, n);
        else
            rc = fn(arg, e);
        last = *e;
        n++;
    }
    if (rc == 0 && n != t->count)
        rc = stele__fail(STELE_ECORRUPT, "index: table %s: entry count mismatch", t->path);
    stele__table_iter_free(&it);
    return rc;
}

int stele__index_scan(stele_index_t *idx, int (*fn)(void *arg, const stele_index_entry_t *e),
                      void *arg) {
    int rc = 0;
    pthread_rwlock_rdlock(&idx->state);
    const tableset_t *s = idx->tables;
    for (uint32_t i = 0; i < s->count && rc == 0; i++)
        rc = scan_table(s->t[i], fn, arg);
    for (uint32_t i = 0; i < idx->nimm && rc == 0; i++)
        rc = scan_memtable(idx->imm[i], fn, arg);
    if (idx->active && rc == 0)
        rc = scan_memtable(idx->active, fn, arg);
    pthread_rwlock_unlock(&idx->state);
    return rc;
}
