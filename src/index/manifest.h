/*
 * manifest.h -- the index manifest: which table files make up the index, and the checkpoint.
 *
 * A small file (MANIFEST in the index directory) replaced atomically (write to MANIFEST.tmp, sync,
 * rename, sync the directory) after every table is added or merge completes. Table files not named
 * by it are leftovers of an interrupted write or merge and are removed on open. Format byte by byte
 * in manifest.c and docs/design/index.md.
 */
#ifndef STELE_INDEX_MANIFEST_H
#define STELE_INDEX_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define STELE__MANIFEST_NAME "MANIFEST"
#define STELE__MANIFEST_MAX_TABLES 4096u

typedef struct stele__manifest_table {
    uint64_t seq; /* file name: table-<seq as 16 lower-case hex digits>.sti */
    uint32_t level;
    uint64_t count, min_position, max_position;
} stele__manifest_table_t;

typedef struct stele__manifest {
    uint64_t checkpoint; /* last position whose entries are all in the tables */
    uint64_t next_seq;   /* every table's seq is below it */
    uint32_t ntables;
    stele__manifest_table_t *tables; /* ntables */
} stele__manifest_t;

/* Encode into a buffer from stele__malloc (*len bytes). 0 or STELE_ENOMEM. */
int stele__manifest_encode(const stele__manifest_t *m, unsigned char **out, size_t *len);
/* Decode; m->tables is from stele__malloc (free with stele__free). STELE_ECORRUPT, STELE_EVERSION
 * or STELE_ENOMEM. */
int stele__manifest_decode(const unsigned char *buf, size_t len, stele__manifest_t *m);
/* The largest manifest file. */
size_t stele__manifest_max_bytes(void);

#endif
