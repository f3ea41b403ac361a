/*
 * vfs_powerloss.c -- a file table that simulates a power loss (see vfs_powerloss.h).
 *
 * The books, under one mutex:
 *   - a node per real file seen (opened, renamed or unlinked through the table): its current path,
 *     its size now and at its last sync, and its unsynced sectors, each with a copy of its bytes
 *     at the last sync (NULL when the sector lay wholly past the end: zeros). A sector is copied
 *     once, at the first unsynced write (or truncation) that touches it; a sync of the file frees
 *     the copies. A sector written several times before a sync therefore comes back either as the
 *     latest bytes or as the synced ones: a disk writes whole sectors out of the page cache;
 *   - the unsynced directory operations in the order they were made, each naming its directory;
 *     a sync of a directory makes its operations durable and forgets them (removing the hidden
 *     backup links that kept replaced or unlinked files).
 * Nodes live until the table is freed (a test store has a few dozen files); a gone node (durably
 * unlinked, replaced, or its creation undone) is never matched by path again.
 */
#include "vfs_powerloss.h"

#include "os/alloc.h"
#include "stele.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR ((uint64_t)STELE_PL_SECTOR)
#define BACKUP_PREFIX ".plbak-"
#define DESC_BYTES 8192u
#define KIND_COUNT 7

typedef struct sector {
    uint64_t index;
    uint8_t *old;    /* the bytes at the last sync, or NULL for zeros */
    uint16_t lo, hi; /* the bytes of the sector unsynced writes changed: [lo, hi) */
} sector_t;

typedef struct node {
    char *path; /* where the file is now: its name, or its backup link while unlinked */
    bool gone;  /* no longer reachable: never matched again */
    uint64_t size, synced_size;
    sector_t *sectors;
    size_t nsectors, sectors_cap;
    uint32_t *slots; /* open addressing over sectors: index + 1, 0 = empty */
    size_t nslots;
} node_t;

typedef enum op_kind { OP_CREATE, OP_MKDIR, OP_RENAME, OP_UNLINK } op_kind_t;

typedef struct dirop {
    op_kind_t kind;
    char *dir;        /* the directory whose sync makes it durable */
    node_t *node;     /* CREATE, RENAME, UNLINK */
    char *path;       /* CREATE, MKDIR: the new entry; RENAME: from; UNLINK: the removed name */
    char *to;         /* RENAME */
    node_t *replaced; /* RENAME over an existing file */
    char *backup;     /* RENAME: the replaced file's link; UNLINK: the unlinked file's link */
    bool undo;        /* chosen at restore */
} dirop_t;

struct stele_powerloss_vfs {
    stele_vfs_t table; /* ctx points back here */
    const stele_vfs_t *inner;
    pthread_mutex_t mu;
    atomic_bool lost;
    uint64_t rng;
    node_t **nodes;
    size_t nnodes, nodes_cap;
    dirop_t *ops;
    size_t nops, ops_cap;
    uint64_t next_backup;
    unsigned arm_ops;
    char *arm_sub;
    uint64_t arm_left;
    uint64_t counts[KIND_COUNT];
    bool restored;
    bool whole_sector_junk;
    bool lose_all;
    unsigned lost_kind; /* the operation the power was lost at; 0 = cut on demand */
    char lost_path[256];
    char desc[DESC_BYTES];
    size_t desc_len;
};

typedef struct pl_file {
    struct stele_file base; /* base.vfs is this table */
    stele_file_t *inner;
    node_t *node;
} pl_file_t;

static stele_powerloss_vfs_t *pv_of(const stele_vfs_t *vfs) { return vfs->ctx; }
static pl_file_t *plf(stele_file_t *f) { return (pl_file_t *)f; }

static uint64_t rnd(stele_powerloss_vfs_t *pv) {
    uint64_t z = (pv->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void describe(stele_powerloss_vfs_t *pv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void describe(stele_powerloss_vfs_t *pv, const char *fmt, ...) {
    if (pv->desc_len + 1 >= DESC_BYTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pv->desc + pv->desc_len, DESC_BYTES - pv->desc_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        pv->desc_len +=
            (size_t)n < DESC_BYTES - pv->desc_len ? (size_t)n : DESC_BYTES - 1 - pv->desc_len;
}

/* The directory part of path ("." when it has none), in a new string. */
static char *parent_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        return stele__strdup(".");
    if (slash == path)
        return stele__strdup("/");
    return stele__strndup(path, (size_t)(slash - path));
}

static int posix_err(void) { return errno ? -errno : -EIO; }

/* ---- nodes and their sectors ------------------------------------------------------------------
 */

static node_t *find_node(stele_powerloss_vfs_t *pv, const char *path) {
    for (size_t i = pv->nnodes; i-- > 0;) {
        node_t *n = pv->nodes[i];
        if (!n->gone && strcmp(n->path, path) == 0)
            return n;
    }
    return NULL;
}

static node_t *add_node(stele_powerloss_vfs_t *pv, const char *path, uint64_t size) {
    if (pv->nnodes == pv->nodes_cap) {
        size_t cap = pv->nodes_cap ? pv->nodes_cap * 2 : 32;
        node_t **n = stele__realloc(pv->nodes, cap * sizeof *n);
        if (!n)
            return NULL;
        pv->nodes = n;
        pv->nodes_cap = cap;
    }
    node_t *n = stele__calloc(1, sizeof *n);
    if (!n)
        return NULL;
    if (!(n->path = stele__strdup(path))) {
        stele__free(n);
        return NULL;
    }
    n->size = n->synced_size = size;
    pv->nodes[pv->nnodes++] = n;
    return n;
}

/* The node of an existing file that the table has not seen yet (its bytes count as durable). */
static node_t *node_at(stele_powerloss_vfs_t *pv, const char *path) {
    node_t *n = find_node(pv, path);
    if (n)
        return n;
    struct stat st;
    if (lstat(path, &st) != 0)
        return NULL;
    return add_node(pv, path, (uint64_t)st.st_size);
}

static int set_path(node_t *n, const char *path) {
    char *p = stele__strdup(path);
    if (!p)
        return STELE_ENOMEM;
    stele__free(n->path);
    n->path = p;
    return 0;
}

static size_t slot_of(const node_t *n, uint64_t index) {
    uint64_t h = index * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (n->nslots - 1);
}

static sector_t *find_sector(const node_t *n, uint64_t index) {
    if (n->nslots == 0)
        return NULL;
    for (size_t i = slot_of(n, index);; i = (i + 1) & (n->nslots - 1)) {
        uint32_t s = n->slots[i];
        if (s == 0)
            return NULL;
        if (n->sectors[s - 1].index == index)
            return &n->sectors[s - 1];
    }
}

static int rehash(node_t *n, size_t nslots) {
    uint32_t *slots = stele__calloc(nslots, sizeof *slots);
    if (!slots)
        return STELE_ENOMEM;
    stele__free(n->slots);
    n->slots = slots;
    n->nslots = nslots;
    for (size_t k = 0; k < n->nsectors; k++) {
        size_t i = slot_of(n, n->sectors[k].index);
        while (n->slots[i] != 0)
            i = (i + 1) & (nslots - 1);
        n->slots[i] = (uint32_t)(k + 1);
    }
    return 0;
}

/* Record sector index with its synced bytes (old, taken over; NULL = zeros). */
static sector_t *add_sector(node_t *n, uint64_t index, uint8_t *old) {
    if (n->nsectors == n->sectors_cap) {
        size_t cap = n->sectors_cap ? n->sectors_cap * 2 : 64;
        sector_t *s = stele__realloc(n->sectors, cap * sizeof *s);
        if (!s)
            return NULL;
        n->sectors = s;
        n->sectors_cap = cap;
    }
    if ((n->nsectors + 1) * 2 > n->nslots) {
        if (rehash(n, n->nslots ? n->nslots * 2 : 128) < 0)
            return NULL;
    }
    n->sectors[n->nsectors] = (sector_t){index, old, (uint16_t)SECTOR, 0};
    n->nsectors++;
    size_t i = slot_of(n, index);
    while (n->slots[i] != 0)
        i = (i + 1) & (n->nslots - 1);
    n->slots[i] = (uint32_t)n->nsectors;
    return &n->sectors[n->nsectors - 1];
}

/* Forget the unsynced sectors: the file's bytes are durable now. */
static void clear_sectors(node_t *n) {
    for (size_t k = 0; k < n->nsectors; k++)
        stele__free(n->sectors[k].old);
    n->nsectors = 0;
    if (n->nslots > 4096) { /* a big zero-fill: give the memory back */
        stele__free(n->slots);
        stele__free(n->sectors);
        n->slots = NULL;
        n->sectors = NULL;
        n->nslots = n->sectors_cap = 0;
    } else if (n->slots) {
        memset(n->slots, 0, n->nslots * sizeof *n->slots);
    }
    n->synced_size = n->size;
}

static void free_node(node_t *n) {
    clear_sectors(n);
    stele__free(n->sectors);
    stele__free(n->slots);
    stele__free(n->path);
    stele__free(n);
}

/* Copy the synced bytes of every sector of [off, off + len) not copied yet, reading them through
 * the inner file f (open for reading), and mark the range changed. */
static int capture(node_t *n, stele_file_t *f, uint64_t off, uint64_t len) {
    if (len == 0)
        return 0;
    uint64_t first = off / SECTOR, last = (off + len - 1) / SECTOR;
    for (uint64_t s = first; s <= last; s++) {
        uint64_t lo = s == first ? off % SECTOR : 0;
        uint64_t hi = s == last ? (off + len - 1) % SECTOR + 1 : SECTOR;
        sector_t *sec = find_sector(n, s);
        if (sec) {
            if (lo < sec->lo)
                sec->lo = (uint16_t)lo;
            if (hi > sec->hi)
                sec->hi = (uint16_t)hi;
            continue;
        }
        uint8_t *old = NULL;
        if (s * SECTOR < n->size) {
            old = stele__calloc(1, (size_t)SECTOR);
            if (!old)
                return STELE_ENOMEM;
            size_t got = 0;
            int rc = stele__file_pread(f, old, (size_t)SECTOR, s * SECTOR, &got);
            if (rc < 0) {
                stele__free(old);
                return rc;
            }
        }
        if (!(sec = add_sector(n, s, old))) {
            stele__free(old);
            return STELE_ENOMEM;
        }
        sec->lo = (uint16_t)lo;
        sec->hi = (uint16_t)hi;
    }
    return 0;
}

/* ---- directory operations ------------------------------------------------------------------- */

static void free_op(dirop_t *op) {
    stele__free(op->dir);
    stele__free(op->path);
    stele__free(op->to);
    stele__free(op->backup);
}

static int add_op(stele_powerloss_vfs_t *pv, dirop_t *op) {
    if (pv->nops == pv->ops_cap) {
        size_t cap = pv->ops_cap ? pv->ops_cap * 2 : 32;
        dirop_t *n = stele__realloc(pv->ops, cap * sizeof *n);
        if (!n)
            return STELE_ENOMEM;
        pv->ops = n;
        pv->ops_cap = cap;
    }
    pv->ops[pv->nops++] = *op;
    return 0;
}

/* A hidden hard link to path in its directory, so the file can come back. */
static int make_backup(stele_powerloss_vfs_t *pv, const char *path, char **out) {
    char *dir = parent_of(path);
    if (!dir)
        return STELE_ENOMEM;
    size_t size = strlen(dir) + sizeof BACKUP_PREFIX + 24;
    char *b = stele__malloc(size);
    if (!b) {
        stele__free(dir);
        return STELE_ENOMEM;
    }
    snprintf(b, size, "%s/%s%" PRIu64, dir, BACKUP_PREFIX, ++pv->next_backup);
    stele__free(dir);
    if (link(path, b) != 0) {
        int rc = posix_err();
        stele__free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* The operation is durable: the file it replaced or removed is gone for good. */
static void settle(dirop_t *op) {
    if (op->backup)
        (void)unlink(op->backup);
    if (op->kind == OP_RENAME && op->replaced)
        op->replaced->gone = true;
    if (op->kind == OP_UNLINK)
        op->node->gone = true;
}

/* ---- the loss ---------------------------------------------------------------------------------
 */

static const char *kind_name(unsigned kind) {
    switch (kind) {
    case STELE_PL_WRITE: return "write";
    case STELE_PL_SYNC: return "sync";
    case STELE_PL_SYNC_DIR: return "directory sync";
    case STELE_PL_CREATE: return "creation";
    case STELE_PL_RENAME: return "rename";
    case STELE_PL_UNLINK: return "unlink";
    default: return "truncate/allocate";
    }
}

static int kind_slot(unsigned kind) {
    int i = 0;
    while (i < KIND_COUNT && !(kind & (1u << i)))
        i++;
    return i < KIND_COUNT ? i : 0;
}

/* Count an operation on path (and path2, the source of a rename; may be NULL) (mu held). Returns
 * -EIO once the power is lost, 1 when this operation is the one the power is lost at (*effect
 * then says whether it takes effect), else 0. */
static int hit2(stele_powerloss_vfs_t *pv, unsigned kind, const char *path, const char *path2,
                bool *effect) {
    *effect = true;
    if (atomic_load(&pv->lost))
        return -EIO;
    pv->counts[kind_slot(kind)]++;
    if (pv->arm_left == 0 || !(pv->arm_ops & kind) ||
        (pv->arm_sub && !strstr(path, pv->arm_sub) && !(path2 && strstr(path2, pv->arm_sub))))
        return 0;
    if (--pv->arm_left > 0)
        return 0;
    *effect = (rnd(pv) & 1) != 0;
    pv->lost_kind = kind;
    snprintf(pv->lost_path, sizeof pv->lost_path, "%s", path);
    describe(pv, "power lost at the %s of %s%s%s (%s)\n", kind_name(kind), path2 ? path2 : "",
             path2 ? " -> " : "", path, *effect ? "it took effect" : "it did not take effect");
    return 1;
}

static int hit(stele_powerloss_vfs_t *pv, unsigned kind, const char *path, bool *effect) {
    return hit2(pv, kind, path, NULL, effect);
}

static int lose(stele_powerloss_vfs_t *pv) {
    atomic_store(&pv->lost, true);
    return -EIO;
}

/* ---- the table --------------------------------------------------------------------------------
 */

static int pl_open(const stele_vfs_t *vfs, const char *path, unsigned flags, stele_file_t **out) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    pl_file_t *f = stele__calloc(1, sizeof *f);
    if (!f)
        return STELE_ENOMEM;
    pthread_mutex_lock(&pv->mu);
    int rc = 0, h = 0;
    bool effect = true, create = false;
    if (atomic_load(&pv->lost)) {
        rc = -EIO;
        goto out;
    }
    if (flags & STELE_VFS_CREATE) {
        rc = pv->inner->exists(pv->inner, path);
        create = rc == -ENOENT;
        if (rc < 0 && rc != -ENOENT)
            goto out;
        rc = 0;
    }
    if (create && (h = hit(pv, STELE_PL_CREATE, path, &effect)) < 0) {
        rc = h;
        goto out;
    }
    if (!effect) {
        rc = lose(pv);
        goto out;
    }
    rc = pv->inner->open(pv->inner, path, flags, &f->inner);
    if (rc < 0)
        goto out;
    if (create) {
        dirop_t op = {.kind = OP_CREATE, .dir = parent_of(path), .path = stele__strdup(path)};
        op.node = add_node(pv, path, 0);
        if (!op.dir || !op.path || !op.node || add_op(pv, &op) < 0) {
            free_op(&op);
            rc = STELE_ENOMEM;
        }
        f->node = op.node;
    } else {
        uint64_t size = 0;
        f->node = find_node(pv, path);
        if (!f->node && (rc = f->inner->vfs->size(f->inner, &size)) == 0 &&
            !(f->node = add_node(pv, path, size)))
            rc = STELE_ENOMEM;
    }
    if (rc == 0 && h == 1)
        rc = lose(pv);
    if (rc < 0) {
        stele__file_close(f->inner);
        f->inner = NULL;
    }
out:
    pthread_mutex_unlock(&pv->mu);
    if (rc < 0) {
        stele__free(f);
        return rc;
    }
    f->base.vfs = vfs;
    *out = &f->base;
    return 0;
}

static int pl_close(stele_file_t *f) {
    if (!f)
        return 0;
    stele_powerloss_vfs_t *pv = pv_of(f->vfs);
    int rc = stele__file_close(plf(f)->inner);
    stele__free(f);
    return atomic_load(&pv->lost) ? 0 : rc;
}

static int pl_pread(stele_file_t *f, void *buf, size_t len, uint64_t off, size_t *nread) {
    if (atomic_load(&pv_of(f->vfs)->lost)) {
        *nread = 0;
        return -EIO;
    }
    return stele__file_pread(plf(f)->inner, buf, len, off, nread);
}

static int pl_pwrite(stele_file_t *f, const void *buf, size_t len, uint64_t off) {
    stele_powerloss_vfs_t *pv = pv_of(f->vfs);
    node_t *n = plf(f)->node;
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit(pv, STELE_PL_WRITE, n->path, &effect), rc = h < 0 ? h : 0;
    if (rc == 0 && effect) {
        rc = capture(n, plf(f)->inner, off, len);
        if (rc == 0)
            rc = stele__file_pwrite(plf(f)->inner, buf, len, off);
        if (rc == 0 && off + len > n->size)
            n->size = off + len;
    }
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

static int pl_sync(stele_file_t *f) {
    stele_powerloss_vfs_t *pv = pv_of(f->vfs);
    node_t *n = plf(f)->node;
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit(pv, STELE_PL_SYNC, n->path, &effect), rc = h < 0 ? h : 0;
    if (rc == 0 && effect)
        clear_sectors(n);
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

static int pl_size(stele_file_t *f, uint64_t *size_bytes) {
    if (atomic_load(&pv_of(f->vfs)->lost))
        return -EIO;
    stele_file_t *inner = plf(f)->inner;
    return inner->vfs->size(inner, size_bytes);
}

/* truncate (allocate = false) or allocate [off, off + len). */
static int resize(stele_file_t *f, bool allocate, uint64_t off, uint64_t len) {
    stele_powerloss_vfs_t *pv = pv_of(f->vfs);
    node_t *n = plf(f)->node;
    stele_file_t *inner = plf(f)->inner;
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit(pv, STELE_PL_RESIZE, n->path, &effect), rc = h < 0 ? h : 0;
    if (rc == 0 && effect) {
        if (allocate) {
            rc = inner->vfs->allocate(inner, off, len);
            if (rc == 0 && off + len > n->size)
                n->size = off + len;
        } else {
            if (off < n->size)
                rc = capture(n, inner, off, n->size - off); /* the bytes cut off */
            if (rc == 0)
                rc = inner->vfs->truncate(inner, off);
            if (rc == 0)
                n->size = off;
        }
    }
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

static int pl_truncate(stele_file_t *f, uint64_t size_bytes) {
    return resize(f, false, size_bytes, 0);
}

static int pl_allocate(stele_file_t *f, uint64_t off, uint64_t len) {
    return resize(f, true, off, len);
}

static int pl_lock(stele_file_t *f) {
    if (atomic_load(&pv_of(f->vfs)->lost))
        return -EIO;
    stele_file_t *inner = plf(f)->inner;
    return inner->vfs->lock(inner);
}

static int pl_rename(const stele_vfs_t *vfs, const char *from, const char *to) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit2(pv, STELE_PL_RENAME, to, from, &effect), rc = h < 0 ? h : 0;
    if (rc < 0 || !effect)
        goto out;
    dirop_t op = {.kind = OP_RENAME,
                  .dir = parent_of(to),
                  .path = stele__strdup(from),
                  .to = stele__strdup(to)};
    if (!op.dir || !op.path || !op.to) {
        rc = STELE_ENOMEM;
        goto fail;
    }
    if (!(op.node = node_at(pv, from))) {
        rc = pv->inner->exists(pv->inner, from);
        rc = rc < 0 ? rc : STELE_ENOMEM;
        goto fail;
    }
    if (strcmp(from, to) == 0) {
        free_op(&op);
        goto out;
    }
    if ((op.replaced = node_at(pv, to)) && (rc = make_backup(pv, to, &op.backup)) < 0)
        goto fail;
    if ((rc = pv->inner->rename(pv->inner, from, to)) < 0) {
        if (op.backup)
            (void)unlink(op.backup);
        goto fail;
    }
    if ((rc = set_path(op.node, to)) == 0 && op.replaced)
        rc = set_path(op.replaced, op.backup);
    if (rc == 0 && (rc = add_op(pv, &op)) == 0)
        goto out;
fail:
    free_op(&op);
out:
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

static int pl_unlink(const stele_vfs_t *vfs, const char *path) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit(pv, STELE_PL_UNLINK, path, &effect), rc = h < 0 ? h : 0;
    if (rc < 0 || !effect)
        goto out;
    dirop_t op = {.kind = OP_UNLINK, .dir = parent_of(path), .path = stele__strdup(path)};
    if (!op.dir || !op.path) {
        rc = STELE_ENOMEM;
        goto fail;
    }
    if (!(op.node = node_at(pv, path))) {
        rc = pv->inner->exists(pv->inner, path);
        rc = rc < 0 ? rc : STELE_ENOMEM;
        goto fail;
    }
    if ((rc = make_backup(pv, path, &op.backup)) < 0)
        goto fail;
    if ((rc = pv->inner->unlink(pv->inner, path)) < 0) {
        (void)unlink(op.backup);
        goto fail;
    }
    if ((rc = set_path(op.node, op.backup)) == 0 && (rc = add_op(pv, &op)) == 0)
        goto out;
fail:
    free_op(&op);
out:
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

static int pl_mkdir(const stele_vfs_t *vfs, const char *path) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit(pv, STELE_PL_CREATE, path, &effect), rc = h < 0 ? h : 0;
    if (rc == 0 && effect && (rc = pv->inner->mkdir(pv->inner, path)) == 0) {
        dirop_t op = {.kind = OP_MKDIR, .dir = parent_of(path), .path = stele__strdup(path)};
        if (!op.dir || !op.path || add_op(pv, &op) < 0) {
            free_op(&op);
            rc = STELE_ENOMEM;
        }
    }
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

static int pl_sync_dir(const stele_vfs_t *vfs, const char *path) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    bool effect;
    pthread_mutex_lock(&pv->mu);
    int h = hit(pv, STELE_PL_SYNC_DIR, path, &effect), rc = h < 0 ? h : 0;
    if (rc == 0 && effect) {
        size_t keep = 0;
        for (size_t i = 0; i < pv->nops; i++) {
            dirop_t *op = &pv->ops[i];
            if (strcmp(op->dir, path) == 0) {
                settle(op);
                free_op(op);
            } else {
                pv->ops[keep++] = *op;
            }
        }
        pv->nops = keep;
    }
    if (h == 1)
        rc = lose(pv);
    pthread_mutex_unlock(&pv->mu);
    return rc;
}

typedef struct list_ctx {
    int (*fn)(void *arg, const char *name);
    void *arg;
} list_ctx_t;

static int list_filter(void *arg, const char *name) {
    list_ctx_t *c = arg;
    if (strncmp(name, BACKUP_PREFIX, sizeof BACKUP_PREFIX - 1) == 0)
        return 0;
    return c->fn(c->arg, name);
}

static int pl_list_dir(const stele_vfs_t *vfs, const char *path,
                       int (*fn)(void *arg, const char *name), void *arg) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    if (atomic_load(&pv->lost))
        return -EIO;
    list_ctx_t c = {fn, arg};
    return pv->inner->list_dir(pv->inner, path, list_filter, &c);
}

static int pl_exists(const stele_vfs_t *vfs, const char *path) {
    stele_powerloss_vfs_t *pv = pv_of(vfs);
    if (atomic_load(&pv->lost))
        return -EIO;
    return pv->inner->exists(pv->inner, path);
}

/* ---- life cycle, arming -----------------------------------------------------------------------
 */

int stele__powerloss_vfs_new(const stele_vfs_t *base, uint64_t seed, stele_powerloss_vfs_t **out) {
    stele_powerloss_vfs_t *pv = stele__calloc(1, sizeof *pv);
    if (!pv)
        return STELE_ENOMEM;
    pv->inner = base ? base : stele__vfs_posix();
    pv->rng = seed ^ 0x5DEECE66Dull;
    pv->table = (stele_vfs_t){
        .name = "powerloss",
        .ctx = pv,
        .open = pl_open,
        .close = pl_close,
        .pread = pl_pread,
        .pwrite = pl_pwrite,
        .sync = pl_sync,
        .size = pl_size,
        .truncate = pl_truncate,
        .allocate = pl_allocate,
        .lock = pl_lock,
        .rename = pl_rename,
        .unlink = pl_unlink,
        .mkdir = pl_mkdir,
        .sync_dir = pl_sync_dir,
        .list_dir = pl_list_dir,
        .exists = pl_exists,
    };
    atomic_init(&pv->lost, false);
    pthread_mutex_init(&pv->mu, NULL);
    *out = pv;
    return 0;
}

void stele__powerloss_vfs_free(stele_powerloss_vfs_t *pv) {
    if (!pv)
        return;
    for (size_t i = 0; i < pv->nops; i++) {
        if (pv->ops[i].backup)
            (void)unlink(pv->ops[i].backup);
        free_op(&pv->ops[i]);
    }
    stele__free(pv->ops);
    for (size_t i = 0; i < pv->nnodes; i++)
        free_node(pv->nodes[i]);
    stele__free(pv->nodes);
    stele__free(pv->arm_sub);
    pthread_mutex_destroy(&pv->mu);
    stele__free(pv);
}

const stele_vfs_t *stele__powerloss_vfs_table(stele_powerloss_vfs_t *pv) { return &pv->table; }

void stele__powerloss_arm(stele_powerloss_vfs_t *pv, unsigned ops, const char *substring,
                          uint64_t nth) {
    /* A test hook: failing loudly beats arming on every path. */
    char *copy = substring ? stele__strdup(substring) : NULL;
    if (substring && !copy)
        abort();
    pthread_mutex_lock(&pv->mu);
    stele__free(pv->arm_sub);
    pv->arm_sub = copy;
    pv->arm_ops = ops;
    pv->arm_left = nth;
    pthread_mutex_unlock(&pv->mu);
}

void stele__powerloss_cut(stele_powerloss_vfs_t *pv) {
    pthread_mutex_lock(&pv->mu);
    if (!atomic_load(&pv->lost)) {
        describe(pv, "power cut on demand\n");
        lose(pv);
    }
    pthread_mutex_unlock(&pv->mu);
}

bool stele__powerloss_lost(const stele_powerloss_vfs_t *pv) {
    return atomic_load(&((stele_powerloss_vfs_t *)pv)->lost);
}

uint64_t stele__powerloss_count(const stele_powerloss_vfs_t *pv, unsigned ops) {
    stele_powerloss_vfs_t *p = (stele_powerloss_vfs_t *)pv;
    uint64_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < KIND_COUNT; i++)
        if (ops & (1u << i))
            n += p->counts[i];
    pthread_mutex_unlock(&p->mu);
    return n;
}

const char *stele__powerloss_describe(const stele_powerloss_vfs_t *pv) { return pv->desc; }

void stele__powerloss_set_lose_all(stele_powerloss_vfs_t *pv, bool on) {
    pthread_mutex_lock(&pv->mu);
    pv->lose_all = on;
    pthread_mutex_unlock(&pv->mu);
}

unsigned stele__powerloss_lost_at(const stele_powerloss_vfs_t *pv, char *path, size_t size) {
    stele_powerloss_vfs_t *p = (stele_powerloss_vfs_t *)pv;
    pthread_mutex_lock(&p->mu);
    unsigned kind = p->lost_kind;
    if (path && size)
        snprintf(path, size, "%s", p->lost_path);
    pthread_mutex_unlock(&p->mu);
    return kind;
}

void stele__powerloss_set_whole_sector_junk(stele_powerloss_vfs_t *pv, bool on) {
    pthread_mutex_lock(&pv->mu);
    pv->whole_sector_junk = on;
    pthread_mutex_unlock(&pv->mu);
}

/* ---- restore ----------------------------------------------------------------------------------
 */

static int rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : posix_err();
    if (!S_ISDIR(st.st_mode))
        return unlink(path) == 0 ? 0 : posix_err();
    DIR *d = opendir(path);
    if (!d)
        return posix_err();
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t size = strlen(path) + strlen(e->d_name) + 2;
        char *sub = stele__malloc(size);
        if (!sub) {
            rc = STELE_ENOMEM;
            break;
        }
        snprintf(sub, size, "%s/%s", path, e->d_name);
        rc = rmtree(sub);
        stele__free(sub);
    }
    closedir(d);
    if (rc == 0 && rmdir(path) != 0)
        rc = posix_err();
    return rc;
}

static bool under(const char *path, const char *dir) {
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int real_rename(const char *from, const char *to) {
    return rename(from, to) == 0 ? 0 : posix_err();
}

static int undo(stele_powerloss_vfs_t *pv, dirop_t *op) {
    int rc = 0;
    switch (op->kind) {
    case OP_CREATE:
        if (unlink(op->node->path) != 0 && errno != ENOENT)
            rc = posix_err();
        op->node->gone = true;
        break;
    case OP_MKDIR:
        rc = rmtree(op->path);
        for (size_t i = 0; i < pv->nnodes; i++)
            if (under(pv->nodes[i]->path, op->path))
                pv->nodes[i]->gone = true;
        break;
    case OP_RENAME:
        if ((rc = real_rename(op->to, op->path)) == 0)
            rc = set_path(op->node, op->path);
        if (rc == 0 && op->replaced && (rc = real_rename(op->backup, op->to)) == 0)
            rc = set_path(op->replaced, op->to);
        break;
    case OP_UNLINK:
        if ((rc = real_rename(op->backup, op->path)) == 0)
            rc = set_path(op->node, op->path);
        break;
    }
    if (op->backup && rc == 0) {
        stele__free(op->backup); /* renamed back: nothing to remove */
        op->backup = NULL;
    }
    return rc;
}

static const char *op_name(op_kind_t k) {
    switch (k) {
    case OP_CREATE: return "create";
    case OP_MKDIR: return "mkdir";
    case OP_RENAME: return "rename";
    default: return "unlink";
    }
}

/* Per directory, keep a seeded prefix of its unsynced operations; undo the rest, latest first. */
static int restore_dirs(stele_powerloss_vfs_t *pv, stele_powerloss_stats_t *st) {
    for (size_t i = 0; i < pv->nops; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(pv->ops[j].dir, pv->ops[i].dir) != 0;
        if (!first)
            continue;
        size_t count = 0;
        for (size_t j = i; j < pv->nops; j++)
            count += strcmp(pv->ops[j].dir, pv->ops[i].dir) == 0;
        size_t keep = pv->lose_all ? 0 : (size_t)(rnd(pv) % (count + 1)), k = 0;
        describe(pv, "directory %s: %zu unsynced operations, the first %zu kept\n", pv->ops[i].dir,
                 count, keep);
        for (size_t j = i; j < pv->nops; j++) {
            if (strcmp(pv->ops[j].dir, pv->ops[i].dir) != 0)
                continue;
            dirop_t *op = &pv->ops[j];
            op->undo = k++ >= keep;
            describe(pv, "  %s %s %s%s%s\n", op->undo ? "undo" : "keep", op_name(op->kind),
                     op->path, op->to ? " -> " : "", op->to ? op->to : "");
        }
    }
    int rc = 0;
    for (size_t i = pv->nops; i-- > 0 && rc == 0;) {
        if (pv->ops[i].undo) {
            rc = undo(pv, &pv->ops[i]);
            st->ops_undone++;
        }
    }
    for (size_t i = 0; i < pv->nops; i++) {
        if (!pv->ops[i].undo) {
            settle(&pv->ops[i]);
            st->ops_kept++;
        }
        free_op(&pv->ops[i]);
    }
    pv->nops = 0;
    return rc;
}

static int cmp_sector(const void *a, const void *b) {
    uint64_t x = ((const sector_t *)a)->index, y = ((const sector_t *)b)->index;
    return x < y ? -1 : x > y;
}

/* Decide the size and every unsynced sector of one file; mode: 0 keep all, 1 all back to their
 * synced bytes, 2 each kept or put back, 3 each kept, put back or junk. */
static int restore_file(stele_powerloss_vfs_t *pv, node_t *n, unsigned mode,
                        stele_powerloss_stats_t *st) {
    uint64_t final_size = n->size;
    if (n->synced_size != n->size && ((rnd(pv) & 1) || pv->lose_all)) {
        final_size = n->synced_size;
        st->sizes_reverted++;
    }
    if (n->nsectors > 1)
        qsort(n->sectors, n->nsectors, sizeof *n->sectors, cmp_sector);
    int fd = open(n->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return posix_err();
    uint64_t kept = 0, old = 0, junk = 0;
    uint8_t buf[STELE_PL_SECTOR];
    int rc = 0;
    for (size_t k = 0; k < n->nsectors && rc == 0; k++) {
        const sector_t *s = &n->sectors[k];
        uint64_t r = rnd(pv) % 3;
        unsigned choice = mode == 0   ? 0u
                          : mode == 1 ? 1u
                          : mode == 2 ? (unsigned)(r & 1)
                                      : (unsigned)r;
        if (s->index * SECTOR >= n->size && final_size > n->size)
            choice = 1; /* cut off by an unsynced truncation that did not last */
        if (choice == 0) {
            kept++;
            continue;
        }
        if (choice == 1) {
            if (s->old)
                memcpy(buf, s->old, sizeof buf);
            else
                memset(buf, 0, sizeof buf);
            old++;
        } else {
            /* Junk where the unsynced writes went; the rest of the sector keeps its bytes (the
             * disk is "powersafe": a write never damages bytes it does not cover) unless
             * whole_sector_junk is set. */
            size_t lo = pv->whole_sector_junk ? 0 : s->lo,
                   hi = pv->whole_sector_junk ? sizeof buf : s->hi;
            ssize_t got = pread(fd, buf, sizeof buf, (off_t)(s->index * SECTOR));
            if (got < (ssize_t)sizeof buf)
                memset(buf + (got > 0 ? got : 0), 0, sizeof buf - (size_t)(got > 0 ? got : 0));
            for (size_t b = lo; b < hi; b += 8) {
                uint64_t x = rnd(pv);
                memcpy(buf + b, &x, hi - b < 8 ? hi - b : 8);
            }
            junk++;
        }
        ssize_t w = pwrite(fd, buf, sizeof buf, (off_t)(s->index * SECTOR));
        if (w != (ssize_t)sizeof buf)
            rc = w < 0 ? posix_err() : -EIO;
    }
    if (rc == 0 && ftruncate(fd, (off_t)final_size) != 0)
        rc = posix_err();
    close(fd);
    if (n->nsectors || final_size != n->size)
        describe(pv,
                 "file %s: size %" PRIu64 " (synced %" PRIu64 ") -> %" PRIu64
                 "; sectors kept %" PRIu64 ", put back %" PRIu64 ", junk %" PRIu64 "\n",
                 n->path, n->size, n->synced_size, final_size, kept, old, junk);
    st->files++;
    st->sectors_kept += kept;
    st->sectors_old += old;
    st->sectors_junk += junk;
    n->size = final_size;
    return rc;
}

int stele__powerloss_restore(stele_powerloss_vfs_t *pv, stele_powerloss_stats_t *st) {
    stele_powerloss_stats_t local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    stele__powerloss_cut(pv);
    pthread_mutex_lock(&pv->mu);
    if (pv->restored) {
        pthread_mutex_unlock(&pv->mu);
        return -EALREADY;
    }
    pv->restored = true;
    int rc = restore_dirs(pv, st);
    unsigned mode = pv->lose_all ? 1u : (unsigned)(rnd(pv) % 4);
    describe(pv, "unsynced sectors: %s\n",
             mode == 0   ? "all kept"
             : mode == 1 ? "all put back"
             : mode == 2 ? "each kept or put back"
                         : "each kept, put back or junk");
    for (size_t i = 0; i < pv->nnodes && rc == 0; i++) {
        node_t *n = pv->nodes[i];
        if (n->gone || (n->nsectors == 0 && n->size == n->synced_size))
            continue;
        rc = restore_file(pv, n, mode, st);
        clear_sectors(n);
    }
    pthread_mutex_unlock(&pv->mu);
    return rc;
}
