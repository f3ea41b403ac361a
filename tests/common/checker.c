/*
 * checker.c -- the acknowledgement checker and the helpers of the crash tests (see checker.h).
 */
#include "checker.h"

#include "os/vfs.h"
#include "util/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- random numbers, environment ------------------------------------------------------------- */

uint64_t chk_rnd(chk_rng_t *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t chk_below(chk_rng_t *r, uint64_t n) { return n <= 1 ? 0 : chk_rnd(r) % n; }

uint64_t chk_env_u64(const char *name, uint64_t def) {
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 0);
    return (end && *end == '\0') ? (uint64_t)x : def;
}

uint64_t chk_seed(const char *name) {
    uint64_t seed;
    const char *v = getenv("STELE_TEST_SEED");
    if (v && *v) {
        seed = chk_env_u64("STELE_TEST_SEED", 1);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        chk_rng_t r = {(uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid()};
        seed = chk_rnd(&r) >> 16;
    }
    printf("%s: seed %" PRIu64 " (replay with STELE_TEST_SEED=%" PRIu64 ")\n", name, seed, seed);
    fflush(stdout);
    return seed;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
#define CHK_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHK_SANITIZED 1
#endif

bool chk_sanitized(void) {
#ifdef CHK_SANITIZED
    return true;
#else
    return getenv("STELE_SANITIZED") != NULL;
#endif
}

/* ---- files ----------------------------------------------------------------------------------- */

void chk_tmpdir(char *out, size_t size, const char *tag) {
    const char *root = getenv("STELE_TEST_TMP");
    if (!root || !*root)
        root = "/tmp";
    (void)mkdir(root, 0755);
    snprintf(out, size, "%s/%s.XXXXXX", root, tag);
    if (!mkdtemp(out)) {
        fprintf(stderr, "mkdtemp %s: %s\n", out, strerror(errno));
        abort();
    }
}

void chk_rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                chk_rmtree(sub);
            }
            closedir(d);
        }
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

static int copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 0 : -errno; /* removed by a live store meanwhile: not copied */
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = -errno;
        close(in);
        return e;
    }
    static _Thread_local char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0) {
                rc = -errno;
                break;
            }
            w += k;
        }
        if (rc)
            break;
    }
    close(in);
    close(out);
    return rc;
}

int chk_copytree(const char *from, const char *to) {
    struct stat st;
    if (lstat(from, &st) < 0)
        return errno == ENOENT ? 0 : -errno; /* removed by a live store meanwhile: not copied */
    if (!S_ISDIR(st.st_mode))
        return copy_file(from, to);
    if (mkdir(to, 0755) < 0)
        return -errno;
    DIR *d = opendir(from);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        rc = chk_copytree(a, b);
    }
    closedir(d);
    return rc;
}

int chk_read_file(const char *path, uint8_t **buf, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *b = malloc(n + 1);
    if (!b) {
        close(fd);
        return -ENOMEM;
    }
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    *buf = b;
    *len = got;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int chk_segment_path(const char *store_dir, int i, char *out, size_t size, size_t *count) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/log", store_dir);
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 4096) {
        size_t l = strlen(e->d_name);
        if (l == 24 && strcmp(e->d_name + 20, ".seg") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    if (count)
        *count = n;
    int rc = 0;
    size_t pick = i < 0 ? n - 1 : (size_t)i;
    if (n == 0 || pick >= n)
        rc = -ENOENT;
    else
        snprintf(out, size, "%s/%s", dir, names[pick]);
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    return rc;
}

/* ---- a file table without syncs ------------------------------------------------------------ */

static stele_vfs_t nosync_table;
static pthread_once_t nosync_once = PTHREAD_ONCE_INIT;

static int nosync_open(const stele_vfs_t *vfs, const char *path, unsigned flags,
                       stele_file_t **out) {
    const stele_vfs_t *posix = stele__vfs_posix();
    int rc = posix->open(posix, path, flags, out);
    if (rc == 0)
        (*out)->vfs = vfs; /* the POSIX file functions do not look at it */
    return rc;
}
static int nosync_sync(stele_file_t *f) {
    (void)f;
    return 0;
}
static int nosync_sync_dir(const stele_vfs_t *vfs, const char *path) {
    (void)vfs;
    (void)path;
    return 0;
}
static void nosync_init(void) {
    nosync_table = *stele__vfs_posix();
    nosync_table.name = "nosync";
    nosync_table.open = nosync_open;
    nosync_table.sync = nosync_sync;
    nosync_table.sync_dir = nosync_sync_dir;
}

const struct stele_vfs *chk_nosync_vfs(void) {
    pthread_once(&nosync_once, nosync_init);
    return &nosync_table;
}

/* ---- events ---------------------------------------------------------------------------------- */

void chk_event_make(chk_event_t *e, const stele_uuid_t *id) {
    memset(&e->in, 0, sizeof e->in);
    char hex[37];
    stele_uuid_format(id, hex);
    unsigned pad = id->bytes[15] % (CHK_PAD_MAX + 1u);
    snprintf(e->type, sizeof e->type, "T%u", id->bytes[14] % 4u);
    int n = snprintf(e->data, sizeof e->data, "{\"id\":\"%s\",\"p\":\"", hex);
    for (unsigned k = 0; k < pad; k++)
        e->data[n + (int)k] = (char)('a' + (id->bytes[k % 16] + k) % 26);
    n += (int)pad;
    n += snprintf(e->data + n, sizeof e->data - (size_t)n, "\"}");
    e->in.type = e->type;
    e->in.data = e->data;
    e->in.data_len = (size_t)n;
    if (id->bytes[13] % 3 == 0) {
        int m = snprintf(e->meta, sizeof e->meta, "{\"k\":%u}", id->bytes[12]);
        e->in.metadata = e->meta;
        e->in.metadata_len = (size_t)m;
    }
    e->in.id = *id;
}

void chk_digest(const char *type, size_t type_len, const void *data, size_t data_len,
                const void *meta, size_t meta_len, uint8_t out[32]) {
    stele_sha256_t sha;
    uint64_t l;
    stele__sha256_init(&sha);
    l = type_len;
    stele__sha256_update(&sha, &l, sizeof l);
    stele__sha256_update(&sha, type, type_len);
    l = data_len;
    stele__sha256_update(&sha, &l, sizeof l);
    if (data_len)
        stele__sha256_update(&sha, data, data_len);
    l = meta ? meta_len : UINT64_MAX;
    stele__sha256_update(&sha, &l, sizeof l);
    if (meta && meta_len)
        stele__sha256_update(&sha, meta, meta_len);
    stele__sha256_final(&sha, out);
}

/* ---- the id map: 16-byte key -> 32-bit value --------------------------------------------------
 */

typedef struct idmap {
    stele_uuid_t *keys;
    uint32_t *vals; /* UINT32_MAX = empty */
    size_t cap, count;
} idmap_t;

static uint64_t id_hash(const stele_uuid_t *id) {
    uint64_t a, b;
    memcpy(&a, id->bytes, 8);
    memcpy(&b, id->bytes + 8, 8);
    chk_rng_t r = {a ^ (b * 0x9E3779B97F4A7C15ull)};
    return chk_rnd(&r);
}

static void idmap_free(idmap_t *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static uint32_t *idmap_slot(idmap_t *m, const stele_uuid_t *id, bool *found) {
    size_t mask = m->cap - 1, i = (size_t)id_hash(id) & mask;
    for (;;) {
        if (m->vals[i] == UINT32_MAX) {
            *found = false;
            return &m->vals[i];
        }
        if (memcmp(m->keys[i].bytes, id->bytes, 16) == 0) {
            *found = true;
            return &m->vals[i];
        }
        i = (i + 1) & mask;
    }
}

static void idmap_grow(idmap_t *m) {
    idmap_t n = {0};
    n.cap = m->cap ? m->cap * 2 : 1024;
    n.keys = calloc(n.cap, sizeof *n.keys);
    n.vals = malloc(n.cap * sizeof *n.vals);
    if (!n.keys || !n.vals)
        abort();
    memset(n.vals, 0xff, n.cap * sizeof *n.vals);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->vals[i] == UINT32_MAX)
            continue;
        bool f;
        uint32_t *s = idmap_slot(&n, &m->keys[i], &f);
        *s = m->vals[i];
        n.keys[s - n.vals] = m->keys[i];
        n.count++;
    }
    idmap_free(m);
    *m = n;
}

/* Find id; when absent and insert is set, add it with value v. Returns the stored value or
 * UINT32_MAX when absent (and not inserted). */
static uint32_t idmap_get(idmap_t *m, const stele_uuid_t *id, bool insert, uint32_t v,
                          bool *was_there) {
    if (m->cap == 0 || (insert && (m->count + 1) * 2 > m->cap))
        idmap_grow(m);
    bool f;
    uint32_t *s = idmap_slot(m, id, &f);
    if (was_there)
        *was_there = f;
    if (f)
        return *s;
    if (!insert)
        return UINT32_MAX;
    *s = v;
    m->keys[s - m->vals] = *id;
    m->count++;
    return v;
}

/* ---- the checker ----------------------------------------------------------------------------- */

typedef struct ack {
    stele_uuid_t id;
    char *stream;
    int64_t version;
    uint64_t position;
    uint8_t digest[32];
} ack_t;

typedef struct ipart {
    char *stream;
    int64_t expected;
    size_t count;
    stele_uuid_t *ids;
} ipart_t;

typedef struct intent {
    bool retry_ok;
    size_t nparts;
    ipart_t *parts;
} intent_t;

struct chk {
    pthread_mutex_t mu; /* chk_intent and chk_ack may be called from several threads */
    int fd;             /* ack log, or -1 */
    ack_t *acks;
    size_t nacks, acks_cap;
    idmap_t ackmap; /* id -> index in acks */
    intent_t *intents;
    size_t nintents, intents_cap;
    char err[1024];
    chk_stats_t stats;
};

static int failf(chk_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(chk_t *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return -1;
}

const char *chk_last_error(const chk_t *c) { return c->err; }

chk_t *chk_new(const char *log_path) {
    chk_t *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    if (log_path) {
        c->fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (c->fd < 0) {
            fprintf(stderr, "open %s: %s\n", log_path, strerror(errno));
            abort();
        }
    }
    return c;
}

void chk_free(chk_t *c) {
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    for (size_t i = 0; i < c->nacks; i++)
        free(c->acks[i].stream);
    free(c->acks);
    idmap_free(&c->ackmap);
    for (size_t i = 0; i < c->nintents; i++) {
        for (size_t j = 0; j < c->intents[i].nparts; j++) {
            free(c->intents[i].parts[j].stream);
            free(c->intents[i].parts[j].ids);
        }
        free(c->intents[i].parts);
    }
    free(c->intents);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void log_write(chk_t *c, const char *buf, size_t len) {
    if (c->fd < 0)
        return;
    /* One write: a kill leaves whole lines or a partial last line, which loading ignores. */
    ssize_t n = write(c->fd, buf, len);
    if (n != (ssize_t)len) {
        fprintf(stderr, "ack log write failed\n");
        abort();
    }
}

/* A growable text buffer. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf_t *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
}

static void add_intent(chk_t *c, intent_t *in) {
    if (c->nintents == c->intents_cap) {
        c->intents_cap = c->intents_cap ? c->intents_cap * 2 : 256;
        c->intents = realloc(c->intents, c->intents_cap * sizeof *c->intents);
        if (!c->intents)
            abort();
    }
    c->intents[c->nintents++] = *in;
}

uint64_t chk_intent(chk_t *c, const stele_append_part_t *parts, size_t nparts, bool retry_ok) {
    intent_t in = {
        .retry_ok = retry_ok, .nparts = nparts, .parts = calloc(nparts, sizeof(ipart_t))};
    sbuf_t b = {0};
    sb_add(&b, "I %d %zu", retry_ok ? 1 : 0, nparts);
    for (size_t i = 0; i < nparts; i++) {
        ipart_t *p = &in.parts[i];
        p->stream = strdup(parts[i].stream);
        p->expected = parts[i].expected_version;
        p->count = parts[i].count;
        p->ids = malloc(p->count * sizeof *p->ids);
        if (!p->stream || !p->ids)
            abort();
        sb_add(&b, " %s %" PRId64 " %zu", p->stream, p->expected, p->count);
        for (size_t k = 0; k < p->count; k++) {
            char hex[37];
            p->ids[k] = parts[i].events[k].id;
            stele_uuid_format(&p->ids[k], hex);
            sb_add(&b, " %s", hex);
        }
    }
    sb_add(&b, "\n");
    pthread_mutex_lock(&c->mu);
    add_intent(c, &in);
    log_write(c, b.p, b.len);
    uint64_t n = c->nintents - 1;
    pthread_mutex_unlock(&c->mu);
    free(b.p);
    return n;
}

/* Record one ack; a second ack for an id must agree with the first. */
static int add_ack(chk_t *c, const ack_t *a) {
    bool there = false;
    uint32_t idx = idmap_get(&c->ackmap, &a->id, true, (uint32_t)c->nacks, &there);
    if (there) {
        const ack_t *o = &c->acks[idx];
        char hex[37];
        stele_uuid_format(&a->id, hex);
        if (strcmp(o->stream, a->stream) != 0 || o->version != a->version ||
            o->position != a->position || memcmp(o->digest, a->digest, 32) != 0)
            return failf(c,
                         "event %s acknowledged twice differently: %s@%" PRId64 " pos %" PRIu64
                         ", then %s@%" PRId64 " pos %" PRIu64,
                         hex, o->stream, o->version, o->position, a->stream, a->version,
                         a->position);
        return 0;
    }
    if (c->nacks == c->acks_cap) {
        c->acks_cap = c->acks_cap ? c->acks_cap * 2 : 1024;
        c->acks = realloc(c->acks, c->acks_cap * sizeof *c->acks);
        if (!c->acks)
            abort();
    }
    ack_t *n = &c->acks[c->nacks++];
    *n = *a;
    n->stream = strdup(a->stream);
    if (!n->stream)
        abort();
    return 0;
}

int chk_ack(chk_t *c, const stele_append_part_t *parts, size_t nparts) {
    sbuf_t b = {0};
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < nparts && rc == 0; i++) {
        const stele_append_part_t *p = &parts[i];
        const stele_append_result_t *r = &p->result;
        if (r->last_version - r->first_version + 1 != (int64_t)p->count ||
            r->last_position - r->first_position + 1 != p->count) {
            rc = failf(c,
                       "append to %s: result versions %" PRId64 "..%" PRId64 " positions %" PRIu64
                       "..%" PRIu64 " for %zu events",
                       p->stream, r->first_version, r->last_version, r->first_position,
                       r->last_position, p->count);
            break;
        }
        for (size_t k = 0; k < p->count; k++) {
            const stele_event_in_t *e = &p->events[k];
            ack_t a = {.id = e->id,
                       .stream = (char *)p->stream,
                       .version = r->first_version + (int64_t)k,
                       .position = r->first_position + k};
            chk_digest(e->type, strlen(e->type), e->data, e->data_len, e->metadata, e->metadata_len,
                       a.digest);
            char hex[37], dh[65];
            stele_uuid_format(&a.id, hex);
            stele__hex(a.digest, 32, dh);
            sb_add(&b, "A %s %s %" PRId64 " %" PRIu64 " %s\n", hex, a.stream, a.version, a.position,
                   dh);
            if ((rc = add_ack(c, &a)) < 0)
                break;
        }
    }
    if (b.p)
        log_write(c, b.p, b.len);
    pthread_mutex_unlock(&c->mu);
    free(b.p);
    return rc;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static bool parse_digest(const char *s, uint8_t out[32]) {
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0)
            return false;
        out[i] = (uint8_t)(h * 16 + l);
    }
    return true;
}

/* Parse one whole line; false when malformed (a torn last line). */
static bool parse_line(chk_t *c, char *line) {
    char *save = NULL, *tok = strtok_r(line, " ", &save);
    if (!tok)
        return false;
    if (strcmp(tok, "A") == 0) {
        char *id = strtok_r(NULL, " ", &save), *stream = strtok_r(NULL, " ", &save);
        char *ver = strtok_r(NULL, " ", &save), *pos = strtok_r(NULL, " ", &save);
        char *dig = strtok_r(NULL, " ", &save);
        ack_t a = {0};
        if (!dig || stele_uuid_parse(id, &a.id) != 0 || !parse_digest(dig, a.digest))
            return false;
        a.stream = stream;
        a.version = strtoll(ver, NULL, 10);
        a.position = strtoull(pos, NULL, 10);
        if (add_ack(c, &a) < 0) {
            fprintf(stderr, "ack log: %s\n", c->err);
            c->stats.head = UINT64_MAX; /* poison: verify reports it */
        }
        return true;
    }
    if (strcmp(tok, "I") == 0) {
        char *r = strtok_r(NULL, " ", &save), *np = strtok_r(NULL, " ", &save);
        if (!np)
            return false;
        intent_t in = {.retry_ok = atoi(r) != 0, .nparts = strtoul(np, NULL, 10)};
        if (in.nparts == 0 || in.nparts > STELE_MAX_COMMIT_STREAMS)
            return false;
        in.parts = calloc(in.nparts, sizeof(ipart_t));
        bool ok = true;
        for (size_t i = 0; i < in.nparts && ok; i++) {
            ipart_t *p = &in.parts[i];
            char *st = strtok_r(NULL, " ", &save), *ex = strtok_r(NULL, " ", &save);
            char *cnt = strtok_r(NULL, " ", &save);
            if (!cnt) {
                ok = false;
                break;
            }
            p->stream = strdup(st);
            p->expected = strtoll(ex, NULL, 10);
            p->count = strtoul(cnt, NULL, 10);
            p->ids = calloc(p->count ? p->count : 1, sizeof *p->ids);
            for (size_t k = 0; k < p->count && ok; k++) {
                char *id = strtok_r(NULL, " ", &save);
                ok = id && stele_uuid_parse(id, &p->ids[k]) == 0;
            }
        }
        if (!ok) {
            for (size_t i = 0; i < in.nparts; i++) {
                free(in.parts[i].stream);
                free(in.parts[i].ids);
            }
            free(in.parts);
            return false;
        }
        add_intent(c, &in);
        return true;
    }
    return false;
}

int chk_load(chk_t *c, const char *log_path) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = chk_read_file(log_path, &buf, &len);
    if (rc < 0)
        return rc;
    size_t start = 0;
    while (start < len) {
        uint8_t *nl = memchr(buf + start, '\n', len - start);
        if (!nl)
            break; /* a partial last line: its write never finished */
        *nl = '\0';
        (void)parse_line(c, (char *)buf + start);
        start = (size_t)(nl - buf) + 1;
    }
    free(buf);
    return 0;
}

void chk_get_stats(const chk_t *c, chk_stats_t *out) { *out = c->stats; }

/* ---- verify ---------------------------------------------------------------------------------- */

typedef struct pev {
    stele_uuid_t id;
    int64_t version;
    uint32_t stream; /* index into names */
    uint8_t digest[32];
} pev_t;

typedef struct vstate {
    pev_t *ev; /* ev[p - 1] for position p */
    uint64_t n;
    char **names;
    size_t nnames, names_cap;
    uint64_t **spos; /* per stream: positions in order */
    size_t *scount, *scap;
    idmap_t namemap; /* not used for ids: names hashed into a uuid-shaped key */
    idmap_t ids;     /* event id -> position */
} vstate_t;

static stele_uuid_t name_key(const char *s, size_t len) {
    uint8_t h[32];
    stele__sha256(s, len, h);
    stele_uuid_t k;
    memcpy(k.bytes, h, 16);
    return k;
}

static uint32_t intern(vstate_t *v, const char *s, size_t len) {
    stele_uuid_t k = name_key(s, len);
    bool there = false;
    uint32_t idx = idmap_get(&v->namemap, &k, true, (uint32_t)v->nnames, &there);
    if (there)
        return idx;
    if (v->nnames == v->names_cap) {
        v->names_cap = v->names_cap ? v->names_cap * 2 : 64;
        v->names = realloc(v->names, v->names_cap * sizeof *v->names);
        v->spos = realloc(v->spos, v->names_cap * sizeof *v->spos);
        v->scount = realloc(v->scount, v->names_cap * sizeof *v->scount);
        v->scap = realloc(v->scap, v->names_cap * sizeof *v->scap);
        if (!v->names || !v->spos || !v->scount || !v->scap)
            abort();
    }
    v->names[v->nnames] = strndup(s, len);
    v->spos[v->nnames] = NULL;
    v->scount[v->nnames] = v->scap[v->nnames] = 0;
    return (uint32_t)v->nnames++;
}

static void vstate_free(vstate_t *v) {
    free(v->ev);
    for (size_t i = 0; i < v->nnames; i++) {
        free(v->names[i]);
        free(v->spos[i]);
    }
    free(v->names);
    free(v->spos);
    free(v->scount);
    free(v->scap);
    idmap_free(&v->namemap);
    idmap_free(&v->ids);
}

static int scan_all(chk_t *c, stele_store_t *s, uint64_t head, vstate_t *v) {
    v->ev = calloc(head ? head : 1, sizeof *v->ev);
    if (!v->ev)
        abort();
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.filter.include_system = true;
    stele_reader_t *r = NULL;
    int rc = stele_read_all(s, &o, &r);
    if (rc < 0)
        return failf(c, "read_all: %s (%s)", stele_strerror(rc), stele_errdetail());
    stele_event_t e;
    uint64_t expect = 1;
    while ((rc = stele_reader_next(r, &e)) == 1) {
        if (e.position != expect) {
            stele_reader_close(r);
            return failf(c, "$all: position %" PRIu64 " where %" PRIu64 " was expected (a gap)",
                         e.position, expect);
        }
        if (expect > head) {
            stele_reader_close(r);
            return failf(c, "$all: position %" PRIu64 " beyond the head %" PRIu64, e.position,
                         head);
        }
        pev_t *p = &v->ev[expect - 1];
        p->id = e.id;
        p->version = e.version;
        p->stream = intern(v, e.stream, e.stream_len);
        chk_digest(e.type, e.type_len, e.data, e.data_len, e.metadata, e.metadata_len, p->digest);
        size_t si = p->stream;
        if (v->scount[si] == v->scap[si]) {
            v->scap[si] = v->scap[si] ? v->scap[si] * 2 : 16;
            v->spos[si] = realloc(v->spos[si], v->scap[si] * sizeof(uint64_t));
            if (!v->spos[si])
                abort();
        }
        v->spos[si][v->scount[si]++] = expect;
        bool dup = false;
        uint32_t prev = idmap_get(&v->ids, &e.id, true, (uint32_t)expect, &dup);
        if (dup) {
            char hex[37];
            stele_uuid_format(&e.id, hex);
            stele_reader_close(r);
            return failf(c, "event id %s appears twice: positions %u and %" PRIu64, hex, prev,
                         expect);
        }
        expect++;
    }
    stele_reader_close(r);
    if (rc < 0)
        return failf(c, "$all read failed at position %" PRIu64 ": %s (%s)", expect,
                     stele_strerror(rc), stele_errdetail());
    if (expect != head + 1)
        return failf(c, "$all ends at %" PRIu64 " but the head is %" PRIu64, expect - 1, head);
    v->n = head;
    return 0;
}

static int check_acks(chk_t *c, const vstate_t *v) {
    for (size_t i = 0; i < c->nacks; i++) {
        const ack_t *a = &c->acks[i];
        char hex[37];
        stele_uuid_format(&a->id, hex);
        if (a->position == 0 || a->position > v->n)
            return failf(c,
                         "acknowledged event %s (%s@%" PRId64 ", position %" PRIu64
                         ") is lost: the head is %" PRIu64,
                         hex, a->stream, a->version, a->position, v->n);
        const pev_t *p = &v->ev[a->position - 1];
        if (memcmp(p->id.bytes, a->id.bytes, 16) != 0 || strcmp(v->names[p->stream], a->stream) ||
            p->version != a->version || memcmp(p->digest, a->digest, 32) != 0) {
            char got[37];
            stele_uuid_format(&p->id, got);
            return failf(c,
                         "acknowledged event %s (%s@%" PRId64 ") at position %" PRIu64
                         " differs from what is stored there: %s %s@%" PRId64 "%s",
                         hex, a->stream, a->version, a->position, got, v->names[p->stream],
                         p->version, memcmp(p->digest, a->digest, 32) ? " (payload differs)" : "");
        }
    }
    return 0;
}

static int check_intents(chk_t *c, vstate_t *v) {
    c->stats.unknown = 0;
    for (size_t i = 0; i < c->nintents; i++) {
        const intent_t *in = &c->intents[i];
        size_t total = 0, present = 0;
        uint64_t prev = 0;
        bool consecutive = true;
        for (size_t j = 0; j < in->nparts; j++) {
            for (size_t k = 0; k < in->parts[j].count; k++) {
                uint32_t pos = idmap_get(&v->ids, &in->parts[j].ids[k], false, 0, NULL);
                total++;
                if (pos != UINT32_MAX) {
                    present++;
                    if (prev && pos != prev + 1)
                        consecutive = false;
                    prev = pos;
                }
            }
        }
        if (present != 0 && present != total)
            return failf(c, "a commit is partly visible: %zu of its %zu events (first stream %s)",
                         present, total, in->parts[0].stream);
        if (present && !consecutive)
            return failf(c, "the events of one commit (first stream %s) are not consecutive",
                         in->parts[0].stream);
        if (idmap_get(&c->ackmap, &in->parts[0].ids[0], false, 0, NULL) == UINT32_MAX)
            c->stats.unknown++;
    }
    return 0;
}

static int check_index(chk_t *c, stele_store_t *s, const vstate_t *v) {
    c->stats.streams = 0;
    for (size_t si = 0; si < v->nnames; si++) {
        stele_reader_t *r = NULL;
        int rc = stele_read_stream(s, v->names[si], 0, STELE_FORWARD, 0, &r);
        if (rc == STELE_EDELETED || rc == STELE_ETOMBSTONED)
            continue;
        if (rc < 0)
            return failf(c, "read_stream %s: %s (%s)", v->names[si], stele_strerror(rc),
                         stele_errdetail());
        stele_event_t e;
        size_t k = 0;
        while ((rc = stele_reader_next(r, &e)) == 1) {
            if (k >= v->scount[si]) {
                stele_reader_close(r);
                return failf(c, "stream %s: the index gives more events than $all holds (%zu)",
                             v->names[si], v->scount[si]);
            }
            uint64_t pos = v->spos[si][k];
            const pev_t *p = &v->ev[pos - 1];
            if (e.position != pos || e.version != p->version ||
                memcmp(e.id.bytes, p->id.bytes, 16) != 0 || p->version != (int64_t)k) {
                stele_reader_close(r);
                return failf(c,
                             "stream %s event %zu: index read gives version %" PRId64
                             " position %" PRIu64 ", $all has version %" PRId64
                             " at position %" PRIu64,
                             v->names[si], k, e.version, e.position, p->version, pos);
            }
            k++;
        }
        stele_reader_close(r);
        if (rc < 0)
            return failf(c, "read_stream %s failed after %zu events: %s (%s)", v->names[si], k,
                         stele_strerror(rc), stele_errdetail());
        if (k != v->scount[si])
            return failf(c, "stream %s: the index gives %zu events, $all holds %zu", v->names[si],
                         k, v->scount[si]);
        stele_stream_info_t info = {.struct_size = sizeof info};
        rc = stele_stream_info(s, v->names[si], &info);
        if (rc < 0 || info.last_version != (int64_t)k - 1 ||
            info.last_position != v->spos[si][k - 1])
            return failf(c,
                         "stream %s: info says last version %" PRId64 " position %" PRIu64
                         ", the log says %zu / %" PRIu64,
                         v->names[si], info.last_version, info.last_position, k - 1,
                         v->spos[si][k - 1]);
        c->stats.streams++;
    }
    return 0;
}

int chk_verify(chk_t *c, stele_store_t *s) {
    c->err[0] = '\0';
    if (c->stats.head == UINT64_MAX)
        return failf(c, "the ack log holds contradicting acknowledgements");
    uint64_t head = 0;
    uint8_t hash[32];
    int rc = stele_head_digest(s, &head, hash);
    if (rc < 0)
        return failf(c, "head_digest: %s", stele_strerror(rc));
    vstate_t v = {0};
    rc = scan_all(c, s, head, &v);
    if (rc == 0)
        rc = check_acks(c, &v);
    if (rc == 0)
        rc = check_intents(c, &v);
    if (rc == 0)
        rc = check_index(c, s, &v);
    if (rc == 0) {
        stele_verify_report_t rep = {.struct_size = sizeof rep};
        int vr = stele_verify(s, NULL, NULL, &rep);
        if (vr != 0)
            rc = failf(c, "stele_verify: %s: %s", stele_strerror(vr), rep.message);
    }
    c->stats.acked = c->nacks;
    c->stats.intents = c->nintents;
    c->stats.head = head;
    vstate_free(&v);
    return rc;
}

int chk_for_each_unknown(chk_t *c, int (*fn)(void *arg, stele_append_part_t *parts, size_t n),
                         void *arg) {
    size_t n0 = c->nintents; /* fn may add intents */
    for (size_t i = 0; i < n0; i++) {
        intent_t *in = &c->intents[i];
        if (!in->retry_ok ||
            idmap_get(&c->ackmap, &in->parts[0].ids[0], false, 0, NULL) != UINT32_MAX)
            continue;
        size_t total = 0;
        for (size_t j = 0; j < in->nparts; j++)
            total += in->parts[j].count;
        chk_event_t *evs = malloc(total * sizeof *evs);
        stele_event_in_t *ins = malloc(total * sizeof *ins);
        stele_append_part_t *parts = calloc(in->nparts, sizeof *parts);
        if (!evs || !ins || !parts)
            abort();
        for (size_t j = 0, e = 0; j < in->nparts; j++) {
            parts[j].stream = in->parts[j].stream;
            parts[j].expected_version = in->parts[j].expected;
            parts[j].count = in->parts[j].count;
            parts[j].events = &ins[e];
            for (size_t k = 0; k < in->parts[j].count; k++, e++) {
                chk_event_make(&evs[e], &in->parts[j].ids[k]);
                ins[e] = evs[e].in;
            }
        }
        int rc = fn(arg, parts, in->nparts);
        free(parts);
        free(ins);
        free(evs);
        if (rc)
            return rc;
        in = &c->intents[i];
    }
    return 0;
}

int chk_retry_acked(chk_t *c, stele_store_t *s, chk_rng_t *rng, size_t max, uint64_t *retried,
                    char *err, size_t err_size) {
    *retried = 0;
    for (size_t t = 0; t < max && c->nintents > 0; t++) {
        intent_t *in = &c->intents[chk_below(rng, c->nintents)];
        size_t total = 0;
        bool acked = true;
        for (size_t j = 0; j < in->nparts && acked; j++) {
            total += in->parts[j].count;
            for (size_t k = 0; k < in->parts[j].count && acked; k++)
                acked = idmap_get(&c->ackmap, &in->parts[j].ids[k], false, 0, NULL) != UINT32_MAX;
        }
        if (!acked)
            continue;
        chk_event_t *evs = malloc(total * sizeof *evs);
        stele_event_in_t *ins = malloc(total * sizeof *ins);
        stele_append_part_t *parts = calloc(in->nparts, sizeof *parts);
        if (!evs || !ins || !parts)
            abort();
        bool rebuilt = true; /* every payload is chk_event_make's (tests may make their own) */
        for (size_t j = 0, e = 0; j < in->nparts; j++) {
            parts[j].stream = in->parts[j].stream;
            parts[j].expected_version = STELE_EXPECT_ANY; /* whatever the original expected */
            parts[j].count = in->parts[j].count;
            parts[j].events = &ins[e];
            for (size_t k = 0; k < in->parts[j].count; k++, e++) {
                chk_event_make(&evs[e], &in->parts[j].ids[k]);
                ins[e] = evs[e].in;
                uint8_t d[32];
                chk_digest(ins[e].type, strlen(ins[e].type), ins[e].data, ins[e].data_len,
                           ins[e].metadata, ins[e].metadata_len, d);
                const ack_t *a =
                    &c->acks[idmap_get(&c->ackmap, &in->parts[j].ids[k], false, 0, NULL)];
                rebuilt = rebuilt && memcmp(d, a->digest, 32) == 0;
            }
        }
        if (!rebuilt) {
            free(parts);
            free(ins);
            free(evs);
            continue;
        }
        uint64_t head0 = 0, head1 = 0;
        uint8_t h[32];
        stele_head_digest(s, &head0, h);
        int rc = stele_commit(s, parts, in->nparts, NULL);
        stele_head_digest(s, &head1, h);
        int bad = 0;
        if (rc < 0) {
            snprintf(err, err_size, "retry of an acknowledged append to %s: %s (%s)",
                     parts[0].stream, stele_strerror(rc), stele_errdetail());
            bad = 1;
        } else if (head1 != head0) {
            snprintf(err, err_size,
                     "retry of an acknowledged append to %s wrote events (head %" PRIu64
                     " -> %" PRIu64 ")",
                     parts[0].stream, head0, head1);
            bad = 1;
        }
        for (size_t j = 0; j < in->nparts && !bad; j++) {
            const ack_t *first =
                &c->acks[idmap_get(&c->ackmap, &in->parts[j].ids[0], false, 0, NULL)];
            const ack_t *last = &c->acks[idmap_get(
                &c->ackmap, &in->parts[j].ids[in->parts[j].count - 1], false, 0, NULL)];
            const stele_append_result_t *res = &parts[j].result;
            if (!res->idempotent || res->first_position != first->position ||
                res->last_position != last->position || res->first_version != first->version ||
                res->last_version != last->version) {
                snprintf(err, err_size,
                         "retry of an acknowledged append to %s: idempotent %d, positions %" PRIu64
                         "..%" PRIu64 ", acknowledged %" PRIu64 "..%" PRIu64,
                         parts[j].stream, (int)res->idempotent, res->first_position,
                         res->last_position, first->position, last->position);
                bad = 1;
            }
        }
        free(parts);
        free(ins);
        free(evs);
        if (bad)
            return -1;
        (*retried)++;
    }
    return 0;
}

int chk_dir_digest(const char *dir, uint64_t *position, uint8_t hash[32]) {
    stele_options_t o;
    stele_options_init(&o);
    o.flags = STELE_OPEN_READONLY;
    stele_store_t *s = NULL;
    int rc = stele_store_open(dir, &o, &s);
    if (rc < 0)
        return rc;
    rc = stele_head_digest(s, position, hash);
    stele_store_close(s);
    return rc;
}

int chk_retry_one(void *arg, stele_append_part_t *parts, size_t n) {
    chk_retry_t *r = arg;
    chk_intent(r->c, parts, n, true);
    int rc = stele_commit(r->s, parts, n, NULL);
    if (rc < 0) {
        snprintf(r->err, sizeof r->err, "retry of an unknown outcome on %s: %s (%s)",
                 parts[0].stream, stele_strerror(rc), stele_errdetail());
        return -1;
    }
    r->retried++;
    if (parts[0].result.idempotent)
        r->idempotent++;
    if (chk_ack(r->c, parts, n) < 0) {
        snprintf(r->err, sizeof r->err, "%.500s", chk_last_error(r->c));
        return -1;
    }
    return 0;
}
