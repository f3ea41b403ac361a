/*
 * idindex.c -- the key of the event-id index (see idindex.h for why it is exact).
 */
#include "index/idindex.h"

#include "index/entry.h"

static uint64_t get_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void stele__idindex_entry(const stele_uuid_t *id, uint64_t position, stele_index_entry_t *out) {
    uint64_t hi = get_be64(id->bytes), lo = get_be64(id->bytes + 8);
    out->hash = stele__mix64(hi ^ stele__mix64(lo));
    out->version = lo;
    out->position = position;
}

int stele__idindex_find(stele_index_t *ids, const stele_uuid_t *id, uint64_t *position) {
    stele_index_entry_t key, got;
    size_t n = 0;
    stele__idindex_entry(id, 0, &key);
    /* Forward from version lo: the first entry is this id's lowest position if the id is there
     * at all (an older store may hold one id twice: the first is the original). */
    int rc = stele__index_lookup(ids, key.hash, key.version, false, &got, 1, &n);
    if (rc < 0)
        return rc;
    if (n == 0 || got.version != key.version)
        return 0;
    *position = got.position;
    return 1;
}

void stele__idindex_filter(stele_index_t *ids, const stele_uuid_t *id, size_t n, uint64_t *keys,
                           uint8_t *maybe) {
    for (size_t i = 0; i < n; i++) {
        stele_index_entry_t e;
        stele__idindex_entry(&id[i], 0, &e);
        keys[i] = e.hash;
    }
    stele__index_filter(ids, keys, n, maybe);
}
