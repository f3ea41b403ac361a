/*
 * stele.h -- the public API of libstele, the embeddable event store.
 *
 * This header is the whole contract between libstele and its users (the `stele` CLI, the `steled`
 * server and any embedding application). It reads as the reference manual: every function states
 * who owns each pointer, how long a borrowed result stays valid, whether it is thread-safe, and
 * which error codes it returns.
 *
 * The model
 * ---------
 * A store is a directory holding one append-only, totally ordered, durable log of events. Every
 * event belongs to a stream (one per aggregate instance, e.g. "order-42"), has a 0-based gap-free
 * version inside its stream and a 1-based gap-free position in the global log ("$all"). An append
 * adds 1..N events to one stream atomically; a commit adds events to several streams atomically.
 * Each stream part carries an expected version for optimistic concurrency.
 *
 * Errors
 * ------
 * Fallible functions return int: 0 (STELE_OK) on success, a negative code on failure. Codes in
 * [-4095, -1] are negated errno values from the operating system (-EIO, -ENOSPC, ...); codes at or
 * below STELE_ERR_BASE are Stele's own. stele_strerror() names every code, and stele_errdetail()
 * returns a sentence naming the exact problem of the last failure on the calling thread. The
 * table of every code (its text, and the HTTP status, CLI exit status and gRPC status Stele's
 * programs give it) is stele_errors.h.
 *
 * STELE_EPOISONED: after a failed write or sync every append fails until the store is reopened.
 * After the derived state failed to follow the log (an index update or a reindex failed), appends
 * and everything that answers through the index or the catalogue (one-stream reads and
 * subscriptions, stream info, lists and metadata) return it until a reopen or a successful
 * stele_reindex(); $all reads keep working.
 *
 * Threads
 * -------
 * A stele_store_t may be used from any number of threads at once. Appends from all threads are
 * queued to one writer thread that batches them under one fdatasync (group commit). Readers,
 * subscriptions and stream lists are per-thread objects: one object must not be used by two threads
 * at the same time, but any number of them may be open on one store.
 *
 * Structs that grow
 * -----------------
 * The options structs (stele_options_t, stele_read_options_t, stele_subscribe_options_t) carry
 * their size in struct_size, set by their _init() function, so that fields can be added without
 * breaking programs built against an older header. The output structs that may grow
 * (stele_stats_t, stele_stream_info_t, stele_verify_report_t) carry it as their first field too:
 * the caller sets it to sizeof before the call, e.g. `stele_stats_t st = {.struct_size = sizeof
 * st};`. The library fills min(the caller's size, its own) bytes and sets struct_size to that, so
 * a program built against an older stele.h never has bytes written past its struct, and one built
 * against a newer stele.h learns from struct_size which fields an older library filled. A
 * struct_size below the struct's first version (0: not set) is STELE_EINVAL and nothing is filled.
 * stele_event_t and stele_append_result_t are fixed: an event is filled once per event on the
 * read path, and results live in arrays of stele_append_part_t; a new field of theirs would come
 * with a new call.
 */
#ifndef STELE_H
#define STELE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* STELE_API marks the functions libstele exports. libstele is built with -fvisibility=hidden, so
 * its internal stele__ functions stay inside it; libstele.so exports exactly the functions this
 * header declares, and a test (build/exports) checks that. */
#if defined(__GNUC__) || defined(__clang__)
#define STELE_API __attribute__((visibility("default")))
#else
#define STELE_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Version. The build checks that these match project(VERSION) in CMakeLists.txt; the calls below
 * give the version of the library actually loaded, which may differ from the header a program was
 * compiled with (a newer libstele.so keeps the calls and struct layouts of the older ones).
 * ------------------------------------------------------------------------------------------- */

#define STELE_VERSION_MAJOR 0
#define STELE_VERSION_MINOR 1
#define STELE_VERSION_PATCH 0
#define STELE_VERSION_STRING "0.1.0"
/* One number that orders versions: 0x00MMmmpp (major, minor, patch), e.g. 0x000100 for 0.1.0. */
#define STELE_VERSION_NUMBER                                                    \
    ((uint32_t)STELE_VERSION_MAJOR << 16 | (uint32_t)STELE_VERSION_MINOR << 8 | \
     (uint32_t)STELE_VERSION_PATCH)

/* The loaded library's version as "major.minor.patch" (STELE_VERSION_STRING when it was built).
 * Never NULL; static storage. Thread-safe. */
STELE_API const char *stele_version(void);
/* The loaded library's version as STELE_VERSION_NUMBER was when it was built: compare it with the
 * header's STELE_VERSION_NUMBER to find a library older than the program. Thread-safe. */
STELE_API uint32_t stele_version_number(void);

/* ---------------------------------------------------------------------------------------------
 * Error codes
 * ------------------------------------------------------------------------------------------- */

#define STELE_OK 0
#define STELE_ERR_BASE (-10000)
#define STELE_EINVAL (-10001)      /* an argument is invalid (stele_errdetail() names it) */
#define STELE_ENAME (-10002)       /* invalid stream name */
#define STELE_ETYPE (-10003)       /* invalid event type */
#define STELE_EJSON (-10004)       /* data or metadata is not valid JSON (or metadata no object) */
#define STELE_ETOOBIG (-10005)     /* an event, an append or a name exceeds its limit */
#define STELE_EEMPTY (-10006)      /* an append or commit with no events */
#define STELE_ECONFLICT (-10007)   /* wrong expected version; nothing was written */
#define STELE_ENOTFOUND (-10008)   /* the stream (or the event id) does not exist */
#define STELE_EDELETED (-10009)    /* the stream was (soft) deleted */
#define STELE_ETOMBSTONED (-10010) /* the stream was tombstoned: closed for ever */
#define STELE_EIDREUSE (-10011)    /* an event id was already used for a different event */
#define STELE_ECORRUPT (-10012)    /* stored bytes fail their checksum or format check */
#define STELE_ENOTSTORE (-10013)   /* the directory is not a Stele store */
#define STELE_EVERSION (-10014)    /* the store was made by a newer, unknown format */
#define STELE_EPOISONED (-10015)   /* a write or sync failed earlier: reopen the store */
#define STELE_ECLOSED (-10016)     /* the store is closing */
#define STELE_ENOMEM (-10017)      /* out of memory */
#define STELE_ELOCKED (-10018)     /* another process has the store open */
#define STELE_ERESERVED (-10019)   /* names starting with '$' are reserved for the store */
#define STELE_EUUID (-10020)       /* invalid UUID text */
#define STELE_EREADONLY (-10021)   /* the store was opened read-only */
#define STELE_ETIME (-10022)       /* invalid time text */
#define STELE_EBUSY (-10023)       /* the append queue is full (asynchronous appends) */
#define STELE_EREJECTED (-10024)   /* a command rejected by its aggregate; nothing was written */

/* The name of an error code, e.g. "wrong expected version". Never NULL; static storage. */
STELE_API const char *stele_strerror(int code);

/* A sentence naming the exact problem of the last failed call on this thread, e.g.
 * "event 3: type is empty". Empty string when none. Valid until the next libstele call on this
 * thread. */
STELE_API const char *stele_errdetail(void);

/* Set this thread's detail sentence (printf format) and return code, so that code running inside
 * libstele's calls (an aggregate's callbacks, see "Command side") can say what went wrong:
 * `return stele_errdetail_set(STELE_EINVAL, "amount %d is negative", n);`. The text is cut at 511
 * bytes. fmt may refer to stele_errdetail() itself (to add context). Thread-safe (per thread). */
STELE_API int stele_errdetail_set(int code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---------------------------------------------------------------------------------------------
 * Limits. Every limit is checked before anything is written; exceeding one is STELE_ETOOBIG (or
 * STELE_ENAME / STELE_ETYPE for names).
 * ------------------------------------------------------------------------------------------- */

#define STELE_MAX_STREAM_NAME_BYTES 1024u
#define STELE_MAX_TYPE_BYTES 255u
#define STELE_MAX_DATA_BYTES (4u * 1024u * 1024u)    /* one event's data */
#define STELE_MAX_METADATA_BYTES (64u * 1024u)       /* one event's metadata */
#define STELE_MAX_EVENTS_PER_APPEND 10000u           /* all parts of one append or commit */
#define STELE_MAX_APPEND_BYTES (16u * 1024u * 1024u) /* encoded size of one append or commit */
#define STELE_MAX_COMMIT_STREAMS 100u                /* stream parts in one commit */
#define STELE_MIN_SEGMENT_BYTES ((uint64_t)1 << 20)  /* stele_options_t.segment_size_bytes */
#define STELE_MAX_SEGMENT_BYTES ((uint64_t)4 << 30)

/* ---------------------------------------------------------------------------------------------
 * Basic types
 * ------------------------------------------------------------------------------------------- */

typedef struct stele_store stele_store_t;

typedef struct stele_uuid {
    uint8_t bytes[16];
} stele_uuid_t;

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (case-insensitive, exactly 36 characters).
 * Returns 0 or STELE_EUUID. Thread-safe. */
STELE_API int stele_uuid_parse(const char *text, stele_uuid_t *out);
/* Write the 36-character lower-case form plus NUL into out. Thread-safe. */
STELE_API void stele_uuid_format(const stele_uuid_t *id, char out[37]);
/* A new time-ordered random UUID (version 7). Thread-safe. */
STELE_API void stele_uuid_generate(stele_uuid_t *out);
/* True when all 16 bytes are zero ("no id given"). */
STELE_API bool stele_uuid_is_nil(const stele_uuid_t *id);

/* Format nanoseconds since the Unix epoch as RFC 3339 UTC with 9 fraction digits,
 * "2026-11-22T13:15:00.123456789Z", into out (at least 36 bytes). Thread-safe. */
STELE_API void stele_time_format(int64_t unix_ns, char out[36]);
/* Parse RFC 3339 ("2026-11-22T13:15:00Z", optional fraction up to 9 digits, "Z" or +hh:mm/-hh:mm,
 * or a date "2026-11-22" meaning its midnight UTC). Returns 0 or STELE_ETIME. Thread-safe. */
STELE_API int stele_time_parse(const char *text, int64_t *unix_ns);

/* ---------------------------------------------------------------------------------------------
 * Opening a store
 * ------------------------------------------------------------------------------------------- */

typedef enum stele_durability {
    STELE_DURABILITY_SYNC = 0, /* acknowledge after fdatasync (default) */
    STELE_DURABILITY_ASYNC,    /* acknowledge after write; sync every sync_interval_ms */
    STELE_DURABILITY_NONE,     /* never sync (tests, throwaway data) */
} stele_durability_t;

#define STELE_OPEN_CREATE 0x1u /* create the store if the directory holds none */
/* Read-only, next to a writer: takes no lock (the store may be open for writing in another process,
 * e.g. a running steled) and writes, creates, renames, truncates and removes nothing in the store
 * directory; starts no thread. The store shows the log as it was at the open, up to its last whole,
 * checksummed commit (every commit acknowledged before the open began; a torn or half-written tail
 * is where it ends, never an error and never repaired); the head does not move afterwards. The
 * index entries of the log's tail stay in memory. Appends, metadata, deletes and stele_reindex()
 * return STELE_EREADONLY. What it sees and costs: docs/limits.md, "What a read-only open sees". */
#define STELE_OPEN_READONLY 0x2u
/* For stele_verify() on a damaged store: read-only, and damage in the middle of the log or a
 * proven loss of acknowledged events (which make a normal open fail with STELE_ECORRUPT) does not
 * fail the open. The store then ends at the last good commit before the damage, reads see that
 * prefix, and stele_verify() reports the damage as its first bad record. Implies READONLY, but
 * takes the store's lock (STELE_ELOCKED while a writer holds it): its verdicts are for a store no
 * one is writing. */
#define STELE_OPEN_VERIFY 0x4u

struct stele_vfs; /* the file table (src/os/vfs.h); NULL selects the POSIX one */

typedef struct stele_options {
    size_t struct_size;            /* sizeof(stele_options_t): set by stele_options_init() */
    uint32_t flags;                /* STELE_OPEN_* */
    stele_durability_t durability; /* default STELE_DURABILITY_SYNC */
    uint32_t sync_interval_ms;     /* ASYNC mode: at most this long between syncs (default 100) */
    uint64_t segment_size_bytes;   /* maximum size of a segment (default 64 MiB; 1 MiB..4 GiB):
                                    * see below */
    uint32_t queue_capacity;       /* appends waiting for the writer at most (default 4096) */
    const struct stele_vfs *vfs;   /* file table; NULL = POSIX. Must outlive the store. */
} stele_options_t;

/* Segments: the log is a series of segment files, each zero-filled before the writer uses it
 * (writing into zeros keeps fdatasync fast). A new store's first segment is 2 MiB (a quarter of
 * segment_size_bytes when that is below 8 MiB) and each next segment is twice the one before, up
 * to segment_size_bytes; so a new store takes a few MiB on disk (its first segment and the
 * prepared next one), not two segments of the maximum. segment_size_bytes is not recorded in the
 * store: it applies to the segments made while the store is open with it (a smaller value than
 * before makes the active segment roll sooner; each segment's own size is in its header). */

/* Fill o with the defaults. Always call this before setting fields. */
STELE_API void stele_options_init(stele_options_t *o);

/* Open (and with STELE_OPEN_CREATE, create) the store in directory dir. Recovers from any crash:
 * a torn tail of the log is cut back to the last whole commit, the index catches up from the log.
 * Corruption in the middle of the log is never cut: open fails with STELE_ECORRUPT and
 * stele_errdetail() names the place. Neither is a log that lost more than a torn last commit can
 * explain (a truncated or missing file, proven by the catalogue snapshot, a sealed segment's
 * offset index, a later segment or a segment's size): open fails with STELE_ECORRUPT naming the
 * position the log ends at and how many acknowledged events are missing (docs/design/recovery.md).
 * STELE_OPEN_VERIFY opens such a store for stele_verify(). STELE_OPEN_READONLY recovers nothing
 * and takes no lock (above). opts may be NULL for the defaults. On
 * success *out owns the store until stele_store_close(). Returns STELE_ENOTSTORE, STELE_EVERSION,
 * STELE_ELOCKED, STELE_ECORRUPT, STELE_EINVAL, STELE_ENOMEM or -errno. Thread-safe. */
STELE_API int stele_store_open(const char *dir, const stele_options_t *opts, stele_store_t **out);

/* Finish the appends already queued, stop the writer, persist the index and close. Open readers,
 * lists and subscriptions must be closed first (subscribers waiting in stele_subscription_next()
 * are woken with STELE_ECLOSED and waited for). NULL is a no-op. Returns 0 or the first error met
 * while closing: -errno (-EIO, -ENOSPC) from writing or syncing the index tables, the manifest or
 * the catalogue snapshot, or STELE_ENOMEM; the log is intact either way, and the next open
 * rebuilds what was not written. A poisoned store closes with 0. The handle is freed in every
 * case. Not to be called while another thread still uses the store. */
STELE_API int stele_store_close(stele_store_t *store);

/* ---------------------------------------------------------------------------------------------
 * Appending
 * ------------------------------------------------------------------------------------------- */

#define STELE_EXPECT_ANY (-2)           /* no check */
#define STELE_EXPECT_NO_STREAM (-1)     /* the stream must not exist (or be soft-deleted empty) */
#define STELE_EXPECT_STREAM_EXISTS (-4) /* the stream must exist */
/* Any value >= 0: the stream's last version must be exactly that. */

#define STELE_EVENT_BINARY 0x1u /* data is opaque bytes, not JSON */

typedef struct stele_event_in {
    const char *type;     /* NUL-terminated event type, 1..255 bytes of printable UTF-8 */
    const void *data;     /* JSON text (validated) unless STELE_EVENT_BINARY; may be NULL if 0 */
    size_t data_len;      /* <= STELE_MAX_DATA_BYTES */
    const void *metadata; /* JSON object text, or NULL */
    size_t metadata_len;  /* <= STELE_MAX_METADATA_BYTES */
    stele_uuid_t id;      /* the client's id for idempotent retries; nil = generate one */
    uint32_t flags;       /* STELE_EVENT_* */
} stele_event_in_t;

typedef struct stele_append_result {
    int64_t first_version;   /* version of the first event written */
    int64_t last_version;    /* version of the last event written (= the stream's version) */
    uint64_t first_position; /* position of the first event written */
    uint64_t last_position;  /* position of the last event written */
    int64_t actual_version;  /* on STELE_ECONFLICT: the stream's version then (-1: no stream) */
    bool idempotent;         /* the append was a retry of one already written: nothing written */
} stele_append_result_t;

/* Append count events to one stream atomically, with optimistic concurrency. Returns when the
 * events are durable (in SYNC mode: synced) and visible to readers, or with an error having written
 * nothing. One exception: when the derived state (index, catalogue) cannot follow a commit already
 * in the log (out of memory), the call fails, stele_errdetail() says the events were stored, and
 * the store is poisoned; the next open rebuilds the derived state from the log. On STELE_ECONFLICT
 * result->actual_version holds the stream's version. Retrying with the same event ids after an
 * unknown outcome returns the first result with result->idempotent set and writes nothing,
 * whatever the expected version and whatever was appended since: an id already stored is a retry
 * when every event of the append was stored, at consecutive positions in the same order, with the
 * same stream, type, data, metadata and flags. Otherwise an id already stored (another event, or
 * only some of the append's ids: a retry must repeat the whole append) is STELE_EIDREUSE, its
 * detail naming the id; an id given twice in one append or commit is STELE_EINVAL. Ids the store
 * generates (nil id) are new UUIDv7s and cost no look-up. The inputs are only borrowed during the
 * call; result may be NULL. Errors: STELE_ENAME, STELE_ERESERVED, STELE_ETYPE, STELE_EJSON,
 * STELE_ETOOBIG, STELE_EEMPTY, STELE_ECONFLICT, STELE_EIDREUSE, STELE_ETOMBSTONED, STELE_EPOISONED,
 * STELE_ECLOSED, STELE_EREADONLY, STELE_ENOMEM. Thread-safe. */
STELE_API int stele_append(stele_store_t *store, const char *stream, int64_t expected_version,
                           const stele_event_in_t *events, size_t count,
                           stele_append_result_t *result);

/* Check an append without a store, exactly as stele_append() checks its input before it reaches
 * the store: the stream name (a '$' name is STELE_ERESERVED), each event's type, sizes, flags and
 * JSON, the number of events and the encoded size. A program can so refuse bad input before it
 * opens, and so creates, a store. Not checked here: the expected version's value and anything
 * that depends on the store's contents. Returns 0 or the error stele_append() would return
 * (STELE_ENAME, STELE_ERESERVED, STELE_ETYPE, STELE_EJSON, STELE_ETOOBIG, STELE_EEMPTY,
 * STELE_EINVAL), with stele_errdetail() naming the problem. The inputs are only borrowed.
 * Thread-safe. */
STELE_API int stele_append_check(const char *stream, const stele_event_in_t *events, size_t count);

/* Check a stream name as appends, metadata writes and deletes check it, without a store: 0, or
 * STELE_ENAME (length, UTF-8, control characters, invisible or confusable code points) or
 * STELE_ERESERVED (a '$' name), with stele_errdetail() naming the problem. Thread-safe. */
STELE_API int stele_stream_name_check(const char *stream);

typedef struct stele_append_part {
    const char *stream;             /* in */
    int64_t expected_version;       /* in: STELE_EXPECT_* or >= 0 */
    const stele_event_in_t *events; /* in */
    size_t count;                   /* in: >= 1 */
    stele_append_result_t result;   /* out */
} stele_append_part_t;

/* Append to several streams in one atomic commit: all parts are written or none. A stream may
 * appear in one part only. On failure *failed_part (if not NULL) holds the index of the part at
 * fault, or count when no single part is. Errors: those of stele_append(), and STELE_EEMPTY for
 * count 0 or a NULL parts array, STELE_ETOOBIG for more than STELE_MAX_COMMIT_STREAMS parts,
 * STELE_EINVAL for a stream in two parts or an expected version that is none of the above.
 * Idempotency is decided per part as for stele_append(): a commit whose parts are all retries
 * answers the first results; one where some parts are retries and others are not is STELE_EIDREUSE.
 * Thread-safe. */
STELE_API int stele_commit(stele_store_t *store, stele_append_part_t *parts, size_t count,
                           size_t *failed_part);

/* Completion of an asynchronous append: status is 0 or an error (as for stele_commit()), detail
 * names the problem ("" on success), parts are the caller's, with their results filled, failed_part
 * is the part at fault (count when none). Called on the store's writer thread: it must be quick,
 * must not block, and must not append (hand the result to your own thread, e.g. an event loop). */
typedef void (*stele_append_cb)(void *arg, int status, const char *detail,
                                stele_append_part_t *parts, size_t count, size_t failed_part);

/* Like stele_commit(), without waiting: returns at once, and cb is called when the commit is
 * durable and visible, or failed. parts, their events and all they point to must stay valid until
 * cb is called. Returns 0 (cb will be called exactly once) or an error found before queueing
 * (validation errors as for stele_commit(), STELE_EBUSY when queue_capacity appends are already
 * waiting, STELE_EPOISONED, STELE_ECLOSED; then cb is never called, and *failed_part, if not
 * NULL, holds the part at fault or count). Thread-safe. */
STELE_API int stele_commit_async(stele_store_t *store, stele_append_part_t *parts, size_t count,
                                 stele_append_cb cb, void *arg, size_t *failed_part);

/* Called on the writer thread each time new events become visible, with the new head position:
 * for event loops that serve subscriptions without a thread each (stele_subscription_next with
 * timeout 0). The same rules as for a commit observer (below), of which it is one that looks only
 * at the head. Set it once, before any append; fn NULL removes it. */
STELE_API void stele_store_on_commit(stele_store_t *store, void (*fn)(void *arg, uint64_t head),
                                     void *arg);

/* ---- Commit observers ----------------------------------------------------------------------
 * An observer follows the log as it grows: it receives each batch of events the moment the batch
 * becomes visible (readable), with the positions and the (stream, version) of every event in it.
 * Meant for code that must follow commits without polling: a projection waiting for a position,
 * consumer groups, replication, a cache of aggregate state. */

#define STELE_MAX_OBSERVERS 64u /* observers registered at once on one store */

/* One event of a visible batch. */
typedef struct stele_commit_entry {
    const char *stream; /* borrowed; NOT NUL-terminated: stream_len bytes */
    size_t stream_len;
    int64_t version;   /* its version in the stream */
    uint64_t position; /* its position in $all */
} stele_commit_entry_t;

/* A batch: the events of one or more commits, written and synced together, visible together. */
typedef struct stele_commit_batch {
    uint64_t first_position;             /* first position of the batch */
    uint64_t last_position;              /* last position: the new visible head */
    size_t count;                        /* = last_position - first_position + 1 */
    const stele_commit_entry_t *entries; /* count entries in position order; borrowed */
} stele_commit_batch_t;

/* batch and everything it points to are borrowed for the duration of the call only: copy what
 * you keep. */
typedef void (*stele_observer_fn)(void *arg, const stele_commit_batch_t *batch);

/* Register fn(arg, batch) for every batch that becomes visible after the registration: exactly
 * once each, in position order, with no gap (the first batch it sees starts at *head + 1).
 * *id (required) receives the handle for stele_store_unobserve(); *head (may be NULL) the visible
 * head at registration, so a caller can read everything up to it and then follow the observer.
 * Returns 0, STELE_EINVAL (a NULL argument), STELE_ETOOBIG (STELE_MAX_OBSERVERS already
 * registered), STELE_ENOMEM. A store opened read-only commits nothing: its observers are never
 * called.
 *
 * Threads: observe and unobserve are thread-safe. fn runs on the store's writer thread, one batch
 * at a time, after the batch is visible to readers and before the writer takes the next batch, so
 * a slow observer slows every append: it must be quick and must not block. From fn you may read the
 * store (stele_read_*, stele_stream_info, ...: the batch is visible); you must not append or commit
 * (stele_append, stele_commit, stele_commit_async), observe, unobserve, set stele_store_on_commit
 * or close the store (each would wait for the writer thread, which is running fn). Observers that
 * need to do more hand the batch to a thread or event loop of their own. */
STELE_API int stele_store_observe(stele_store_t *store, stele_observer_fn fn, void *arg,
                                  uint64_t *id, uint64_t *head);

/* Remove observer id. When it returns, fn is not running and will never be called again, so arg
 * may be freed. Returns 0, or STELE_ENOTFOUND when no observer has that id (already removed).
 * Thread-safe, but never from an observer (see above). Observers still registered at
 * stele_store_close() are dropped with the store. */
STELE_API int stele_store_unobserve(stele_store_t *store, uint64_t id);

/* ---------------------------------------------------------------------------------------------
 * Reading
 * ------------------------------------------------------------------------------------------- */

typedef struct stele_event {
    uint64_t position;    /* 1-based position in $all */
    int64_t version;      /* 0-based version in its stream */
    int64_t time_ns;      /* recorded time, ns since the Unix epoch (UTC) */
    stele_uuid_t id;      /* event id */
    uint32_t flags;       /* STELE_EVENT_* */
    const char *stream;   /* NUL-terminated */
    size_t stream_len;    /* bytes, without the NUL */
    const char *type;     /* NUL-terminated */
    size_t type_len;      /* bytes, without the NUL */
    const void *data;     /* data bytes (JSON text unless STELE_EVENT_BINARY) */
    size_t data_len;      /* bytes */
    const void *metadata; /* JSON object text, or NULL when the event has none */
    size_t metadata_len;  /* bytes */
} stele_event_t;
/* All pointers in a stele_event_t are borrowed from the reader or subscription that filled it and
 * stay valid until its next call or its close, whichever comes first. */

typedef enum stele_direction {
    STELE_FORWARD = 0,
    STELE_BACKWARD = 1,
} stele_direction_t;

/* Server-side filters for $all reads and subscriptions. A zeroed filter passes every event of a
 * user stream; events of reserved '$' streams (metadata, deletions) pass only with include_system.
 * All given conditions must hold. */
typedef struct stele_filter {
    const char *type;          /* exact event type, or NULL */
    const char *type_prefix;   /* event type prefix, or NULL */
    const char *category;      /* stream category (the part of the name before its first '-') */
    const char *stream_prefix; /* stream name prefix, or NULL */
    const char *stream;        /* exact stream name, or NULL */
    int64_t since_ns;          /* time >= since_ns; 0 = unbounded */
    int64_t until_ns;          /* time <  until_ns; 0 = unbounded */
    bool include_system;       /* also pass events of streams whose name starts with '$' */
} stele_filter_t;

typedef struct stele_reader stele_reader_t;

/* Read one stream, from version from_version (inclusive) in direction dir, at most limit events
 * (0 = no limit). Backward reads with from_version < 0 start at the last event. Versions before
 * a soft delete are not returned. Returns 0, STELE_ENOTFOUND for a stream that never existed,
 * STELE_EDELETED / STELE_ETOMBSTONED for deleted ones, STELE_ENAME, STELE_EINVAL (NULL store or
 * out, a direction that is neither), STELE_EPOISONED (the index is known to miss commits),
 * STELE_ENOMEM or -errno. The reader
 * sees the events visible when it was opened. Thread-safe; the reader belongs to the caller until
 * stele_reader_close(). */
STELE_API int stele_read_stream(stele_store_t *store, const char *stream, int64_t from_version,
                                stele_direction_t dir, uint64_t limit, stele_reader_t **out);

typedef struct stele_read_options {
    size_t struct_size;     /* sizeof(stele_read_options_t): set by stele_read_options_init() */
    uint64_t from_position; /* forward: first position considered (0 or 1 = the start);
                               backward: last position considered (0 = the end) */
    stele_direction_t direction;
    uint64_t limit;        /* at most this many events (0 = no limit) */
    stele_filter_t filter; /* since/until are found by binary search, not by a scan */
} stele_read_options_t;

STELE_API void stele_read_options_init(stele_read_options_t *o);

/* Read $all with filters. Sees the events visible when it was opened. opts may be NULL (forward
 * from the start, no filter). Returns 0, STELE_EINVAL (NULL store or out, an unknown
 * opts->struct_size, a direction that is neither, until_ns not after since_ns), STELE_ENOMEM or
 * -errno (-EIO from a read). Works on a poisoned store. Thread-safe; the reader belongs to the
 * caller until stele_reader_close(). */
STELE_API int stele_read_all(stele_store_t *store, const stele_read_options_t *opts,
                             stele_reader_t **out);

/* Look an event up by its id (the event-id index: no scan). Returns 0 with *out a reader that
 * yields exactly that event, system events and events of deleted streams included (the log keeps
 * them), then ends; STELE_ENOTFOUND (detail naming the id) when no visible event has this id;
 * STELE_EINVAL for NULL arguments; STELE_EPOISONED while the index is known to miss commits
 * (reopen or reindex); STELE_ENOMEM. If an old store holds the id twice (written before ids were
 * checked), the first one is returned. Thread-safe; the reader belongs to the caller until
 * stele_reader_close(). */
STELE_API int stele_event_by_id(stele_store_t *store, const stele_uuid_t *id, stele_reader_t **out);

/* Next event of a reader: returns 1 with *ev filled, 0 at the end, or an error (STELE_ECORRUPT when
 * a record fails its checksum: never wrong bytes; -EIO). Not thread-safe per reader. */
STELE_API int stele_reader_next(stele_reader_t *reader, stele_event_t *ev);

/* NULL is a no-op. */
STELE_API void stele_reader_close(stele_reader_t *reader);

/* ---------------------------------------------------------------------------------------------
 * Streams
 * ------------------------------------------------------------------------------------------- */

typedef enum stele_stream_state {
    STELE_STREAM_ACTIVE = 0,
    STELE_STREAM_DELETED = 1,    /* soft deleted: hidden; an append recreates it */
    STELE_STREAM_TOMBSTONED = 2, /* closed for ever */
} stele_stream_state_t;

typedef struct stele_stream_info {
    /* Set to sizeof(stele_stream_info_t) before calling stele_stream_info(); see "Structs that
     * grow" above. In a list's entries the library sets it to its own size. */
    size_t struct_size;
    const char *name; /* borrowed (see each function) */
    stele_stream_state_t state;
    int64_t first_version;  /* first readable version (after a soft delete: the next version) */
    int64_t last_version;   /* -1 if no event was ever appended */
    uint64_t event_count;   /* readable events: last_version - first_version + 1 */
    uint64_t last_position; /* position of the last event */
    int64_t created_ns;     /* time of the first event */
    int64_t updated_ns;     /* time of the last event */
    /* The version of the stream's metadata: that of "$$<stream>", which holds its $metadata,
     * delete and tombstone events; -1 = none. See stele_stream_metadata_set_expect(). */
    int64_t metadata_version;
} stele_stream_info_t;

/* Info about one stream; out->name points at the stream argument. Set out->struct_size first
 * (see "Structs that grow"). Returns 0 (also for deleted and tombstoned streams: see out->state),
 * STELE_ENOTFOUND, STELE_ENAME, STELE_EINVAL (NULL store or out, or out->struct_size not set),
 * STELE_EPOISONED (the catalogue is known to miss commits). Thread-safe. */
STELE_API int stele_stream_info(stele_store_t *store, const char *stream, stele_stream_info_t *out);

typedef struct stele_stream_list stele_stream_list_t;

/* The streams whose names start with prefix (NULL or "" = all) and sort after `after` (NULL = from
 * the first), in byte order, at most limit (0 = all). Soft-deleted streams and reserved '$' streams
 * are left out unless include_hidden. The list is a snapshot owned by the caller until
 * stele_stream_list_free(); each entry's struct_size is the library's sizeof(stele_stream_info_t).
 * Returns 0, STELE_EINVAL (NULL store or out), STELE_EPOISONED or STELE_ENOMEM. Thread-safe. */
STELE_API int stele_stream_list(stele_store_t *store, const char *prefix, const char *after,
                                size_t limit, bool include_hidden, stele_stream_list_t **out);
STELE_API size_t stele_stream_list_count(const stele_stream_list_t *list);
/* Borrowed, valid until stele_stream_list_free(). i < count. */
STELE_API const stele_stream_info_t *stele_stream_list_get(const stele_stream_list_t *list,
                                                           size_t i);
STELE_API void stele_stream_list_free(stele_stream_list_t *list);

/* The stream's metadata JSON object. Its retention keys hide events from stele_read_stream and
 * from subscriptions to the stream (the log, and so $all, keeps them): max_count (keep the last N
 * versions, N >= 1), max_age (keep the events recorded in the last N seconds, N >= 1),
 * truncate_before (versions below N are hidden, N >= 0); null unsets a key. Any other keys are
 * free. *json_out is NUL-terminated, owned by the caller, freed with stele_free(); "{}"
 * when none was set. Returns 0, STELE_ENOTFOUND, STELE_ENAME, STELE_EINVAL (a NULL argument),
 * STELE_EPOISONED or STELE_ENOMEM. Thread-safe. */
STELE_API int stele_stream_metadata_get(stele_store_t *store, const char *stream, char **json_out);

/* Replace the stream's metadata with the JSON object json (recorded as an event of type
 * "$metadata" in the reserved stream "$$<stream>"). Durable like an append. A retention key whose
 * value is not a whole number in its range is STELE_EINVAL, naming the key; a tombstoned stream
 * is STELE_ETOMBSTONED. Errors as for stele_stream_metadata_set_expect() with
 * STELE_EXPECT_ANY. Thread-safe. */
STELE_API int stele_stream_metadata_set(stele_store_t *store, const char *stream, const char *json);

/* stele_stream_metadata_set() under optimistic concurrency: expected_version is checked against
 * the stream's metadata version (stele_stream_info_t.metadata_version, the version of
 * "$$<stream>", which every metadata write, soft delete and tombstone advances): a version >= 0,
 * STELE_EXPECT_ANY, STELE_EXPECT_NO_STREAM (nothing written yet) or STELE_EXPECT_STREAM_EXISTS.
 * The check runs on the writer thread with the write itself, so no other metadata write or
 * delete comes between. *version_out (may be NULL) is set to the new metadata version on
 * success, and to the actual one on STELE_ECONFLICT (-1 otherwise). The metadata of a tombstoned
 * stream cannot change: STELE_ETOMBSTONED (stele_stream_metadata_set() too). Returns 0,
 * STELE_ECONFLICT, STELE_ETOMBSTONED, STELE_EINVAL, STELE_EJSON, STELE_ENAME, STELE_ETOOBIG, or
 * an append's errors. Thread-safe. */
STELE_API int stele_stream_metadata_set_expect(stele_store_t *store, const char *stream,
                                               const char *json, int64_t expected_version,
                                               int64_t *version_out);

/* Delete a stream. Soft (tombstone = false): the stream is hidden and its events are no longer
 * readable through it; a later append recreates it and versions continue. Tombstone: closed for
 * ever, appends fail with STELE_ETOMBSTONED. Both are recorded in the log as events of the reserved
 * stream "$$<stream>" ($all still holds the original events). expected_version is checked as for
 * an append, but STELE_EXPECT_NO_STREAM is STELE_EINVAL (there is nothing to delete). Returns 0,
 * STELE_ENOTFOUND (no such stream), STELE_ECONFLICT, STELE_ETOMBSTONED (already tombstoned),
 * STELE_ENAME, STELE_EINVAL, or an append's errors (STELE_EREADONLY, STELE_EPOISONED,
 * STELE_ECLOSED, STELE_ENOMEM, -errno). Thread-safe. */
STELE_API int stele_stream_delete(stele_store_t *store, const char *stream,
                                  int64_t expected_version, bool tombstone);

/* Free memory that libstele handed to the caller. NULL is a no-op. */
STELE_API void stele_free(void *p);

/* Allocate through libstele's allocator (the one stele_free() releases, and the one whose failures
 * the tests inject): for memory handed to libstele to own, such as an aggregate's encoded state.
 * NULL when out of memory (size 0 allocates one byte). stele_realloc(NULL, n) is stele_malloc(n);
 * on failure it returns NULL and leaves p untouched. Thread-safe. */
STELE_API void *stele_malloc(size_t size);
STELE_API void *stele_realloc(void *p, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Subscriptions: history, then live events, in log order, no gap and no duplicate at the switch.
 * A subscription reads from the log, never from a queue: a slow subscriber costs no memory and
 * never blocks the writer.
 * ------------------------------------------------------------------------------------------- */

typedef struct stele_subscription stele_subscription_t;

typedef struct stele_subscribe_options {
    size_t struct_size;      /* sizeof(stele_subscribe_options_t): set by ..._init() */
    const char *stream;      /* one stream, or NULL for $all (then `filter` applies) */
    uint64_t after_position; /* deliver events with position > after_position */
    bool from_end;         /* start after the head at subscription time (ignores after_position) */
    stele_filter_t filter; /* for $all subscriptions */
} stele_subscribe_options_t;

STELE_API void stele_subscribe_options_init(stele_subscribe_options_t *o);

/* Subscribe to $all (opts->stream NULL: every event passing opts->filter, in position order) or
 * to one stream (opts->stream: its events in version order through the index; the filter is not
 * used, and events its retention metadata hides are skipped). Delivery starts after
 * opts->after_position (a $all position for both kinds; a position past the head counts as the
 * head), or after the head at the call with opts->from_end. The subscription first delivers the
 * history up to the head, then STELE_SUB_CAUGHT_UP once, then live events as commits become
 * visible, with no gap and no duplicate at the switch; only whole commits are ever seen. It reads
 * from the log: it holds no events in memory, and a subscriber that falls behind never slows the
 * writer. A stream that does not exist yet is no error: its first events are delivered when they
 * come. opts may be NULL (all of $all from the start, no filter); set it up with
 * stele_subscribe_options_init(). The strings in opts are copied. Returns 0 with *out owned by
 * the caller until stele_subscription_close(), STELE_EINVAL (NULL store or out, an unknown
 * opts->struct_size), STELE_ENAME (opts->stream), STELE_ENOMEM. Errors met later (STELE_ECORRUPT,
 * -EIO, STELE_EPOISONED for a one-stream subscription while the index misses commits) come from
 * stele_subscription_next() and stele_subscription_poll(). Thread-safe; each subscription is
 * used by one thread at a time (stele_subscription_cancel() excepted). */
STELE_API int stele_subscribe(stele_store_t *store, const stele_subscribe_options_t *opts,
                              stele_subscription_t **out);

#define STELE_SUB_TIMEOUT 0   /* nothing new within the timeout */
#define STELE_SUB_EVENT 1     /* *ev holds the next event */
#define STELE_SUB_CAUGHT_UP 2 /* history is delivered: from here on events are live (once) */
#define STELE_SUB_MORE 3      /* stele_subscription_poll(): the budget ran out before an event */

/* Wait at most timeout_ms (-1 = for ever, 0 = do not wait) for the next event. Returns
 * STELE_SUB_EVENT, STELE_SUB_CAUGHT_UP (once), STELE_SUB_TIMEOUT, STELE_ECLOSED when the store is
 * closing or the subscription was cancelled, or an error. Not thread-safe per subscription. */
STELE_API int stele_subscription_next(stele_subscription_t *sub, stele_event_t *ev, int timeout_ms);

/* Like stele_subscription_next() with timeout 0, with a bound on the work done: for event loops
 * that serve many subscriptions on one thread, where a filter that matches nothing would
 * otherwise scan the whole log in one call. Each log record examined (matching or not) takes one
 * from *budget; a one-stream subscription takes one per index entry, checked before each batch of
 * up to 64 entries, so it may examine up to 64 more than *budget. *budget (in/out, not NULL) is
 * decreased by the work done.
 * Returns STELE_SUB_EVENT, STELE_SUB_CAUGHT_UP (once), STELE_SUB_TIMEOUT (everything visible has
 * been examined), STELE_SUB_MORE (the budget ran out with records left to examine: the position is
 * kept, call again, e.g. on the next turn of the loop), STELE_ECLOSED, STELE_EINVAL (a NULL
 * argument) or a read error. Never waits. With *budget == 0 it returns STELE_SUB_MORE at once when
 * anything is left to examine. The event's pointers are borrowed as for stele_subscription_next().
 * Not thread-safe per subscription. */
STELE_API int stele_subscription_poll(stele_subscription_t *sub, stele_event_t *ev,
                                      uint64_t *budget);

/* Position of the last event delivered (or the start position). */
STELE_API uint64_t stele_subscription_position(const stele_subscription_t *sub);

/* Make a waiting or future stele_subscription_next() return STELE_ECLOSED. Thread-safe: the one
 * call that may come from another thread. */
STELE_API void stele_subscription_cancel(stele_subscription_t *sub);

/* NULL is a no-op. */
STELE_API void stele_subscription_close(stele_subscription_t *sub);

/* ---------------------------------------------------------------------------------------------
 * Integrity and maintenance
 * ------------------------------------------------------------------------------------------- */

/* The head: position of the last visible event (0 for an empty store) and the chained SHA-256 hash
 * of the last commit (32 zero bytes for an empty store), read together. Returns 0 or
 * STELE_EINVAL (a NULL argument). Thread-safe. */
STELE_API int stele_head_digest(stele_store_t *store, uint64_t *position, uint8_t hash[32]);

/* Progress callback for long work: done and total in the unit of the work (bytes or events). */
typedef void (*stele_progress_fn)(void *arg, uint64_t done, uint64_t total);

typedef struct stele_verify_report {
    size_t struct_size;    /* set to sizeof(stele_verify_report_t) before the call */
    uint64_t events;       /* records checked */
    uint64_t commits;      /* commits whose chain hash was recomputed */
    uint64_t segments;     /* segment files checked */
    uint64_t bytes;        /* log bytes checked */
    int error;             /* 0 when the whole log is good */
    uint64_t bad_position; /* the first bad record's expected position */
    uint64_t bad_segment;  /* first position of the segment holding it */
    uint64_t bad_offset;   /* byte offset in that segment */
    char message[256];     /* what is wrong there */
} stele_verify_report_t;

/* Recompute every checksum and the hash chain over the whole log, and check every index entry
 * against the log. Returns 0 when good, STELE_ECORRUPT with report->message naming the first bad
 * record, or another error when the check could not run (STELE_EINVAL: NULL store or report, or
 * report->struct_size not set; STELE_ENOMEM; -errno from a read). Set report->struct_size first
 * (see "Structs that grow"); the report is filled on 0 and on STELE_ECORRUPT. On a store opened
 * with STELE_OPEN_VERIFY, damage or a loss that open found is reported here (bad_position: the
 * first position bad or missing) when the log before it checks out. progress may be NULL.
 * Thread-safe (runs beside appends; checks the log up to the head at the call). */
STELE_API int stele_verify(stele_store_t *store, stele_progress_fn progress, void *arg,
                           stele_verify_report_t *report);

/* Rebuild the index and the stream catalogue from the log (invariant: everything but the log can
 * be rebuilt). Runs on the writer thread: appends wait while it runs. A successful rebuild clears
 * the poisoning left by a failed index update; a failed one poisons the store (one-stream reads,
 * stream info and lists then return STELE_EPOISONED until a reopen or a successful reindex).
 * progress (may be NULL) is called on the writer thread as the log is replayed. Returns
 * 0, STELE_EINVAL (NULL store), STELE_EREADONLY, STELE_EPOISONED (a failed write or sync: reopen
 * first), STELE_ECLOSED, STELE_ECORRUPT (a record fails its check), STELE_ENOMEM or -errno
 * (-EIO, -ENOSPC writing the index). Thread-safe. */
STELE_API int stele_reindex(stele_store_t *store, stele_progress_fn progress, void *arg);

/* Sync latency histogram of stele_stats: bucket i counts the fdatasync calls that took at most
 * STELE_SYNC_BUCKET_MIN_US << i microseconds (and more than the bucket before); the last bucket
 * counts every longer one. 64 us, 128 us, ... 65.5 ms, then the rest. */
#define STELE_SYNC_BUCKETS 12
#define STELE_SYNC_BUCKET_MIN_US 64

typedef struct stele_stats {
    size_t struct_size;     /* set to sizeof(stele_stats_t) before the call */
    uint64_t head_position; /* last visible position */
    uint64_t streams;       /* streams in the catalogue (including reserved and deleted) */
    uint64_t segments;      /* segment files */
    uint64_t log_bytes;     /* bytes of records in the log */
    uint64_t index_entries; /* entries in the index */
    uint64_t index_tables;  /* immutable index files */
    uint64_t appends;       /* appends acknowledged since open */
    uint64_t syncs;         /* fdatasync calls since open */
    uint64_t commits;       /* log commits (writer batches) since open */
    uint64_t sync_ns;       /* time spent in fdatasync since open, summed */
    uint64_t sync_latency[STELE_SYNC_BUCKETS]; /* fdatasync calls by duration (see above) */
    bool poisoned;                             /* a write or sync failed: appends are refused */
    stele_durability_t durability;
} stele_stats_t;

/* Figures of the store now: sizes, counters since open and the sync latency histogram (what
 * steled's /stats and /metrics show). Set out->struct_size first (see "Structs that grow"). The
 * counters are read one by one without stopping the writer, so two of them may be one batch
 * apart. Does not wait for queued appends; works on a poisoned or read-only store (poisoned tells).
 * Returns 0 or STELE_EINVAL (NULL store or out, or out->struct_size not set). Thread-safe. */
STELE_API int stele_stats(stele_store_t *store, stele_stats_t *out);

/* ---------------------------------------------------------------------------------------------
 * Command side: aggregates (src/domain/, docs/aggregates.md)
 *
 * An aggregate type says how the events of one entity's stream make its state (evolve) and which
 * events a command produces from that state, or why it is refused (decide). Executing a command
 * loads the state (replaying the stream "{name}-{id}" through evolve from the initial state),
 * decides, and appends the decided events with expected version = the loaded version, so that a
 * decision is only ever written against the state it was made on; on a conflict (another writer
 * appended in between) it loads again and decides again, a bounded number of times.
 *
 * State is opaque to the library: a void * that the type's callbacks create, change and free.
 * C types keep native structs; the JSON and Lua implementations keep their own values. encode and
 * decode turn a state into bytes and back (the type's own format) for snapshots and for handing a
 * state between threads.
 *
 * Idempotency: a command may carry a command id (a UUID chosen by the client). The ids of the
 * events it appends are derived from it (event i of command c gets a fixed function of c and i),
 * so a command id already executed is found with the event-id index, and the first result is
 * returned with nothing appended, also after a restart: after an error whose outcome is unknown
 * (STELE_EPOISONED, a crash), execute the same command with the same id again. A rejection
 * appends nothing and so is not remembered. Every event written by a command carries
 * in its metadata "command_id" and "causation_id" (both the command id, or a new UUIDv7 when the
 * command has none) and "command" (the command's name), followed by the members of the command's
 * own metadata object.
 * ------------------------------------------------------------------------------------------- */

#define STELE_MAX_AGGREGATE_NAME_BYTES 64u /* [A-Za-z0-9_.]: the part of the stream before '-' */
#define STELE_MAX_REJECTION_BYTES 1024u    /* a rejection's reason; longer reasons are cut */
#define STELE_MAX_COMMAND_RETRIES 1000u    /* stele_execute_options_t.max_retries */
#define STELE_DEFAULT_COMMAND_RETRIES 8u

typedef struct stele_aggregate stele_aggregate_t;
typedef struct stele_decision stele_decision_t;

/* A command, as decide receives it. Everything is borrowed from the caller for the call. */
typedef struct stele_command {
    const char *name;        /* e.g. "Withdraw": 1..255 bytes of UTF-8, no control characters */
    const void *data;        /* JSON text, or NULL when data_len is 0 (the library does not parse
                                it: decide does) */
    size_t data_len;         /* <= STELE_MAX_DATA_BYTES */
    const void *metadata;    /* a JSON object, or NULL: its members are added to the metadata of
                                every event the command appends; it must not contain the keys
                                "command_id", "causation_id" or "command" */
    size_t metadata_len;     /* the metadata written (these members and the library's keys:
                                about 110 bytes and the name) fits STELE_MAX_METADATA_BYTES */
    stele_uuid_t command_id; /* nil: none (the command is not idempotent) */
} stele_command_t;

/* The callbacks of an aggregate type. ctx is the definition's own pointer (a parsed JSON state
 * machine, a Lua script, or NULL), passed to every callback. Callbacks return 0 or a negative
 * STELE_E* code (stele_errdetail_set() names the problem; STELE_ENOMEM when out of memory); an
 * error ends the call that ran them with that code and nothing appended. They may be called from
 * any thread, concurrently for different states (never for the same state), and must not call
 * libstele functions on the store (stele_errdetail_set, stele_malloc, stele_free and the
 * stele_decision_* calls are fine). */
typedef struct stele_aggregate_def {
    size_t struct_size;          /* sizeof(stele_aggregate_def_t) */
    const char *name;            /* 1..STELE_MAX_AGGREGATE_NAME_BYTES of [A-Za-z0-9_.] */
    uint32_t definition_version; /* bumped when evolve/decide/encode change meaning: snapshots
                                    of another version are ignored */
    uint8_t definition_hash[32]; /* e.g. SHA-256 of a definition's text; zeros for none.
                                    Snapshots are tagged with it like the version. */
    void *ctx;
    /* *state = a new initial state (the state of an aggregate with no events). */
    int (*initial)(void *ctx, void **state);
    /* Apply one event of the aggregate's stream to *state: change it in place or replace it
     * (freeing the old one). On an error *state must still be a state free_state can free. Events
     * of types the aggregate does not know should be skipped, not refused (old streams). The
     * event is borrowed for the call. */
    int (*evolve)(void *ctx, void **state, const stele_event_t *event);
    /* Decide a command against state (read only): emit the events with stele_decision_emit(), or
     * refuse with stele_decision_reject(), then return 0. Returning 0 with neither is an error of
     * the type (STELE_EEMPTY). */
    int (*decide)(void *ctx, const void *state, const stele_command_t *command,
                  stele_decision_t *decision);
    void (*free_state)(void *ctx, void *state);
    /* *bytes = the state in the type's own format, allocated with stele_malloc() (the library
     * frees it with stele_free()), *len its size. */
    int (*encode)(void *ctx, const void *state, void **bytes, size_t *len);
    /* *state = the state encode produced bytes from. Bytes of another definition version never
     * reach it. */
    int (*decode)(void *ctx, const void *bytes, size_t len, void **state);
} stele_aggregate_def_t;

/* Create an aggregate type from def (copied: def and the name may be freed after the call; ctx is
 * kept and must outlive the type). Returns 0 with *out owned by the caller until
 * stele_aggregate_free(), or STELE_EINVAL (NULL def or out, a struct_size of no version, a name
 * that is empty, too long or not [A-Za-z0-9_.], a missing callback: detail names which),
 * STELE_ENOMEM. A type holds no store: one type serves any number of stores and threads. */
STELE_API int stele_aggregate_create(const stele_aggregate_def_t *def, stele_aggregate_t **out);
/* Free a type. No call using it may be running. NULL is a no-op. */
STELE_API void stele_aggregate_free(stele_aggregate_t *type);
/* The type's name (borrowed from the type). */
STELE_API const char *stele_aggregate_name(const stele_aggregate_t *type);

/* Write the stream name of aggregate id into out ("{name}-{id}", NUL-terminated, at most
 * STELE_MAX_STREAM_NAME_BYTES + 1 bytes with the NUL). Returns 0, STELE_EINVAL (NULL argument,
 * empty id, out_size too small) or the error of stele_stream_name_check() for the whole name
 * (STELE_ENAME: too long, control characters, invalid UTF-8, ...). Thread-safe. */
STELE_API int stele_aggregate_stream(const stele_aggregate_t *type, const char *id, char *out,
                                     size_t out_size);

/* Load aggregate id: the initial state, then every event of its stream through evolve, in order.
 * On 0, *state is owned by the caller (free it with stele_aggregate_state_free()) and *version is
 * the version of the last event applied (-1: the stream does not exist yet, *state is the initial
 * state). Returns 0, STELE_EINVAL (NULL argument), the errors of stele_aggregate_stream(),
 * STELE_EDELETED / STELE_ETOMBSTONED (the stream was deleted), the errors of stele_read_stream()
 * and stele_reader_next() (STELE_ECORRUPT, -EIO, STELE_EPOISONED, STELE_ENOMEM), or an error
 * returned by initial or evolve (detail prefixed with the stream and version). On an error
 * *state is NULL. Thread-safe. */
STELE_API int stele_aggregate_load(stele_store_t *store, const stele_aggregate_t *type,
                                   const char *id, void **state, int64_t *version);
/* Free a state of this type (free_state). NULL is a no-op. */
STELE_API void stele_aggregate_state_free(const stele_aggregate_t *type, void *state);

/* Inside decide: add an event to the decision (type and data are copied). data is JSON text
 * (checked when the decision is appended) or NULL with data_len 0 ("{}" is stored then). Returns
 * 0, STELE_EINVAL (NULL decision or type, or the decision was already rejected), STELE_ETOOBIG
 * (more than STELE_MAX_EVENTS_PER_APPEND events, or more than STELE_MAX_APPEND_BYTES of data in
 * all), STELE_ENOMEM. An invalid type or data is refused when the events are checked, before
 * anything is appended (STELE_ETYPE / STELE_EJSON naming the event). */
STELE_API int stele_decision_emit(stele_decision_t *decision, const char *type, const void *data,
                                  size_t data_len);
/* Inside decide: refuse the command, with a reason for the user (copied; cut at
 * STELE_MAX_REJECTION_BYTES on a UTF-8 boundary). Events already emitted are dropped. Returns 0,
 * STELE_EINVAL (NULL decision or reason, or an empty reason) or STELE_ENOMEM. */
STELE_API int stele_decision_reject(stele_decision_t *decision, const char *reason);

typedef struct stele_execute_options {
    size_t struct_size;   /* sizeof(stele_execute_options_t): set by stele_execute_options_init() */
    uint32_t max_retries; /* conflicts answered by loading and deciding again before giving up
                             with STELE_ECONFLICT; 0..STELE_MAX_COMMAND_RETRIES, default
                             STELE_DEFAULT_COMMAND_RETRIES */
} stele_execute_options_t;

STELE_API void stele_execute_options_init(stele_execute_options_t *o);

/* The outcome of stele_execute(). Set struct_size, call, then stele_command_result_clear(). */
typedef struct stele_command_result {
    size_t struct_size; /* in: sizeof(stele_command_result_t) */
    /* On 0: the events appended (or, when idempotent, appended by the command's first execution),
     * at consecutive versions and positions of the aggregate's stream. */
    size_t event_count;
    int64_t first_version;
    int64_t last_version;
    uint64_t first_position;
    uint64_t last_position;
    bool idempotent;   /* the command id was already executed: nothing was appended now */
    int64_t version;   /* the aggregate's version after the command (on STELE_EREJECTED: the
                          version the command was decided against) */
    void *state;       /* the state at `version`, owned by the result (NULL on errors other than
                          STELE_EREJECTED) */
    char *reason;      /* on STELE_EREJECTED: the reason decide gave (owned by the result) */
    uint32_t attempts; /* times the command was decided (1 + conflicts retried) */
    const stele_aggregate_t *type; /* set by the library, for stele_command_result_clear() */
} stele_command_result_t;

/* Free what a result owns (state, reason) and zero it but for struct_size. NULL is a no-op. */
STELE_API void stele_command_result_clear(stele_command_result_t *result);

/* Execute command on aggregate id: if the command has a command id that was already executed on
 * this aggregate, fill result with the first execution's events and the state just after them,
 * set result->idempotent and return 0, appending nothing. Otherwise load the aggregate, decide,
 * and append the decided events with expected version = the loaded version; on STELE_ECONFLICT
 * load, decide and append again, at most opts->max_retries more times. opts may be NULL
 * (defaults). The inputs are borrowed for the call; result (required, struct_size set) is filled
 * on 0 and on STELE_EREJECTED (then result->reason, result->state and result->version say why and
 * against what); otherwise only its struct_size, type and attempts are meaningful.
 *
 * Returns 0; STELE_EREJECTED (decide rejected the command; nothing appended); STELE_ECONFLICT
 * (still conflicting after max_retries retries; detail gives the attempts and versions; nothing
 * appended by this call); STELE_EINVAL (NULL argument, unknown struct_size, max_retries over
 * STELE_MAX_COMMAND_RETRIES, a command name that is empty, too long or has control characters,
 * command metadata holding a key the library sets); STELE_EJSON (command metadata not a JSON
 * object); STELE_ETOOBIG; STELE_EIDREUSE (the command id was executed on another aggregate, or as
 * another command); STELE_EEMPTY (decide returned neither events nor a rejection);
 * STELE_ETYPE / STELE_EJSON (a decided event's type or data is invalid: detail names the event);
 * the errors of stele_aggregate_load() and of stele_append() (STELE_ETOMBSTONED, STELE_EPOISONED,
 * STELE_ECLOSED, STELE_EREADONLY, STELE_ENOMEM, ...); or an error returned by a callback. Every
 * error but the last append's own outcome leaves the store unchanged; like stele_append(), an
 * error after the append reached the log says so in its detail. Thread-safe: commands on one
 * aggregate from several threads are serialised by the store's expected-version check (each
 * decision is written only against the state it was made on). */
STELE_API int stele_execute(stele_store_t *store, const stele_aggregate_t *type, const char *id,
                            const stele_command_t *command, const stele_execute_options_t *opts,
                            stele_command_result_t *result);

#ifdef __cplusplus
}
#endif

#endif /* STELE_H */
