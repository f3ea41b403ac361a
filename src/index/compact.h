/*
 * compact.h -- index compaction: the merger thread merges merge_fanout table files of one level
 * into one table of the next level, so lookups search few tables and the flusher (index.c) never
 * waits for a slow merge.
 */
#ifndef STELE_INDEX_COMPACT_H
#define STELE_INDEX_COMPACT_H

/* The merger thread's body (arg: the stele_index_t). index.c starts it at open of a writable
 * index; it returns when the index is stopping or a background error is set. A merge under way
 * gives up (STELE_ECLOSED, not an error) when idx->cancel is set. */
void *stele__compact_main(void *arg);

#endif
