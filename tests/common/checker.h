/*
 * checker.h -- the reusable acknowledgement checker of the crash and fault tests (TESTING.md).
 *
 * A client records, for every append it makes, an "intent" (the ids of all its events, before the
 * call) and, when the call returns 0, an "ack" per event (stream, version, position, event id,
 * SHA-256 of type + data + metadata). Records may live in memory only or also in an ack-log file
 * (one line per record, written with one write() on an O_APPEND descriptor, so that a process
 * killed with SIGKILL leaves only whole lines, or a last partial line that is ignored).
 *
 * After the fault and a reopen, chk_verify() checks the store against what was recorded:
 *   - every acknowledged event is present at its acknowledged stream version and position, byte
 *     for byte (same id, stream, version, digest of type + data + metadata);
 *   - $all holds positions 1..head, gap-free, and every read passes its checksum (a reader error
 *     is a violation);
 *   - no commit is partly visible: every intent's events are all present, consecutive, or none;
 *   - no event id appears twice (idempotent retries wrote nothing);
 *   - the index agrees with the log: every stream read through the index equals its events
 *     gathered by the $all scan (same versions, positions and ids, in order);
 *   - stele_verify() passes.
 *
 * Helpers for the tests (temporary directories, copies of store directories, a seeded random
 * generator, deterministic event payloads) are declared here too. Every name starts with chk_.
 */
#ifndef STELE_TEST_CHECKER_H
#define STELE_TEST_CHECKER_H

#include "stele.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- seeded random numbers (splitmix64) ------------------------------------------------------ */

typedef struct chk_rng {
    uint64_t s;
} chk_rng_t;

/* The run's seed: STELE_TEST_SEED if set (decimal or 0x hex), else from the clock. Printed as
 * "<name>: seed N (replay with STELE_TEST_SEED=N)". */
uint64_t chk_seed(const char *name);
uint64_t chk_rnd(chk_rng_t *r);
uint64_t chk_below(chk_rng_t *r, uint64_t n); /* uniform in [0, n) (n >= 1) */

/* True in a sanitizer build (ASan/UBSan/TSan), where tests may scale counts down. */
bool chk_sanitized(void);
/* An integer from the environment, or def. */
uint64_t chk_env_u64(const char *name, uint64_t def);

/* ---- files ----------------------------------------------------------------------------------- */

/* A fresh directory under $STELE_TEST_TMP (or /tmp): "<root>/<tag>.XXXXXX". */
void chk_tmpdir(char *out, size_t size, const char *tag);
/* rm -rf path (no error when missing). */
void chk_rmtree(const char *path);
/* cp -r from to (to must not exist): plain byte copies, no reflinks. A file that vanishes meanwhile
 * (a live store removed it, as a merge or a segment preparation does) is not copied, as a crash at
 * that moment would not leave it. Returns 0 or -errno. */
int chk_copytree(const char *from, const char *to);
/* Whole file into a malloc'd buffer; returns 0 or -errno. */
int chk_read_file(const char *path, uint8_t **buf, size_t *len);
/* Path of the segment file with the largest first position in dir/log (the active one), or of
 * the i-th segment when i >= 0 (sorted); 0 on success. *count receives the number of segments. */
int chk_segment_path(const char *store_dir, int i, char *out, size_t size, size_t *count);

/* A file table like the POSIX one whose sync and directory sync do nothing: for tests of recovery
 * logic (torn tails, bit flips) where durability is not what is tested and fsyncs cost time. */
const struct stele_vfs *chk_nosync_vfs(void);

/* ---- deterministic events -------------------------------------------------------------------- */

/* One event whose type, data (JSON, 0..CHK_PAD_MAX padding bytes) and metadata are a function of
 * its id, so that a retry can rebuild it and a check can recompute its digest. Storage is inside
 * the struct. */
#define CHK_PAD_MAX 200u
typedef struct chk_event {
    stele_event_in_t in;
    char type[16];
    char data[CHK_PAD_MAX + 96];
    char meta[64];
} chk_event_t;

void chk_event_make(chk_event_t *e, const stele_uuid_t *id);
/* SHA-256 over type, data and metadata (each with its length). */
void chk_digest(const char *type, size_t type_len, const void *data, size_t data_len,
                const void *meta, size_t meta_len, uint8_t out[32]);

/* ---- the checker ----------------------------------------------------------------------------- */

typedef struct chk chk_t;

/* A checker; with log_path it appends every record to that file too (O_APPEND; created). */
chk_t *chk_new(const char *log_path);
void chk_free(chk_t *c);
/* Read the records of an ack-log file (whole lines only) into c. Returns 0 or -errno. */
int chk_load(chk_t *c, const char *log_path);

/* Before an append or commit: the ids of all its events (parts in order). retry_ok marks an
 * intent whose parts all have exact expected versions (a later retry with the same ids is safe).
 * Returns the intent's number. */
uint64_t chk_intent(chk_t *c, const stele_append_part_t *parts, size_t nparts, bool retry_ok);
/* After a call returned 0: one ack per event, from the parts' results. Returns 0, or -1 (with a
 * message in chk_last_error()) when the result itself is inconsistent (e.g. an idempotent retry
 * reporting other positions than the first ack). */
int chk_ack(chk_t *c, const stele_append_part_t *parts, size_t nparts);

typedef struct chk_stats {
    uint64_t acked;   /* distinct acknowledged events */
    uint64_t intents; /* intents recorded */
    uint64_t unknown; /* intents without an ack (outcome unknown) */
    uint64_t head;    /* head position seen by the last verify */
    uint64_t streams; /* streams compared through the index */
} chk_stats_t;

/* Run every check against an open store. Returns 0, or -1 with the first violation in
 * chk_last_error(). */
int chk_verify(chk_t *c, stele_store_t *s);
const char *chk_last_error(const chk_t *c);
void chk_get_stats(const chk_t *c, chk_stats_t *out);

/* Intents without an ack whose retry is safe; calls fn for each (stops on a non-zero return). The
 * parts handed to fn are rebuilt from the intent (ids and payloads); expected versions are those of
 * the original call. */
int chk_for_each_unknown(chk_t *c, int (*fn)(void *arg, stele_append_part_t *parts, size_t n),
                         void *arg);

/* The usual retry of unknown outcomes: commit each with its original ids and expected versions,
 * acknowledge it in the checker, count what was retried and what the store found already written.
 */
typedef struct chk_retry {
    stele_store_t *s;
    chk_t *c;
    uint64_t retried, idempotent;
    char err[512]; /* what went wrong, when it returns non-zero */
} chk_retry_t;
int chk_retry_one(void *arg, stele_append_part_t *parts, size_t n);

/* Retry up to max acknowledged intents, picked at random, with their ids and payloads and expected
 * version any (whatever they were sent with): each must be answered idempotently with its
 * acknowledged versions and positions, and write nothing (exact idempotency by event id, which
 * must hold after any crash: the event-id index catches up from the log at open). *retried counts
 * them. Returns 0, or -1 with the violation in err. */
int chk_retry_acked(chk_t *c, stele_store_t *s, chk_rng_t *rng, size_t max, uint64_t *retried,
                    char *err, size_t err_size);

/* ---- a snapshot of a store, for comparisons -------------------------------------------------- */

/* Head position and hash of a closed store directory (opens it read-only). 0 or an error. */
int chk_dir_digest(const char *dir, uint64_t *position, uint8_t hash[32]);

#endif
