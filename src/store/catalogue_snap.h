/*
 * catalogue_snap.h -- periodic catalogue snapshots, so that opening after a crash replays a bounded
 * part of the log instead of everything since the last clean close.
 *
 * The writer thread serialises the catalogue (it alone changes it, so no lock is needed and readers
 * are not held up) every max(1M events, 8 x streams) events, and hands the bytes to a background
 * thread that writes them atomically. The bound keeps the snapshot's cost per appended event small
 * whatever the number of streams: about 5 bytes of serialisation per event.
 */
#ifndef STELE_STORE_CATALOGUE_SNAP_H
#define STELE_STORE_CATALOGUE_SNAP_H

#include "os/vfs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stele_catsnap {
    const stele_vfs_t *vfs;
    const char *dir;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *pending; /* bytes waiting to be written (owned), or NULL */
    size_t pending_len;
    bool busy; /* pending, or being written */
    bool stop;
    uint64_t position; /* position of the last snapshot handed over (writer thread only) */
    uint64_t written;  /* snapshots written */
} stele_catsnap_t;

int stele__catsnap_start(stele_catsnap_t *sn, const stele_vfs_t *vfs, const char *dir,
                         uint64_t position);
/* Write what is pending and stop. */
void stele__catsnap_stop(stele_catsnap_t *sn);
/* Wait until nothing is pending or being written (before another writer of catalogue.snap). */
void stele__catsnap_idle(stele_catsnap_t *sn);
/* Is a snapshot due at head with this many streams? (writer thread) */
bool stele__catsnap_due(const stele_catsnap_t *sn, uint64_t head, size_t streams);
/* Hand serialised bytes over (ownership passes); false when one is still being written (the
 * caller frees buf and tries again later). */
bool stele__catsnap_offer(stele_catsnap_t *sn, uint8_t *buf, size_t len, uint64_t position);

#endif
