/*
 * catalogue.c -- the in-memory stream catalogue and its snapshot file (see catalogue.h).
 *
 * Snapshot "catalogue.snap" ("streams.snap" in older stores; little-endian): magic "STELECAT", u32
 * version 1, u32 flags (bit 0 DURABLE: the log was synced through position when it was made; other
 * bits 0), u64 position, u64 count, then count entries { u16 name_len, name, u8 state, i64
 * last_version, i64 first_version, u64 last_position, u32 metadata_len, metadata }, then u32
 * CRC-32C of all before.
 */
#include "store/catalogue.h"
#include "store/retention.h"

#include "index/index.h"
#include "log/record.h"
#include "os/alloc.h"
#include "util/bytes.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "util/path.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define ARENA_CHUNK ((size_t)1 << 20)
#define SNAP_NAME STELE_CATALOGUE_SNAP_NAME
#define SNAP_OLD_NAME STELE_CATALOGUE_SNAP_OLD_NAME
#define SNAP_HEADER 32u      /* magic 8, version 4, flags 4, position 8, count 8 */
#define SNAP_ENTRY_FIXED 31u /* name_len 2, state 1, 3 x 8, metadata_len 4 (+ name, metadata) */
_Static_assert(SNAP_HEADER == 8 + 4 + 4 + 8 + 8, "catalogue snapshot: header size");
_Static_assert(SNAP_ENTRY_FIXED == 2 + 1 + 8 + 8 + 8 + 4, "catalogue snapshot: fixed entry size");
#define SNAP_MAGIC "STELECAT"

int stele__catalogue_init(stele_catalogue_t *cat) {
    memset(cat, 0, sizeof(*cat));
    cat->cap = 1024;
    cat->slots = stele__calloc(cat->cap, sizeof(*cat->slots));
    if (!cat->slots)
        return STELE_ENOMEM;
    pthread_rwlock_init(&cat->lock, NULL);
    return 0;
}

static void free_entries(stele_catalogue_t *cat) {
    for (size_t i = 0; i < cat->cap; i++)
        if (cat->slots[i])
            stele__free(cat->slots[i]->metadata);
    for (size_t i = 0; i < cat->nchunks; i++)
        stele__free(cat->chunks[i]);
    stele__free(cat->chunks);
    cat->chunks = NULL;
    cat->nchunks = 0;
    cat->arena = NULL;
    cat->arena_used = cat->arena_cap = 0;
}

void stele__catalogue_free(stele_catalogue_t *cat) {
    if (!cat->slots)
        return;
    free_entries(cat);
    stele__free(cat->slots);
    cat->slots = NULL;
    pthread_rwlock_destroy(&cat->lock);
}

void stele__catalogue_clear(stele_catalogue_t *cat) {
    free_entries(cat);
    memset(cat->slots, 0, cat->cap * sizeof(*cat->slots));
    cat->count = 0;
    cat->position = 0;
    atomic_store(&cat->retained, 0);
    cat->loaded_durable = false;
}

stele_stream_t *stele__catalogue_find(stele_catalogue_t *cat, const char *name, size_t len,
                                      uint64_t hash) {
    size_t mask = cat->cap - 1;
    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        stele_stream_t *s = cat->slots[i];
        if (!s)
            return NULL;
        if (s->hash == hash && s->name_len == len && memcmp(s->name, name, len) == 0)
            return s;
    }
}

static void *arena_alloc(stele_catalogue_t *cat, size_t n) {
    n = (n + 7u) & ~(size_t)7u;
    if (cat->arena_used + n > cat->arena_cap) {
        void **chunks = stele__realloc(cat->chunks, (cat->nchunks + 1) * sizeof(*chunks));
        if (!chunks)
            return NULL;
        cat->chunks = chunks;
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        uint8_t *chunk = stele__malloc(size);
        if (!chunk)
            return NULL;
        cat->chunks[cat->nchunks++] = chunk;
        cat->arena = chunk;
        cat->arena_used = 0;
        cat->arena_cap = size;
    }
    void *p = cat->arena + cat->arena_used;
    cat->arena_used += n;
    return p;
}

static int grow(stele_catalogue_t *cat) {
    size_t cap = cat->cap * 2;
    stele_stream_t **slots = stele__calloc(cap, sizeof(*slots));
    if (!slots)
        return STELE_ENOMEM;
    for (size_t i = 0; i < cat->cap; i++) {
        stele_stream_t *s = cat->slots[i];
        if (!s)
            continue;
        size_t j = (size_t)s->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    stele__free(cat->slots);
    cat->slots = slots;
    cat->cap = cap;
    return 0;
}

static stele_stream_t *insert(stele_catalogue_t *cat, const char *name, size_t len, uint64_t hash) {
    if ((cat->count + 1) * 4 > cat->cap * 3 && grow(cat) < 0)
        return NULL;
    stele_stream_t *s = arena_alloc(cat, sizeof(*s) + len + 1);
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->hash = hash;
    s->last_version = s->pending_version = -1;
    s->retention.max_count = s->retention.max_age_s = s->retention.truncate_before = -1;
    s->name_len = (uint16_t)len;
    memcpy(s->name, name, len);
    s->name[len] = 0;
    size_t mask = cat->cap - 1, i = (size_t)hash & mask;
    while (cat->slots[i])
        i = (i + 1) & mask;
    cat->slots[i] = s;
    cat->count++;
    return s;
}

int stele__catalogue_get(stele_catalogue_t *cat, const char *name, size_t len, uint64_t hash,
                         bool locked, stele_stream_t **out) {
    stele_stream_t *s = stele__catalogue_find(cat, name, len, hash);
    if (!s) {
        if (!locked)
            pthread_rwlock_wrlock(&cat->lock);
        s = insert(cat, name, len, hash);
        if (!locked)
            pthread_rwlock_unlock(&cat->lock);
        if (!s)
            return STELE_ENOMEM;
    }
    *out = s;
    return 0;
}

int stele__catalogue_serialize(stele_catalogue_t *cat, uint8_t **out, size_t *out_len) {
    size_t len = SNAP_HEADER + 4;
    for (size_t i = 0; i < cat->cap; i++) {
        stele_stream_t *s = cat->slots[i];
        if (s)
            len += SNAP_ENTRY_FIXED + s->name_len + (s->metadata ? strlen(s->metadata) : 0);
    }
    uint8_t *buf = stele__malloc(len), *p = buf;
    if (!buf)
        return STELE_ENOMEM;
    memcpy(p, SNAP_MAGIC, 8);
    stele__put_u32(p + 8, 1);
    bool durable = cat->synced_position && atomic_load(cat->synced_position) >= cat->position;
    stele__put_u32(p + 12, durable ? STELE_CATALOGUE_DURABLE : 0);
    stele__put_u64(p + 16, cat->position);
    stele__put_u64(p + 24, cat->count);
    p += SNAP_HEADER;
    for (size_t i = 0; i < cat->cap; i++) {
        stele_stream_t *s = cat->slots[i];
        if (!s)
            continue;
        size_t mlen = s->metadata ? strlen(s->metadata) : 0;
        stele__put_u16(p, s->name_len);
        memcpy(p + 2, s->name, s->name_len);
        p += 2 + s->name_len;
        *p++ = s->state;
        stele__put_u64(p, (uint64_t)s->last_version);
        stele__put_u64(p + 8, (uint64_t)s->first_version);
        stele__put_u64(p + 16, s->last_position);
        stele__put_u32(p + 24, (uint32_t)mlen);
        p += 28;
        if (mlen)
            memcpy(p, s->metadata, mlen);
        p += mlen;
    }
    stele__put_u32(p, stele__crc32c(0, buf, len - 4));
    *out = buf;
    *out_len = len;
    return 0;
}

int stele__catalogue_write(const stele_vfs_t *vfs, const char *dir, const uint8_t *buf,
                           size_t len) {
    int rc = stele__file_write_atomic(vfs, dir, SNAP_NAME, buf, len);
    char old[4200];
    /* An older store's snapshot is superseded now: never read it again (result ignored: a file
     * left behind is only read while the new one is missing, and it is behind the log then). */
    if (rc == 0 && stele__path_join(old, sizeof old, dir, SNAP_OLD_NAME) == 0)
        (void)vfs->unlink(vfs, old);
    return rc;
}

void stele__catalogue_remove(const stele_vfs_t *vfs, const char *dir) {
    char path[4200];
    if (stele__path_join(path, sizeof path, dir, SNAP_NAME) == 0)
        (void)vfs->unlink(vfs, path);
    if (stele__path_join(path, sizeof path, dir, SNAP_OLD_NAME) == 0)
        (void)vfs->unlink(vfs, path);
}

int stele__catalogue_save(stele_catalogue_t *cat, const stele_vfs_t *vfs, const char *dir) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = stele__catalogue_serialize(cat, &buf, &len);
    if (rc == 0)
        rc = stele__catalogue_write(vfs, dir, buf, len);
    stele__free(buf);
    return rc;
}

int stele__catalogue_load(stele_catalogue_t *cat, const stele_vfs_t *vfs, const char *dir) {
    char path[4200];
    int rc = stele__path_join(path, sizeof path, dir, SNAP_NAME);
    if (rc < 0)
        return rc;
    void *data = NULL;
    size_t len = 0;
    rc = stele__file_read_all(vfs, path, (size_t)4 << 30, &data, &len);
    if (rc == -ENOENT && (rc = stele__path_join(path, sizeof path, dir, SNAP_OLD_NAME)) == 0)
        rc = stele__file_read_all(vfs, path, (size_t)4 << 30, &data, &len); /* an older store */
    if (rc == STELE_ENOMEM)
        return rc;
    if (rc < 0)
        return 0; /* missing or unreadable: rebuild from the log */
    const uint8_t *buf = data, *p = buf + SNAP_HEADER, *end = buf + len - 4;
    if (len < SNAP_HEADER + 4 || memcmp(buf, SNAP_MAGIC, 8) != 0 || stele__get_u32(buf + 8) != 1 ||
        stele__get_u32(buf + len - 4) != stele__crc32c(0, buf, len - 4))
        goto bad;
    uint64_t count = stele__get_u64(buf + 24);
    for (uint64_t i = 0; i < count; i++) {
        if (end - p < 2)
            goto bad;
        uint16_t nlen = stele__get_u16(p);
        if (nlen == 0 || nlen > STELE_MAX_STREAM_NAME_BYTES || end - p < 2 + nlen + 29)
            goto bad;
        const char *name = (const char *)p + 2;
        p += 2 + nlen;
        uint8_t state = *p++;
        uint64_t hash = stele__index_hash(name, nlen);
        if (stele__catalogue_find(cat, name, nlen, hash))
            goto bad; /* listed twice: the second entry could never be found */
        stele_stream_t *s = insert(cat, name, nlen, hash);
        if (!s) {
            rc = STELE_ENOMEM;
            goto out;
        }
        s->state = s->pending_state = state;
        s->last_version = s->pending_version = (int64_t)stele__get_u64(p);
        s->first_version = s->pending_first = (int64_t)stele__get_u64(p + 8);
        s->last_position = stele__get_u64(p + 16);
        uint32_t mlen = stele__get_u32(p + 24);
        p += 28;
        if ((size_t)(end - p) < mlen || state > STELE_STREAM_TOMBSTONED)
            goto bad;
        /* Values no store writes (a tampered file whose checksum was recomputed): the readers
         * and the writer's expected-version checks rely on -1 <= last, 0 <= first <= last + 1,
         * and on no stream being ahead of the snapshot. */
        if (s->last_version < -1 || s->first_version < 0 ||
            s->first_version - 1 > s->last_version || s->last_position > stele__get_u64(buf + 16))
            goto bad;
        if (mlen && memchr(p, 0, mlen))
            goto bad; /* metadata is JSON text: a NUL would cut it short (and change on save) */
        if (mlen) {
            if (!(s->metadata = stele__strndup((const char *)p, mlen))) {
                rc = STELE_ENOMEM;
                goto out;
            }
            stele__retention_set(cat, s, s->metadata, mlen);
        }
        p += mlen;
    }
    if (p != end)
        goto bad;
    cat->position = stele__get_u64(buf + 16);
    cat->loaded_durable = (stele__get_u32(buf + 12) & STELE_CATALOGUE_DURABLE) != 0;
    rc = 0;
    goto out;
bad:
    stele__catalogue_clear(cat);
    rc = 0;
out:
    stele__free(data);
    return rc;
}
