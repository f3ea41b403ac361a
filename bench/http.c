/*
 * http.c -- the HTTP workloads of stele-bench: the real steled, driven over plain sockets.
 *
 * The server is the steled next to this program (the directory of /proc/self/exe), started on a
 * fresh store under the work directory with --listen 127.0.0.1:0 and --durability sync; its port
 * is read from its "listening" log line (its stderr goes to a log file in the work directory), and
 * it gets SIGTERM at the end. Every client holds keep-alive HTTP/1.1 connections of its own.
 *
 * Workloads (--only http runs them all):
 *   http.append  1, 16, 64, 256 connections, one event per POST /streams/{stream}: events/s and
 *                p50/p99 latency (send of the request to the end of the response). A few loader
 *                threads drive all connections with epoll, one request in flight per connection.
 *   http.batch   8 connections, 100 events per request.
 *   http.readall GET /all?from=&limit=10000 pages from the start over everything in the store (the
 *                appends above, topped up with batches to READALL_MIN_EVENTS when fewer).
 *   http.sse     one subscriber on GET /subscribe?from=end, one appender appending one event at a
 *                time; each event's data carries its sequence number, and the time from sending the
 *                append to reading the event from the SSE stream is its delivery latency.
 *   http.idle    VmRSS of steled before and with IDLE_SUBSCRIBERS idle SSE subscribers.
 *   http.scan    append and /health latency while SCAN_SUBSCRIBERS subscribers whose filter
 *                matches nothing read a log of SCAN_EVENTS events from the start.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EVENT_TYPE "OrderPlaced"
#define DATA_BYTES 200u
#define BATCH_EVENTS 100u
#define BATCH_CONNS 8u
#define LOAD_THREADS 2u /* loader threads driving the connections (fewer when fewer conns) */
#define STREAMS_PER_CONN 1024u
#define READALL_LIMIT 10000u /* the server's maximum page */
#define READALL_MIN_EVENTS 100000u
#define IDLE_SUBSCRIBERS 1000u
#define SSE_MAX_APPENDS (1u << 20)
#define SCAN_SUBSCRIBERS 1000u
#define SCAN_EVENTS 300000u
#define IO_TIMEOUT_MS 30000

/* --- small helpers ------------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len;
    size_t cap;
} buf_t;

static int buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_add(buf_t *b, const void *data, size_t n) {
    if (buf_reserve(b, n) != 0) {
        return -1;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* Drop the first n bytes. */
static void buf_consume(buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p) {
        b->p[b->len] = '\0';
    }
}

static void buf_free(buf_t *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* A ~200-byte JSON order (as the in-process workloads append) with "seq" first. */
static size_t make_data(char *out, size_t cap, uint64_t order, uint64_t seq) {
    unsigned long long o = (unsigned long long)order, s = (unsigned long long)seq;
    int n = snprintf(out, cap,
                     "{\"seq\":%llu,\"order\":\"order-%llu\",\"customer\":\"customer-%llu\","
                     "\"items\":[{\"sku\":\"SKU-%05llu\",\"qty\":%llu,\"price\":%llu}],"
                     "\"currency\":\"EUR\",\"note\":\"",
                     s, o, o * 7919u % 100000u, (o + s) % 100000u, s % 5u + 1u,
                     (o * 31u + s) % 10000u + 100u);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > DATA_BYTES - 2) {
        len = DATA_BYTES - 2;
    }
    while (len < DATA_BYTES - 2) {
        out[len++] = 'x';
    }
    out[len++] = '"';
    out[len++] = '}';
    out[len] = '\0';
    return len;
}

/* Append `{"events":[...count events...]}` to b. */
static int make_body(buf_t *b, uint64_t order, uint64_t seq, size_t count) {
    char data[DATA_BYTES + 1];
    static const char head[] = "{\"events\":[";
    if (buf_add(b, head, sizeof head - 1) != 0) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        size_t n = make_data(data, sizeof data, order, seq + i);
        static const char ev[] = "{\"type\":\"" EVENT_TYPE "\",\"data\":";
        if ((i > 0 && buf_add(b, ",", 1) != 0) || buf_add(b, ev, sizeof ev - 1) != 0 ||
            buf_add(b, data, n) != 0 || buf_add(b, "}", 1) != 0) {
            return -1;
        }
    }
    return buf_add(b, "]}", 2);
}

/* Append a POST /streams/{stream} request with `body` to out. */
static int make_post(buf_t *out, const char *stream, const char *body, size_t body_len) {
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST /streams/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     stream, body_len);
    if (n < 0 || (size_t)n >= sizeof head) {
        return -1;
    }
    if (buf_add(out, head, (size_t)n) != 0) {
        return -1;
    }
    return buf_add(out, body, body_len);
}

/* The number after `"key":` in s (NAN when absent). */
static double json_number_field(const char *s, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(s, pat);
    if (!p) {
        return NAN;
    }
    char *end;
    double v = strtod(p + strlen(pat), &end);
    return end == p + strlen(pat) ? NAN : v;
}

/* --- HTTP/1.1 responses ---------------------------------------------------------------------- */

/* Parse a response with a Content-Length body at the start of b. Returns 1 when complete (status,
 * header length and body length set), 0 when more bytes are needed, -1 when malformed. */
static int parse_response(const char *b, size_t len, int *status, size_t *hdr_len,
                          size_t *body_len) {
    const char *end = memmem(b, len, "\r\n\r\n", 4);
    if (!end) {
        return len > 65536 ? -1 : 0;
    }
    size_t hl = (size_t)(end - b) + 4;
    if (len < 12 || strncmp(b, "HTTP/1.", 7) != 0) {
        return -1;
    }
    int st = atoi(b + 9);
    long long clen = -1;
    for (const char *line = memchr(b, '\n', hl); line && line < end;
         line = memchr(line, '\n', hl - (size_t)(line - b))) {
        line++;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            clen = atoll(line + 15);
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            return -1; /* chunked replies are only expected from /subscribe */
        }
    }
    if (clen < 0) {
        return -1;
    }
    if (len < hl + (size_t)clen) {
        return 0;
    }
    *status = st;
    *hdr_len = hl;
    *body_len = (size_t)clen;
    return 1;
}

static int set_nonblocking(int fd, bool on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -1;
    }
    return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY, or -1. */
static int tcp_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read into b (at least one byte) waiting at most timeout_ms. Returns bytes, 0 at EOF, -1. */
static ssize_t read_some(int fd, buf_t *b, int timeout_ms) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int pr;
    while ((pr = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {
    }
    if (pr <= 0) {
        errno = pr == 0 ? ETIMEDOUT : errno;
        return -1;
    }
    if (buf_reserve(b, 65536) != 0) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t r;
    while ((r = recv(fd, b->p + b->len, b->cap - b->len - 1, 0)) < 0 && errno == EINTR) {
    }
    if (r > 0) {
        b->len += (size_t)r;
        b->p[b->len] = '\0';
    }
    return r;
}

/* Send req on a blocking connection and read the whole response into in (consumed by the caller
 * through *hdr_len + *body_len). Returns the status or -1. */
static int request(int fd, const char *req, size_t req_len, buf_t *in, size_t *hdr_len,
                   size_t *body_len) {
    if (write_all(fd, req, req_len) != 0) {
        return -1;
    }
    for (;;) {
        int status;
        int pr = parse_response(in->p ? in->p : "", in->len, &status, hdr_len, body_len);
        if (pr < 0) {
            return -1;
        }
        if (pr == 1) {
            return status;
        }
        if (read_some(fd, in, IO_TIMEOUT_MS) <= 0) {
            return -1;
        }
    }
}

/* GET path on a new connection; the body (NUL-terminated) into body. Returns the status or -1. */
static int get_once(uint16_t port, const char *path, buf_t *body) {
    int fd = tcp_connect(port);
    if (fd < 0) {
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    buf_t in = {0};
    size_t hl = 0, bl = 0;
    int st = n > 0 && (size_t)n < sizeof req ? request(fd, req, (size_t)n, &in, &hl, &bl) : -1;
    close(fd);
    body->len = 0;
    if (st >= 0 && buf_add(body, in.p + hl, bl) != 0) {
        st = -1;
    }
    buf_free(&in);
    return st;
}

/* --- the server --------------------------------------------------------------------------------
 */

typedef struct server {
    pid_t pid;
    uint16_t port;
    char log_path[PATH_MAX];
} server_t;

static void print_log_tail(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        fprintf(stderr, "  steled: %s", line);
    }
    fclose(f);
}

/* The steled next to this program: dirname(/proc/self/exe)/steled. */
static int steled_path(char *out, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) {
        return -1;
    }
    *slash = '\0';
    int w = snprintf(out, cap, "%s/steled", exe);
    if (w < 0 || (size_t)w >= cap || access(out, X_OK) != 0) {
        return -1;
    }
    return 0;
}

/* Start steled on the fresh store <work dir>/<name>, logging to <work dir>/<name>.log. */
static int server_start(const bench_config_t *cfg, const char *exe, const char *name, server_t *s) {
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/%s", cfg->work_dir, name);
    snprintf(s->log_path, sizeof s->log_path, "%s/%s.log", cfg->work_dir, name);
    int logfd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) {
        fprintf(stderr, "stele-bench: %s: %s\n", s->log_path, strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        dup2(logfd, STDOUT_FILENO);
        dup2(logfd, STDERR_FILENO);
        char *argv[] = {(char *)"steled",
                        (char *)"--data",
                        data,
                        (char *)"--listen",
                        (char *)"127.0.0.1:0",
                        (char *)"--durability",
                        (char *)"sync",
                        (char *)"--max-connections",
                        (char *)"2000",
                        (char *)"--max-subscribers",
                        (char *)"2000",
                        NULL};
        execv(exe, argv);
        _exit(127);
    }
    close(logfd);
    s->pid = pid;
    s->port = 0;
    /* wait for the "listening" line with the port */
    for (int i = 0; i < 1000 && s->port == 0; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "stele-bench: steled exited before listening:\n");
            print_log_tail(s->log_path);
            s->pid = 0;
            return -1;
        }
        FILE *f = fopen(s->log_path, "r");
        char line[2048];
        while (f && fgets(line, sizeof line, f)) {
            if (strstr(line, "\"msg\":\"listening\"")) {
                double port = json_number_field(line, "port");
                if (port > 0 && port < 65536) {
                    s->port = (uint16_t)port;
                }
                break;
            }
        }
        if (f) {
            fclose(f);
        }
        if (s->port == 0) {
            sleep_seconds(0.01);
        }
    }
    if (s->port == 0) {
        fprintf(stderr, "stele-bench: steled did not log \"listening\" within 10 s\n");
        print_log_tail(s->log_path);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s->pid = 0;
        return -1;
    }
    return 0;
}

/* SIGTERM, then SIGKILL after 10 s. Returns 0 when steled exited with status 0. */
static int server_stop(server_t *s) {
    if (s->pid <= 0) {
        return -1;
    }
    kill(s->pid, SIGTERM);
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 1000 && (r = waitpid(s->pid, &status, WNOHANG)) == 0; i++) {
        sleep_seconds(0.01);
    }
    if (r == 0) {
        fprintf(stderr, "stele-bench: steled did not stop within 10 s of SIGTERM; killing it\n");
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    s->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "stele-bench: steled ended abnormally (status 0x%x):\n", (unsigned)status);
        print_log_tail(s->log_path);
        return -1;
    }
    return 0;
}

/* VmRSS of pid in KiB (0 when unknown). */
static uint64_t pid_rss_kib(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    char line[256];
    unsigned long long kib = 0, v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %llu kB", &v) == 1) {
            kib = v;
            break;
        }
    }
    fclose(f);
    return kib;
}

/* CPU seconds (user + system) used so far by process pid, or by its thread tid when tid > 0;
 * NAN when unknown. */
static double cpu_seconds(pid_t pid, pid_t tid) {
    char path[96];
    if (tid > 0) {
        snprintf(path, sizeof path, "/proc/%ld/task/%ld/stat", (long)pid, (long)tid);
    } else {
        snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        return NAN;
    }
    char line[1024];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    const char *p = ok ? strrchr(line, ')') : NULL;
    unsigned long long ut, st;
    long tick = sysconf(_SC_CLK_TCK);
    if (!p || tick <= 0 ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) {
        return NAN;
    }
    return (double)(ut + st) / (double)tick;
}

/* Bytes per event record in the log from GET /stats (NAN when unknown). */
static double server_record_bytes(uint16_t port) {
    buf_t body = {0};
    double r = NAN;
    if (get_once(port, "/stats", &body) == 200) {
        double head = json_number_field(body.p, "head_position");
        double bytes = json_number_field(body.p, "log_bytes");
        if (head > 0 && bytes > 0) {
            r = bytes / head;
        }
    }
    buf_free(&body);
    return r;
}

static double server_head(uint16_t port) {
    buf_t body = {0};
    double head = NAN;
    if (get_once(port, "/info", &body) == 200) {
        head = json_number_field(body.p, "head_position");
    }
    buf_free(&body);
    return head;
}

/* --- the append load generator: a few threads, many keep-alive connections, epoll ----------- */

enum { PHASE_WARMUP = 0, PHASE_MEASURE = 1, PHASE_STOP = 2 };

typedef struct load {
    uint16_t port;
    pid_t server; /* steled, for its CPU time */
    unsigned conns;
    size_t batch;           /* events per request */
    const char *tag;        /* in the stream names: order-<tag><conn>-<n> */
    const char *batch_body; /* the shared body when batch > 1 */
    size_t batch_body_len;
    atomic_int phase;
} load_t;

typedef struct lconn {
    int fd;
    unsigned id;
    uint64_t k; /* requests sent */
    buf_t out;
    size_t out_off;
    buf_t in;
    uint64_t t_send;
    int send_phase;
    bool busy;     /* a request is in flight */
    bool want_out; /* EPOLLOUT registered */
} lconn_t;

typedef struct loader {
    pthread_t thread;
    load_t *load;
    lconn_t **conns;
    unsigned nconns;
    atomic_uint_fast64_t reqs;
    atomic_uint_fast64_t events;
    lat_vec_t lat;
    char err[256];
} loader_t;

static int lconn_flush(int ep, lconn_t *c) {
    while (c->out_off < c->out.len) {
        ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return -1;
        }
        c->out_off += (size_t)w;
    }
    bool want = c->out_off < c->out.len;
    if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? (uint32_t)EPOLLOUT : 0u),
                                 .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
            return -1;
        }
        c->want_out = want;
    }
    return 0;
}

static int lconn_start(int ep, load_t *l, lconn_t *c, int phase) {
    char stream[96], body[DATA_BYTES + 128];
    snprintf(stream, sizeof stream, "order-%s%u-%llu", l->tag, c->id,
             (unsigned long long)(c->k % STREAMS_PER_CONN));
    c->out.len = 0;
    c->out_off = 0;
    int rc;
    if (l->batch > 1) {
        rc = make_post(&c->out, stream, l->batch_body, l->batch_body_len);
    } else {
        char data[DATA_BYTES + 1];
        size_t dn = make_data(data, sizeof data, c->id, c->k);
        int n = snprintf(body, sizeof body,
                         "{\"events\":[{\"type\":\"" EVENT_TYPE "\",\"data\":%s}]}", data);
        (void)dn;
        rc = n > 0 && (size_t)n < sizeof body ? make_post(&c->out, stream, body, (size_t)n) : -1;
    }
    if (rc != 0) {
        return -1;
    }
    c->k++;
    c->busy = true;
    c->send_phase = phase;
    c->t_send = now_ns();
    return lconn_flush(ep, c);
}

/* Read what is there; on a complete response account for it and start the next request. Returns
 * 0, or -1 with ld->err set. */
static int lconn_input(int ep, loader_t *ld, lconn_t *c) {
    load_t *l = ld->load;
    for (;;) {
        if (buf_reserve(&c->in, 16384) != 0) {
            snprintf(ld->err, sizeof ld->err, "out of memory");
            return -1;
        }
        ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            snprintf(ld->err, sizeof ld->err, "connection %u: recv: %s", c->id, strerror(errno));
            return -1;
        }
        if (r == 0) {
            snprintf(ld->err, sizeof ld->err, "connection %u: closed by the server", c->id);
            return -1;
        }
        c->in.len += (size_t)r;
        c->in.p[c->in.len] = '\0';
    }
    int status;
    size_t hl, bl;
    int pr = parse_response(c->in.p, c->in.len, &status, &hl, &bl);
    if (pr < 0) {
        snprintf(ld->err, sizeof ld->err, "connection %u: malformed response", c->id);
        return -1;
    }
    if (pr == 0) {
        return 0;
    }
    uint64_t t1 = now_ns();
    if (!c->busy) {
        snprintf(ld->err, sizeof ld->err, "connection %u: response without a request", c->id);
        return -1;
    }
    if (status != 201) {
        snprintf(ld->err, sizeof ld->err, "connection %u: status %d: %.*s", c->id, status,
                 (int)(bl < 160 ? bl : 160), c->in.p + hl);
        return -1;
    }
    buf_consume(&c->in, hl + bl);
    c->busy = false;
    atomic_fetch_add_explicit(&ld->reqs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ld->events, l->batch, memory_order_relaxed);
    if (c->send_phase == PHASE_MEASURE) {
        lat_push(&ld->lat, t1 - c->t_send);
    }
    int phase = atomic_load_explicit(&l->phase, memory_order_acquire);
    if (phase != PHASE_STOP && lconn_start(ep, l, c, phase) != 0) {
        snprintf(ld->err, sizeof ld->err, "connection %u: send: %s", c->id, strerror(errno));
        return -1;
    }
    return 0;
}

static void *loader_main(void *arg) {
    loader_t *ld = arg;
    load_t *l = ld->load;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        snprintf(ld->err, sizeof ld->err, "epoll_create1: %s", strerror(errno));
        return NULL;
    }
    for (unsigned i = 0; i < ld->nconns; i++) {
        lconn_t *c = ld->conns[i];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0 ||
            lconn_start(ep, l, c, atomic_load(&l->phase)) != 0) {
            snprintf(ld->err, sizeof ld->err, "connection %u: %s", c->id, strerror(errno));
            close(ep);
            return NULL;
        }
    }
    uint64_t stop_deadline = 0;
    struct epoll_event evs[64];
    for (;;) {
        if (atomic_load_explicit(&l->phase, memory_order_acquire) == PHASE_STOP) {
            unsigned busy = 0;
            for (unsigned i = 0; i < ld->nconns; i++) {
                busy += ld->conns[i]->busy;
            }
            if (stop_deadline == 0) {
                stop_deadline = now_ns() + 10000000000u; /* in-flight requests: 10 s */
            }
            if (busy == 0 || now_ns() > stop_deadline) {
                break;
            }
        }
        int n = epoll_wait(ep, evs, 64, 100);
        if (n < 0 && errno != EINTR) {
            snprintf(ld->err, sizeof ld->err, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            lconn_t *c = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && lconn_flush(ep, c) != 0) {
                snprintf(ld->err, sizeof ld->err, "connection %u: send: %s", c->id,
                         strerror(errno));
                goto out;
            }
            if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && lconn_input(ep, ld, c) != 0) {
                goto out;
            }
        }
    }
out:
    close(ep);
    return NULL;
}

typedef struct load_result {
    double events_per_s;
    double reqs_per_s;
    double p50_us;
    double p99_us;
    double server_cpu_us; /* steled CPU time per request (all threads) */
    double loop_cpu_us;   /* the same, of its main (event loop) thread alone */
} load_result_t;

#define NO_RESULT ((load_result_t){NAN, NAN, NAN, NAN, NAN, NAN})

static void load_counts(loader_t *ld, unsigned n, uint64_t *reqs, uint64_t *events) {
    *reqs = *events = 0;
    for (unsigned i = 0; i < n; i++) {
        *reqs += atomic_load_explicit(&ld[i].reqs, memory_order_relaxed);
        *events += atomic_load_explicit(&ld[i].events, memory_order_relaxed);
    }
}

/* One run: connect, warm up, measure cfg->seconds, stop. Returns 0 or -1. */
static int load_run(const bench_config_t *cfg, load_t *l, load_result_t *out) {
    unsigned nthreads = l->conns < LOAD_THREADS ? l->conns : LOAD_THREADS;
    lconn_t *conns = calloc(l->conns, sizeof *conns);
    lconn_t **ptrs = calloc(l->conns, sizeof *ptrs);
    loader_t *ld = calloc(nthreads, sizeof *ld);
    int rc = conns && ptrs && ld ? 0 : -1;
    unsigned opened = 0, started = 0;
    for (unsigned i = 0; rc == 0 && i < l->conns; i++, opened++) {
        conns[i].id = i;
        conns[i].fd = tcp_connect(l->port);
        if (conns[i].fd < 0 || set_nonblocking(conns[i].fd, true) != 0) {
            fprintf(stderr, "stele-bench: connection %u to steled: %s\n", i, strerror(errno));
            rc = -1;
            opened += conns[i].fd >= 0;
            break;
        }
    }
    atomic_init(&l->phase, PHASE_WARMUP);
    for (unsigned t = 0; rc == 0 && t < nthreads; t++) {
        ld[t].load = l;
        ld[t].conns = ptrs + (size_t)t * l->conns / nthreads;
        ld[t].nconns =
            (unsigned)((size_t)(t + 1) * l->conns / nthreads - (size_t)t * l->conns / nthreads);
        for (unsigned i = 0; i < ld[t].nconns; i++) {
            ld[t].conns[i] = &conns[(size_t)t * l->conns / nthreads + i];
        }
        atomic_init(&ld[t].reqs, 0);
        atomic_init(&ld[t].events, 0);
    }
    for (unsigned t = 0; rc == 0 && t < nthreads; t++) {
        if (pthread_create(&ld[t].thread, NULL, loader_main, &ld[t]) != 0) {
            rc = -1;
            break;
        }
        started++;
    }
    uint64_t r0 = 0, e0 = 0, r1 = 0, e1 = 0, t0 = 0, t1 = 0;
    double cpu0 = NAN, cpu1 = NAN, loop0 = NAN, loop1 = NAN;
    if (rc == 0) {
        sleep_seconds(cfg->warmup);
        load_counts(ld, nthreads, &r0, &e0);
        cpu0 = cpu_seconds(l->server, 0);
        loop0 = cpu_seconds(l->server, l->server);
        t0 = now_ns();
        atomic_store_explicit(&l->phase, PHASE_MEASURE, memory_order_release);
        sleep_seconds(cfg->seconds);
        load_counts(ld, nthreads, &r1, &e1);
        cpu1 = cpu_seconds(l->server, 0);
        loop1 = cpu_seconds(l->server, l->server);
        t1 = now_ns();
    }
    atomic_store_explicit(&l->phase, PHASE_STOP, memory_order_release);
    lat_vec_t all = {0};
    for (unsigned t = 0; t < started; t++) {
        pthread_join(ld[t].thread, NULL);
        if (ld[t].err[0]) {
            fprintf(stderr, "stele-bench: http loader %u: %s\n", t, ld[t].err);
            rc = -1;
        }
        lat_append(&all, &ld[t].lat);
        lat_free(&ld[t].lat);
    }
    for (unsigned i = 0; i < opened; i++) {
        close(conns[i].fd);
        buf_free(&conns[i].in);
        buf_free(&conns[i].out);
    }
    if (rc == 0 && r1 > r0) {
        double secs = (double)(t1 - t0) / 1e9;
        out->events_per_s = (double)(e1 - e0) / secs;
        out->reqs_per_s = (double)(r1 - r0) / secs;
        out->p50_us = (double)lat_percentile(&all, 50) / 1e3;
        out->p99_us = (double)lat_percentile(&all, 99) / 1e3;
        out->server_cpu_us = (cpu1 - cpu0) * 1e6 / (double)(r1 - r0);
        out->loop_cpu_us = (loop1 - loop0) * 1e6 / (double)(r1 - r0);
    } else {
        rc = -1;
    }
    lat_free(&all);
    free(conns);
    free(ptrs);
    free(ld);
    return rc;
}

/* cfg->runs runs of one load; the median of each figure (NAN when every run failed). */
static void load_median(const bench_config_t *cfg, load_t *l, load_result_t *out) {
    size_t runs = (size_t)cfg->runs;
    double *v = calloc(runs * 6, sizeof *v);
    if (!v) {
        *out = NO_RESULT;
        return;
    }
    for (size_t r = 0; r < runs; r++) {
        load_result_t t;
        if (load_run(cfg, l, &t) != 0) {
            t = NO_RESULT;
        }
        v[r] = t.events_per_s;
        v[runs + r] = t.reqs_per_s;
        v[2 * runs + r] = t.p50_us;
        v[3 * runs + r] = t.p99_us;
        v[4 * runs + r] = t.server_cpu_us;
        v[5 * runs + r] = t.loop_cpu_us;
    }
    out->events_per_s = median(v, runs);
    out->reqs_per_s = median(v + runs, runs);
    out->p50_us = median(v + 2 * runs, runs);
    out->p99_us = median(v + 3 * runs, runs);
    out->server_cpu_us = median(v + 4 * runs, runs);
    out->loop_cpu_us = median(v + 5 * runs, runs);
    free(v);
}

static double ratio(double value, double limit) {
    return (isnan(value) || isnan(limit) || limit <= 0) ? NAN : value / limit;
}

static void http_appends(const bench_config_t *cfg, const limits_t *lim, uint16_t port,
                         pid_t server) {
    static const unsigned counts[] = {1, 16, 64, 256};
    char name[96], tag[16];
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        unsigned n = counts[i];
        snprintf(tag, sizeof tag, "h%u-", n);
        load_t l = {.port = port, .server = server, .conns = n, .batch = 1, .tag = tag};
        load_result_t r;
        load_median(cfg, &l, &r);
        const char *conns = n == 1 ? "conn" : "conns";
        snprintf(name, sizeof name, "http.append.%u%s.rate", n, conns);
        report_figure(name, r.events_per_s, "events/s", n == 64 ? TARGET_AT_LEAST : TARGET_NONE,
                      n == 64 ? 50000.0 : NAN, ratio(r.events_per_s, lim->fsync_rate), "fsync");
        snprintf(name, sizeof name, "http.append.%u%s.p50", n, conns);
        report_figure(name, r.p50_us, "us", TARGET_NONE, NAN, NAN, NULL);
        snprintf(name, sizeof name, "http.append.%u%s.p99", n, conns);
        report_figure(name, r.p99_us, "us", TARGET_NONE, NAN, NAN, NULL);
        snprintf(name, sizeof name, "http.append.%u%s.server_cpu", n, conns);
        report_figure(name, r.server_cpu_us, "us/req", TARGET_NONE, NAN, NAN, NULL);
        snprintf(name, sizeof name, "http.append.%u%s.loop_cpu", n, conns);
        report_figure(name, r.loop_cpu_us, "us/req", TARGET_NONE, NAN, NAN, NULL);
    }
    report_note("http.append: server_cpu is steled's CPU time (user + system, all threads) per "
                "request while measuring, loop_cpu that of its event-loop thread alone; at "
                "1/loop_cpu requests per second the loop is saturated");
}

static void http_batch(const bench_config_t *cfg, const limits_t *lim, uint16_t port,
                       pid_t server) {
    buf_t body = {0};
    load_result_t r = NO_RESULT;
    if (make_body(&body, 424242, 0, BATCH_EVENTS) == 0) {
        load_t l = {.port = port,
                    .server = server,
                    .conns = BATCH_CONNS,
                    .batch = BATCH_EVENTS,
                    .tag = "hb",
                    .batch_body = body.p,
                    .batch_body_len = body.len};
        load_median(cfg, &l, &r);
    }
    double mbps = r.events_per_s * server_record_bytes(port) / 1e6;
    char name[96];
    snprintf(name, sizeof name, "http.batch.%ux%u.rate", BATCH_CONNS, BATCH_EVENTS);
    report_figure(name, r.events_per_s, "events/s", TARGET_NONE, NAN, NAN, NULL);
    snprintf(name, sizeof name, "http.batch.%ux%u.bandwidth", BATCH_CONNS, BATCH_EVENTS);
    report_figure(name, mbps, "MB/s", TARGET_NONE, NAN, ratio(mbps, lim->seqwrite_mbps),
                  "seq write");
    snprintf(name, sizeof name, "http.batch.%ux%u.p99", BATCH_CONNS, BATCH_EVENTS);
    report_figure(name, r.p99_us, "us", TARGET_NONE, NAN, NAN, NULL);
    report_note("http.batch: %u connections, %u events (%zu bytes of JSON) per request; MB/s "
                "counts log record bytes (GET /stats log_bytes / head_position)",
                BATCH_CONNS, BATCH_EVENTS, body.len);
    buf_free(&body);
}

/* --- $all over HTTP ------------------------------------------------------------------------- */

/* Make the store hold at least min events (batches of 1000 on one connection). */
static int top_up(uint16_t port, uint64_t min) {
    double head = server_head(port);
    if (isnan(head)) {
        return -1;
    }
    if (head >= (double)min) {
        return 0;
    }
    int fd = tcp_connect(port);
    if (fd < 0) {
        return -1;
    }
    buf_t body = {0}, req = {0}, in = {0};
    int rc = make_body(&body, 777, 0, 1000);
    for (uint64_t k = 0; rc == 0 && head + (double)(k * 1000) < (double)min; k++) {
        char stream[64];
        snprintf(stream, sizeof stream, "order-fill-%llu", (unsigned long long)(k % 1024));
        req.len = 0;
        size_t hl, bl;
        if (make_post(&req, stream, body.p, body.len) != 0 ||
            request(fd, req.p, req.len, &in, &hl, &bl) != 201) {
            fprintf(stderr, "stele-bench: topping up the store over HTTP failed\n");
            rc = -1;
            break;
        }
        buf_consume(&in, hl + bl);
    }
    close(fd);
    buf_free(&body);
    buf_free(&req);
    buf_free(&in);
    return rc;
}

/* Page through /all from the start on one connection; events and body bytes read, or -1. */
static int readall_once(uint16_t port, uint64_t *events, uint64_t *bytes) {
    int fd = tcp_connect(port);
    if (fd < 0) {
        return -1;
    }
    buf_t in = {0};
    uint64_t from = 0, n = 0, b = 0;
    int rc = 0;
    for (;;) {
        char req[256];
        int len = snprintf(req, sizeof req,
                           "GET /all?from=%llu&limit=%u HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                           (unsigned long long)from, READALL_LIMIT);
        size_t hl, bl;
        int st = request(fd, req, (size_t)len, &in, &hl, &bl);
        if (st != 200) {
            fprintf(stderr, "stele-bench: GET /all?from=%llu: status %d\n",
                    (unsigned long long)from, st);
            rc = -1;
            break;
        }
        /* count the events of the page and find the last position */
        const char *p = in.p + hl, *end = in.p + hl + bl;
        uint64_t page = 0, last = 0;
        static const char key[] = "{\"position\":";
        while ((p = memmem(p, (size_t)(end - p), key, sizeof key - 1)) != NULL) {
            p += sizeof key - 1;
            last = strtoull(p, NULL, 10);
            page++;
        }
        b += bl;
        n += page;
        buf_consume(&in, hl + bl);
        if (page == 0) {
            break;
        }
        from = last + 1;
    }
    close(fd);
    buf_free(&in);
    *events = n;
    *bytes = b;
    return rc;
}

static void http_readall(const bench_config_t *cfg, uint16_t port) {
    size_t runs = (size_t)cfg->runs;
    double *rate = calloc(runs, sizeof *rate), *mbps = calloc(runs, sizeof *mbps);
    uint64_t n = 0, bytes = 0;
    bool ok = rate && mbps && top_up(port, READALL_MIN_EVENTS) == 0;
    double head = ok ? server_head(port) : NAN;
    for (size_t r = 0; ok && r < runs; r++) {
        uint64_t t0 = now_ns();
        int rc = readall_once(port, &n, &bytes);
        double secs = (double)(now_ns() - t0) / 1e9;
        if (rc == 0 && (double)n != head) {
            fprintf(stderr, "stele-bench: GET /all returned %llu events, the head is at %.0f\n",
                    (unsigned long long)n, head);
            rc = -1;
        }
        rate[r] = rc == 0 && n > 0 ? (double)n / secs : NAN;
        mbps[r] = rc == 0 && n > 0 ? (double)bytes / secs / 1e6 : NAN;
    }
    report_figure("http.readall.rate", ok ? median(rate, runs) : NAN, "events/s", TARGET_NONE, NAN,
                  NAN, NULL);
    report_figure("http.readall.bandwidth", ok ? median(mbps, runs) : NAN, "MB/s", TARGET_NONE, NAN,
                  NAN, NULL);
    if (ok && n > 0) {
        report_note("http.readall: GET /all?from=P&limit=%u pages from the start on one "
                    "keep-alive connection over all %llu events; MB/s counts JSON body bytes "
                    "(%.0f B/event)",
                    READALL_LIMIT, (unsigned long long)n, (double)bytes / (double)n);
    }
    free(rate);
    free(mbps);
}

/* --- append-to-SSE-delivery latency ------------------------------------------------------- */

/* Incremental decoder of a chunked body into SSE lines. */
typedef struct sse_reader {
    int fd;
    buf_t raw;           /* bytes received, chunk framing included */
    buf_t text;          /* decoded body, lines not yet handled */
    uint64_t chunk_left; /* bytes of the current chunk still to decode */
    bool chunk_crlf;     /* a chunk's trailing CRLF is due */
} sse_reader_t;

/* Decode what raw holds into text. Returns 0, 1 at the last chunk, -1 when malformed. */
static int sse_decode(sse_reader_t *s) {
    size_t pos = 0;
    int rc = 0;
    while (pos < s->raw.len) {
        if (s->chunk_left > 0) {
            size_t take = s->raw.len - pos;
            if (take > s->chunk_left) {
                take = (size_t)s->chunk_left;
            }
            if (buf_add(&s->text, s->raw.p + pos, take) != 0) {
                return -1;
            }
            pos += take;
            s->chunk_left -= take;
            if (s->chunk_left == 0) {
                s->chunk_crlf = true;
            }
            continue;
        }
        const char *nl = memchr(s->raw.p + pos, '\n', s->raw.len - pos);
        if (!nl) {
            break;
        }
        size_t line_end = (size_t)(nl - s->raw.p) + 1;
        if (s->chunk_crlf) {
            s->chunk_crlf = false; /* the CRLF after a chunk's data */
            pos = line_end;
            continue;
        }
        char *end;
        unsigned long long size = strtoull(s->raw.p + pos, &end, 16);
        if (end == s->raw.p + pos) {
            return -1;
        }
        pos = line_end;
        if (size == 0) {
            rc = 1;
            break;
        }
        s->chunk_left = size;
    }
    buf_consume(&s->raw, pos);
    return rc;
}

typedef struct sse_probe {
    sse_reader_t r;
    _Atomic uint64_t *t_send; /* per sequence number: when its append was sent (0 = not yet) */
    uint64_t *delivered;      /* per sequence number: the latency in ns (0 = not delivered) */
    atomic_uint_fast64_t received;
    atomic_int stop;
    atomic_int failed; /* err is set */
    char err[160];
} sse_probe_t;

static void *sse_main(void *arg) {
    sse_probe_t *p = arg;
    while (!atomic_load(&p->stop)) {
        ssize_t r = read_some(p->r.fd, &p->r.raw, 100);
        if (r < 0 && errno == ETIMEDOUT) {
            continue;
        }
        if (r <= 0) {
            snprintf(p->err, sizeof p->err, "the SSE stream ended: %s",
                     r == 0 ? "closed" : strerror(errno));
            atomic_store(&p->failed, 1);
            break;
        }
        uint64_t now = now_ns();
        int dr = sse_decode(&p->r);
        if (dr != 0) {
            snprintf(p->err, sizeof p->err, "the SSE stream %s",
                     dr > 0 ? "ended" : "has bad chunk framing");
            atomic_store(&p->failed, 1);
            break;
        }
        /* complete lines: "data: {...,"data":{"seq":K,...}}" */
        size_t used = 0;
        const char *nl;
        while (p->r.text.len > used &&
               (nl = memchr(p->r.text.p + used, '\n', p->r.text.len - used)) != NULL) {
            const char *line = p->r.text.p + used;
            size_t len = (size_t)(nl - line);
            if (len > 6 && strncmp(line, "data: ", 6) == 0) {
                const char *s = memmem(line, len, "\"data\":{\"seq\":", 14);
                if (s) {
                    unsigned long long k = strtoull(s + 14, NULL, 10);
                    uint64_t t = k < SSE_MAX_APPENDS ? atomic_load(&p->t_send[k]) : 0;
                    if (t != 0 && p->delivered[k] == 0) {
                        p->delivered[k] = now > t ? now - t : 1;
                        atomic_fetch_add(&p->received, 1);
                    }
                }
            }
            used += len + 1;
        }
        buf_consume(&p->r.text, used);
    }
    return NULL;
}

/* One subscriber, one appender: p50/p99 of send-to-delivery in us. Returns 0 or -1. */
static int sse_run(const bench_config_t *cfg, uint16_t port, int run, double *p50, double *p99,
                   uint64_t *appends) {
    sse_probe_t p;
    memset(&p, 0, sizeof p);
    p.r.fd = -1;
    p.t_send = calloc(SSE_MAX_APPENDS, sizeof *p.t_send);
    p.delivered = calloc(SSE_MAX_APPENDS, sizeof *p.delivered);
    int afd = -1, rc = -1;
    bool thread = false;
    pthread_t th;
    buf_t req = {0}, in = {0}, body = {0};
    if (!p.t_send || !p.delivered) {
        goto out;
    }
    p.r.fd = tcp_connect(port);
    static const char sub[] = "GET /subscribe?from=end HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Accept: text/event-stream\r\n\r\n";
    if (p.r.fd < 0 || write_all(p.r.fd, sub, sizeof sub - 1) != 0) {
        fprintf(stderr, "stele-bench: subscribing: %s\n", strerror(errno));
        goto out;
    }
    const char *hend = NULL;
    while (!(hend = strstr(p.r.raw.p ? p.r.raw.p : "", "\r\n\r\n"))) {
        if (read_some(p.r.fd, &p.r.raw, 5000) <= 0) {
            fprintf(stderr, "stele-bench: no answer to GET /subscribe\n");
            goto out;
        }
    }
    if (strncmp(p.r.raw.p, "HTTP/1.1 200", 12) != 0 ||
        !strcasestr(p.r.raw.p, "Transfer-Encoding: chunked")) {
        fprintf(stderr, "stele-bench: GET /subscribe: %.60s\n", p.r.raw.p);
        goto out;
    }
    buf_consume(&p.r.raw, (size_t)(hend - p.r.raw.p) + 4);
    if (pthread_create(&th, NULL, sse_main, &p) != 0) {
        goto out;
    }
    thread = true;
    sleep_seconds(0.1); /* the subscription is live (from=end) */

    afd = tcp_connect(port);
    if (afd < 0) {
        goto out;
    }
    char stream[64];
    snprintf(stream, sizeof stream, "order-sse-%d", run);
    uint64_t t_start = now_ns();
    uint64_t t_measure = t_start + (uint64_t)(cfg->warmup * 1e9);
    uint64_t t_end = t_measure + (uint64_t)(cfg->seconds * 1e9);
    uint64_t k = 0, k_measure = UINT64_MAX;
    for (; k < SSE_MAX_APPENDS; k++) {
        uint64_t now = now_ns();
        if (now >= t_end) {
            break;
        }
        if (now >= t_measure && k_measure == UINT64_MAX) {
            k_measure = k;
        }
        body.len = 0;
        req.len = 0;
        size_t hl, bl;
        if (make_body(&body, (uint64_t)run, k, 1) != 0 ||
            make_post(&req, stream, body.p, body.len) != 0) {
            goto out;
        }
        atomic_store(&p.t_send[k], now_ns());
        int st = request(afd, req.p, req.len, &in, &hl, &bl);
        if (st != 201) {
            fprintf(stderr, "stele-bench: SSE appender: status %d\n", st);
            goto out;
        }
        buf_consume(&in, hl + bl);
    }
    /* wait for the last deliveries */
    for (int i = 0; i < 500 && atomic_load(&p.received) < k && !atomic_load(&p.failed); i++) {
        sleep_seconds(0.01);
    }
    if (atomic_load(&p.failed)) {
        fprintf(stderr, "stele-bench: %s\n", p.err);
        goto out;
    }
    if (atomic_load(&p.received) < k) {
        fprintf(stderr, "stele-bench: %llu of %llu appended events were not delivered on SSE\n",
                (unsigned long long)(k - atomic_load(&p.received)), (unsigned long long)k);
        goto out;
    }
    lat_vec_t lat = {0};
    for (uint64_t i = k_measure; i < k; i++) {
        lat_push(&lat, p.delivered[i]);
    }
    if (lat.n > 0) {
        *p50 = (double)lat_percentile(&lat, 50) / 1e3;
        *p99 = (double)lat_percentile(&lat, 99) / 1e3;
        *appends = lat.n;
        rc = 0;
    }
    lat_free(&lat);
out:
    if (thread) {
        atomic_store(&p.stop, 1);
        pthread_join(th, NULL);
    }
    if (afd >= 0) {
        close(afd);
    }
    if (p.r.fd >= 0) {
        close(p.r.fd);
    }
    buf_free(&p.r.raw);
    buf_free(&p.r.text);
    buf_free(&req);
    buf_free(&in);
    buf_free(&body);
    free(p.t_send);
    free(p.delivered);
    return rc;
}

static void http_sse(const bench_config_t *cfg, uint16_t port) {
    size_t runs = (size_t)cfg->runs;
    double *v = calloc(runs * 2, sizeof *v);
    if (!v) {
        return;
    }
    uint64_t appends = 0;
    for (size_t r = 0; r < runs; r++) {
        if (sse_run(cfg, port, (int)r, &v[r], &v[runs + r], &appends) != 0) {
            v[r] = v[runs + r] = NAN;
        }
    }
    report_figure("http.sse.p50", median(v, runs), "us", TARGET_NONE, NAN, NAN, NULL);
    report_figure("http.sse.p99", median(v + runs, runs), "us", TARGET_BELOW, 5000.0, NAN, NULL);
    report_note("http.sse: one subscriber on GET /subscribe?from=end, one appender sending one "
                "event per request and waiting for its 201 (%llu appends in the last run); "
                "latency from sending the append to reading the event on the SSE stream",
                (unsigned long long)appends);
    free(v);
}

/* --- RSS with idle SSE subscribers ---------------------------------------------------------- */

/* The value of an unlabelled metric in GET /metrics (NAN when absent). */
static double metric(uint16_t port, const char *name) {
    buf_t body = {0};
    double v = NAN;
    if (get_once(port, "/metrics", &body) == 200) {
        size_t n = strlen(name);
        for (const char *line = body.p; line && *line; line = strchr(line, '\n')) {
            line += *line == '\n';
            if (strncmp(line, name, n) == 0 && line[n] == ' ') {
                v = strtod(line + n + 1, NULL);
                break;
            }
        }
    }
    buf_free(&body);
    return v;
}

/* Connect IDLE_SUBSCRIBERS subscribers, read steled's VmRSS, disconnect. Values in KiB. */
static int idle_run(uint16_t port, pid_t pid, double *before, double *with) {
    int *fds = malloc(IDLE_SUBSCRIBERS * sizeof *fds);
    if (!fds) {
        return -1;
    }
    *before = (double)pid_rss_kib(pid);
    static const char sub[] = "GET /subscribe?from=end HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Accept: text/event-stream\r\n\r\n";
    unsigned n = 0;
    int rc = 0;
    for (; n < IDLE_SUBSCRIBERS; n++) {
        fds[n] = tcp_connect(port);
        if (fds[n] < 0 || write_all(fds[n], sub, sizeof sub - 1) != 0) {
            fprintf(stderr, "stele-bench: idle subscriber %u: %s\n", n, strerror(errno));
            n += fds[n] >= 0;
            rc = -1;
            break;
        }
    }
    /* every subscriber has its 200 and the headers */
    buf_t in = {0};
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        in.len = 0;
        while (rc == 0 && !strstr(in.p ? in.p : "", "\r\n\r\n")) {
            if (read_some(fds[i], &in, 10000) <= 0) {
                fprintf(stderr, "stele-bench: idle subscriber %u: no answer\n", i);
                rc = -1;
            }
        }
        if (rc == 0 && strncmp(in.p, "HTTP/1.1 200", 12) != 0) {
            fprintf(stderr, "stele-bench: idle subscriber %u: %.60s\n", i, in.p);
            rc = -1;
        }
    }
    buf_free(&in);
    if (rc == 0) {
        sleep_seconds(0.5);
        double subs = metric(port, "stele_subscribers");
        if (subs != (double)IDLE_SUBSCRIBERS) {
            fprintf(stderr, "stele-bench: steled reports %.0f subscribers, not %u\n", subs,
                    IDLE_SUBSCRIBERS);
            rc = -1;
        }
        *with = (double)pid_rss_kib(pid);
    }
    for (unsigned i = 0; i < n; i++) {
        close(fds[i]);
    }
    free(fds);
    /* wait until steled has let them go */
    for (int i = 0; i < 100 && metric(port, "stele_subscribers") > 0; i++) {
        sleep_seconds(0.05);
    }
    return rc;
}

/* Each run on a fresh steled: memory freed by an earlier run's subscribers stays in its heap. */
static void http_idle(const bench_config_t *cfg, const char *exe) {
    size_t runs = (size_t)cfg->runs;
    double *v = calloc(runs * 2, sizeof *v);
    if (!v) {
        return;
    }
    for (size_t r = 0; r < runs; r++) {
        char name[64];
        snprintf(name, sizeof name, "http-idle-%zu", r + 1);
        server_t srv;
        v[r] = v[runs + r] = NAN;
        if (server_start(cfg, exe, name, &srv) != 0) {
            continue;
        }
        if (idle_run(srv.port, srv.pid, &v[r], &v[runs + r]) != 0 || v[r] <= 0 ||
            v[runs + r] <= 0) {
            v[r] = v[runs + r] = NAN;
        }
        if (server_stop(&srv) != 0) {
            v[r] = v[runs + r] = NAN;
        }
    }
    double before = median(v, runs), with = median(v + runs, runs);
    char name[96];
    report_figure("http.idle.rss_before", before / 1024.0, "MiB", TARGET_NONE, NAN, NAN, NULL);
    snprintf(name, sizeof name, "http.idle.rss_%usubs", IDLE_SUBSCRIBERS);
    report_figure(name, with / 1024.0, "MiB", TARGET_NONE, NAN, NAN, NULL);
    report_figure("http.idle.per_subscriber", (with - before) / IDLE_SUBSCRIBERS, "KiB",
                  TARGET_NONE, NAN, NAN, NULL);
    report_note("http.idle: VmRSS of a freshly started steled (empty store) before and with %u "
                "idle subscribers on GET /subscribe?from=end (each with its 200 and counted by "
                "stele_subscribers); a new server for each run",
                IDLE_SUBSCRIBERS);
    free(v);
}

/* --- appends and /health while subscribers scan the log for nothing ----------------------- */

typedef struct scan_result {
    double append_p50, append_p99, health_p50, health_p99; /* us */
    uint64_t appends;
    double catching_up_end; /* subscribers still reading their history when measuring ended */
} scan_result_t;

/* For cfg->seconds: append one event on one connection, then GET /health on another, timing each.
 * Returns 0 or -1. */
static int scan_measure(const bench_config_t *cfg, uint16_t port, int run, scan_result_t *out) {
    int afd = tcp_connect(port), hfd = tcp_connect(port);
    buf_t req = {0}, in = {0}, body = {0};
    lat_vec_t app = {0}, health = {0};
    int rc = afd >= 0 && hfd >= 0 ? 0 : -1;
    static const char get_health[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char stream[64];
    snprintf(stream, sizeof stream, "order-scan-%d", run);
    uint64_t t_end = now_ns() + (uint64_t)(cfg->seconds * 1e9);
    for (uint64_t k = 0; rc == 0 && now_ns() < t_end; k++) {
        size_t hl, bl;
        body.len = req.len = 0;
        if (make_body(&body, (uint64_t)run, k, 1) != 0 ||
            make_post(&req, stream, body.p, body.len) != 0) {
            rc = -1;
            break;
        }
        uint64_t t0 = now_ns();
        int st = request(afd, req.p, req.len, &in, &hl, &bl);
        uint64_t t1 = now_ns();
        if (st != 201) {
            fprintf(stderr, "stele-bench: http.scan append: status %d\n", st);
            rc = -1;
            break;
        }
        buf_consume(&in, hl + bl);
        lat_push(&app, t1 - t0);
        st = request(hfd, get_health, sizeof get_health - 1, &in, &hl, &bl);
        if (st != 200) {
            fprintf(stderr, "stele-bench: http.scan /health: status %d\n", st);
            rc = -1;
            break;
        }
        buf_consume(&in, hl + bl);
        lat_push(&health, now_ns() - t1);
    }
    if (rc == 0 && app.n > 0) {
        out->append_p50 = (double)lat_percentile(&app, 50) / 1e3;
        out->append_p99 = (double)lat_percentile(&app, 99) / 1e3;
        out->health_p50 = (double)lat_percentile(&health, 50) / 1e3;
        out->health_p99 = (double)lat_percentile(&health, 99) / 1e3;
        out->appends = app.n;
    } else {
        rc = -1;
    }
    if (afd >= 0) {
        close(afd);
    }
    if (hfd >= 0) {
        close(hfd);
    }
    lat_free(&app);
    lat_free(&health);
    buf_free(&req);
    buf_free(&in);
    buf_free(&body);
    return rc;
}

/* Open SCAN_SUBSCRIBERS subscribers on GET /subscribe?type=<none> (from the start: each scans the
 * whole log), measure while they scan, close them. */
static int scan_run(const bench_config_t *cfg, uint16_t port, int run, scan_result_t *out) {
    int *fds = malloc(SCAN_SUBSCRIBERS * sizeof *fds);
    if (!fds) {
        return -1;
    }
    static const char sub[] = "GET /subscribe?type=NoSuchType HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Accept: text/event-stream\r\n\r\n";
    unsigned n = 0;
    int rc = 0;
    for (; n < SCAN_SUBSCRIBERS; n++) {
        fds[n] = tcp_connect(port);
        if (fds[n] < 0 || write_all(fds[n], sub, sizeof sub - 1) != 0) {
            fprintf(stderr, "stele-bench: scanning subscriber %u: %s\n", n, strerror(errno));
            n += fds[n] >= 0;
            rc = -1;
            break;
        }
    }
    for (int i = 0; rc == 0 && i < 1000 && metric(port, "stele_subscribers") < SCAN_SUBSCRIBERS;
         i++) {
        sleep_seconds(0.01);
    }
    if (rc == 0 && metric(port, "stele_subscribers") != (double)SCAN_SUBSCRIBERS) {
        fprintf(stderr, "stele-bench: http.scan: not all %u subscribers were taken\n",
                SCAN_SUBSCRIBERS);
        rc = -1;
    }
    if (rc == 0) {
        rc = scan_measure(cfg, port, run, out);
        out->catching_up_end = metric(port, "stele_subscribers_catching_up");
    }
    for (unsigned i = 0; i < n; i++) {
        close(fds[i]);
    }
    free(fds);
    for (int i = 0; i < 200 && metric(port, "stele_subscribers") > 0; i++) {
        sleep_seconds(0.05);
    }
    return rc;
}

static void http_scan(const bench_config_t *cfg, const char *exe) {
    server_t srv;
    if (server_start(cfg, exe, "http-scan", &srv) != 0) {
        report_figure("http.scan.server", NAN, "-", TARGET_NONE, NAN, NAN, NULL);
        return;
    }
    size_t runs = (size_t)cfg->runs;
    double *v = calloc(runs * 8, sizeof *v);
    uint64_t appends = 0;
    double catching_up = NAN;
    if (v && top_up(srv.port, SCAN_EVENTS) == 0) {
        for (size_t r = 0; r < runs; r++) {
            scan_result_t base = {0}, busy = {0};
            bool ok = scan_measure(cfg, srv.port, (int)(2 * r), &base) == 0 &&
                      scan_run(cfg, srv.port, (int)(2 * r + 1), &busy) == 0;
            double vals[8] = {base.append_p50, base.append_p99, base.health_p50, base.health_p99,
                              busy.append_p50, busy.append_p99, busy.health_p50, busy.health_p99};
            for (size_t i = 0; i < 8; i++) {
                v[i * runs + r] = ok ? vals[i] : NAN;
            }
            appends = busy.appends;
            catching_up = busy.catching_up_end;
        }
    }
    static const char *const names[8] = {"http.scan.base_append_p50", "http.scan.base_append_p99",
                                         "http.scan.base_health_p50", "http.scan.base_health_p99",
                                         "http.scan.append_p50",      "http.scan.append_p99",
                                         "http.scan.health_p50",      "http.scan.health_p99"};
    for (size_t i = 0; i < 8; i++) {
        report_figure(names[i], v ? median(v + i * runs, runs) : NAN, "us", TARGET_NONE, NAN, NAN,
                      NULL);
    }
    report_note(
        "http.scan: a store of %u events (1000-event appends); one client appends one event "
        "(--durability sync) and then GETs /health on a second connection, for %.1f s, "
        "first alone (base_*), then with %u subscribers on GET /subscribe?type=NoSuchType "
        "from the start, each scanning the whole log for nothing; in the last run %llu "
        "appends were measured and %.0f subscribers were still catching up at its end",
        SCAN_EVENTS, cfg->seconds, SCAN_SUBSCRIBERS, (unsigned long long)appends, catching_up);
    free(v);
    if (server_stop(&srv) != 0) {
        report_figure("http.scan.server_shutdown", NAN, "-", TARGET_NONE, NAN, NAN, NULL);
    }
}

/* --- the whole sequence -------------------------------------------------------------------- */

static bool selected(const bench_config_t *cfg, const char *name) {
    return bench_selected(cfg, "http") || bench_selected(cfg, name);
}

/* True when --only names an http workload (so a missing steled is an error, not a skip). */
static bool explicitly_selected(const bench_config_t *cfg) {
    return cfg->only && strstr(cfg->only, "http") != NULL;
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * IDLE_SUBSCRIBERS) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 8192 ? 8192 : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The load workloads on one server (a fresh store "http-store"). */
static void http_load(const bench_config_t *cfg, const limits_t *lim, const char *exe,
                      bool want_append, bool want_batch, bool want_readall, bool want_sse) {
    server_t srv;
    if (server_start(cfg, exe, "http-store", &srv) != 0) {
        report_figure("http.server", NAN, "-", TARGET_NONE, NAN, NAN, NULL);
        return;
    }
    report_note("http: steled (same build) on a fresh store, --durability sync, 127.0.0.1; "
                "keep-alive HTTP/1.1 connections driven by %u epoll threads, one request in flight "
                "per connection; one event = ~%u bytes of JSON data; latency is request sent to "
                "response read; %d run(s) of %.1f s after %.1f s warm-up, median reported",
                LOAD_THREADS, DATA_BYTES, cfg->runs, cfg->seconds, cfg->warmup);
    if (want_append) {
        http_appends(cfg, lim, srv.port, srv.pid);
    }
    if (want_batch) {
        http_batch(cfg, lim, srv.port, srv.pid);
    }
    if (want_readall) {
        http_readall(cfg, srv.port);
    }
    if (want_sse) {
        http_sse(cfg, srv.port);
    }
    if (server_stop(&srv) != 0) {
        report_figure("http.server_shutdown", NAN, "-", TARGET_NONE, NAN, NAN, NULL);
    }
}

void http_run(const bench_config_t *cfg, const limits_t *lim) {
    bool want_append = selected(cfg, "http.append"), want_batch = selected(cfg, "http.batch"),
         want_readall = selected(cfg, "http.readall"), want_sse = selected(cfg, "http.sse"),
         want_idle = selected(cfg, "http.idle"), want_scan = selected(cfg, "http.scan");
    if (!want_append && !want_batch && !want_readall && !want_sse && !want_idle && !want_scan) {
        return;
    }
    char exe[PATH_MAX];
    if (steled_path(exe, sizeof exe) != 0) {
        if (explicitly_selected(cfg)) {
            fprintf(stderr, "stele-bench: no executable steled next to stele-bench\n");
            report_figure("http.server", NAN, "-", TARGET_NONE, NAN, NAN, NULL);
        } else {
            report_note("http: skipped (no steled next to stele-bench; build it to measure the "
                        "server)");
        }
        return;
    }
    raise_nofile();
    fprintf(stderr, "running the HTTP workloads against steled...\n");
    if (want_append || want_batch || want_readall || want_sse) {
        http_load(cfg, lim, exe, want_append, want_batch, want_readall, want_sse);
    }
    if (want_idle) {
        http_idle(cfg, exe);
    }
    if (want_scan) {
        http_scan(cfg, exe);
    }
}
