/*
 * backend_nats.c -- stele-compare's NATS JetStream peer, through the NATS C client (libnats).
 *
 * The server: `nats-server -js -sd <dir>/jetstream -a 127.0.0.1 -p <free port>` (found in PATH or
 * Debian's /usr/sbin), a child of the benchmark (its output in <dir>/nats-server.log), stopped
 * with SIGTERM in teardown and with SIGKILL through PR_SET_PDEATHSIG if the benchmark dies (see
 * proc.h). One JetStream stream EVENTS holds everything: subjects "events.>", file storage, one
 * replica, direct get allowed. A Stele stream `order-5` is the subject `events.order-5`; the
 * global position is the JetStream stream sequence.
 *
 * Durability: the server's defaults. The 2.9 file store writes each message to its block file
 * (write(2), no fsync) before it acknowledges the publish, and fsyncs the blocks from a timer
 * every 2 minutes (`defaultSyncInterval`; `sync_interval`, and its `always`, became a setting
 * only in 2.10). Checked against 2.9.10 with strace: acknowledged publishes for 120 s without an
 * fsync, then fsync of the block file 2 minutes after the stream was created; and kill -9 of the
 * server lost no acknowledged message. An acknowledged event survives a crash of nats-server, but
 * not a crash of the machine or a power loss within those 2 minutes.
 *
 * Versions. JetStream's check is on sequences: the header Nats-Expected-Last-Subject-Sequence
 * makes a publish fail (JetStream error 10071, wrong last sequence) unless the subject's last
 * message has that stream sequence (0: the subject has no message). Stele expects versions, so
 * each event also carries its version in a header (Stele-Version, and its type in Stele-Type),
 * and each connection remembers, per stream, the version and sequence of the last event it
 * appended or read. An expected version the connection does not know is looked up with one
 * direct get of the subject's last message; a remembered version higher than the expected one
 * is a conflict without a round trip (versions only grow); a remembered one that has gone stale
 * is caught by the server's check. EXPECT_ANY publishes against the last known sequence and
 * looks it up again when it lost a race.
 *
 * Operations:
 *   append      the first event synchronously with the expected-sequence header; when it is
 *               stored, the rest of a batch is published asynchronously (pipelined) and its
 *               acknowledgements awaited. JetStream 2.9 has no atomic multi-message publish, so a
 *               batch is neither atomic nor isolated: only its first event is checked (a conflict
 *               writes nothing), a failure later leaves a prefix stored, and a concurrent
 *               appender to the same stream could interleave with the rest.
 *   commit      unsupported (NULL): no multi-subject atomic publish in 2.9.
 *   read_all    an ordered push consumer (flow control, heartbeats, no acks) over "events.>" from
 *               sequence 1, read until the message count the stream had when the read began.
 *   read_stream one direct get of the subject's last message (`$JS.API.DIRECT.GET.EVENTS`,
 *               last_by_subj: where to stop; nothing more when the stream is empty), then an
 *               ordered push consumer filtered on the subject from sequence 1 until that message,
 *               then the consumer is deleted. A chain of direct gets (next_by_subj, one round
 *               trip per event) costs the same for 10 events but grows with the stream, and a
 *               contended stream re-read after every conflict grows long. Either way the 2.9 file
 *               store finds a subject's messages by scanning its blocks, so this read slows down
 *               as the store grows with interleaved streams (about 8 ms for a 10-event stream
 *               among 30,000 such streams, 300,000 events, on the machine it was written on).
 *   subscribe   an ordered push consumer over "events.>" with DeliverNew on a connection of its
 *               own; the library's delivery thread hands events to the callback.
 */
#include "backend.h"
#include "proc.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STREAM_NAME "EVENTS"
#define SUBJECT_PREFIX "events."
#define SUBJECT_CAP 1024
#define START_ATTEMPTS 5
#define LISTEN_TIMEOUT_MS 30000
#define JS_READY_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 30000
#define API_WAIT_MS 30000 /* JetStream API and publish acknowledgement timeout */
#define READ_GAP_MS 10000 /* read_all gives up after this long without a message */
#define ANY_RETRIES 1000

#define HDR_EXPECTED_SEQ "Nats-Expected-Last-Subject-Sequence"
#define HDR_SEQUENCE "Nats-Sequence"
#define HDR_VERSION "Stele-Version"
#define HDR_TYPE "Stele-Type"

#define VERSION_UNKNOWN INT64_MIN /* a remembered stream whose version must be looked up */

struct benv {
    char dir[PATH_MAX];
    char log[PATH_MAX];
    char server[PATH_MAX]; /* the nats-server program */
    char store[PATH_MAX];  /* its -sd directory */
    char url[64];
    pid_t pid;
};

/* What a connection knows of one stream: the version and sequence of its last event (-1 and 0:
 * the stream does not exist). */
typedef struct known {
    char *stream; /* NULL: free slot */
    int64_t version;
    uint64_t seq;
} known_t;

struct bconn {
    natsConnection *nc;
    jsCtx *js;
    known_t *known; /* open addressing, linear probing, a power of two in size */
    size_t known_count;
    size_t known_cap;
    char subject[SUBJECT_CAP];

    /* acknowledgements of asynchronous publishes, written by the library's thread */
    pthread_mutex_t lock;
    pthread_cond_t acked_cond;
    uint64_t acked;    /* acknowledgements and failures received */
    uint64_t last_seq; /* highest sequence acknowledged */
    uint64_t failed;   /* failures received */
    char first_failure[160];
};

struct bsub {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
    bdeliver_fn fn;
    void *arg;
};

/* --- helpers ------------------------------------------------------------------------------- */

/* Writes "nats: <what>: <status> (<the library's last error>)" into err and returns -1. */
static int nats_fail(char *err, natsStatus s, jsErrCode jerr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int nats_fail(char *err, natsStatus s, jsErrCode jerr, const char *fmt, ...) {
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *detail = nats_GetLastError(NULL);
    if (jerr != 0) {
        return backend_fail(err, "nats: %s: %s, JetStream error %d (%s)", what,
                            natsStatus_GetText(s), (int)jerr, detail != NULL ? detail : "");
    }
    return backend_fail(err, "nats: %s: %s (%s)", what, natsStatus_GetText(s),
                        detail != NULL ? detail : "");
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "events.<stream>" into c->subject; a Stele stream name must be a valid literal subject. */
static int make_subject(char *out, const char *stream, char *err) {
    if (stream[0] == '\0' || strpbrk(stream, " \t\r\n*>") != NULL) {
        return backend_fail(err, "nats: stream name '%s' cannot be a NATS subject", stream);
    }
    int n = snprintf(out, SUBJECT_CAP, SUBJECT_PREFIX "%s", stream);
    if (n < 0 || n >= SUBJECT_CAP) {
        return backend_fail(err, "nats: stream name too long for a subject (%zu bytes)",
                            strlen(stream));
    }
    return 0;
}

static int64_t header_int(natsMsg *msg, const char *key, int64_t missing) {
    const char *v = NULL;
    if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == NULL) {
        return missing;
    }
    return strtoll(v, NULL, 10);
}

/* --- what a connection knows of its streams ------------------------------------------------- */

static size_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return (size_t)h;
}

/* The entry for `stream`, created (VERSION_UNKNOWN) when missing; NULL when out of memory. */
static known_t *known_get(bconn_t *c, const char *stream) {
    if (2 * (c->known_count + 1) > c->known_cap) {
        size_t cap = c->known_cap != 0 ? 2 * c->known_cap : 1024;
        known_t *grown = calloc(cap, sizeof *grown);
        if (grown == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < c->known_cap; i++) {
            if (c->known[i].stream != NULL) {
                size_t j = hash_name(c->known[i].stream) & (cap - 1);
                while (grown[j].stream != NULL) {
                    j = (j + 1) & (cap - 1);
                }
                grown[j] = c->known[i];
            }
        }
        free(c->known);
        c->known = grown;
        c->known_cap = cap;
    }
    size_t i = hash_name(stream) & (c->known_cap - 1);
    while (c->known[i].stream != NULL) {
        if (strcmp(c->known[i].stream, stream) == 0) {
            return &c->known[i];
        }
        i = (i + 1) & (c->known_cap - 1);
    }
    char *name = strdup(stream);
    if (name == NULL) {
        return NULL;
    }
    c->known[i] = (known_t){.stream = name, .version = VERSION_UNKNOWN, .seq = 0};
    c->known_count++;
    return &c->known[i];
}

/* Asks the server for the stream's last event: one direct get of the subject's last message. */
static int look_up(bconn_t *c, known_t *k, char *err) {
    jsDirectGetMsgOptions dg;
    jsDirectGetMsgOptions_Init(&dg);
    dg.LastBySubject = c->subject;
    natsMsg *msg = NULL;
    natsStatus s = js_DirectGetMsg(&msg, c->js, STREAM_NAME, NULL, &dg);
    if (s == NATS_NOT_FOUND) {
        k->version = -1;
        k->seq = 0;
        return 0;
    }
    if (s != NATS_OK) {
        return nats_fail(err, s, 0, "look up the last event of %s", c->subject);
    }
    k->seq = (uint64_t)header_int(msg, HDR_SEQUENCE, 0);
    k->version = header_int(msg, HDR_VERSION, VERSION_UNKNOWN);
    natsMsg_Destroy(msg);
    if (k->seq == 0 || k->version == VERSION_UNKNOWN) {
        k->version = VERSION_UNKNOWN;
        return backend_fail(err, "nats: the last message of %s has no %s or %s header", c->subject,
                            HDR_SEQUENCE, HDR_VERSION);
    }
    return 0;
}

/* --- available, setup, teardown ------------------------------------------------------------ */

static const char *const server_dirs[] = {"/usr/sbin", NULL}; /* Debian's nats-server package */

static bool nats_available(char *err) {
    char path[PATH_MAX];
    if (!proc_find_program("nats-server", server_dirs, path, sizeof path)) {
        backend_fail(err, "nats-server not found (looked in PATH and /usr/sbin)");
        return false;
    }
    return true;
}

static int connect_to(const char *url, natsConnection **nc, jsCtx **js, jsPubAckHandler on_ack,
                      void *closure, char *err) {
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) {
        s = natsOptions_SetURL(opts, url);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetTimeout(opts, 10000);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetAllowReconnect(opts, false); /* a lost server is an error here */
    }
    if (s == NATS_OK) {
        s = natsConnection_Connect(nc, opts);
    }
    natsOptions_Destroy(opts);
    if (s != NATS_OK) {
        return nats_fail(err, s, 0, "connect to %s", url);
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = API_WAIT_MS;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = closure;
    s = natsConnection_JetStream(js, *nc, &jo);
    if (s != NATS_OK) {
        natsConnection_Destroy(*nc);
        *nc = NULL;
        return nats_fail(err, s, 0, "%s", "JetStream context");
    }
    return 0;
}

static int create_stream(benv_t *env, char *err) {
    natsConnection *nc;
    jsCtx *js;
    if (connect_to(env->url, &nc, &js, NULL, NULL, err) != 0) {
        return -1;
    }
    const char *subjects[] = {SUBJECT_PREFIX ">"};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = STREAM_NAME;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = 1;
    sc.AllowDirect = true;
    int64_t deadline = monotonic_ms() + JS_READY_TIMEOUT_MS;
    natsStatus s;
    jsErrCode jerr;
    /* JetStream may still be starting when the port already accepts connections */
    do {
        jerr = 0;
        s = js_AddStream(NULL, js, &sc, NULL, &jerr);
        if (s == NATS_OK) {
            break;
        }
        usleep(50000);
    } while (monotonic_ms() < deadline);
    int rc = s == NATS_OK ? 0 : nats_fail(err, s, jerr, "%s", "create the EVENTS stream");
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}

/* Starts nats-server on env->store, trying fresh ports when one was taken first. */
static int start_server(benv_t *env, char *err) {
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        uint16_t port = 0;
        if (proc_free_port(&port, err) != 0) {
            return -1;
        }
        char port_arg[16];
        snprintf(port_arg, sizeof port_arg, "%u", (unsigned)port);
        snprintf(env->url, sizeof env->url, "nats://127.0.0.1:%u", (unsigned)port);
        const char *argv[] = {env->server, "-js", "-sd",    env->store, "-a",
                              "127.0.0.1", "-p",  port_arg, NULL};
        proc_spec_t spec = {.argv = argv, .log_path = env->log, .death_signal = SIGKILL};
        if (proc_start(&spec, &env->pid, err) != 0) {
            env->pid = 0;
            return -1;
        }
        if (proc_wait_tcp(port, env->pid, LISTEN_TIMEOUT_MS, "nats-server", err) == 0) {
            return 0;
        }
        char tail[BACKEND_ERR_CAP] = "";
        proc_append_log_tail(tail, env->log);
        proc_stop(env->pid, SIGKILL, 1000);
        env->pid = 0;
        if (strstr(tail, "address already in use") == NULL) {
            proc_append_log_tail(err, env->log);
            return -1;
        }
    }
    return backend_fail(err, "nats-server found no free port in %d attempts", START_ATTEMPTS);
}

/* SIGTERM; 0 when nats-server was not running or exited in time. */
static int stop_server(benv_t *env) {
    int rc = 0;
    if (env->pid > 0 && proc_stop(env->pid, SIGTERM, STOP_TIMEOUT_MS) != 0) {
        fprintf(stderr,
                "stele-compare: nats: nats-server ignored SIGTERM for %d s and was killed\n",
                STOP_TIMEOUT_MS / 1000);
        rc = -1;
    }
    env->pid = 0;
    return rc;
}

static void nats_teardown(benv_t *env);

static int nats_setup(const char *dir, benv_t **out, char *err) {
    benv_t *env = calloc(1, sizeof *env);
    if (env == NULL) {
        return backend_fail(err, "out of memory for the nats environment");
    }
    if (!proc_find_program("nats-server", server_dirs, env->server, sizeof env->server)) {
        free(env);
        return backend_fail(err, "nats-server not found (looked in PATH and /usr/sbin)");
    }
    if (realpath(dir, env->dir) == NULL) {
        backend_fail(err, "cannot resolve the work directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((size_t)snprintf(env->store, sizeof env->store, "%s/jetstream", env->dir) >=
            sizeof env->store ||
        (size_t)snprintf(env->log, sizeof env->log, "%s/nats-server.log", env->dir) >=
            sizeof env->log) {
        backend_fail(err, "work directory path too long: %s", env->dir);
        goto fail;
    }
    if (start_server(env, err) != 0 || create_stream(env, err) != 0) {
        goto fail;
    }
    *out = env;
    return 0;

fail:
    nats_teardown(env);
    return -1;
}

static void nats_teardown(benv_t *env) {
    if (env == NULL) {
        return;
    }
    stop_server(env);
    free(env);
}

/* Stops nats-server as teardown does, starts it again on the same store directory and waits until
 * JetStream has recovered the EVENTS stream (it may accept connections before). */
static int nats_reopen(benv_t *env, char *err) {
    if (stop_server(env) != 0) {
        return backend_fail(err, "nats-server ignored SIGTERM for %d s", STOP_TIMEOUT_MS / 1000);
    }
    if (start_server(env, err) != 0) {
        return -1;
    }
    natsConnection *nc;
    jsCtx *js;
    if (connect_to(env->url, &nc, &js, NULL, NULL, err) != 0) {
        return -1;
    }
    int64_t deadline = monotonic_ms() + JS_READY_TIMEOUT_MS;
    natsStatus s;
    jsErrCode jerr;
    for (;;) {
        jsStreamInfo *si = NULL;
        jerr = 0;
        s = js_GetStreamInfo(&si, js, STREAM_NAME, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        if (s == NATS_OK || monotonic_ms() >= deadline) {
            break;
        }
        usleep(5000);
    }
    int rc = s == NATS_OK ? 0 : nats_fail(err, s, jerr, "%s", "the EVENTS stream after a restart");
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return rc;
}

static uint64_t nats_rss_kib(benv_t *env) { return env->pid > 0 ? proc_tree_rss_kib(env->pid) : 0; }

/* --- connections --------------------------------------------------------------------------- */

/* The library's thread reports each asynchronous publish here (success or failure). */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    bconn_t *c = closure;
    pthread_mutex_lock(&c->lock);
    if (pa != NULL) {
        if (pa->Sequence > c->last_seq) {
            c->last_seq = pa->Sequence;
        }
    } else {
        if (c->failed++ == 0) {
            snprintf(c->first_failure, sizeof c->first_failure, "%s, JetStream error %d (%s)",
                     natsStatus_GetText(pae != NULL ? pae->Err : NATS_ERR),
                     pae != NULL ? (int)pae->ErrCode : 0,
                     pae != NULL && pae->ErrText != NULL ? pae->ErrText : "");
        }
    }
    c->acked++;
    pthread_cond_signal(&c->acked_cond);
    pthread_mutex_unlock(&c->lock);
    natsMsg_Destroy(msg);
}

static int nats_connect(benv_t *env, bconn_t **out, char *err) {
    bconn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return backend_fail(err, "out of memory for a nats connection");
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->acked_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (connect_to(env->url, &c->nc, &c->js, on_ack, c, err) != 0) {
        pthread_cond_destroy(&c->acked_cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void nats_disconnect(bconn_t *c) {
    if (c == NULL) {
        return;
    }
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    for (size_t i = 0; i < c->known_cap; i++) {
        free(c->known[i].stream);
    }
    free(c->known);
    pthread_cond_destroy(&c->acked_cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* --- appends ------------------------------------------------------------------------------- */

static natsStatus make_msg(natsMsg **msg, const char *subject, const bevent_t *e, int64_t version) {
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, version);
    natsStatus s = natsMsg_Create(msg, subject, NULL, e->data, (int)e->data_len);
    if (s == NATS_OK) {
        s = natsMsgHeader_Set(*msg, HDR_VERSION, v);
    }
    if (s == NATS_OK) {
        s = natsMsgHeader_Set(*msg, HDR_TYPE, e->type);
    }
    return s;
}

/* Publishes the first event with the check; 1 when the check failed. */
static int publish_checked(bconn_t *c, const bevent_t *e, int64_t version, uint64_t expected_seq,
                           uint64_t *seq, char *err) {
    natsMsg *msg = NULL;
    char exp[24];
    snprintf(exp, sizeof exp, "%" PRIu64, expected_seq);
    natsStatus s = make_msg(&msg, c->subject, e, version);
    if (s == NATS_OK) {
        s = natsMsgHeader_Set(msg, HDR_EXPECTED_SEQ, exp);
    }
    if (s != NATS_OK) {
        natsMsg_Destroy(msg);
        return nats_fail(err, s, 0, "build a message for %s", c->subject);
    }
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    s = js_PublishMsg(&pa, c->js, msg, NULL, &jerr);
    natsMsg_Destroy(msg);
    if (s == NATS_OK) {
        *seq = pa->Sequence;
        jsPubAck_Destroy(pa);
        return 0;
    }
    if (jerr == JSStreamWrongLastSequenceErr) {
        return 1;
    }
    return nats_fail(err, s, jerr, "publish to %s", c->subject);
}

/* Publishes events[1..count) without a check, pipelined; *seq is the last one's sequence. */
static int publish_rest(bconn_t *c, const bevent_t *events, size_t count, int64_t first_version,
                        uint64_t *seq, char *err) {
    pthread_mutex_lock(&c->lock);
    c->acked = c->failed = c->last_seq = 0;
    pthread_mutex_unlock(&c->lock);
    uint64_t sent = 0;
    int rc = 0;
    for (size_t i = 1; i < count; i++) {
        natsMsg *msg = NULL;
        natsStatus s = make_msg(&msg, c->subject, &events[i], first_version + (int64_t)i);
        if (s == NATS_OK) {
            s = js_PublishMsgAsync(c->js, &msg, NULL);
        }
        natsMsg_Destroy(msg); /* no-op when the library took it */
        if (s != NATS_OK) {
            rc = nats_fail(err, s, 0,
                           "publish event %zu of %zu to %s (the batch is not atomic: "
                           "the events before it are stored)",
                           i + 1, count, c->subject);
            break;
        }
        sent++;
    }
    /* wait for every acknowledgement of what was sent, even after a failure */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += API_WAIT_MS / 1000;
    pthread_mutex_lock(&c->lock);
    while (c->acked < sent) {
        if (pthread_cond_timedwait(&c->acked_cond, &c->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    uint64_t acked = c->acked, failed = c->failed, last = c->last_seq;
    char failure[sizeof c->first_failure];
    memcpy(failure, c->first_failure, sizeof failure);
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) {
        return rc;
    }
    if (acked < sent) {
        return backend_fail(err,
                            "nats: %" PRIu64 " of %" PRIu64 " acknowledgements for %s "
                            "missing after %d s",
                            sent - acked, sent, c->subject, API_WAIT_MS / 1000);
    }
    if (failed != 0) {
        return backend_fail(err,
                            "nats: %" PRIu64 " of %zu events of a batch to %s failed (the "
                            "batch is not atomic): %s",
                            failed, count, c->subject, failure);
    }
    *seq = last;
    return 0;
}

static int nats_append(bconn_t *c, const char *stream, int64_t expected, const bevent_t *events,
                       size_t count, int64_t *last_version, char *err) {
    if (count == 0) {
        return backend_fail(err, "nats: append to %s of no events", stream);
    }
    if (make_subject(c->subject, stream, err) != 0) {
        return -1;
    }
    known_t *k = known_get(c, stream);
    if (k == NULL) {
        return backend_fail(err, "out of memory remembering stream %s", stream);
    }
    int64_t base;
    uint64_t expected_seq, seq = 0;
    for (int attempt = 0;; attempt++) {
        if (expected == EXPECT_NO_STREAM) {
            if (k->version >= 0) {
                return BACKEND_CONFLICT;
            }
            base = -1;
            expected_seq = 0;
        } else if (expected == EXPECT_ANY) {
            if (k->version == VERSION_UNKNOWN && look_up(c, k, err) != 0) {
                return -1;
            }
            base = k->version;
            expected_seq = k->seq;
        } else {
            if (k->version != VERSION_UNKNOWN && k->version > expected) {
                return BACKEND_CONFLICT;
            }
            if (k->version != expected && look_up(c, k, err) != 0) {
                return -1;
            }
            if (k->version != expected) {
                return BACKEND_CONFLICT;
            }
            base = expected;
            expected_seq = k->seq;
        }
        int rc = publish_checked(c, &events[0], base + 1, expected_seq, &seq, err);
        if (rc < 0) {
            k->version = VERSION_UNKNOWN; /* the outcome is unknown */
            return -1;
        }
        if (rc == 0) {
            break;
        }
        k->version = VERSION_UNKNOWN; /* someone else appended: what we knew is stale */
        if (expected != EXPECT_ANY) {
            return BACKEND_CONFLICT;
        }
        if (attempt == ANY_RETRIES) {
            return backend_fail(err, "nats: append to %s with any version lost %d races", stream,
                                ANY_RETRIES);
        }
    }
    k->version = base + 1;
    k->seq = seq;
    if (count > 1) {
        if (publish_rest(c, events, count, base + 1, &seq, err) != 0) {
            k->version = VERSION_UNKNOWN;
            return -1;
        }
        k->version = base + (int64_t)count;
        k->seq = seq;
    }
    if (last_version != NULL) {
        *last_version = k->version;
    }
    return 0;
}

/* --- reads --------------------------------------------------------------------------------- */

static int nats_read_all(bconn_t *c, uint64_t *events, uint64_t *bytes, char *err) {
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, c->js, STREAM_NAME, NULL, &jerr);
    if (s != NATS_OK) {
        return nats_fail(err, s, jerr, "%s", "read the EVENTS stream's state");
    }
    uint64_t total = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    if (total == 0) {
        return 0;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = STREAM_NAME;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription *sub = NULL;
    s = js_SubscribeSync(&sub, c->js, SUBJECT_PREFIX ">", NULL, &so, &jerr);
    if (s != NATS_OK) {
        return nats_fail(err, s, jerr, "%s", "create an ordered consumer to read all");
    }
    natsSubscription_SetPendingLimits(sub, -1, -1); /* flow control bounds it */
    uint64_t n = 0, b = 0;
    int rc = 0;
    while (n < total) {
        natsMsg *msg = NULL;
        s = natsSubscription_NextMsg(&msg, sub, READ_GAP_MS);
        if (s != NATS_OK) {
            rc = nats_fail(err, s, 0, "read all: message %" PRIu64 " of %" PRIu64, n + 1, total);
            break;
        }
        n++;
        b += (uint64_t)natsMsg_GetDataLength(msg);
        natsMsg_Destroy(msg);
    }
    natsSubscription_Unsubscribe(sub); /* deletes the ephemeral consumer */
    natsSubscription_Destroy(sub);
    *events += n;
    *bytes += b;
    return rc;
}

static int nats_read_stream(bconn_t *c, const char *stream, size_t *count, char *err) {
    if (make_subject(c->subject, stream, err) != 0) {
        return -1;
    }
    /* the last event first: it says where to stop, and an empty stream costs nothing more */
    known_t last = {.version = VERSION_UNKNOWN};
    if (look_up(c, &last, err) != 0) {
        return -1;
    }
    size_t n = 0;
    if (last.version >= 0) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = STREAM_NAME;
        so.Ordered = true;
        so.Config.DeliverPolicy = js_DeliverAll;
        natsSubscription *sub = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_SubscribeSync(&sub, c->js, c->subject, NULL, &so, &jerr);
        if (s != NATS_OK) {
            return nats_fail(err, s, jerr, "create an ordered consumer to read %s", c->subject);
        }
        int rc = 0;
        for (uint64_t seq = 0; seq < last.seq;) {
            natsMsg *msg = NULL;
            jsMsgMetaData *meta = NULL;
            s = natsSubscription_NextMsg(&msg, sub, READ_GAP_MS);
            if (s == NATS_OK) {
                s = natsMsg_GetMetaData(&meta, msg);
            }
            if (s != NATS_OK) {
                rc = nats_fail(err, s, 0, "read %s: event %zu", c->subject, n + 1);
                natsMsg_Destroy(msg);
                break;
            }
            seq = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
            natsMsg_Destroy(msg);
            n++;
        }
        natsSubscription_Unsubscribe(sub); /* deletes the ephemeral consumer */
        natsSubscription_Destroy(sub);
        if (rc != 0) {
            return -1;
        }
    }
    /* what was read is what the next append of this connection will expect */
    known_t *k = known_get(c, stream);
    if (k != NULL) {
        k->version = last.version;
        k->seq = last.seq;
    }
    *count = n;
    return 0;
}

/* --- subscriptions ------------------------------------------------------------------------- */

static void on_event(natsConnection *nc, natsSubscription *s, natsMsg *msg, void *closure) {
    (void)nc;
    (void)s;
    bsub_t *sub = closure;
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        sub->fn(sub->arg, meta->Sequence.Stream, natsMsg_GetData(msg),
                (size_t)natsMsg_GetDataLength(msg));
        jsMsgMetaData_Destroy(meta);
    }
    natsMsg_Destroy(msg);
}

static int nats_subscribe(benv_t *env, bdeliver_fn fn, void *arg, bsub_t **out, char *err) {
    bsub_t *sub = calloc(1, sizeof *sub);
    if (sub == NULL) {
        return backend_fail(err, "out of memory for a nats subscription");
    }
    sub->fn = fn;
    sub->arg = arg;
    if (connect_to(env->url, &sub->nc, &sub->js, NULL, NULL, err) != 0) {
        free(sub);
        return -1;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = STREAM_NAME;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverNew;
    jsErrCode jerr = 0;
    natsStatus s =
        js_Subscribe(&sub->sub, sub->js, SUBJECT_PREFIX ">", on_event, sub, NULL, &so, &jerr);
    if (s != NATS_OK) {
        nats_fail(err, s, jerr, "%s", "create an ordered consumer for new events");
        jsCtx_Destroy(sub->js);
        natsConnection_Destroy(sub->nc);
        free(sub);
        return -1;
    }
    *out = sub;
    return 0;
}

static void nats_unsubscribe(bsub_t *sub) {
    if (sub == NULL) {
        return;
    }
    natsSubscription_Unsubscribe(sub->sub);
    natsSubscription_Destroy(sub->sub);
    jsCtx_Destroy(sub->js);
    natsConnection_Destroy(sub->nc);
    free(sub);
}

const backend_t backend_nats = {
    .name = "nats",
    .durability = "file storage; acknowledged before fsync (periodic fsync every 2 min)",
    .available = nats_available,
    .setup = nats_setup,
    .teardown = nats_teardown,
    .connect = nats_connect,
    .disconnect = nats_disconnect,
    .append = nats_append,
    .commit = NULL,
    .read_all = nats_read_all,
    .read_stream = nats_read_stream,
    .subscribe = nats_subscribe,
    .unsubscribe = nats_unsubscribe,
    .reopen = nats_reopen,
    .rss_kib = nats_rss_kib,
};
