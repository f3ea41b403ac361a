/*
 * catalogue_snap.c -- the background writer of catalogue snapshots (see catalogue_snap.h).
 */
#include "store/catalogue_snap.h"

#include "os/alloc.h"
#include "store/catalogue.h"

#include <string.h>

#define SNAPSHOT_MIN_EVENTS ((uint64_t)1 << 20)
#define SNAPSHOT_EVENTS_PER_STREAM 8u

static void *snapshot_main(void *arg) {
    stele_catsnap_t *sn = arg;
    pthread_mutex_lock(&sn->mu);
    for (;;) {
        while (!sn->pending && !sn->stop)
            pthread_cond_wait(&sn->cv, &sn->mu);
        if (!sn->pending)
            break;
        uint8_t *buf = sn->pending;
        size_t len = sn->pending_len;
        sn->pending = NULL;
        pthread_mutex_unlock(&sn->mu);
        /* A failure only means the next open replays more of the log. */
        int rc = stele__catalogue_write(sn->vfs, sn->dir, buf, len);
        stele__free(buf);
        pthread_mutex_lock(&sn->mu);
        sn->written += rc == 0;
        sn->busy = false;
        pthread_cond_broadcast(&sn->cv);
    }
    pthread_mutex_unlock(&sn->mu);
    return NULL;
}

int stele__catsnap_start(stele_catsnap_t *sn, const stele_vfs_t *vfs, const char *dir,
                         uint64_t position) {
    memset(sn, 0, sizeof(*sn));
    sn->vfs = vfs;
    sn->dir = dir;
    sn->position = position;
    pthread_mutex_init(&sn->mu, NULL);
    pthread_cond_init(&sn->cv, NULL);
    if (pthread_create(&sn->thread, NULL, snapshot_main, sn) != 0) {
        pthread_mutex_destroy(&sn->mu);
        pthread_cond_destroy(&sn->cv);
        return STELE_ENOMEM;
    }
    sn->started = true;
    return 0;
}

void stele__catsnap_stop(stele_catsnap_t *sn) {
    if (!sn->started)
        return;
    pthread_mutex_lock(&sn->mu);
    sn->stop = true;
    pthread_cond_broadcast(&sn->cv);
    pthread_mutex_unlock(&sn->mu);
    pthread_join(sn->thread, NULL);
    stele__free(sn->pending);
    sn->pending = NULL;
    pthread_mutex_destroy(&sn->mu);
    pthread_cond_destroy(&sn->cv);
    sn->started = false;
}

void stele__catsnap_idle(stele_catsnap_t *sn) {
    if (!sn->started)
        return;
    pthread_mutex_lock(&sn->mu);
    while (sn->busy)
        pthread_cond_wait(&sn->cv, &sn->mu);
    pthread_mutex_unlock(&sn->mu);
}

bool stele__catsnap_due(const stele_catsnap_t *sn, uint64_t head, size_t streams) {
    uint64_t every = (uint64_t)streams * SNAPSHOT_EVENTS_PER_STREAM;
    if (every < SNAPSHOT_MIN_EVENTS)
        every = SNAPSHOT_MIN_EVENTS;
    return sn->started && head >= sn->position + every;
}

bool stele__catsnap_offer(stele_catsnap_t *sn, uint8_t *buf, size_t len, uint64_t position) {
    pthread_mutex_lock(&sn->mu);
    bool taken = !sn->busy && !sn->stop;
    if (taken) {
        sn->pending = buf;
        sn->pending_len = len;
        sn->busy = true;
        sn->position = position;
        pthread_cond_signal(&sn->cv);
    }
    pthread_mutex_unlock(&sn->mu);
    return taken;
}
