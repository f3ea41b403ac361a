/*
 * idindex.h -- the event-id index: every event's id to its log position, so that a retried append
 * is recognised whatever its expected version, an id reused for another event is refused, and an
 * event can be looked up by its id.
 *
 * It is a second instance of the index LSM (index.h) over its own directory: the 24-byte entry
 * (hash, version, position) holds the whole 16-byte id and the position. With hi and lo the id's
 * first and last 8 bytes (big-endian), the entry is
 *     hash = mix64(hi ^ mix64(lo)),  version = lo,  position.
 * For a fixed lo this maps hi one-to-one onto hash (mix64 is a bijection), so two different ids
 * never share (hash, version): a look-up is exact, with no record to read to tell ids apart, and
 * the mixing spreads ids whose first bytes are alike (UUIDv7: a millisecond timestamp) over the
 * whole key space for the memtable's hash table and the tables' Bloom filters.
 *
 * Like the stream index it is derived: the writer adds every committed event after its commit is
 * synced (never a sync of its own on the acknowledgement path), open catches up from the log past
 * its checkpoint, and reindex rebuilds it. See docs/design/index.md.
 */
#ifndef STELE_INDEX_IDINDEX_H
#define STELE_INDEX_IDINDEX_H

#include "index/index.h"
#include "stele.h"

#include <stdint.h>

/* The index entry of event id at position. */
void stele__idindex_entry(const stele_uuid_t *id, uint64_t position, stele_index_entry_t *out);

/* The first (lowest) position holding an event with this id. Returns 1 with *position set, 0 when
 * the index has no such id, or an error (-EIO, STELE_ECORRUPT). Thread-safe like
 * stele__index_lookup. */
int stele__idindex_find(stele_index_t *ids, const stele_uuid_t *id, uint64_t *position);

/* For n ids: maybe[i] = 0 when the index surely holds no event with ids[i] (stele__idindex_find
 * would return 0), else 1 (find decides). keys is scratch for n hashes. Costs about one
 * overlapped cache miss per id and table instead of a look-up each (stele__index_filter). */
void stele__idindex_filter(stele_index_t *ids, const stele_uuid_t *id, size_t n, uint64_t *keys,
                           uint8_t *maybe);

#endif
