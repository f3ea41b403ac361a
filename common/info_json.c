/*
 * info_json.c -- a stream's info, the store's stats and a verify report as JSON (see
 * info_json.h).
 */
#include "info_json.h"

#include <string.h>

static const char *state_name(stele_stream_state_t state) {
    switch (state) {
    case STELE_STREAM_ACTIVE: return "active";
    case STELE_STREAM_DELETED: return "deleted";
    case STELE_STREAM_TOMBSTONED: return "tombstoned";
    }
    return "unknown";
}

static json_t *time_json(int64_t ns) {
    char text[36];
    stele_time_format(ns, text);
    return json_string(text);
}

json_t *info_json(const stele_stream_info_t *info) {
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int has_events = info->last_version >= 0;
    json_object_set_new(o, "name", json_string(info->name));
    json_object_set_new(o, "state", json_string(state_name(info->state)));
    json_object_set_new(o, "first_version", json_integer((json_int_t)info->first_version));
    json_object_set_new(o, "last_version", json_integer((json_int_t)info->last_version));
    json_object_set_new(o, "event_count", json_integer((json_int_t)info->event_count));
    json_object_set_new(o, "last_position", json_integer((json_int_t)info->last_position));
    json_object_set_new(o, "created", has_events ? time_json(info->created_ns) : json_null());
    json_object_set_new(o, "updated", has_events ? time_json(info->updated_ns) : json_null());
    json_object_set_new(o, "metadata_version", json_integer((json_int_t)info->metadata_version));
    return o;
}

static json_t *u64_json(uint64_t v) { return json_integer((json_int_t)v); }

const char *durability_name(stele_durability_t d) {
    switch (d) {
    case STELE_DURABILITY_SYNC: return "sync";
    case STELE_DURABILITY_ASYNC: return "async";
    case STELE_DURABILITY_NONE: return "none";
    }
    return "unknown";
}

json_t *stats_json(const stele_stats_t *s) {
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "head_position", u64_json(s->head_position));
    json_object_set_new(o, "streams", u64_json(s->streams));
    json_object_set_new(o, "segments", u64_json(s->segments));
    json_object_set_new(o, "log_bytes", u64_json(s->log_bytes));
    json_object_set_new(o, "index_entries", u64_json(s->index_entries));
    json_object_set_new(o, "index_tables", u64_json(s->index_tables));
    json_object_set_new(o, "appends", u64_json(s->appends));
    json_object_set_new(o, "syncs", u64_json(s->syncs));
    json_object_set_new(o, "commits", u64_json(s->commits));
    json_object_set_new(o, "poisoned", json_boolean(s->poisoned));
    json_object_set_new(o, "durability", json_string(durability_name(s->durability)));
    return o;
}

json_t *verify_json(int rc, const stele_verify_report_t *r) {
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "ok", json_boolean(rc == 0));
    json_object_set_new(o, "events", u64_json(r->events));
    json_object_set_new(o, "commits", u64_json(r->commits));
    json_object_set_new(o, "segments", u64_json(r->segments));
    json_object_set_new(o, "bytes", u64_json(r->bytes));
    if (rc != 0) {
        char message[sizeof(r->message) + 1];
        memcpy(message, r->message, sizeof(r->message));
        message[sizeof(r->message)] = '\0';
        json_object_set_new(o, "error", json_string(stele_strerror(rc)));
        json_object_set_new(o, "bad_position", u64_json(r->bad_position));
        json_object_set_new(o, "bad_segment", u64_json(r->bad_segment));
        json_object_set_new(o, "bad_offset", u64_json(r->bad_offset));
        json_object_set_new(o, "message", json_string(message));
    }
    return o;
}
