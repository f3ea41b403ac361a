/*
 * store.c -- opening and closing a store: the directory, its lock, the log, the index and the
 * catalogue brought up to date from the log, and the writer thread; head digest and stats.
 *
 * Directory layout:
 *   STELE          marker: "stele-store\nformat 1\n" (written last when a store is created)
 *   LOCK           held with an exclusive lock while the store is open for writing (or verify);
 *                  a read-only open takes no lock and writes nothing (open_readonly.c)
 *   log/           segments (the only source of truth)
 *   index/         the stream index (derived)
 *   ids/           the event-id index (derived)
 *   catalogue.snap the catalogue snapshot (derived; "streams.snap" in older stores)
 */
#include "store/store.h"

#include "index/idindex.h"
#include "log/record.h"
#include "os/alloc.h"
#include "util/error.h"
#include "util/path.h"
#include "util/struct_size.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER_NAME "STELE"
#define MARKER_TEXT "stele-store\nformat 1\n"
#define FORMAT_VERSION 1
#define DEFAULT_SEGMENT_BYTES ((uint64_t)64 << 20)

void stele_options_init(stele_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->durability = STELE_DURABILITY_SYNC;
    o->sync_interval_ms = 100;
    o->segment_size_bytes = DEFAULT_SEGMENT_BYTES;
    o->queue_capacity = 4096;
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + 1 + strlen(b) + 1;
    char *p = stele__malloc(n);
    if (p && stele__path_join(p, n, a, b) < 0) { /* cannot happen: n fits both */
        stele__free(p);
        p = NULL;
    }
    return p;
}

/* fsync of the directory holding dir ("." for a relative name without '/'). */
static int sync_parent(const stele_vfs_t *vfs, const char *dir) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    while (len > 0 && dir[len - 1] != '/')
        len--;
    while (len > 1 && dir[len - 1] == '/')
        len--;
    char *parent = len == 0 ? stele__strdup(".") : stele__strndup(dir, len);
    if (!parent)
        return STELE_ENOMEM;
    int rc = vfs->sync_dir(vfs, parent);
    if (rc < 0)
        stele__fail(rc, "cannot sync %s, the directory holding the new store: %s", parent,
                    stele_strerror(rc));
    stele__free(parent);
    return rc;
}

/* Entries a directory may hold before it has its marker (a creation cut short by a crash). */
static int foreign_entry(void *arg, const char *name) {
    (void)arg;
    static const char *const ours[] = {"LOCK",
                                       "log",
                                       "index",
                                       "ids",
                                       STELE_CATALOGUE_SNAP_NAME,
                                       STELE_CATALOGUE_SNAP_OLD_NAME,
                                       MARKER_NAME ".tmp"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strcmp(name, ours[i]) == 0)
            return 0;
    return 1;
}

/* Check the marker: 0 if this is a store, 1 if it is to be created, or an error. */
static int check_marker(stele_store_t *s, bool create) {
    const stele_vfs_t *vfs = s->vfs;
    char *path = join(s->dir, MARKER_NAME);
    if (!path)
        return STELE_ENOMEM;
    void *text = NULL;
    size_t len = 0;
    int rc = stele__file_read_all(vfs, path, 4096, &text, &len);
    stele__free(path);
    if (rc == 0) {
        unsigned format = 0;
        if (len < 12 || memcmp(text, "stele-store\n", 12) != 0 ||
            sscanf((const char *)text + 12, "format %u", &format) != 1)
            rc = stele__fail(STELE_ENOTSTORE, "%s: the STELE marker file is not a Stele marker",
                             s->dir);
        else if (format > FORMAT_VERSION)
            rc = stele__fail(STELE_EVERSION,
                             "%s was made by a newer Stele (format %u; this build reads %u)",
                             s->dir, format, FORMAT_VERSION);
        stele__free(text);
        return rc;
    }
    if (rc != -ENOENT)
        return stele__fail(rc, "%s: cannot read the marker: %s", s->dir, stele_strerror(rc));
    rc = vfs->exists(vfs, s->dir);
    if (rc == -ENOENT) {
        if (!create)
            return stele__fail(STELE_ENOTSTORE, "no Stele store at %s", s->dir);
        if ((rc = vfs->mkdir(vfs, s->dir)) < 0 && rc != -EEXIST)
            return stele__fail(rc, "cannot create %s: %s", s->dir, stele_strerror(rc));
        return 1;
    }
    if (rc < 0)
        return rc;
    rc = vfs->list_dir(vfs, s->dir, foreign_entry, NULL);
    if (rc < 0)
        return stele__fail(rc, "cannot list %s: %s", s->dir, stele_strerror(rc));
    if (rc > 0)
        return stele__fail(STELE_ENOTSTORE, "%s is not a Stele store (it holds other files)",
                           s->dir);
    if (!create)
        return stele__fail(STELE_ENOTSTORE, "no Stele store at %s", s->dir);
    return 1;
}

static int check_options(const stele_options_t *o) {
    if (o->struct_size < offsetof(stele_options_t, vfs) + sizeof(o->vfs) ||
        o->struct_size > sizeof(stele_options_t))
        return stele__fail(STELE_EINVAL,
                           "options.struct_size %zu is not a known size "
                           "(call stele_options_init)",
                           o->struct_size);
    if (o->flags & ~(STELE_OPEN_CREATE | STELE_OPEN_READONLY | STELE_OPEN_VERIFY))
        return stele__fail(STELE_EINVAL, "unknown open flags 0x%x", o->flags);
    if ((o->flags & STELE_OPEN_CREATE) && (o->flags & (STELE_OPEN_READONLY | STELE_OPEN_VERIFY)))
        return stele__fail(STELE_EINVAL, "CREATE and READONLY (or VERIFY) together");
    if (o->durability > STELE_DURABILITY_NONE)
        return stele__fail(STELE_EINVAL, "unknown durability %d", (int)o->durability);
    if (o->segment_size_bytes < STELE_MIN_SEGMENT_BYTES ||
        o->segment_size_bytes > STELE_MAX_SEGMENT_BYTES)
        return stele__fail(STELE_EINVAL, "segment size %" PRIu64 " is outside 1 MiB..4 GiB",
                           o->segment_size_bytes);
    if (o->queue_capacity == 0 || o->queue_capacity > 1000000)
        return stele__fail(STELE_EINVAL, "queue capacity %u is outside 1..1000000",
                           o->queue_capacity);
    return 0;
}

static void store_free(stele_store_t *s) {
    stele__catsnap_stop(&s->snap);
    stele__cursor_free(&s->wcursor);
    if (s->index)
        stele__index_close(s->index);
    if (s->ids)
        stele__index_close(s->ids);
    stele__log_close(s->log);
    stele__catalogue_free(&s->cat);
    stele__file_close(s->lock_file);
    pthread_mutex_destroy(&s->notify_mu);
    pthread_cond_destroy(&s->notify_cv);
    stele__observers_free(s);
    stele__free(s->entries);
    stele__free(s->id_entries);
    stele__free(s->batch_ids);
    stele__free(s->id_keys);
    stele__free(s->id_maybe);
    stele__free(s->dir);
    stele__free(s->log_dir);
    stele__free(s->index_dir);
    stele__free(s->ids_dir);
    stele__free(s);
}

int stele_store_open(const char *dir, const stele_options_t *opts, stele_store_t **out) {
    stele__error_clear();
    if (!dir || !*dir || !out)
        return stele__fail(STELE_EINVAL, "directory or out pointer is missing");
    *out = NULL;
    stele_options_t o;
    stele_options_init(&o);
    if (opts) {
        if (opts->struct_size < sizeof(size_t) || opts->struct_size > sizeof o)
            return stele__fail(STELE_EINVAL,
                               "options.struct_size %zu is not a known size "
                               "(call stele_options_init)",
                               opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    int rc = check_options(&o);
    if (rc < 0)
        return rc;
    if (o.flags & STELE_OPEN_VERIFY)
        o.flags |= STELE_OPEN_READONLY;
    bool readonly = (o.flags & STELE_OPEN_READONLY) != 0;
    bool verifying = (o.flags & STELE_OPEN_VERIFY) != 0;
    stele_store_t *s = stele__calloc(1, sizeof(*s));
    if (!s)
        return STELE_ENOMEM;
    pthread_mutex_init(&s->notify_mu, NULL);
    pthread_cond_init(&s->notify_cv, NULL);
    stele__observers_init(s);
    s->opts = o;
    s->vfs = o.vfs ? o.vfs : stele__vfs_posix();
    s->dir = stele__strdup(dir);
    s->log_dir = join(dir, "log");
    s->index_dir = join(dir, "index");
    s->ids_dir = join(dir, "ids");
    s->entries_cap = STELE_LOG_MAX_COMMIT_BYTES / 80 + 16;
    s->entries = stele__malloc(s->entries_cap * sizeof(*s->entries));
    s->id_entries = stele__malloc(s->entries_cap * sizeof(*s->id_entries));
    if (!s->dir || !s->log_dir || !s->index_dir || !s->ids_dir || !s->entries || !s->id_entries ||
        stele__catalogue_init(&s->cat) < 0 ||
        stele__cursor_init(&s->wcursor, NULL, 16 * 1024) < 0) {
        rc = STELE_ENOMEM;
        goto fail;
    }
    int creating = check_marker(s, (o.flags & STELE_OPEN_CREATE) != 0);
    if (creating < 0) {
        rc = creating;
        goto fail;
    }
    if (readonly && !verifying) {
        if ((rc = stele__store_open_readonly(s)) < 0)
            goto fail;
        *out = s;
        return 0;
    }
    char *lock_path = join(dir, "LOCK");
    if (!lock_path) {
        rc = STELE_ENOMEM;
        goto fail;
    }
    rc = s->vfs->open(s->vfs, lock_path,
                      readonly ? STELE_VFS_RDONLY : (STELE_VFS_RDWR | STELE_VFS_CREATE),
                      &s->lock_file);
    stele__free(lock_path);
    if (rc == -ENOENT && readonly)
        rc = 0; /* a read-only open of a store that was never opened for writing */
    if (rc < 0)
        goto fail;
    if (s->lock_file && (rc = s->lock_file->vfs->lock(s->lock_file)) < 0) {
        if (rc == STELE_ELOCKED)
            stele__fail(rc, "%s is open in another process", dir);
        goto fail;
    }
    /* The snapshot first: when it says the log was synced through its position, a log that ends
     * before it lost acknowledged events, and the log must refuse before cutting anything. */
    if ((rc = stele__catalogue_load(&s->cat, s->vfs, dir)) < 0)
        goto fail;
    stele_log_open_opts_t lo = {.segment_size = o.segment_size_bytes,
                                .create = creating == 1,
                                .readonly = readonly,
                                .tolerant = verifying,
                                .durable_floor = s->cat.loaded_durable ? s->cat.position : 0,
                                .floor_source =
                                    "the catalogue snapshot (" STELE_CATALOGUE_SNAP_NAME ")"};
    if ((rc = stele__log_open_ex(s->vfs, s->log_dir, &lo, &s->log)) < 0)
        goto fail;
    s->wcursor.log = s->log;
    s->cat.synced_position = &s->log->synced_position;
    if (creating == 1) {
        if ((rc = stele__file_write_atomic(s->vfs, dir, MARKER_NAME, MARKER_TEXT,
                                           strlen(MARKER_TEXT))) < 0)
            goto fail;
        /* The store directory's own entry is durable only once its parent is synced (invariant
         * 7): without this a power loss can take the whole new store, acknowledged appends
         * included. */
        if ((rc = sync_parent(s->vfs, dir)) < 0)
            goto fail;
    }
    if ((rc = stele__index_open(s->vfs, s->index_dir, NULL, &s->index)) < 0)
        goto fail;
    stele_index_options_t ids_opts = {.unique_keys = true};
    if ((rc = stele__index_open(s->vfs, s->ids_dir, &ids_opts, &s->ids)) < 0)
        goto fail;
    if ((rc = stele__store_catch_up(s, verifying)) < 0)
        goto fail;
    uint64_t head = s->log->head_position;
    if (!readonly) {
        if ((rc = stele__catsnap_start(&s->snap, s->vfs, s->dir, head)) < 0)
            goto fail;
        stele_writer_hooks_t hooks = {.ctx = s,
                                      .encode = stele__store_encode,
                                      .publish = stele__store_publish,
                                      .after = stele__store_after};
        if ((rc = stele__writer_start(s->log, o.durability, o.sync_interval_ms, o.queue_capacity,
                                      &hooks, &s->writer)) < 0)
            goto fail;
    }
    *out = s;
    return 0;
fail : {
    /* keep the detail of the first failure */
    char detail[512];
    snprintf(detail, sizeof detail, "%s", stele_errdetail());
    store_free(s);
    if (detail[0])
        stele__fail(rc, "%s", detail);
}
    return rc;
}

int stele_store_close(stele_store_t *s) {
    if (!s)
        return 0;
    atomic_store(&s->closing, true);
    pthread_mutex_lock(&s->notify_mu);
    pthread_cond_broadcast(&s->notify_cv);
    /* Subscribers waiting in stele_subscription_next() now return STELE_ECLOSED; wait until they
     * have left it, since they use the mutex, the log and the index freed below. */
    while (atomic_load(&s->sub_inside) > 0)
        pthread_cond_wait(&s->notify_cv, &s->notify_mu);
    pthread_mutex_unlock(&s->notify_mu);
    int rc = stele__writer_stop(s->writer);
    s->writer = NULL;
    stele__catsnap_stop(&s->snap); /* writes a pending one: before the final save below */
    if (atomic_load(&s->derived_error) && !(s->opts.flags & STELE_OPEN_READONLY)) {
        /* The index and catalogue missed a commit that is in the log: persist neither, so that
         * the next open rebuilds both from the log. */
        int r2 = stele__index_reset(s->index);
        int r4 = stele__index_reset(s->ids);
        if (r2 == 0)
            r2 = r4;
        stele__catalogue_remove(s->vfs, s->dir);
        if (rc == 0)
            rc = r2;
    } else if (!(s->opts.flags & STELE_OPEN_READONLY) && rc == 0) {
        int r2 = stele__index_flush(s->index);
        if (r2 == 0)
            r2 = stele__index_flush(s->ids);
        if (r2 == 0)
            r2 = stele__catalogue_save(&s->cat, s->vfs, s->dir);
        rc = r2;
    }
    if (s->index) {
        int r3 = stele__index_close(s->index);
        s->index = NULL;
        if (rc == 0)
            rc = r3;
    }
    if (s->ids) {
        int r3 = stele__index_close(s->ids);
        s->ids = NULL;
        if (rc == 0)
            rc = r3;
    }
    store_free(s);
    return rc == STELE_EPOISONED ? 0 : rc;
}

int stele_head_digest(stele_store_t *s, uint64_t *position, uint8_t hash[32]) {
    if (!s || !position || !hash)
        return stele__fail(STELE_EINVAL, "argument is NULL");
    pthread_mutex_lock(&s->notify_mu);
    *position = atomic_load(&s->visible);
    memcpy(hash, s->head_hash, 32);
    pthread_mutex_unlock(&s->notify_mu);
    return 0;
}

static void stats_fill(stele_store_t *s, stele_stats_t *out) {
    memset(out, 0, sizeof(*out));
    out->head_position = atomic_load(&s->visible);
    pthread_rwlock_rdlock(&s->cat.lock);
    out->streams = s->cat.count;
    pthread_rwlock_unlock(&s->cat.lock);
    out->segments = stele__log_segment_count(s->log);
    out->log_bytes = atomic_load(&s->log->bytes);
    stele_index_stats_t is;
    stele__index_stats(s->index, &is);
    out->index_entries = is.entries;
    out->index_tables = is.tables;
    out->appends = atomic_load(&s->appends);
    if (s->writer) {
        stele_writer_stats_t ws;
        stele__writer_stats(s->writer, &ws);
        out->syncs = ws.syncs;
        out->commits = ws.commits;
        out->sync_ns = ws.sync_ns;
        memcpy(out->sync_latency, ws.sync_hist, sizeof(out->sync_latency));
        out->poisoned = stele__writer_poison(s->writer) != 0 || atomic_load(&s->derived_error) != 0;
    }
    out->durability = s->opts.durability;
}

int stele_stats(stele_store_t *s, stele_stats_t *out) {
    if (!s || !out)
        return stele__fail(STELE_EINVAL, "argument is NULL");
    size_t copy;
    int rc = stele__struct_size_check(out->struct_size, STELE__SIZE_V1(stele_stats_t, durability),
                                      sizeof(stele_stats_t), "stele_stats_t", &copy);
    if (rc < 0)
        return rc;
    stele_stats_t full;
    stats_fill(s, &full);
    stele__struct_size_copy(out, &full, copy);
    return 0;
}
