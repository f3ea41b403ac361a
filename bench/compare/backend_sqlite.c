/*
 * backend_sqlite.c -- a plain SQLite event table for stele-compare: what many users would write
 * themselves instead of using an event store.
 *
 *   events(position INTEGER PRIMARY KEY, stream TEXT, version INTEGER, type TEXT, data TEXT,
 *          UNIQUE(stream, version))
 *
 * WAL mode, synchronous=FULL (the WAL is synced at every commit), one connection per client with a
 * long busy timeout so concurrent writers wait for the write lock instead of failing. An append is
 * one BEGIN IMMEDIATE transaction that reads the stream's last version, checks the expectation and
 * inserts; a multi-stream commit is the same for several streams in one transaction. Positions are
 * the rowids: writers are serialized by SQLite's write lock, so they are gap-free and committed in
 * order. A subscription is a thread polling for `position > last` every millisecond, which is what
 * a user of a plain table has (SQLite has no change notification across connections).
 */
#include "backend.h"
#include "proc.h"

#include <sqlite3.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 60000
#define POLL_INTERVAL_NS 1000000L /* the subscription's poll period: 1 ms */
#define POLL_BATCH 1000           /* rows per poll at most */

struct benv {
    char path[PATH_MAX];
    sqlite3 *db; /* held open for the whole run so the WAL is not reset between workloads */
};

struct bconn {
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *rollback, *last, *insert, *all, *stream;
};

struct bsub {
    sqlite3 *db;
    sqlite3_stmt *poll;
    bdeliver_fn fn;
    void *arg;
    int64_t after; /* last position delivered */
    atomic_int stop;
    pthread_t thread;
};

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS events ("
                             " position INTEGER PRIMARY KEY,"
                             " stream TEXT NOT NULL,"
                             " version INTEGER NOT NULL,"
                             " type TEXT NOT NULL,"
                             " data TEXT NOT NULL,"
                             " UNIQUE (stream, version))";

static int db_fail(char *err, sqlite3 *db, const char *what) {
    return backend_fail(err, "sqlite %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Opens a connection to path with the settings every connection needs. */
static int open_db(const char *path, bool create, sqlite3 **out, char *err) {
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        int rc = db_fail(err, db, "open");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    /* synchronous is a per-connection setting: FULL syncs the WAL at every commit */
    if (sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = db_fail(err, db, "PRAGMA synchronous=FULL");
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, char *err) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK) {
        return backend_fail(err, "sqlite prepare \"%s\": %s", sql, sqlite3_errmsg(db));
    }
    return 0;
}

static bool sq_available(char *err) {
    if (!sqlite3_threadsafe()) {
        backend_fail(err, "the SQLite library was built without thread support");
        return false;
    }
    return true;
}

static int journal_wal(sqlite3 *db, char *err) {
    sqlite3_stmt *st = NULL;
    if (prepare(db, "PRAGMA journal_mode=WAL", &st, err) != 0) {
        return -1;
    }
    int rc = sqlite3_step(st);
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    bool wal = mode && strcmp((const char *)mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        return backend_fail(err, "sqlite refused WAL mode (journal_mode is %s)",
                            mode ? (const char *)mode : "unknown");
    }
    return 0;
}

static int sq_setup(const char *dir, benv_t **out, char *err) {
    benv_t *env = calloc(1, sizeof *env);
    if (!env) {
        return backend_fail(err, "out of memory");
    }
    int n = snprintf(env->path, sizeof env->path, "%s/events.db", dir);
    if (n < 0 || (size_t)n >= sizeof env->path) {
        free(env);
        return backend_fail(err, "directory name too long: %s", dir);
    }
    if (open_db(env->path, true, &env->db, err) != 0) {
        free(env);
        return -1;
    }
    if (journal_wal(env->db, err) != 0) {
        goto fail;
    }
    if (sqlite3_exec(env->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(err, env->db, "creating the events table");
        goto fail;
    }
    *out = env;
    return 0;
fail:
    sqlite3_close(env->db);
    free(env);
    return -1;
}

static void sq_teardown(benv_t *env) {
    if (env) {
        sqlite3_close(env->db);
        free(env);
    }
}

/* Every connection is closed by then (the driver's and the subscriptions'): closing the last one
 * checkpoints the WAL into the database, as an application's exit would; then one is opened. */
static int sq_reopen(benv_t *env, char *err) {
    int rc = sqlite3_close(env->db);
    if (rc != SQLITE_OK) {
        return backend_fail(err, "sqlite close: %s", sqlite3_errstr(rc));
    }
    env->db = NULL;
    return open_db(env->path, false, &env->db, err);
}

/* In-process: the benchmark's own resident memory, SQLite's page caches included. */
static uint64_t sq_rss_kib(benv_t *env) {
    (void)env;
    return proc_pid_rss_kib(getpid());
}

static void close_conn(bconn_t *c) {
    sqlite3_stmt *all[] = {c->begin, c->commit, c->rollback, c->last, c->insert, c->all, c->stream};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        sqlite3_finalize(all[i]);
    }
    sqlite3_close(c->db);
    free(c);
}

static int sq_connect(benv_t *env, bconn_t **out, char *err) {
    bconn_t *c = calloc(1, sizeof *c);
    if (!c) {
        return backend_fail(err, "out of memory");
    }
    if (open_db(env->path, false, &c->db, err) != 0) {
        free(c);
        return -1;
    }
    if (prepare(c->db, "BEGIN IMMEDIATE", &c->begin, err) != 0 ||
        prepare(c->db, "COMMIT", &c->commit, err) != 0 ||
        prepare(c->db, "ROLLBACK", &c->rollback, err) != 0 ||
        prepare(c->db, "SELECT max(version) FROM events WHERE stream = ?1", &c->last, err) != 0 ||
        prepare(c->db, "INSERT INTO events (stream, version, type, data) VALUES (?1, ?2, ?3, ?4)",
                &c->insert, err) != 0 ||
        prepare(c->db, "SELECT position, stream, version, type, data FROM events ORDER BY position",
                &c->all, err) != 0 ||
        prepare(c->db, "SELECT version, type, data FROM events WHERE stream = ?1 ORDER BY version",
                &c->stream, err) != 0) {
        close_conn(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void sq_disconnect(bconn_t *c) {
    if (c) {
        close_conn(c);
    }
}

/* Runs a statement without result rows. */
static int run(bconn_t *c, sqlite3_stmt *st, const char *what, char *err) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_fail(err, c->db, what);
}

/* One stream's part, inside the caller's transaction: 0, BACKEND_CONFLICT (with the actual
 * version in *version) or -1. On success *version is the stream's new last version. */
static int append_part(bconn_t *c, const char *stream, int64_t expected, const bevent_t *events,
                       size_t count, int64_t *version, char *err) {
    sqlite3_bind_text(c->last, 1, stream, -1, SQLITE_STATIC);
    int rc = sqlite3_step(c->last);
    int64_t current = -1;
    if (rc == SQLITE_ROW && sqlite3_column_type(c->last, 0) != SQLITE_NULL) {
        current = sqlite3_column_int64(c->last, 0);
    }
    sqlite3_reset(c->last);
    if (rc != SQLITE_ROW) {
        return db_fail(err, c->db, "reading the stream's version");
    }
    bool ok = expected == EXPECT_ANY || (expected == EXPECT_NO_STREAM && current < 0) ||
              (expected >= 0 && expected == current);
    if (!ok) {
        *version = current;
        return BACKEND_CONFLICT;
    }
    for (size_t i = 0; i < count; i++) {
        sqlite3_bind_text(c->insert, 1, stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(c->insert, 2, current + 1 + (int64_t)i);
        sqlite3_bind_text(c->insert, 3, events[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_text(c->insert, 4, events[i].data, (int)events[i].data_len, SQLITE_STATIC);
        rc = sqlite3_step(c->insert);
        sqlite3_reset(c->insert);
        if (rc == SQLITE_CONSTRAINT) {
            *version = current;
            return BACKEND_CONFLICT; /* cannot happen under BEGIN IMMEDIATE; kept as the check */
        }
        if (rc != SQLITE_DONE) {
            return db_fail(err, c->db, "inserting an event");
        }
    }
    *version = current + (int64_t)count;
    return 0;
}

/* Ends the transaction: COMMIT when rc is 0, else ROLLBACK; returns rc or -1. */
static int finish(bconn_t *c, int rc, char *err) {
    if (rc == 0) {
        return run(c, c->commit, "COMMIT", err);
    }
    char keep[BACKEND_ERR_CAP];
    snprintf(keep, sizeof keep, "%s", err);
    if (run(c, c->rollback, "ROLLBACK", err) != 0) {
        return -1;
    }
    snprintf(err, BACKEND_ERR_CAP, "%s", keep);
    return rc;
}

static int sq_append(bconn_t *c, const char *stream, int64_t expected, const bevent_t *events,
                     size_t count, int64_t *last_version, char *err) {
    if (run(c, c->begin, "BEGIN IMMEDIATE", err) != 0) {
        return -1;
    }
    int64_t version = -1;
    int rc = finish(c, append_part(c, stream, expected, events, count, &version, err), err);
    /* beyond backend.h: on BACKEND_CONFLICT this is the stream's actual version */
    if ((rc == 0 || rc == BACKEND_CONFLICT) && last_version) {
        *last_version = version;
    }
    return rc;
}

static int sq_commit(bconn_t *c, const bpart_t *parts, size_t nparts, char *err) {
    if (run(c, c->begin, "BEGIN IMMEDIATE", err) != 0) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < nparts && rc == 0; i++) {
        int64_t version;
        rc = append_part(c, parts[i].stream, parts[i].expected, parts[i].events, parts[i].count,
                         &version, err);
    }
    return finish(c, rc, err);
}

static int sq_read_all(bconn_t *c, uint64_t *events, uint64_t *bytes, char *err) {
    uint64_t n = 0, b = 0;
    int rc;
    while ((rc = sqlite3_step(c->all)) == SQLITE_ROW) {
        /* fetch every column, as a reader of events would */
        (void)sqlite3_column_int64(c->all, 0);
        (void)sqlite3_column_text(c->all, 1);
        (void)sqlite3_column_int64(c->all, 2);
        (void)sqlite3_column_text(c->all, 3);
        (void)sqlite3_column_text(c->all, 4);
        b += (uint64_t)sqlite3_column_bytes(c->all, 4);
        n++;
    }
    sqlite3_reset(c->all);
    if (rc != SQLITE_DONE) {
        return db_fail(err, c->db, "reading all events");
    }
    *events += n;
    *bytes += b;
    return 0;
}

static int sq_read_stream(bconn_t *c, const char *stream, size_t *count, char *err) {
    size_t n = 0;
    int rc;
    sqlite3_bind_text(c->stream, 1, stream, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(c->stream)) == SQLITE_ROW) {
        (void)sqlite3_column_int64(c->stream, 0);
        (void)sqlite3_column_text(c->stream, 1);
        (void)sqlite3_column_text(c->stream, 2);
        n++;
    }
    sqlite3_reset(c->stream);
    if (rc != SQLITE_DONE) {
        return db_fail(err, c->db, "reading a stream");
    }
    *count = n;
    return 0;
}

static void *poll_main(void *arg) {
    bsub_t *s = arg;
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        int found = 0, rc;
        sqlite3_bind_int64(s->poll, 1, s->after);
        while ((rc = sqlite3_step(s->poll)) == SQLITE_ROW) {
            s->after = sqlite3_column_int64(s->poll, 0);
            const char *data = (const char *)sqlite3_column_text(s->poll, 1);
            int len = sqlite3_column_bytes(s->poll, 1);
            s->fn(s->arg, (uint64_t)s->after, data ? data : "", (size_t)len);
            found++;
        }
        sqlite3_reset(s->poll);
        if (rc != SQLITE_DONE) {
            /* the driver sees the missing deliveries; say why here */
            fprintf(stderr, "stele-compare: sqlite subscription poll: %s\n", sqlite3_errmsg(s->db));
            break;
        }
        if (found < POLL_BATCH) {
            struct timespec ts = {0, POLL_INTERVAL_NS};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

static void close_sub(bsub_t *s) {
    sqlite3_finalize(s->poll);
    sqlite3_close(s->db);
    free(s);
}

static int sq_subscribe(benv_t *env, bdeliver_fn fn, void *arg, bsub_t **out, char *err) {
    bsub_t *s = calloc(1, sizeof *s);
    if (!s) {
        return backend_fail(err, "out of memory");
    }
    s->fn = fn;
    s->arg = arg;
    atomic_init(&s->stop, 0);
    if (open_db(env->path, false, &s->db, err) != 0) {
        free(s);
        return -1;
    }
    sqlite3_stmt *head = NULL;
    if (prepare(s->db, "SELECT coalesce(max(position), 0) FROM events", &head, err) != 0) {
        close_sub(s);
        return -1;
    }
    int rc = sqlite3_step(head);
    if (rc == SQLITE_ROW) {
        s->after = sqlite3_column_int64(head, 0);
    }
    sqlite3_finalize(head);
    if (rc != SQLITE_ROW) {
        db_fail(err, s->db, "reading the head position");
        close_sub(s);
        return -1;
    }
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT position, data FROM events WHERE position > ?1 ORDER BY position LIMIT %d",
             POLL_BATCH);
    if (prepare(s->db, sql, &s->poll, err) != 0) {
        close_sub(s);
        return -1;
    }
    int e = pthread_create(&s->thread, NULL, poll_main, s);
    if (e != 0) {
        close_sub(s);
        return backend_fail(err, "cannot start the polling thread: %s", strerror(e));
    }
    *out = s;
    return 0;
}

static void sq_unsubscribe(bsub_t *s) {
    if (s) {
        atomic_store_explicit(&s->stop, 1, memory_order_release);
        pthread_join(s->thread, NULL);
        close_sub(s);
    }
}

const backend_t backend_sqlite = {
    .name = "sqlite",
    .durability = "WAL fsync per transaction (synchronous=FULL); subscriber polls every 1 ms",
    .available = sq_available,
    .setup = sq_setup,
    .teardown = sq_teardown,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .append = sq_append,
    .commit = sq_commit,
    .read_all = sq_read_all,
    .read_stream = sq_read_stream,
    .subscribe = sq_subscribe,
    .unsubscribe = sq_unsubscribe,
    .reopen = sq_reopen,
    .rss_kib = sq_rss_kib,
};
