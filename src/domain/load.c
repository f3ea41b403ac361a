/*
 * load.c -- the state of an aggregate from its stream: the initial state, then every event in
 * version order through evolve. Snapshots (a state saved at a version) will start the replay
 * later in the stream; the result must be the same either way, so this full replay is the
 * reference every faster load is checked against.
 */
#include "domain/domain.h"

#include <stdint.h>
#include <string.h>

int stele__aggregate_replay(stele_store_t *store, const stele_aggregate_t *type, const char *stream,
                            int64_t from_version, int64_t until_version, void **state,
                            int64_t *version) {
    stele_reader_t *reader = NULL;
    int rc = stele_read_stream(store, stream, from_version, STELE_FORWARD, 0, &reader);
    if (rc != 0) {
        return rc;
    }
    stele_event_t ev;
    while ((rc = stele_reader_next(reader, &ev)) == 1) {
        if (ev.version > until_version) {
            break;
        }
        rc = stele__callback_rc(type->def.evolve(type->def.ctx, state, &ev));
        if (rc != 0) {
            rc = stele_errdetail_set(rc,
                                     "aggregate '%s', evolve of event version %lld (type '%s'): %s",
                                     stream, (long long)ev.version, ev.type, stele_errdetail());
            goto done;
        }
        *version = ev.version;
    }
    if (rc < 0) {
        rc = stele_errdetail_set(rc, "aggregate '%s': reading the stream: %s", stream,
                                 stele_errdetail());
        goto done;
    }
    rc = 0;
done:
    stele_reader_close(reader);
    return rc;
}

int stele__aggregate_load_until(stele_store_t *store, const stele_aggregate_t *type,
                                const char *stream, int64_t until_version, void **state,
                                int64_t *version) {
    void *st = NULL;
    int64_t v = -1;
    int rc = stele__callback_rc(type->def.initial(type->def.ctx, &st));
    if (rc != 0) {
        rc =
            stele_errdetail_set(rc, "aggregate '%s', initial state: %s", stream, stele_errdetail());
        goto fail;
    }
    rc = stele__aggregate_replay(store, type, stream, 0, until_version, &st, &v);
    if (rc == STELE_ENOTFOUND) {
        rc = 0; /* no stream yet: the initial state, before version 0 */
    }
    if (rc != 0) {
        goto fail;
    }
    *state = st;
    *version = v;
    return 0;
fail:
    stele_aggregate_state_free(type, st);
    *state = NULL;
    return rc;
}

int stele_aggregate_load(stele_store_t *store, const stele_aggregate_t *type, const char *id,
                         void **state, int64_t *version) {
    if (state != NULL) {
        *state = NULL;
    }
    if (store == NULL || type == NULL || id == NULL || state == NULL || version == NULL) {
        return stele_errdetail_set(STELE_EINVAL, "store, type, id, state or version is NULL");
    }
    char stream[STELE_MAX_STREAM_NAME_BYTES + 1];
    int rc = stele_aggregate_stream(type, id, stream, sizeof stream);
    if (rc != 0) {
        return rc;
    }
    return stele__aggregate_load_until(store, type, stream, INT64_MAX, state, version);
}
