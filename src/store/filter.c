/*
 * filter.c -- the server-side filters of $all reads and subscriptions, and the public event view
 * of a record.
 */
#include "store/store.h"

#include <string.h>

static bool has_prefix(const char *s, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return n <= len && memcmp(s, prefix, n) == 0;
}

bool stele__filter_match(const stele_filter_t *f, const stele_record_t *rec) {
    if (!f)
        return rec->stream[0] != '$';
    if (!f->include_system && rec->stream[0] == '$')
        return false;
    if (f->stream && (strlen(f->stream) != rec->stream_len ||
                      memcmp(f->stream, rec->stream, rec->stream_len) != 0))
        return false;
    if (f->stream_prefix && !has_prefix(rec->stream, rec->stream_len, f->stream_prefix))
        return false;
    if (f->category) {
        size_t clen = stele__category_len(rec->stream, rec->stream_len);
        if (strlen(f->category) != clen || memcmp(f->category, rec->stream, clen) != 0)
            return false;
    }
    if (f->type &&
        (strlen(f->type) != rec->type_len || memcmp(f->type, rec->type, rec->type_len) != 0))
        return false;
    if (f->type_prefix && !has_prefix(rec->type, rec->type_len, f->type_prefix))
        return false;
    if (f->since_ns && rec->time_ns < f->since_ns)
        return false;
    if (f->until_ns && rec->time_ns >= f->until_ns)
        return false;
    return true;
}

void stele__event_from_record(stele_event_t *ev, const stele_record_t *rec) {
    ev->position = rec->position;
    ev->version = (int64_t)rec->version;
    ev->time_ns = rec->time_ns;
    ev->id = rec->id;
    ev->flags = (rec->flags & STELE_RECORD_BINARY) ? STELE_EVENT_BINARY : 0;
    ev->stream = rec->stream;
    ev->stream_len = rec->stream_len;
    ev->type = rec->type;
    ev->type_len = rec->type_len;
    ev->data = rec->data;
    ev->data_len = rec->data_len;
    ev->metadata = rec->metadata;
    ev->metadata_len = rec->metadata_len;
}
