/*
 * info_json.c -- a stream's info as JSON (see info_json.h).
 */
#include "info_json.h"

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
    return o;
}
