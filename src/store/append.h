/*
 * append.h -- the request an append or commit becomes on its way to the writer thread.
 */
#ifndef STELE_STORE_APPEND_H
#define STELE_STORE_APPEND_H

#include "store/store.h"

#define STELE_INLINE_IDS 16

typedef struct stele_store_req stele_store_req_t;

/* A soft delete or tombstone, checked on the writer thread against the stream it deletes, so that
 * no append can come between the check and the delete. */
#define STELE_DELETE_DATA_BYTES 48
typedef struct stele_delete_check {
    const char *target; /* the stream deleted */
    int64_t expected;   /* its expected version (STELE_EXPECT_* or >= 0) */
    bool tombstone;
    bool metadata; /* not a delete but a metadata write: refused only when target is tombstoned */
    char *data;    /* the event's data: rewritten with the exact truncate_before, same length */
} stele_delete_check_t;

struct stele_store_req {
    stele_wreq_t w;
    stele_append_part_t *parts;
    size_t nparts;
    stele_uuid_t *ids;   /* final ids of every event, part after part */
    uint8_t *client_ids; /* per event, like ids: 1 when the client gave the id (looked up in the
                            event-id index), 0 when the store generated it (never looked up) */
    bool system;         /* may write reserved streams and types */
    const stele_delete_check_t *del; /* a delete to check against its stream, or NULL */
    size_t failed_part;
    char detail[256];
    /* maintenance work run alone on the writer thread instead of an append */
    int (*control)(stele_store_t *s, stele_store_req_t *r);
    void *control_arg;
    /* asynchronous appends (stele_commit_async) */
    stele_store_t *store;
    stele_append_cb async_cb;
    void *async_arg;
    stele_uuid_t inline_ids[STELE_INLINE_IDS];
    uint8_t inline_client[STELE_INLINE_IDS];
};

/* Validate parts (in the caller's thread), build the request and run it through the writer. */
int stele__store_submit(stele_store_t *s, stele_append_part_t *parts, size_t nparts, bool system,
                        const stele_delete_check_t *del, size_t *failed_part);

/* The data of a $deleted event: {"truncate_before":N} with N right-aligned in 20 columns, so that
 * it has one length whatever N is. */
void stele__delete_data(char *out, int64_t truncate_before);

/* Run control work alone on the writer thread. */
int stele__store_control(stele_store_t *s, int (*fn)(stele_store_t *, stele_store_req_t *),
                         void *arg);

#endif
