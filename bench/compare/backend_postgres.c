/*
 * backend_postgres.c -- stele-compare's PostgreSQL peer: the event table a user would write
 * themselves, on a throwaway server, through libpq.
 *
 * The server: initdb into <dir>/pgdata, then `postgres` started directly as a child of the
 * benchmark on a free 127.0.0.1 port (clients use TCP; the unix socket, if the path is short
 * enough, lives in <dir>), with the default durability stated explicitly (fsync=on,
 * synchronous_commit=on: the WAL is flushed before every commit returns) and max_connections=300
 * so 256 clients fit. PostgreSQL refuses to run as root, so when the benchmark is root the server
 * runs as the `postgres` account (else `nobody`): <dir> is chowned to it and every directory
 * above <dir> must be searchable by it. teardown does what `pg_ctl stop -m fast` does (SIGINT to
 * the postmaster, then wait); a killed benchmark takes the server down with it (SIGQUIT through
 * PR_SET_PDEATHSIG, see proc.h). <dir> is left for the driver to remove.
 *
 * The table:
 *   events(position bigint identity primary key, stream text, version bigint, type text,
 *          data json, UNIQUE (stream, version))
 * `position` comes from a sequence: it is unique and increasing in the order rows are inserted,
 * but neither gap-free (a rolled-back append burns its numbers) nor commit-ordered (a transaction
 * that took position 10 can commit after one that took 11). read_all orders by it; a subscriber
 * that reads "position > last seen" can therefore miss a row committed late by a concurrent
 * appender. Stele's positions (gap-free, in log order) have neither problem; a PostgreSQL user
 * would need extra machinery (e.g. a single writer, or transaction-id snapshots) to get them.
 * `data` is json: validated on insert and stored as written. Not jsonb, although event tables on
 * PostgreSQL often use it: jsonb hands back its own rendering (keys reordered, whitespace
 * changed), and the harness must read back the bytes it wrote (the subscription workload finds
 * its send time at the start of each event's data).
 *
 * Operations (every statement is prepared once per connection):
 *   append      one INSERT .. SELECT FROM unnest($types, $datas) WITH ORDINALITY: one statement,
 *               so one transaction, for any batch size; the arrays are sent in binary, so event
 *               data needs no escaping. Expected version v >= 0: the rows get versions v+1.. and
 *               are inserted only if (stream, v) exists; no row inserted, or a unique violation
 *               on (stream, version) from a concurrent appender, is BACKEND_CONFLICT.
 *               EXPECT_NO_STREAM inserts versions 0..; a unique violation is a conflict.
 *               EXPECT_ANY takes max(version)+1 inside the statement and retries on a unique
 *               violation.
 *   commit      BEGIN, the same statement per stream, COMMIT; any conflict rolls all back.
 *   read_all    keyset pages: position > last ORDER BY position LIMIT 10000.
 *   read_stream WHERE stream = $1 ORDER BY version (the UNIQUE index serves it).
 *   subscribe   LISTEN on a connection of its own and a thread that, on each notification,
 *               fetches position > last seen. The notification comes from a statement-level
 *               AFTER INSERT trigger (pg_notify at commit) that exists only while someone is
 *               subscribed: NOTIFY serialises committing transactions on a global lock, and the
 *               append figures, measured without a subscriber, should not pay for it.
 */
#include "backend.h"
#include "proc.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_PAGE_ROWS 10000
#define ANY_RETRIES 1000 /* EXPECT_ANY re-reads max(version) this often under contention */
#define START_ATTEMPTS 5 /* fresh ports tried when another process takes ours first */
#define INITDB_TIMEOUT_MS 120000
#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 60000

#define OID_INT8 20
#define OID_TEXT 25
#define OID_TEXT_ARRAY 1009

#define SQLSTATE_UNIQUE "23505"
#define SQLSTATE_DEADLOCK "40P01"

static const char *const pg_accounts[] = {"postgres", "nobody", NULL};

struct benv {
    char dir[PATH_MAX];
    char log[PATH_MAX];
    char postgres[PATH_MAX]; /* the server program */
    char pgdata[PATH_MAX];
    proc_spec_t base; /* how the server is run: its log and account */
    char conninfo[256];
    pid_t pid;
    pthread_mutex_t lock; /* guards subscribers */
    int subscribers;      /* the notify trigger exists while this is > 0 */
};

struct bconn {
    PGconn *pg;
    char *buf; /* the two binary text[] parameters of an append */
    size_t cap;
};

struct bsub {
    benv_t *env;
    PGconn *pg;
    bdeliver_fn fn;
    void *arg;
    uint64_t last; /* highest position delivered */
    int wake[2];   /* a byte on wake[1] stops the thread */
    pthread_t thread;
};

/* --- helpers ------------------------------------------------------------------------------- */

/* Writes "postgres: <what>: <first line of libpq's message>" into err and returns -1; the message
 * is the result's, or the connection's when res is NULL. */
static int pg_fail(char *err, PGconn *pg, const PGresult *res, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int pg_fail(char *err, PGconn *pg, const PGresult *res, const char *fmt, ...) {
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(pg);
    if (msg == NULL || msg[0] == '\0') {
        msg = "no message from libpq";
    }
    int len = (int)strcspn(msg, "\n");
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return backend_fail(err, "postgres: %s: %.*s", what, len, msg);
}

static bool sqlstate_is(const PGresult *res, const char *code) {
    const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return s != NULL && strcmp(s, code) == 0;
}

/* Runs SQL that returns no rows. */
static int exec_command(PGconn *pg, const char *sql, const char *what, char *err) {
    PGresult *res = PQexec(pg, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_fail(err, pg, res, "%s", what);
    }
    PQclear(res);
    return rc;
}

static bool find_server_programs(char *initdb, char *postgres, size_t cap, char *err) {
    char bindir[PATH_MAX];
    const char *dirs[3];
    size_t n = 0;
    if (proc_command_line("pg_config --bindir 2>/dev/null", bindir, sizeof bindir)) {
        dirs[n++] = bindir;
    }
    dirs[n++] = "/usr/lib/postgresql/*/bin"; /* Debian's server packages */
    dirs[n] = NULL;
    if (!proc_find_program("initdb", dirs, initdb, cap)) {
        backend_fail(err, "PostgreSQL's initdb not found (looked in PATH, pg_config --bindir and "
                          "/usr/lib/postgresql/<version>/bin)");
        return false;
    }
    /* the server must come from the same installation as initdb */
    char real[PATH_MAX];
    if (realpath(initdb, real) == NULL) {
        backend_fail(err, "cannot resolve %s: %s", initdb, strerror(errno));
        return false;
    }
    char *slash = strrchr(real, '/');
    *slash = '\0';
    int len = snprintf(postgres, cap, "%s/postgres", real);
    if (len < 0 || (size_t)len >= cap || access(postgres, X_OK) != 0) {
        backend_fail(err, "PostgreSQL's server program not found next to initdb in %s", real);
        return false;
    }
    return true;
}

/* The server account must be able to walk down to `dir`: every directory above it searchable. */
static int check_reachable(const char *dir, uid_t uid, gid_t gid, const char *user, char *err) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0') {
            continue;
        }
        *p = '\0';
        bool last = c == '\0';
        if (!last) {
            struct stat st;
            if (stat(path, &st) != 0) {
                return backend_fail(err, "cannot stat %s: %s", path, strerror(errno));
            }
            bool ok = (st.st_uid == uid && (st.st_mode & S_IXUSR)) ||
                      (st.st_gid == gid && (st.st_mode & S_IXGRP)) || (st.st_mode & S_IXOTH);
            if (!ok) {
                return backend_fail(err,
                                    "the PostgreSQL server runs as '%s' (it refuses root) and "
                                    "cannot reach %s: %s is not searchable by it (chmod o+x)",
                                    user, dir, path);
            }
        }
        *p = c;
        if (last) {
            return 0;
        }
    }
}

/* --- available, setup, teardown ------------------------------------------------------------ */

static bool pg_available(char *err) {
    char initdb[PATH_MAX], postgres[PATH_MAX];
    if (!find_server_programs(initdb, postgres, sizeof initdb, err)) {
        return false;
    }
    bool as_user;
    uid_t uid;
    gid_t gid;
    const char *user;
    return proc_server_user(pg_accounts, &as_user, &uid, &gid, &user, err) == 0;
}

static const char schema_sql[] =
    "CREATE TABLE events ("
    " position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " stream text NOT NULL,"
    " version bigint NOT NULL,"
    " type text NOT NULL,"
    " data json NOT NULL,"
    " UNIQUE (stream, version));"
    "CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN PERFORM pg_notify('stele_events', ''); RETURN NULL; END$$;";

/* Starts the server on a fresh port; returns 1 when the port was taken (try another). */
static int start_server(benv_t *env, char *err) {
    const char *postgres = env->postgres, *pgdata = env->pgdata;
    const proc_spec_t *base = &env->base;
    uint16_t port = 0;
    if (proc_free_port(&port, err) != 0) {
        return -1;
    }
    char port_opt[32], sock_opt[PATH_MAX + 32];
    snprintf(port_opt, sizeof port_opt, "port=%u", (unsigned)port);
    /* a unix socket path must fit sockaddr_un (107 bytes): ".s.PGSQL.NNNNN" is 14 more */
    if (strlen(env->dir) + 16 < 107) {
        snprintf(sock_opt, sizeof sock_opt, "unix_socket_directories=%s", env->dir);
    } else {
        snprintf(sock_opt, sizeof sock_opt, "unix_socket_directories=");
    }
    const char *argv[] = {postgres,
                          "-D",
                          pgdata,
                          "-c",
                          "listen_addresses=127.0.0.1",
                          "-c",
                          port_opt,
                          "-c",
                          sock_opt,
                          "-c",
                          "max_connections=300",
                          "-c",
                          "fsync=on",
                          "-c",
                          "synchronous_commit=on",
                          NULL};
    proc_spec_t spec = *base;
    spec.argv = argv;
    spec.death_signal = SIGQUIT; /* immediate shutdown if the benchmark dies */
    if (proc_start(&spec, &env->pid, err) != 0) {
        return -1;
    }
    snprintf(env->conninfo, sizeof env->conninfo,
             "host=127.0.0.1 port=%u user=postgres dbname=postgres sslmode=disable "
             "gssencmode=disable connect_timeout=10",
             (unsigned)port);
    for (int waited_ms = 0;; waited_ms += 20) {
        if (PQping(env->conninfo) == PQPING_OK) {
            return 0;
        }
        if (!proc_running(env->pid, NULL)) {
            env->pid = 0;
            char tail[BACKEND_ERR_CAP] = "";
            proc_append_log_tail(tail, env->log);
            if (strstr(tail, "could not bind") != NULL || strstr(tail, "already in use") != NULL) {
                return 1;
            }
            backend_fail(err, "the PostgreSQL server exited during startup (log %s)", env->log);
            proc_append_log_tail(err, env->log);
            return -1;
        }
        if (waited_ms > READY_TIMEOUT_MS) {
            proc_stop(env->pid, SIGQUIT, 5000);
            env->pid = 0;
            return backend_fail(err, "the PostgreSQL server did not accept connections within %d s",
                                READY_TIMEOUT_MS / 1000);
        }
        usleep(20000);
    }
}

/* Starts the server on env->pgdata, trying fresh ports when one was taken first. */
static int start_with_retries(benv_t *env, char *err) {
    int rc = 1;
    for (int attempt = 0; attempt < START_ATTEMPTS && rc == 1; attempt++) {
        rc = start_server(env, err);
    }
    if (rc == 1) {
        backend_fail(err, "the PostgreSQL server found no free port in %d attempts",
                     START_ATTEMPTS);
    }
    return rc == 0 ? 0 : -1;
}

/* What `pg_ctl stop -m fast` does: SIGINT, then wait for the postmaster to exit. 0 when it was
 * not running or exited in time. */
static int stop_server(benv_t *env) {
    int rc = 0;
    if (env->pid > 0 && proc_stop(env->pid, SIGINT, STOP_TIMEOUT_MS) != 0) {
        fprintf(stderr,
                "stele-compare: postgres: the server ignored a fast shutdown for %d s "
                "and was killed\n",
                STOP_TIMEOUT_MS / 1000);
        rc = -1;
    }
    env->pid = 0;
    return rc;
}

static void pg_teardown(benv_t *env);

static int pg_setup(const char *dir, benv_t **out, char *err) {
    char initdb[PATH_MAX];
    benv_t *env = calloc(1, sizeof *env);
    if (env == NULL) {
        return backend_fail(err, "out of memory for the postgres environment");
    }
    pthread_mutex_init(&env->lock, NULL);
    if (!find_server_programs(initdb, env->postgres, sizeof initdb, err)) {
        goto fail;
    }
    char *pgdata = env->pgdata;
    /* absolute paths: the server runs in / and may be a different user */
    if (realpath(dir, env->dir) == NULL) {
        backend_fail(err, "cannot resolve the work directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((size_t)snprintf(pgdata, sizeof env->pgdata, "%s/pgdata", env->dir) >= sizeof env->pgdata ||
        (size_t)snprintf(env->log, sizeof env->log, "%s/postgres.log", env->dir) >=
            sizeof env->log) {
        backend_fail(err, "work directory path too long: %s", env->dir);
        goto fail;
    }

    env->base.log_path = env->log;
    const char *user = NULL;
    if (proc_server_user(pg_accounts, &env->base.as_user, &env->base.uid, &env->base.gid, &user,
                         err) != 0) {
        goto fail;
    }
    if (env->base.as_user) {
        if (check_reachable(env->dir, env->base.uid, env->base.gid, user, err) != 0) {
            goto fail;
        }
        if (chown(env->dir, env->base.uid, env->base.gid) != 0) {
            backend_fail(err, "cannot give %s to the server account '%s': %s", env->dir, user,
                         strerror(errno));
            goto fail;
        }
    }

    /* --no-sync: only initdb's own files skip fsync; the server's durability is its own */
    const char *initdb_argv[] = {
        initdb,       "-D",        pgdata, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
        "--locale=C", "--no-sync", NULL};
    proc_spec_t init = env->base;
    init.argv = initdb_argv;
    if (proc_run(&init, INITDB_TIMEOUT_MS, "initdb", err) != 0) {
        goto fail;
    }

    if (start_with_retries(env, err) != 0) {
        goto fail;
    }

    PGconn *pg = PQconnectdb(env->conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        pg_fail(err, pg, NULL, "%s", "connect to create the schema");
        PQfinish(pg);
        goto fail;
    }
    int rc = exec_command(pg, schema_sql, "create the events table", err);
    PQfinish(pg);
    if (rc != 0) {
        goto fail;
    }
    *out = env;
    return 0;

fail:
    pg_teardown(env);
    return -1;
}

static void pg_teardown(benv_t *env) {
    if (env == NULL) {
        return;
    }
    stop_server(env);
    pthread_mutex_destroy(&env->lock);
    free(env);
}

/* Stops the server as teardown does and starts it again on the same data directory. */
static int pg_reopen(benv_t *env, char *err) {
    if (stop_server(env) != 0) {
        return backend_fail(err, "the PostgreSQL server ignored a fast shutdown for %d s",
                            STOP_TIMEOUT_MS / 1000);
    }
    return start_with_retries(env, err);
}

/* The postmaster and every process it started (backends, checkpointer, WAL writer, ...). */
static uint64_t pg_rss_kib(benv_t *env) { return env->pid > 0 ? proc_tree_rss_kib(env->pid) : 0; }

/* --- connections --------------------------------------------------------------------------- */

static const char append_exact_sql[] =
    "INSERT INTO events (stream, version, type, data)"
    " SELECT $1, $2 + e.n, e.type, e.data::json"
    " FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS e(type, data, n)"
    " WHERE $2 < 0 OR EXISTS (SELECT 1 FROM events WHERE stream = $1 AND version = $2)";

static const char append_any_sql[] =
    "WITH ins AS (INSERT INTO events (stream, version, type, data)"
    " SELECT $1, b.last + e.n, e.type, e.data::json"
    " FROM (SELECT coalesce(max(version), -1) AS last FROM events WHERE stream = $1) b,"
    " unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(type, data, n)"
    " RETURNING version)"
    " SELECT max(version) FROM ins";

static const char read_page_sql[] =
    "SELECT position, data FROM events WHERE position > $1 ORDER BY position LIMIT 10000";

static const char read_stream_sql[] = "SELECT data FROM events WHERE stream = $1 ORDER BY version";

static int prepare(PGconn *pg, const char *name, const char *sql, int nparams, const Oid *types,
                   char *err) {
    PGresult *res = PQprepare(pg, name, sql, nparams, types);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_fail(err, pg, res, "prepare %s", name);
    }
    PQclear(res);
    return rc;
}

static int prepare_all(PGconn *pg, char *err) {
    const Oid exact[] = {OID_TEXT, OID_INT8, OID_TEXT_ARRAY, OID_TEXT_ARRAY};
    const Oid any[] = {OID_TEXT, OID_TEXT_ARRAY, OID_TEXT_ARRAY};
    const Oid page[] = {OID_INT8};
    const Oid stream[] = {OID_TEXT};
    if (prepare(pg, "append_exact", append_exact_sql, 4, exact, err) != 0 ||
        prepare(pg, "append_any", append_any_sql, 3, any, err) != 0 ||
        prepare(pg, "read_page", read_page_sql, 1, page, err) != 0 ||
        prepare(pg, "read_stream", read_stream_sql, 1, stream, err) != 0) {
        return -1;
    }
    return 0;
}

static PGconn *open_connection(const benv_t *env, char *err) {
    PGconn *pg = PQconnectdb(env->conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        pg_fail(err, pg, NULL, "%s", "connect");
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

static int pg_connect(benv_t *env, bconn_t **out, char *err) {
    bconn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return backend_fail(err, "out of memory for a postgres connection");
    }
    c->pg = open_connection(env, err);
    if (c->pg == NULL || prepare_all(c->pg, err) != 0) {
        PQfinish(c->pg);
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void pg_disconnect(bconn_t *c) {
    if (c == NULL) {
        return;
    }
    PQfinish(c->pg);
    free(c->buf);
    free(c);
}

/* --- appends ------------------------------------------------------------------------------- */

static char *put_u32(char *p, uint32_t v) {
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
    return p + 4;
}

/* PostgreSQL's binary form of a one-dimensional text[] without NULLs: ndim, has-null flag,
 * element type, length and lower bound of the dimension, then each element as a 4-byte length
 * and its bytes; all integers big-endian. */
static char *put_text_array(char *p, const bevent_t *events, size_t count, bool types) {
    p = put_u32(p, 1);
    p = put_u32(p, 0);
    p = put_u32(p, OID_TEXT);
    p = put_u32(p, (uint32_t)count);
    p = put_u32(p, 1);
    for (size_t i = 0; i < count; i++) {
        size_t len = types ? strlen(events[i].type) : events[i].data_len;
        p = put_u32(p, (uint32_t)len);
        memcpy(p, types ? events[i].type : events[i].data, len);
        p += len;
    }
    return p;
}

/* Encodes the types and datas of `events` into c->buf; sets the two parameters. */
static int encode_events(bconn_t *c, const bevent_t *events, size_t count, const char **values,
                         int *lengths, char *err) {
    size_t need = 40;
    for (size_t i = 0; i < count; i++) {
        need += 8 + strlen(events[i].type) + events[i].data_len;
    }
    if (need > INT32_MAX) {
        return backend_fail(err, "postgres: a batch of %zu events is too large (%zu bytes)", count,
                            need);
    }
    if (need > c->cap) {
        char *grown = realloc(c->buf, need);
        if (grown == NULL) {
            return backend_fail(err, "out of memory for a batch of %zu events", count);
        }
        c->buf = grown;
        c->cap = need;
    }
    char *types_end = put_text_array(c->buf, events, count, true);
    char *datas_end = put_text_array(types_end, events, count, false);
    values[0] = c->buf;
    lengths[0] = (int)(types_end - c->buf);
    values[1] = types_end;
    lengths[1] = (int)(datas_end - types_end);
    return 0;
}

/* One part of an append or a commit, inside or outside a transaction. Returns 0, CONFLICT, -1;
 * *retry is set when an EXPECT_ANY insert lost a race and may simply be run again. */
static int insert_part(bconn_t *c, const char *stream, int64_t expected, const bevent_t *events,
                       size_t count, int64_t *last_version, bool *retry, char *err) {
    *retry = false;
    const char *arrays[2] = {NULL, NULL};
    int array_lengths[2] = {0, 0};
    if (encode_events(c, events, count, arrays, array_lengths, err) != 0) {
        return -1;
    }
    PGresult *res;
    if (expected == EXPECT_ANY) {
        const char *values[3] = {stream, arrays[0], arrays[1]};
        const int lengths[3] = {0, array_lengths[0], array_lengths[1]};
        const int formats[3] = {0, 1, 1};
        res = PQexecPrepared(c->pg, "append_any", 3, values, lengths, formats, 0);
    } else {
        char exp[32];
        snprintf(exp, sizeof exp, "%" PRId64, expected == EXPECT_NO_STREAM ? -1 : expected);
        const char *values[4] = {stream, exp, arrays[0], arrays[1]};
        const int lengths[4] = {0, 0, array_lengths[0], array_lengths[1]};
        const int formats[4] = {0, 0, 1, 1};
        res = PQexecPrepared(c->pg, "append_exact", 4, values, lengths, formats, 0);
    }

    int rc = 0;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK) {
        /* append_exact: no row means (stream, expected) does not exist */
        if (strtoull(PQcmdTuples(res), NULL, 10) == 0) {
            rc = BACKEND_CONFLICT;
        } else if (last_version != NULL) {
            *last_version = (expected == EXPECT_NO_STREAM ? -1 : expected) + (int64_t)count;
        }
    } else if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        if (last_version != NULL) {
            *last_version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }
    } else if (sqlstate_is(res, SQLSTATE_UNIQUE) || sqlstate_is(res, SQLSTATE_DEADLOCK)) {
        /* a concurrent appender took the version first: nothing of ours was written */
        *retry = expected == EXPECT_ANY;
        rc = BACKEND_CONFLICT;
    } else {
        rc = pg_fail(err, c->pg, res, "append to %s", stream);
    }
    PQclear(res);
    return rc;
}

static int pg_append(bconn_t *c, const char *stream, int64_t expected, const bevent_t *events,
                     size_t count, int64_t *last_version, char *err) {
    if (count == 0) {
        return backend_fail(err, "postgres: append to %s of no events", stream);
    }
    for (int attempt = 0;; attempt++) {
        bool retry;
        int rc = insert_part(c, stream, expected, events, count, last_version, &retry, err);
        if (!retry) {
            return rc;
        }
        if (attempt == ANY_RETRIES) {
            return backend_fail(err, "postgres: append to %s with any version lost %d races",
                                stream, ANY_RETRIES);
        }
    }
}

static int pg_commit(bconn_t *c, const bpart_t *parts, size_t nparts, char *err) {
    for (int attempt = 0;; attempt++) {
        if (exec_command(c->pg, "BEGIN", "BEGIN a commit", err) != 0) {
            return -1;
        }
        int rc = 0;
        bool retry = false;
        for (size_t i = 0; i < nparts && rc == 0; i++) {
            rc = insert_part(c, parts[i].stream, parts[i].expected, parts[i].events, parts[i].count,
                             NULL, &retry, err);
        }
        if (rc == 0) {
            PGresult *res = PQexec(c->pg, "COMMIT");
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                rc = pg_fail(err, c->pg, res, "%s", "COMMIT a commit");
            }
            PQclear(res);
            return rc;
        }
        /* undo the parts already inserted; after an error, that error is the one reported */
        char rollback_err[BACKEND_ERR_CAP];
        if (exec_command(c->pg, "ROLLBACK", "ROLLBACK a commit", rollback_err) != 0 && rc != -1) {
            memcpy(err, rollback_err, sizeof rollback_err);
            return -1;
        }
        if (!retry) {
            return rc;
        }
        if (attempt == ANY_RETRIES) {
            return backend_fail(err, "postgres: a commit with any version lost %d races",
                                ANY_RETRIES);
        }
    }
}

/* --- reads --------------------------------------------------------------------------------- */

static int pg_read_all(bconn_t *c, uint64_t *events, uint64_t *bytes, char *err) {
    uint64_t after = 0;
    for (;;) {
        char pos[32];
        snprintf(pos, sizeof pos, "%" PRIu64, after);
        const char *values[1] = {pos};
        PGresult *res = PQexecPrepared(c->pg, "read_page", 1, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            pg_fail(err, c->pg, res, "%s", "read all");
            PQclear(res);
            return -1;
        }
        int n = PQntuples(res);
        uint64_t b = 0;
        for (int i = 0; i < n; i++) {
            b += (uint64_t)PQgetlength(res, i, 1);
        }
        *events += (uint64_t)n;
        *bytes += b;
        if (n > 0) {
            after = strtoull(PQgetvalue(res, n - 1, 0), NULL, 10);
        }
        PQclear(res);
        if (n < READ_PAGE_ROWS) {
            return 0;
        }
    }
}

static int pg_read_stream(bconn_t *c, const char *stream, size_t *count, char *err) {
    const char *values[1] = {stream};
    PGresult *res = PQexecPrepared(c->pg, "read_stream", 1, values, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_fail(err, c->pg, res, "read stream %s", stream);
    } else {
        *count = (size_t)PQntuples(res);
    }
    PQclear(res);
    return rc;
}

/* --- subscriptions ------------------------------------------------------------------------- */

static const char sub_fetch_sql[] =
    "SELECT position, data FROM events WHERE position > $1 ORDER BY position LIMIT 10000";

/* Delivers every row after sub->last. */
static int sub_fetch(bsub_t *sub, char *err) {
    for (;;) {
        char pos[32];
        snprintf(pos, sizeof pos, "%" PRIu64, sub->last);
        const char *values[1] = {pos};
        PGresult *res = PQexecPrepared(sub->pg, "sub_fetch", 1, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            pg_fail(err, sub->pg, res, "%s", "subscription fetch");
            PQclear(res);
            return -1;
        }
        int n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            uint64_t position = strtoull(PQgetvalue(res, i, 0), NULL, 10);
            sub->fn(sub->arg, position, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
            sub->last = position;
        }
        PQclear(res);
        if (n < READ_PAGE_ROWS) {
            return 0;
        }
    }
}

static void *sub_thread(void *p) {
    bsub_t *sub = p;
    char err[BACKEND_ERR_CAP] = "";
    struct pollfd fds[2] = {{.fd = PQsocket(sub->pg), .events = POLLIN},
                            {.fd = sub->wake[0], .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            backend_fail(err, "postgres: subscription poll: %s", strerror(errno));
            break;
        }
        if (fds[1].revents != 0) {
            break;
        }
        if (PQconsumeInput(sub->pg) == 0) {
            pg_fail(err, sub->pg, NULL, "%s", "subscription connection");
            break;
        }
        bool notified = false;
        PGnotify *note;
        while ((note = PQnotifies(sub->pg)) != NULL) {
            notified = true;
            PQfreemem(note);
        }
        if (notified && sub_fetch(sub, err) != 0) {
            break;
        }
    }
    if (err[0] != '\0') {
        fprintf(stderr, "stele-compare: %s; the subscription stops delivering\n", err);
    }
    return NULL;
}

static int pg_subscribe(benv_t *env, bdeliver_fn fn, void *arg, bsub_t **out, char *err) {
    bsub_t *sub = calloc(1, sizeof *sub);
    if (sub == NULL) {
        return backend_fail(err, "out of memory for a postgres subscription");
    }
    sub->env = env;
    sub->fn = fn;
    sub->arg = arg;
    sub->wake[0] = sub->wake[1] = -1;
    bool counted = false;
    PGresult *res = NULL;
    sub->pg = open_connection(env, err);
    if (sub->pg == NULL) {
        goto fail;
    }
    const Oid page[] = {OID_INT8};
    if (prepare(sub->pg, "sub_fetch", sub_fetch_sql, 1, page, err) != 0) {
        goto fail;
    }
    pthread_mutex_lock(&env->lock);
    int rc = 0;
    if (env->subscribers == 0) {
        rc = exec_command(sub->pg,
                          "CREATE TRIGGER events_notify AFTER INSERT ON events"
                          " FOR EACH STATEMENT EXECUTE FUNCTION events_notify()",
                          "create the notify trigger", err);
    }
    if (rc == 0) {
        env->subscribers++;
        counted = true;
    }
    pthread_mutex_unlock(&env->lock);
    if (rc != 0 || exec_command(sub->pg, "LISTEN stele_events", "LISTEN", err) != 0) {
        goto fail;
    }
    /* live only: start after what is committed now (LISTEN is already active) */
    res = PQexec(sub->pg, "SELECT coalesce(max(position), 0) FROM events");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        pg_fail(err, sub->pg, res, "%s", "read the last position");
        goto fail;
    }
    sub->last = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = NULL;
    if (pipe(sub->wake) != 0) {
        sub->wake[0] = sub->wake[1] = -1;
        backend_fail(err, "postgres: pipe for a subscription: %s", strerror(errno));
        goto fail;
    }
    int e = pthread_create(&sub->thread, NULL, sub_thread, sub);
    if (e != 0) {
        backend_fail(err, "postgres: cannot start a subscription thread: %s", strerror(e));
        goto fail;
    }
    *out = sub;
    return 0;

fail:
    PQclear(res);
    if (counted) {
        pthread_mutex_lock(&env->lock);
        if (--env->subscribers == 0) {
            char ignored[BACKEND_ERR_CAP];
            exec_command(sub->pg, "DROP TRIGGER events_notify ON events", "drop", ignored);
        }
        pthread_mutex_unlock(&env->lock);
    }
    if (sub->wake[0] >= 0) {
        close(sub->wake[0]);
        close(sub->wake[1]);
    }
    PQfinish(sub->pg);
    free(sub);
    return -1;
}

static void pg_unsubscribe(bsub_t *sub) {
    if (sub == NULL) {
        return;
    }
    char byte = 1;
    while (write(sub->wake[1], &byte, 1) < 0 && errno == EINTR) {
    }
    pthread_join(sub->thread, NULL);
    benv_t *env = sub->env;
    pthread_mutex_lock(&env->lock);
    if (--env->subscribers == 0) {
        char err[BACKEND_ERR_CAP];
        if (exec_command(sub->pg, "DROP TRIGGER events_notify ON events", "drop the notify trigger",
                         err) != 0) {
            fprintf(stderr, "stele-compare: %s\n", err);
        }
    }
    pthread_mutex_unlock(&env->lock);
    close(sub->wake[0]);
    close(sub->wake[1]);
    PQfinish(sub->pg);
    free(sub);
}

const backend_t backend_postgres = {
    .name = "postgres",
    .durability = "default: fsync=on, synchronous_commit=on (WAL flushed per commit)",
    .available = pg_available,
    .setup = pg_setup,
    .teardown = pg_teardown,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .append = pg_append,
    .commit = pg_commit,
    .read_all = pg_read_all,
    .read_stream = pg_read_stream,
    .subscribe = pg_subscribe,
    .unsubscribe = pg_unsubscribe,
    .reopen = pg_reopen,
    .rss_kib = pg_rss_kib,
};
