/*
 * event_id.c -- looking an event up by its id, through the event-id index (index/idindex.h).
 */
#include "index/idindex.h"
#include "store/store.h"

#include "util/error.h"

#include <inttypes.h>
#include <string.h>

int stele_event_by_id(stele_store_t *s, const stele_uuid_t *id, stele_reader_t **out) {
    stele__error_clear();
    if (!s || !id || !out)
        return stele__fail(STELE_EINVAL, "store, id or out pointer is NULL");
    *out = NULL;
    int rc = stele__store_derived_check(s);
    if (rc < 0)
        return rc;
    uint64_t visible = atomic_load_explicit(&s->visible, memory_order_acquire), pos = 0;
    rc = stele__idindex_find(s->ids, id, &pos);
    if (rc < 0)
        return stele__fail(rc, "the event-id index could not be read: %s", stele_strerror(rc));
    if (rc == 0 || pos > visible) {
        char text[37];
        stele_uuid_format(id, text);
        return stele__fail(STELE_ENOTFOUND, "no event has id %s", text);
    }
    stele_read_options_t o;
    stele_read_options_init(&o);
    o.from_position = pos;
    o.limit = 1;
    o.filter.include_system = true;
    return stele_read_all(s, &o, out);
}
